#include "archive_command.hpp"

#include "archive_access.hpp"
#include "archive_export.hpp"
#include "export_formats.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <ostream>

#include "archive/chain/verify.hpp"
#include "archive/crypto/keys.hpp"
#include "archive/journal/journal.hpp"
#include "archive/search/search.hpp"
#include "config/config.hpp"
#include "archive/audit/audit.hpp"
#include "module/control_json.hpp"
#include "control_client.hpp"
#include "modules/archive/journal_service.hpp"
#include "store/env.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/jid.hpp"

namespace parley::ctl {

const char* const kArchiveUsage =
    "  archive keygen FILE a new archive key file (mode 0600); prints its key id\n"
    "  archive verify [--user JID] [--json]\n"
    "                      check that no record was altered, inserted or removed\n"
    "  archive search (--user JID [--with JID] | --words TEXT) [--words TEXT] [--start TIME] [--end TIME]\n"
    "                 [--limit N] [--json]\n"
    "                      archived messages, oldest first (TIME: 2026-12-03T10:00:00Z); --words: those\n"
    "                      with every word of TEXT in the body, found by the word index\n"
    "  archive export (--user JID [--with JID] | --words TEXT | --all) [--start TIME] [--end TIME]\n"
    "                 [--case ID] [--format jsonl,csv,eml,xml,html] --out DIR\n"
    "                      a copy for eDiscovery, with a manifest of SHA-256 sums and the chain check\n"
    "  archive verify-export DIR [--json]\n"
    "                      check an export against its manifest (no key needed)\n"
    "  archive rotate-key --new-key FILE\n"
    "                      wrap the archive's keys under another key file (parleyd stopped)\n"
    "  archive audit [--limit N] [--json]\n"
    "                      the audit log's last events (retention, holds, purges, searches, ...)\n"
    "                      and its check: exit 1 when it was changed outside parleyd\n"
    "  --room JID in place of --user JID: a group chat room's archive (mod_muc)\n";

namespace archive_cli {

// Both are xmpp/datetime.hpp: a person may type a date alone on the
// command line; the zone of a time is required there as everywhere.
std::optional<uint64_t> parse_time(std::string_view t) { return xmpp::parse_date_or_datetime(t); }

std::string format_time(uint64_t unix_ms) { return xmpp::format_datetime(unix_ms); }

Result<std::optional<std::string>> stanza_body(std::string_view stanza_xml) {
    if (auto quick = export_format::stored_body(stanza_xml)) return std::move(*quick);
    auto stanza = export_format::parse_stanza(stanza_xml);
    if (!stanza) return stanza.status();
    return export_format::body_of(*stanza);
}

std::string ids_as_stanza_ids(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        // A digit run inside a word (a hex key id, a name) is left alone.
        const bool starts_word = i == 0 || !std::isalnum(static_cast<unsigned char>(text[i - 1]));
        if (text[i] < '0' || text[i] > '9' || !starts_word) {
            out += text[i++];
            continue;
        }
        size_t j = i;
        while (j < text.size() && text[j] >= '0' && text[j] <= '9') ++j;
        std::string_view run = text.substr(i, j - i);
        uint64_t v = 0;
        bool fits = run.size() <= 20;
        for (char c : run) {
            if (!fits) break;
            const uint64_t d = static_cast<uint64_t>(c - '0');
            if (v > (UINT64_MAX - d) / 10)
                fits = false;
            else
                v = v * 10 + d;
        }
        const bool ends_word =
            j == text.size() || !std::isalnum(static_cast<unsigned char>(text[j]));
        if (fits && ends_word && v >= (uint64_t{1} << 40))
            out += archive::stanza_id_text(v);
        else
            out += run;
        i = j;
    }
    return out;
}

std::string one_line(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        if (c == '\n')
            out += "\\n";
        else if (c == '\t')
            out += "\\t";
        else if (c == '\\')
            out += "\\\\";
        else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        else
            out += c;
    }
    return out;
}

}  // namespace archive_cli

namespace {

using archive_access::account;
using archive_access::Args;
using archive_access::check_key;
using archive_access::open_archive;
using archive_access::record_use;
using archive_cli::format_time;
using module::json_string;

using archive_access::fail;
using archive_access::kFailure;
using archive_access::kOk;
using archive_access::kUsage;
using archive_access::usage;


// keygen FILE

int keygen(const Args& a, std::ostream& out, std::ostream& err) {
    if (a.positional.size() != 1 || a.json || !a.options.empty())
        return usage(err, "archive keygen takes one FILE");
    const std::string& path = a.positional[0];
    auto key = archive::create_key_file(path);
    if (!key) return fail(err, key.status());
    // The id on standard output (for scripts); what to do with it on
    // standard error. The key itself is never shown.
    out << key->id() << "\n";
    err << "wrote a new archive key to " << path << " (mode 0600), key id " << key->id()
        << ".\nName it as key_file in [modules.archive]; keep a copy apart from the data "
           "directory: without it "
           "the archive cannot be read.\n";
    if (::geteuid() == 0)
        err << "The file belongs to root: give it to the user parleyd runs as (chown), or parleyd "
               "cannot read it.\n";
    return kOk;
}

// verify [--user JID] [--json]

// The ids a finding names, as stanza-ids. A removal names the record
// before the gap (still there) and the last one gone.
std::string id_range(const archive::Finding& f) {
    if (f.kind == archive::Finding::Kind::removed)
        return (f.first ? "after " + archive::stanza_id_text(f.first)
                        : std::string("from the start")) +
               " up to " + archive::stanza_id_text(f.last);
    if (f.first == 0 && f.last == 0) return "-";
    if (f.first == f.last) return archive::stanza_id_text(f.first);
    return archive::stanza_id_text(f.first) + ".." + archive::stanza_id_text(f.last);
}

std::string segment_day(uint32_t segment) {
    return format_time(uint64_t{segment} * archive::kSegmentMs).substr(0, 10);
}

int verify(const std::string& config_path, const Args& a, std::ostream& out, std::ostream& err) {
    if (!a.positional.empty())
        return usage(err, "archive verify takes no argument but its options");
    archive::VerifyOptions opts;
    if (const std::string* u = a.get("--user")) {
        auto owner = account(*u, "--user");
        if (!owner) return fail(err, owner.status(), kUsage);
        opts.owner = *owner;
    }
    auto arch = open_archive(config_path);
    if (!arch) return fail(err, arch.status(), kUsage);
    if (Status s = check_key(*arch); !s) return fail(err, s, kUsage);
    auto txn = arch->env->begin_read();
    if (!txn) return fail(err, txn.status(), kUsage);
    auto report = archive::verify(*arch->journal, txn->handle(), arch->db, opts);
    if (!report)
        return fail(err,
                    Status::error(report.status().code(),
                                  "archive " + arch->dir + ": " + report.status().message()),
                    kUsage);
    const archive::Report& r = *report;
    if (a.json) {
        std::string j = fmt::format(
            "{{\"ok\":{},\"archive\":{},\"user\":{},\"records\":{},\"segments\":{},\"findings\":[",
            r.ok() ? "true" : "false", json_string(arch->dir),
            opts.owner.empty() ? std::string("null") : json_string(opts.owner), r.records,
            r.segments);
        bool first = true;
        for (const auto& f : r.findings) {
            if (!first) j += ',';
            first = false;
            j += fmt::format(
                "{{\"kind\":{},\"segment\":{},\"day\":{},\"first\":{},\"last\":{},\"text\":{}}}",
                json_string(archive::to_string(f.kind)), f.segment,
                json_string(segment_day(f.segment)),
                f.first ? json_string(archive::stanza_id_text(f.first)) : std::string("null"),
                f.last ? json_string(archive::stanza_id_text(f.last)) : std::string("null"),
                json_string(archive_cli::ids_as_stanza_ids(f.text)));
        }
        out << j << "]}\n";
    } else {
        out << fmt::format("{}: {} record{} in {} segment{} checked{}\n", arch->dir, r.records,
                           r.records == 1 ? "" : "s", r.segments, r.segments == 1 ? "" : "s",
                           opts.owner.empty() ? ", with every account's views"
                                              : ", with the views of " + opts.owner);
        for (const auto& f : r.findings)
            out << fmt::format("{:<13}  {}  {}  {}\n", archive::to_string(f.kind),
                               segment_day(f.segment), id_range(f),
                               archive_cli::ids_as_stanza_ids(f.text));
        if (r.ok())
            out << "ok: nothing was altered, inserted or removed\n";
        else
            out << fmt::format("{} finding{}: the archive was changed outside parleyd\n",
                               r.findings.size(), r.findings.size() == 1 ? "" : "s");
    }
    return r.ok() ? kOk : kFailure;
}

// search --user JID [--with JID] [--start TIME] [--end TIME] [--limit N] [--json]

struct Row {
    uint64_t id = 0;
    archive::Entry entry;
    std::optional<std::string> body;
};

int search(const std::string& config_path, const Args& a, std::ostream& out, std::ostream& err) {
    if (!a.positional.empty())
        return usage(err, "archive search takes no argument but its options");
    const std::string* user = a.get("--user");
    const std::string* words_text = a.get("--words");
    if (!user && !words_text) return usage(err, "archive search needs --user JID or --words TEXT");
    archive::Journal::Query q;
    if (user) {
        auto owner = account(*user, "--user");
        if (!owner) return fail(err, owner.status(), kUsage);
        q.owner = *owner;
    } else if (a.get("--with")) {
        return usage(err, "--with needs --user");
    }
    std::vector<std::string> words;
    if (words_text) {
        words = archive::words_of(*words_text);
        if (words.empty())
            return usage(err, "--words has no word to look for (words are letters and digits, 2 or more)");
    }
    if (const std::string* w = a.get("--with")) {
        auto peer = xmpp::Jid::parse(*w);
        if (!peer)
            return fail(err, Status::error("invalid", "--with takes a JID, not '" + *w + "'"),
                        kUsage);
        q.peer = peer->bare_str();
    }
    std::optional<uint64_t> start, end;
    for (auto [name, slot] : {std::pair{"--start", &start}, std::pair{"--end", &end}}) {
        if (const std::string* t = a.get(name)) {
            *slot = archive_cli::parse_time(*t);
            if (!*slot)
                return fail(
                    err,
                    Status::error("invalid",
                                  fmt::format("{} takes an ISO 8601 time such as "
                                              "2026-12-03T10:00:00Z or 2026-12-03, not '{}'",
                                              name, *t)),
                    kUsage);
        }
    }
    if (start && end && *start > *end)
        return fail(err, Status::error("invalid", "--start is after --end"), kUsage);
    // Both ends are inclusive, to the millisecond: an id holds its time.
    if (start && *start > 0) q.after = archive::first_id_at(*start) - 1;
    if (end) q.before = archive::first_id_at(*end + 1);
    size_t limit = 1000;
    if (const std::string* l = a.get("--limit")) {
        if (l->empty() || l->size() > 8 ||
            l->find_first_not_of("0123456789") != std::string::npos || std::stoul(*l) == 0)
            return fail(err, Status::error("invalid", "--limit takes a number from 1 to 99999999"),
                        kUsage);
        limit = std::stoul(*l);
    }

    auto arch = open_archive(config_path);
    if (!arch) return fail(err, arch.status());
    if (Status s = check_key(*arch); !s) return fail(err, s);
    auto txn = arch->env->begin_read();
    if (!txn) return fail(err, txn.status());
    std::vector<Row> rows;
    bool complete = true;
    size_t unreadable = 0;
    if (!words.empty()) {
        // The word index (archive/search/search.hpp): no scan of the archive.
        archive::SearchQuery sq{q.owner, q.peer, q.after, q.before, words, limit};
        Status s = archive::search_each(*arch->journal, txn->handle(), arch->db, sq, [&](archive::Record&& r) {
            if (rows.size() == limit) {
                complete = false;
                return false;
            }
            Row row{r.id, std::move(r.entry), std::nullopt};
            auto body = archive_cli::stanza_body(row.entry.stanza);
            if (body) row.body = std::move(*body);
            rows.push_back(std::move(row));
            return true;
        });
        if (!s) return fail(err, s);
    }
    std::vector<uint64_t> ids;
    Status s = words.empty() ? arch->journal->view(txn->handle(), arch->db, q, [&](uint64_t id) {
        if (ids.size() == limit) {
            complete = false;
            return false;
        }
        ids.push_back(id);
        return true;
    }) : Status::ok();
    if (!s) return fail(err, s);
    for (uint64_t id : ids) {
        auto rec = arch->journal->get(txn->handle(), arch->db, id);
        if (!rec || !*rec) {
            // A view names a record that is gone or does not open: the
            // archive was changed; verify says how. The rest is shown.
            ++unreadable;
            err << "parleyctl: record " << archive::stanza_id_text(id) << " of this archive "
                << (rec ? std::string("is missing")
                        : "cannot be read: " +
                              archive_cli::ids_as_stanza_ids(rec.status().message()))
                << " (run parleyctl archive verify)\n";
            continue;
        }
        Row row{id, std::move((*rec)->entry), std::nullopt};
        auto body = archive_cli::stanza_body(row.entry.stanza);
        if (body) row.body = std::move(*body);
        rows.push_back(std::move(row));
    }
    if (a.json) {
        std::string j = fmt::format(
            "{{\"user\":{},\"with\":{},\"count\":{},\"complete\":{},\"results\":[",
            q.owner.empty() ? std::string("null") : json_string(q.owner), q.peer.empty() ? std::string("null") : json_string(q.peer),
            rows.size(), complete ? "true" : "false");
        for (size_t i = 0; i < rows.size(); ++i) {
            const Row& r = rows[i];
            if (i) j += ',';
            j += fmt::format(
                "{{\"id\":{},\"time\":{},\"from\":{},\"to\":{},\"type\":{},\"origin\":{},"
                "\"outcome\":{},"
                "\"body\":{}}}",
                json_string(archive::stanza_id_text(r.id)),
                json_string(format_time(archive::id_time_ms(r.id))), json_string(r.entry.from),
                json_string(r.entry.to), json_string(r.entry.type),
                json_string(archive::to_string(r.entry.origin)), json_string(r.entry.outcome),
                r.body ? json_string(*r.body) : std::string("null"));
        }
        out << j << "]}\n";
    } else {
        if (rows.empty()) {
            out << "no messages" << (words.empty() ? "" : " with those words") << " in the archive"
                << (q.owner.empty() ? std::string() : " of " + q.owner) << (q.peer.empty() ? "" : " with " + q.peer)
                << "\n";
        } else {
            out << "ID\tTIME\tFROM\tTO\tTYPE\tBODY\n";
            for (const Row& r : rows)
                out << archive::stanza_id_text(r.id) << "\t"
                    << format_time(archive::id_time_ms(r.id)) << "\t" << r.entry.from << "\t"
                    << r.entry.to << "\t" << r.entry.type << "\t"
                    << (r.body ? archive_cli::one_line(*r.body) : std::string("-")) << "\n";
        }
        if (!complete)
            out << "(the first " << limit << " are shown; more with --limit, or a later --start)\n";
    }
    return unreadable ? kFailure : kOk;
}

// rotate-key --new-key FILE

int rotate_key(const std::string& config_path, const Args& a, std::ostream& out,
               std::ostream& err) {
    const std::string* new_file = a.get("--new-key");
    if (!a.positional.empty() || a.json || !new_file)
        return usage(err, "archive rotate-key takes --new-key FILE");
    auto cfg = config::load(config_path);
    if (!cfg) return fail(err, cfg.status());
    // parleyd holds the archive's keys unwrapped, and its configuration
    // names the old key file, which would no longer open the archive at its
    // next start: rotation is for a stopped server. Anything but "nobody
    // listens" on the control socket counts as running.
    auto running = control_request(cfg->control_socket, "status", 3000);
    if (running || running.status().code() != "not-running")
        return fail(
            err, Status::error(
                     "running",
                     fmt::format("parleyd is running (it {} on {}): stop it before "
                                 "rotating the archive's key",
                                 running ? "answers" : "may answer: " + running.status().message(),
                                 cfg->control_socket)));
    auto new_kek = archive::read_key_file(*new_file);
    if (!new_kek) return fail(err, new_kek.status());
    auto arch = open_archive(config_path);
    if (!arch) return fail(err, arch.status());
    if (new_kek->id() == arch->key_id)
        return fail(
            err,
            Status::error("invalid", fmt::format("{} holds key {}, the key the archive has already",
                                                 *new_file, arch->key_id)));
    if (Status s = check_key(*arch); !s) return fail(err, s);
    Status w = arch->env->write(
        [&](store::Txn& txn) { return arch->journal->rewrap(txn.handle(), arch->db, *new_kek); });
    if (!w) {
        if (w.code() == "not-found")
            return fail(err, Status::error("not-found",
                                           "the archive has no keys yet (no message was archived): "
                                           "just name the new file as key_file"));
        return fail(err, w);
    }
    // Read back under the new key, in a new transaction, before telling
    // anyone to switch.
    archive::Journal fresh(*new_kek);
    auto txn = arch->env->begin_read();
    if (!txn) return fail(err, txn.status());
    if (Status s = fresh.check_key(txn->handle(), arch->db); !s)
        return fail(
            err,
            Status::error(s.code(), "the archive does not open with the new key after rotation: " +
                                        s.message()));
    std::error_code ec;
    const std::string shown = std::filesystem::absolute(*new_file, ec).lexically_normal().string();
    out << fmt::format(
        "the archive's keys are now wrapped under key {} (they were under {}); nothing else was "
        "rewritten.\n"
        "Now set key_file = \"{}\" in [modules.archive] of {} before starting parleyd: the old key "
        "file {} no longer opens this archive (keep it while backups made before now exist).\n",
        new_kek->id(), arch->key_id, ec ? *new_file : shown, arch->cfg.path, arch->key_file);
    return kOk;
}

const char* outcome_of(int rc) { return rc == kOk ? "ok" : rc == kFailure ? "failed or found problems" : "refused"; }

// audit [--json] [--limit N]: the audit log's events (the last N) and its check.
int audit(const std::string& config_path, const Args& a, std::ostream& out, std::ostream& err) {
    if (!a.positional.empty()) return usage(err, "audit takes no argument but its options");
    size_t limit = 50;
    if (const std::string* l = a.get("--limit")) {
        try {
            limit = static_cast<size_t>(std::stoul(*l));
        } catch (...) {
            return usage(err, "--limit takes a number");
        }
    }
    auto arch = open_archive(config_path);
    if (!arch) return fail(err, arch.status(), kUsage);
    if (Status s = check_key(*arch); !s) return fail(err, s, kUsage);
    auto txn = arch->env->begin_read();
    if (!txn) return fail(err, txn.status(), kUsage);
    auto report = archive::verify_audit(*arch->journal, txn->handle(), arch->db);
    if (!report) return fail(err, report.status(), kUsage);
    const uint64_t first = report->events > limit ? report->events - limit : 0;
    auto events = archive::list_audit(*arch->journal, txn->handle(), arch->db, first, limit);
    if (!events) return fail(err, events.status(), kUsage);
    if (a.json) {
        std::string j = fmt::format("{{\"ok\":{},\"events\":{},\"problems\":[", report->ok() ? "true" : "false",
                                    report->events);
        for (size_t i = 0; i < report->problems.size(); ++i) j += (i ? "," : "") + json_string(report->problems[i]);
        j += "],\"last\":[";
        for (size_t i = 0; i < events->size(); ++i) {
            const auto& e = (*events)[i];
            j += fmt::format("{}{{\"seq\":{},\"at\":{},\"who\":{},\"action\":{},\"scope\":{},\"result\":{}}}",
                             i ? "," : "", e.seq, json_string(archive_cli::format_time(e.at_ms)), json_string(e.who),
                             json_string(e.action), json_string(e.scope), json_string(e.result));
        }
        out << j << "]}\n";
    } else {
        for (const auto& e : *events)
            out << fmt::format("{:>6}  {}  {:<22} {:<15} {:<30} {}\n", e.seq, archive_cli::format_time(e.at_ms), e.who,
                               e.action, e.scope, e.result);
        for (const auto& p : report->problems) out << "PROBLEM  " << p << "\n";
        out << (report->ok() ? fmt::format("ok: {} audit event(s), none altered, inserted or removed\n", report->events)
                             : fmt::format("{} problem(s): the audit log was changed outside parleyd\n",
                                           report->problems.size()));
    }
    return report->ok() ? kOk : kFailure;
}

}  // namespace

int archive_command(const std::string& config_path, std::vector<std::string> args,
                    std::ostream& out, std::ostream& err) {
    if (args.empty()) return usage(err, "");
    // A room's archive is a view owned by the room's bare JID, as a user's
    // is by the account's: --room names it.
    for (auto& a : args)
        if (a == "--room") a = "--user";
    const std::string verb = args[0];
    if (verb == "keygen") {
        Args a(args, 1, {});
        if (!a.error.empty()) return usage(err, a.error);
        return keygen(a, out, err);
    }
    if (verb == "verify") {
        Args a(args, 1, {"--user"});
        if (!a.error.empty()) return usage(err, a.error);
        const int rc = verify(config_path, a, out, err);
        const std::string* u = a.get("--user");
        record_use(config_path, "verify", u ? "user " + *u : "all", outcome_of(rc), err);
        return rc;
    }
    if (verb == "search") {
        Args a(args, 1, {"--user", "--with", "--start", "--end", "--limit", "--words"});
        if (!a.error.empty()) return usage(err, a.error);
        const int rc = search(config_path, a, out, err);
        std::string scope;
        for (const char* o : {"--user", "--with", "--start", "--end", "--words"})
            if (const std::string* v = a.get(o)) scope += std::string(scope.empty() ? "" : " ") + (o + 2) + " " + *v;
        record_use(config_path, "search", scope, outcome_of(rc), err);
        return rc;
    }
    if (verb == "audit") {
        Args a(args, 1, {"--limit"});
        if (!a.error.empty()) return usage(err, a.error);
        return audit(config_path, a, out, err);
    }
    if (verb == "export") return archive_export(config_path, args, out, err);
    if (verb == "verify-export") return archive_verify_export(args, out, err);
    if (verb == "rotate-key") {
        Args a(args, 1, {"--new-key"});
        if (!a.error.empty()) return usage(err, a.error);
        return rotate_key(config_path, a, out, err);
    }
    return usage(err, "unknown archive command '" + verb + "'");
}

}  // namespace parley::ctl

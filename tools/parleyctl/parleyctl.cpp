// parleyctl: administration of a Parley server: accounts, invitations, sessions, status,
// and the compliance archive (archive_command.hpp).
//
// Accounts are written straight into the LMDB state store, which works
// whether parleyd runs or not (LMDB allows several processes). When parleyd
// runs, deleting an account or changing its password then asks it, over the
// control socket, to close that account's sessions. Passwords are read from
// the terminal (twice, without echo) or from standard input, never from the
// command line, and are never printed or logged.
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "archive_command.hpp"
#include "config/config.hpp"
#include "control_client.hpp"
#include "json_value.hpp"
#include "store/accounts.hpp"
#include "store/invites.hpp"
#include "store/env.hpp"
#include "xmpp/jid.hpp"

using namespace parley;

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitNotRunning = 3;

void usage(std::ostream& out) {
    out << "usage: parleyctl [--config FILE] COMMAND\n"
           "  user add JID        create an account (password from the terminal or stdin)\n"
           "  user passwd JID     set a new password; closes the account's sessions\n"
           "  user del JID        delete an account; closes its sessions\n"
           "  user list [DOMAIN]  list accounts (of one virtual host, or all)\n"
           "  session list [USER] the bound sessions (of one account, or all)\n"
           "  session kick JID    end a session (full JID) or every session of an account\n"
           "  invite create [--uses N] [--expires DURATION]\n"
           "                      make a token for in-band registration (mod_register)\n"
           "  invite list         the invitations that still allow a registration\n"
           "  invite del ID       withdraw an invitation\n"
           "  roster show USER [--json]              a user's roster (contacts, subscriptions)\n"
           "  roster add USER CONTACT [--name NAME] [--group GROUP]...\n"
           "                      add or change a contact, as the user's own client would\n"
           "  roster del USER CONTACT                remove a contact; cancels both subscriptions\n"
           "  room list                              the group chat rooms (mod_muc) of every worker\n"
           "  room show ROOM                         a room's configuration, affiliations and occupants\n"
           "  room create ROOM OWNER                 a persistent room, owned by OWNER\n"
           "  room destroy ROOM [REASON...]          destroy a room; its occupants are told why\n"
           "  room affiliation set ROOM JID AFFILIATION [REASON...]\n"
           "                      owner, admin, member, outcast (ban) or none; a removed or banned\n"
           "                      person leaves the room with every client\n"
           "  room config set ROOM OPTION VALUE      name, description, persistent, public, members-only,\n"
           "                      moderated, password, max-users, whois, change-subject, allow-invites,\n"
           "                      allow-pm, history, archived, internal\n"
           "  federation show [DOMAIN]              the federation policy (mod_federation_policy): tiers,\n"
           "                      rules, refusals; with DOMAIN, its tier and the rule that chose it\n"
           "  federation allow DOMAIN [TIER]        put DOMAIN (or *.DOMAIN) in TIER (default trusted)\n"
           "  federation deny DOMAIN                block DOMAIN; its links close at once\n"
           "  federation tier DOMAIN TIER           put DOMAIN in TIER\n"
           "  federation clear DOMAIN               remove the run-time rule for DOMAIN\n"
           "  federation explain JID [KIND [in|out [LOCAL]]]\n"
           "                      would a stanza of KIND (chat, presence, iq, muc, files, pep) to (out) or\n"
           "                      from (in) JID pass, and under which rule\n"
           "  status              is parleyd running; workers, sessions, uptime\n"
           "  reload              ask parleyd to reload its configuration and modules\n"
           "  retention list                         the retention rules (configured and set at run time)\n"
           "  retention set SCOPE TARGET DAYS [--type TYPE]\n"
           "                      keep messages DAYS days (0 or forever: keep forever); SCOPE default (TARGET -),\n"
           "                      domain, user or room; TYPE chat, normal, groupchat, headline or error\n"
           "  retention del SCOPE TARGET [--type TYPE]   remove a rule set at run time\n"
           "  retention explain JID                  which rule keeps JID's messages how long, and holds\n"
           "  retention purge                        run the retention purge now\n"
           "  hold add CASE SCOPE TARGET REASON...   a legal hold: nothing in scope (user, room, domain,\n"
           "                      default with TARGET -) is deleted until it is released\n"
           "  hold list                              every hold, active and released\n"
           "  hold release CASE                      release a hold\n"
           "  audit verify [--limit N] [--json]      the same as archive audit\n"
        << ctl::kArchiveUsage
        << "--json after session, invite, roster, room, retention, hold and archive commands: the answer as JSON.\n"
           "The config file defaults to $PARLEY_CONFIG or " PARLEY_SYSCONFDIR "/parley/parley.toml.\n";
}

std::optional<std::string> read_line_noecho(const char* prompt) {
    termios old{};
    const bool tty = ::isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        std::cerr << prompt << std::flush;
        termios quiet = old;
        quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    std::string line;
    const bool got = static_cast<bool>(std::getline(std::cin, line));
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
        std::cerr << "\n";
    }
    if (!got) return std::nullopt;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    return line;
}

// The new password: asked twice on a terminal, one line on a pipe.
Result<std::string> read_new_password() {
    auto first = read_line_noecho("New password: ");
    if (!first) return Status::error("input", "no password given on standard input");
    if (::isatty(STDIN_FILENO)) {
        auto again = read_line_noecho("Repeat password: ");
        if (!again || *again != *first) return Status::error("input", "the passwords differ");
    }
    // The rules every way of setting a password shares (XEP-0077 too).
    if (Status s = store::check_new_password(*first); !s) return Status::error("input", s.message());
    return std::move(*first);
}

struct Context {
    config::Config cfg;
    std::unique_ptr<store::Env> env;
    std::unique_ptr<store::AccountStore> accounts;
};

// Run as root, parleyctl must not leave files in the data directory that a
// parleyd running as another user cannot open (LMDB's data.mdb and lock.mdb,
// the state directory, the data directory itself when it is new). While the
// store is opened, which is when those files are created, its effective user
// and group become the owner of the data directory, or of its nearest
// existing parent when it does not exist yet (the user who could have made
// it). Files created later would go through descriptors opened here.
class AsDataOwner {
public:
    static Result<std::unique_ptr<AsDataOwner>> enter(const std::string& data_dir) {
        auto self = std::unique_ptr<AsDataOwner>(new AsDataOwner());
        if (::geteuid() != 0) return self;
        std::string dir = data_dir;
        struct stat st {};
        while (::stat(dir.c_str(), &st) != 0) {
            if (errno != ENOENT) return Status::error("data_dir", fmt::format("{}: {}", dir, std::strerror(errno)));
            auto slash = dir.find_last_of('/');
            dir = slash == 0 || slash == std::string::npos ? std::string("/") : dir.substr(0, slash);
        }
        if (st.st_uid == 0) return self;
        self->egid_ = ::getegid();
        const int n = ::getgroups(0, nullptr);
        self->groups_.resize(static_cast<size_t>(std::max(n, 0)));
        if (n > 0 && ::getgroups(n, self->groups_.data()) != n) self->groups_.clear();
        self->changed_ = true;
        const gid_t gid = st.st_gid;
        if (::setgroups(1, &gid) != 0 || ::setegid(st.st_gid) != 0 || ::seteuid(st.st_uid) != 0) {
            const int e = errno;
            self->restore();
            return Status::error("data_dir",
                                 fmt::format("{} belongs to uid {}: cannot act as that user to create files in it "
                                             "({}); run parleyctl as that user",
                                             dir, st.st_uid, std::strerror(e)));
        }
        self->uid_ = st.st_uid;
        return self;
    }
    ~AsDataOwner() { restore(); }
    // The user files are created as, when not parleyctl's own.
    std::optional<uid_t> acting_uid() const { return changed_ ? std::optional<uid_t>(uid_) : std::nullopt; }

private:
    AsDataOwner() = default;
    void restore() {
        if (!changed_) return;
        // Back to root first: only root may set the group ids again.
        if (::seteuid(0) != 0 || ::setegid(egid_) != 0 || ::setgroups(groups_.size(), groups_.data()) != 0) {
            std::cerr << "parleyctl: cannot restore its own user and groups: " << std::strerror(errno) << "\n";
            std::exit(kExitFailure);
        }
        changed_ = false;
    }
    bool changed_ = false;
    uid_t uid_ = 0;
    gid_t egid_ = 0;
    std::vector<gid_t> groups_;
};

Result<Context> open_store(const std::string& config_path) {
    auto cfg = config::load(config_path);
    if (!cfg) return cfg.status();
    Context c{std::move(cfg.value()), nullptr, nullptr};
    auto owner = AsDataOwner::enter(c.cfg.data_dir);
    if (!owner) return owner.status();
    auto env = store::Env::open(c.cfg.data_dir + "/state");
    if (!env) {
        if (auto uid = owner.value()->acting_uid())
            return Status::error(env.status().code(),
                                 fmt::format("{} (parleyctl acts as uid {}, the owner of the data directory)",
                                             env.status().message(), *uid));
        return env.status();
    }
    c.env = std::move(env.value());
    auto acc = store::AccountStore::open(*c.env);
    if (!acc) return acc.status();
    c.accounts = std::move(acc.value());
    return c;
}

Result<xmpp::Jid> account_jid(const Context& c, const std::string& text) {
    auto jid = xmpp::Jid::parse(text);
    if (!jid) return Status::error("invalid", "'" + text + "' is not a valid JID");
    if (!jid->has_node() || jid->has_resource())
        return Status::error("invalid", "an account is a bare JID with a local part, like alice@example.org");
    if (!c.cfg.find_host(jid->domain()))
        return Status::error("invalid", "'" + jid->domain() + "' is not a virtual host of " + c.cfg.path);
    return jid;
}

// Asks a running parleyd to close the account's sessions.
void kick(const Context& c, const xmpp::Jid& jid) {
    auto r = ctl::control_request(c.cfg.control_socket, "kick " + jid.bare_str());
    if (!r) {
        if (r.status().code() != "not-running")
            std::cerr << "parleyctl: could not ask parleyd to close the sessions: " << r.status().message() << "\n";
        return;
    }
    if (r.value().find("\"ok\":true") == std::string::npos)
        std::cerr << "parleyctl: parleyd refused to close the sessions: " << r.value() << "\n";
}

std::string json_field(const std::string& json, const std::string& key) {
    auto k = json.find("\"" + key + "\":");
    if (k == std::string::npos) return {};
    size_t v = k + key.size() + 3;
    if (v < json.size() && json[v] == '"') {
        auto end = json.find('"', v + 1);
        return json.substr(v + 1, end - v - 1);
    }
    auto end = json.find_first_of(",}", v);
    return json.substr(v, end - v);
}

int fail(const Status& s) {
    std::cerr << "parleyctl: " << s.message() << "\n";
    return kExitFailure;
}

int user_command(const std::string& config_path, const std::vector<std::string>& args) {
    if (args.empty()) {
        usage(std::cerr);
        return kExitUsage;
    }
    const std::string& verb = args[0];
    auto ctx = open_store(config_path);
    if (!ctx) return fail(ctx.status());
    Context& c = ctx.value();
    if (verb == "list") {
        if (args.size() > 2) {
            usage(std::cerr);
            return kExitUsage;
        }
        std::string domain = args.size() == 2 ? args[1] : std::string();
        if (!domain.empty()) {
            auto d = xmpp::Jid::parse(domain);
            if (!d || d->has_node() || d->has_resource() || !c.cfg.find_host(d->domain()))
                return fail(Status::error("invalid", "'" + domain + "' is not a virtual host of " + c.cfg.path));
            domain = d->domain();
        }
        auto list = c.accounts->list(domain);
        if (!list) return fail(list.status());
        for (const auto& n : list.value()) std::cout << (domain.empty() ? n : n + "@" + domain) << "\n";
        return kExitOk;
    }
    if (args.size() != 2 || (verb != "add" && verb != "del" && verb != "passwd")) {
        usage(std::cerr);
        return kExitUsage;
    }
    auto jid = account_jid(c, args[1]);
    if (!jid) return fail(jid.status());
    if (verb == "del") {
        Status s = c.accounts->remove(jid->node(), jid->domain());
        if (!s) return fail(s.code() == "not-found" ? Status::error("not-found", jid->bare_str() + " does not exist") : s);
        kick(c, jid.value());
        // The modules' data about the account (roster, offline messages, ...)
        // is removed by parleyd: now if it runs, else when it starts.
        auto purged = ctl::control_request(c.cfg.control_socket, "purge");
        std::cout << "deleted " << jid->bare_str() << "\n";
        if (!purged && purged.status().code() == "not-running")
            std::cout << "parleyd is not running: it removes the account's data (roster, offline messages, ...) "
                         "when it starts\n";
        return kExitOk;
    }
    if (verb == "passwd") {
        // Fail before asking for a password the account cannot use.
        auto exists = c.accounts->exists(jid->node(), jid->domain());
        if (!exists) return fail(exists.status());
        if (!exists.value()) return fail(Status::error("not-found", jid->bare_str() + " does not exist"));
    }
    auto password = read_new_password();
    if (!password) return fail(password.status());
    const uint32_t iterations = c.cfg.sasl.scram_iterations;
    if (verb == "add") {
        Status s = c.accounts->create(jid->node(), jid->domain(), password.value(), iterations);
        // The store's own words: "already exists", or that the name belonged
        // to an account deleted whose data parleyd has not removed yet.
        if (!s) return fail(s);
        std::cout << "created " << jid->bare_str() << "\n";
        return kExitOk;
    }
    Status s = c.accounts->set_password(jid->node(), jid->domain(), password.value(), iterations);
    if (!s) return fail(s);
    kick(c, jid.value());
    std::cout << "changed the password of " << jid->bare_str() << "\n";
    return kExitOk;
}

// --json, wherever it stands among a command's arguments.
bool g_json = false;

// "90", "90s", "30m", "12h", "7d", "2w": seconds, > 0.
std::optional<int64_t> parse_duration(const std::string& text) {
    if (text.empty()) return std::nullopt;
    size_t digits = 0;
    while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
    if (digits == 0 || digits > 9) return std::nullopt;
    const int64_t n = std::stoll(text.substr(0, digits));
    const std::string unit = text.substr(digits);
    int64_t scale = 0;
    if (unit.empty() || unit == "s") scale = 1;
    else if (unit == "m") scale = 60;
    else if (unit == "h") scale = 3600;
    else if (unit == "d") scale = 86400;
    else if (unit == "w") scale = 7 * 86400;
    if (scale == 0 || n == 0) return std::nullopt;
    return n * scale;
}

std::string utc(int64_t unix) {
    if (unix == 0) return "-";
    const std::time_t t = static_cast<std::time_t>(unix);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// The invitations database in the opened store.
Result<MDB_dbi> invites_db(Context& c) {
    return c.env->database(store::invites::kDatabase, store::invites::kSchemaVersion);
}

// Takes --json out of a command's arguments.
bool take_json(std::vector<std::string>& args) {
    const size_t before = args.size();
    std::erase(args, std::string("--json"));
    return args.size() != before;
}

int invite_command(const std::string& config_path, std::vector<std::string> args) {
    g_json = take_json(args);
    if (args.empty()) {
        usage(std::cerr);
        return kExitUsage;
    }
    const std::string& verb = args[0];
    uint32_t uses = 1;
    int64_t expires_in = 0;
    std::vector<std::string> rest;
    for (size_t i = 1; i < args.size(); ++i) {
        if (verb == "create" && args[i] == "--uses" && i + 1 < args.size()) {
            const std::string& n = args[++i];
            if (n.empty() || n.size() > 7 || n.find_first_not_of("0123456789") != std::string::npos || std::stoul(n) == 0 ||
                std::stoul(n) > store::invites::kMaxUses)
                return fail(Status::error("invalid", "--uses takes a number from 1 to 1000000"));
            uses = static_cast<uint32_t>(std::stoul(n));
        } else if (verb == "create" && args[i] == "--expires" && i + 1 < args.size()) {
            auto d = parse_duration(args[++i]);
            if (!d) return fail(Status::error("invalid", "--expires takes a duration such as 3600, 90m, 12h, 7d or 2w"));
            expires_in = *d;
        } else {
            rest.push_back(args[i]);
        }
    }
    if ((verb == "create" || verb == "list") ? !rest.empty() : (verb != "del" || rest.size() != 1)) {
        usage(std::cerr);
        return kExitUsage;
    }
    auto ctx = open_store(config_path);
    if (!ctx) return fail(ctx.status());
    Context& c = ctx.value();
    auto db = invites_db(c);
    if (!db) return fail(db.status());
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    if (verb == "create") {
        // An id is 40 random bits: a clash is rare, and then another is made.
        for (int attempt = 0; attempt < 5; ++attempt) {
            auto made = store::invites::make(uses, now, expires_in ? now + expires_in : 0);
            if (!made) return fail(made.status());
            Status s = c.env->write([&](store::Txn& txn) { return store::invites::put(txn, db.value(), made->invite); });
            if (s.code() == "exists") continue;
            if (!s) return fail(s);
            const auto& inv = made->invite;
            if (g_json)
                std::cout << fmt::format("{{\"token\":\"{}\",\"id\":\"{}\",\"uses\":{},\"expires\":{}}}\n", made->token,
                                         inv.id, inv.uses, inv.expires_unix);
            else
                std::cout << made->token << "\n";
            std::cerr << fmt::format("invitation {} for {} registration{}, {}\n", inv.id, inv.uses,
                                     inv.uses == 1 ? "" : "s",
                                     inv.expires_unix ? "expires " + utc(inv.expires_unix) : std::string("never expires"));
            return kExitOk;
        }
        return fail(Status::error("random", "could not find a free invitation id"));
    }
    if (verb == "list") {
        auto txn = c.env->begin_read();
        if (!txn) return fail(txn.status());
        auto list = store::invites::list(txn.value(), db.value());
        if (!list) return fail(list.status());
        if (g_json) {
            std::string out = "[";
            for (const auto& inv : list.value()) {
                if (out.size() > 1) out += ',';
                out += fmt::format("{{\"id\":\"{}\",\"uses\":{},\"uses_left\":{},\"created\":{},\"expires\":{},"
                                   "\"expired\":{}}}",
                                   inv.id, inv.uses, inv.uses_left, inv.created_unix, inv.expires_unix,
                                   inv.expired(now) ? "true" : "false");
            }
            std::cout << out << "]\n";
            return kExitOk;
        }
        for (const auto& inv : list.value())
            std::cout << fmt::format("{}  {}/{} uses left  created {}  {}\n", inv.id, inv.uses_left, inv.uses,
                                     utc(inv.created_unix),
                                     inv.expires_unix == 0 ? std::string("never expires")
                                     : inv.expired(now)    ? "expired " + utc(inv.expires_unix)
                                                           : "expires " + utc(inv.expires_unix));
        return kExitOk;
    }
    Result<bool> gone = false;
    Status s = c.env->write([&](store::Txn& txn) {
        gone = store::invites::remove(txn, db.value(), rest[0]);
        return gone ? Status::ok() : gone.status();
    });
    if (!s) return fail(s);
    if (!gone.value()) return fail(Status::error("not-found", "no invitation " + rest[0]));
    std::cout << "withdrew invitation " << rest[0] << "\n";
    return kExitOk;
}

int session_command(const std::string& config_path, std::vector<std::string> args) {
    g_json = take_json(args);
    if (args.empty() || (args[0] == "list" && args.size() > 2) || (args[0] == "kick" && args.size() != 2) ||
        (args[0] != "list" && args[0] != "kick")) {
        usage(std::cerr);
        return kExitUsage;
    }
    auto cfg = config::load(config_path);
    if (!cfg) return fail(cfg.status());
    std::string line;
    std::string target = args.size() == 2 ? args[1] : std::string();
    if (!target.empty()) {
        auto jid = xmpp::Jid::parse(target);
        if (!jid || !jid->has_node() || (args[0] == "list" && jid->has_resource()))
            return fail(Status::error("invalid", args[0] == "list" ? "'" + target + "' is not an account's bare JID"
                                                                    : "'" + target + "' is not an account's or a session's JID"));
        target = jid->str();
    }
    line = args[0] == "list" ? (target.empty() ? std::string("session list") : "session list " + target)
                             : "kick admin " + target;
    auto r = ctl::control_request(cfg->control_socket, line);
    if (!r) {
        if (r.status().code() == "not-running") {
            std::cerr << "parleyctl: parleyd is not running (no answer on " << cfg->control_socket << ")\n";
            return kExitNotRunning;
        }
        return fail(r.status());
    }
    auto answer = ctl::JsonValue::parse(r.value());
    if (!answer || !answer->is(ctl::JsonValue::Kind::object))
        return fail(Status::error("control", "parleyd's answer is not JSON: " + r.value()));
    if (!answer->flag("ok")) return fail(Status::error("control", answer->str("error", r.value())));
    if (g_json) {
        std::cout << r.value() << "\n";
        return kExitOk;
    }
    if (args[0] == "kick") {
        const std::string closed = answer->str("closed", "0");
        if (closed == "0") return fail(Status::error("not-found", target + " has no session"));
        std::cout << "ended " << closed << " session" << (closed == "1" ? "" : "s") << " of " << target << "\n";
        return kExitOk;
    }
    const ctl::JsonValue* sessions = answer->get("sessions");
    if (!sessions || !sessions->is(ctl::JsonValue::Kind::array))
        return fail(Status::error("control", "parleyd's answer has no session list"));
    if (sessions->items().empty()) {
        std::cout << (target.empty() ? std::string("no sessions") : target + " has no session") << "\n";
        return kExitOk;
    }
    std::cout << "JID\tWORKER\tID\tAVAILABLE\tPRIORITY\tADDRESS\tTLS\tSINCE\n";
    for (const auto& sess : sessions->items()) {
        const bool detailed = sess.get("connected") != nullptr;
        std::string address = !detailed ? "?" : sess.flag("connected") ? sess.str("address", "-") : "(detached)";
        std::cout << sess.str("jid") << "\t" << sess.str("worker") << "\t" << sess.str("id") << "\t"
                  << (sess.flag("available") ? "yes" : "no") << "\t" << sess.str("priority") << "\t" << address
                  << "\t" << (!detailed ? "?" : sess.flag("tls") ? "yes" : "no") << "\t"
                  << (detailed ? utc(std::stoll(sess.str("since", "0"))) : std::string("?")) << "\n";
    }
    if (answer->flag("truncated"))
        std::cout << "(" << answer->str("total") << " sessions in all; the first " << sessions->items().size()
                  << " are shown)\n";
    return kExitOk;
}

// The digits of the number field `key` of a flat JSON object ("" if none).
std::string json_number_field(const std::string& json, const std::string& key) {
    auto k = json.find("\"" + key + "\":");
    if (k == std::string::npos) return {};
    size_t i = k + key.size() + 3, e = i;
    while (e < json.size() && json[e] >= '0' && json[e] <= '9') ++e;
    return json.substr(i, e - i);
}

// The value of the string field `key` of a flat JSON object, unescaped.
std::string json_string_field(const std::string& json, const std::string& key) {
    auto k = json.find("\"" + key + "\":\"");
    if (k == std::string::npos) return {};
    std::string out;
    for (size_t i = k + key.size() + 4; i < json.size() && json[i] != '"'; ++i) {
        if (json[i] != '\\' || i + 1 >= json.size()) {
            out += json[i];
            continue;
        }
        char e = json[++i];
        if (e == 'n') out += '\n';
        else if (e == 'u' && i + 4 < json.size()) {
            out += static_cast<char>(std::stoi(json.substr(i + 1, 4), nullptr, 16));
            i += 4;
        } else out += e;
    }
    return out;
}

// `parleyctl roster ...`: served by the roster module of a running parleyd,
// so that the user's online clients get their roster pushes.
int roster_command(const std::string& config_path, std::vector<std::string> args) {
    bool json = false;
    std::erase_if(args, [&](const std::string& a) { return a == "--json" ? (json = true) : false; });
    if (args.size() < 2 || (args[0] != "show" && args[0] != "add" && args[0] != "del") ||
        (args[0] == "show" && args.size() != 2) || (args[0] != "show" && args.size() < 3)) {
        usage(std::cerr);
        return kExitUsage;
    }
    auto ctx = open_store(config_path);
    if (!ctx) return fail(ctx.status());
    auto jid = account_jid(ctx.value(), args[1]);
    if (!jid) return fail(jid.status());
    auto exists = ctx->accounts->exists(jid->node(), jid->domain());
    if (!exists) return fail(exists.status());
    if (!exists.value()) return fail(Status::error("not-found", jid->bare_str() + " does not exist"));
    std::string line = "roster";
    for (const auto& a : args) line += " " + ctl::control_arg(a);
    auto r = ctl::control_request(ctx->cfg.control_socket, line, 15000);
    if (!r) {
        if (r.status().code() == "not-running") {
            std::cerr << "parleyctl: parleyd is not running; rosters are changed and read through it\n";
            return kExitNotRunning;
        }
        return fail(r.status());
    }
    const std::string& j = r.value();
    if (j.find("\"ok\":true") == std::string::npos) return fail(Status::error("roster", json_string_field(j, "error")));
    if (json) std::cout << j << "\n";
    else if (args[0] == "show") std::cout << json_string_field(j, "text");
    else std::cout << (args[0] == "add" ? "added " : "removed ") << args[2] << " in the roster of " << jid->bare_str() << "\n";
    return kExitOk;
}

// `parleyctl federation ...`: served by the federation_policy module of a
// running parleyd (worker 0). Changes carry who ran parleyctl, for the audit log.
int federation_command(const std::string& config_path, std::vector<std::string> args) {
    bool json = false;
    std::erase_if(args, [&](const std::string& a) { return a == "--json" ? (json = true) : false; });
    const std::string verb = args.empty() ? "" : args[0];
    const bool change = verb == "allow" || verb == "deny" || verb == "tier" || verb == "clear";
    const bool ok = (verb == "show" && args.size() <= 2) || (verb == "explain" && args.size() >= 2 && args.size() <= 5) ||
                    (verb == "allow" && (args.size() == 2 || args.size() == 3)) ||
                    ((verb == "deny" || verb == "clear") && args.size() == 2) || (verb == "tier" && args.size() == 3);
    if (!ok) {
        usage(std::cerr);
        return kExitUsage;
    }
    auto cfg = config::load(config_path);
    if (!cfg) return fail(cfg.status());
    std::string line = "federation";
    for (const auto& a : args) line += " " + ctl::control_arg(a);
    if (change) line += " " + ctl::control_arg(ctl::who_runs());
    auto r = ctl::control_request(cfg->control_socket, line, 15000);
    if (!r) {
        if (r.status().code() == "not-running") {
            std::cerr << "parleyctl: parleyd is not running; the federation policy is read and changed through it\n";
            return kExitNotRunning;
        }
        return fail(r.status());
    }
    const std::string& j = r.value();
    if (j.find("\"ok\":true") == std::string::npos)
        return fail(Status::error("federation", json_string_field(j, "error")));
    if (json) std::cout << j << "\n";
    else if (change)
        std::cout << args[1] << ": tier " << json_string_field(j, "tier") << " (rule " << json_string_field(j, "rule")
                  << ")\n";
    else std::cout << json_string_field(j, "text");
    return kExitOk;
}

// `parleyctl room ...`: served by the muc module of a running parleyd, on
// the worker that owns the room, so that occupants are told of each change.
int room_command(const std::string& config_path, std::vector<std::string> args) {
    bool json = false;
    std::erase_if(args, [&](const std::string& a) { return a == "--json" ? (json = true) : false; });
    const bool ok = !args.empty() &&
                    ((args[0] == "list" && args.size() == 1) || (args[0] == "show" && args.size() == 2) ||
                     (args[0] == "create" && args.size() == 3) || (args[0] == "destroy" && args.size() >= 2) ||
                     (args[0] == "affiliation" && args.size() >= 5 && args[1] == "set") ||
                     (args[0] == "config" && args.size() == 5 && args[1] == "set"));
    if (!ok) {
        usage(std::cerr);
        return kExitUsage;
    }
    auto cfg = config::load(config_path);
    if (!cfg) return fail(cfg.status());
    std::string line = "room";
    for (const auto& a : args) line += " " + ctl::control_arg(a);
    auto r = ctl::control_request(cfg->control_socket, line, 15000);
    if (!r) {
        if (r.status().code() == "not-running") {
            std::cerr << "parleyctl: parleyd is not running; rooms are read and changed through it\n";
            return kExitNotRunning;
        }
        return fail(r.status());
    }
    const std::string& j = r.value();
    if (j.find("\"ok\":true") == std::string::npos) return fail(Status::error("room", json_string_field(j, "error")));
    if (json) std::cout << j << "\n";
    else if (args[0] == "list" || args[0] == "show") std::cout << json_string_field(j, "text");
    else if (args[0] == "create") std::cout << "created " << args[1] << ", owned by " << args[2] << "\n";
    else if (args[0] == "destroy") std::cout << "destroyed " << args[1] << "\n";
    else if (args[0] == "affiliation") std::cout << args[3] << " is now " << args[4] << " of " << args[2] << "\n";
    else std::cout << "set " << args[3] << " of " << args[2] << "\n";
    return kExitOk;
}

// `parleyctl retention ...` and `parleyctl hold ...`: served by the archive
// module of a running parleyd (worker 0), which writes every change and its
// audit event through the journal's writer.
int keeper_command(const std::string& config_path, const std::string& cmd, std::vector<std::string> args) {
    bool json = false;
    std::string type = "-";
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        if (args[i] == "--json") json = true;
        else if (args[i] == "--type" && i + 1 < args.size()) type = args[++i];
        else rest.push_back(args[i]);
    }
    const std::string verb = rest.empty() ? "" : rest[0];
    std::vector<std::string> line_args;
    std::string name = cmd;
    if (cmd == "retention" && verb == "list" && rest.size() == 1) line_args = {"list"};
    else if (cmd == "retention" && verb == "explain" && rest.size() == 2) line_args = {"explain", rest[1]};
    else if (cmd == "retention" && verb == "set" && rest.size() == 4)
        line_args = {"set", rest[1], rest[2], type, rest[3], ctl::who_runs()};
    else if (cmd == "retention" && verb == "del" && rest.size() == 3)
        line_args = {"del", rest[1], rest[2], type, ctl::who_runs()};
    else if (cmd == "retention" && verb == "purge" && rest.size() == 1) {
        name = "archive";
        line_args = {"purge", ctl::who_runs()};
    } else if (cmd == "hold" && verb == "list" && rest.size() == 1) line_args = {"list"};
    else if (cmd == "hold" && verb == "release" && rest.size() == 2) line_args = {"release", rest[1], ctl::who_runs()};
    else if (cmd == "hold" && verb == "add" && rest.size() >= 5) {
        line_args = {"add", rest[1], rest[2], rest[3], ctl::who_runs()};
        line_args.insert(line_args.end(), rest.begin() + 4, rest.end());
    } else {
        usage(std::cerr);
        return kExitUsage;
    }
    auto cfg = config::load(config_path);
    if (!cfg) return fail(cfg.status());
    std::string line = name;
    for (const auto& a : line_args) line += " " + ctl::control_arg(a);
    auto r = ctl::control_request(cfg->control_socket, line, 15000);
    if (r && verb == "purge" && r->find("\"ok\":true") != std::string::npos) {
        // The pass runs on in parleyd (a large archive takes a while): ask
        // how it is doing until it has ended, for at most 10 minutes.
        const std::string pass = json_number_field(r.value(), "pass");
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
        while (r && r->find("\"ok\":true") != std::string::npos && r->find("\"summary\"") == std::string::npos) {
            if (std::chrono::steady_clock::now() > deadline) {
                std::cerr << "parleyctl: purge pass " << pass << " still runs after 10 minutes; its outcome goes "
                             "to the audit log (parleyctl archive audit)\n";
                return kExitFailure;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            r = ctl::control_request(cfg->control_socket, "archive purge-status " + pass, 15000);
        }
    }
    if (!r) {
        if (r.status().code() == "not-running") {
            std::cerr << "parleyctl: parleyd is not running; retention and holds are changed through it\n";
            return kExitNotRunning;
        }
        return fail(r.status());
    }
    const std::string& j = r.value();
    if (j.find("\"ok\":true") == std::string::npos) return fail(Status::error(cmd, json_string_field(j, "error")));
    if (json) std::cout << j << "\n";
    else std::cout << json_string_field(j, "text");
    return kExitOk;
}

int status_command(const std::string& config_path) {
    auto cfg = config::load(config_path);
    if (!cfg) return fail(cfg.status());
    auto r = ctl::control_request(cfg->control_socket, "status");
    if (!r) {
        if (r.status().code() == "not-running") {
            std::cout << "parleyd is not running (no answer on " << cfg->control_socket << ")\n";
            return kExitNotRunning;
        }
        return fail(r.status());
    }
    const std::string& j = r.value();
    if (j.find("\"ok\":true") == std::string::npos) return fail(Status::error("control", j));
    std::cout << "parleyd " << json_field(j, "version") << " running: " << json_field(j, "workers") << " workers, "
              << json_field(j, "sessions") << " sessions, up " << json_field(j, "uptime_s") << " s\n";
    return kExitOk;
}

int reload_command(const std::string& config_path) {
    auto cfg = config::load(config_path);
    if (!cfg) return fail(cfg.status());
    auto r = ctl::control_request(cfg->control_socket, "reload", 30000);
    if (!r) {
        if (r.status().code() == "not-running") {
            std::cout << "parleyd is not running\n";
            return kExitNotRunning;
        }
        return fail(r.status());
    }
    if (r.value().find("\"ok\":true") == std::string::npos)
        return fail(Status::error("reload", "parleyd kept its running configuration: " + json_field(r.value(), "error")));
    std::cout << "reloaded\n";
    return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    if (const char* env = std::getenv("PARLEY_CONFIG")) config_path = env;
    if (config_path.empty()) config_path = PARLEY_SYSCONFDIR "/parley/parley.toml";
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--config" && i + 1 < argc) config_path = argv[++i];
        else if (a.rfind("--config=", 0) == 0) config_path = a.substr(9);
        else if (a == "--help" || a == "-h") {
            usage(std::cout);
            return kExitOk;
        } else if (a == "--version") {
            std::cout << "parleyctl " PACKAGE_VERSION "\n";
            return kExitOk;
        } else args.push_back(a);
    }
    if (args.empty()) {
        usage(std::cerr);
        return kExitUsage;
    }
    const std::string cmd = args[0];
    args.erase(args.begin());
    if (cmd == "user") return user_command(config_path, args);
    if (cmd == "roster") return roster_command(config_path, args);
    if (cmd == "room") return room_command(config_path, args);
    if (cmd == "federation") return federation_command(config_path, args);
    if (cmd == "invite") return invite_command(config_path, args);
    if (cmd == "session") return session_command(config_path, args);
    if (cmd == "status" && args.empty()) return status_command(config_path);
    if (cmd == "reload" && args.empty()) return reload_command(config_path);
    if (cmd == "retention" || cmd == "hold") return keeper_command(config_path, cmd, args);
    if (cmd == "archive") return ctl::archive_command(config_path, args, std::cout, std::cerr);
    // The audit log is the archive's, and `archive audit` checks it; the
    // compliance documents know the check as `audit verify`.
    if (cmd == "audit" && !args.empty() && args[0] == "verify") {
        args[0] = "audit";
        return ctl::archive_command(config_path, args, std::cout, std::cerr);
    }
    usage(std::cerr);
    return kExitUsage;
}

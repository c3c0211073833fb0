#include "keeper.hpp"

#include <fmt/core.h>

#include <charconv>
#include <algorithm>
#include <chrono>

#include "archive/audit/audit.hpp"
#include "archive/hold/holds.hpp"
#include "archive/retention/purge.hpp"
#include "log/log.hpp"
#include "module/control_json.hpp"
#include "xmpp/jid.hpp"

namespace parley::mod_archive {

namespace {

using module::json_string;

const char* const kTypes[] = {"", "chat", "normal", "groupchat", "headline", "error"};

uint64_t now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

bool known_type(std::string_view t) {
    for (const char* k : kTypes)
        if (t == k) return true;
    return false;
}

// "-" stands for an empty field on the command line.
std::string field(const std::string& arg) { return arg == "-" ? std::string() : arg; }

std::string join(const std::vector<std::string>& args, size_t from) {
    std::string out;
    for (size_t i = from; i < args.size(); ++i) out += (i > from ? " " : "") + args[i];
    return out;
}

// Checks a rule's or hold's scope and target; returns the error text or "".
std::string check_target(archive::Scope scope, const std::string& target) {
    switch (scope) {
        case archive::Scope::all:
            return target.empty() ? "" : "the default scope takes no target (write -)";
        case archive::Scope::domain: {
            auto j = xmpp::Jid::parse(target);
            return j && !j->has_node() && !j->has_resource() ? "" : "'" + target + "' is not a domain";
        }
        case archive::Scope::user:
        case archive::Scope::room: {
            auto j = xmpp::Jid::parse(target);
            return j && j->has_node() && j->is_bare() ? "" : "'" + target + "' is not a bare JID";
        }
    }
    return "unknown scope";
}

std::string rule_json(const archive::Rule& r) {
    return fmt::format("{{\"scope\":\"{}\",\"target\":{},\"type\":{},\"days\":{},\"origin\":{}}}",
                       archive::to_string(r.scope), json_string(r.target), json_string(r.type), r.days,
                       json_string(r.origin));
}

std::string rule_text(const archive::Rule& r) {
    return fmt::format("{:<8} {:<30} {:<10} {:>6}  {}", archive::to_string(r.scope), r.target.empty() ? "-" : r.target,
                       r.type.empty() ? "every" : r.type, r.days == 0 ? std::string("forever") : std::to_string(r.days),
                       r.origin);
}

std::string hold_json(const archive::LegalHold& h) {
    return fmt::format("{{\"case\":{},\"scope\":\"{}\",\"target\":{},\"reason\":{},\"by\":{},\"since_ms\":{},"
                       "\"active\":{},\"released_ms\":{},\"released_by\":{}}}",
                       json_string(h.case_id), archive::to_string(h.scope), json_string(h.target),
                       json_string(h.reason), json_string(h.by), h.since_ms, h.active(), h.released_ms,
                       json_string(h.released_by));
}

}  // namespace

struct Keeper::Pass {
    uint64_t number = 0;
    std::string who;
    uint64_t from = 0;
    uint64_t started_ms = 0;
    uint64_t batches = 0;
    std::string basis;  // the rules and holds the batches used; "" once they changed during the pass
    uint64_t next_due_ms = UINT64_MAX;
    archive::PurgeResult total;
    std::vector<std::function<void(Result<std::string>)>> waiting;
};

Result<KeeperSettings> read_keeper_settings(const config::Section& section) {
    KeeperSettings s;
    config::Section r = section.table("retention");
    s.rules.push_back({archive::Scope::all, "", "", static_cast<uint32_t>(r.get_int("default_days", 0)), "config", 0});
    for (const config::Section& rule : r.tables("rule")) {
        archive::Rule x;
        auto scope = archive::parse_scope(rule.get_string("scope", "default"));
        x.scope = scope.value_or(archive::Scope::all);
        x.target = rule.get_string("target", "");
        x.type = rule.get_string("type", "");
        x.days = static_cast<uint32_t>(rule.get_int("days", 0));
        x.origin = "config " + rule.where("days");
        if (std::string e = check_target(x.scope, x.target); !e.empty())
            return Status::error("config", rule.where("target") + ": " + e);
        if (!known_type(x.type))
            return Status::error("config", rule.where("type") + ": must be chat, normal, groupchat, headline, error "
                                                                "or empty");
        for (const archive::Rule& other : s.rules)
            if (other.scope == x.scope && other.target == x.target && other.type == x.type)
                return Status::error("config", rule.where("scope") + ": a second rule for the same scope, target and "
                                                                     "type");
        s.rules.push_back(std::move(x));
    }
    s.purge_interval_s = static_cast<uint64_t>(r.get_int("purge_interval", 3600));
    s.purge_batch = static_cast<size_t>(r.get_int("purge_batch", 1000));
    return s;
}

Keeper::Keeper(module::Host& host, std::shared_ptr<module::Database> journal_db, const archive::Journal& journal,
               KeeperSettings settings)
    : host_(host), db_(std::move(journal_db)), journal_(journal), settings_(std::move(settings)) {}

Keeper::~Keeper() {
    alive_.reset();
    if (timer_) host_.cancel_timer(timer_);
}

Status Keeper::start() {
    Status s = host_.control_command("retention", [this](const auto& args, auto reply) { retention(args, reply); });
    if (s) s = host_.control_command("hold", [this](const auto& args, auto reply) { hold(args, reply); });
    if (s) s = host_.control_command("archive", [this](const auto& args, auto reply) { archive_cmd(args, reply); });
    if (!s) return s;
    const uint64_t every = settings_.purge_interval_s * 1000;
    timer_ = host_.add_timer(every, every, [this] { purge("schedule", nullptr); });
    return Status::ok();
}

uint64_t Keeper::purge(std::string who, std::function<void(Result<std::string>)> done) {
    if (pass_) {
        if (done) pass_->waiting.push_back(std::move(done));
        return pass_->number;
    }
    pass_ = std::make_unique<Pass>();
    pass_->number = ++pass_seq_;
    pass_->who = std::move(who);
    pass_->started_ms = now_ms();
    if (done) pass_->waiting.push_back(std::move(done));
    const uint64_t number = pass_->number;
    next_batch();
    return number;
}

void Keeper::next_batch() {
    auto result = std::make_shared<archive::PurgeResult>();
    auto resumed = std::make_shared<bool>(false);
    const uint64_t now = now_ms();
    Status s = db_->write(
        [journal = journal_, rules = settings_.rules, from = pass_->from, batch = settings_.purge_batch, now,
         who = pass_->who, result, first = pass_->batches == 0, resume = resume_,
         resumed = resumed](store::Txn& t, MDB_dbi db) {
            auto runtime = archive::load_rules(t.handle(), db);
            if (!runtime) return runtime.status();
            auto holds = archive::load_holds(t.handle(), db);
            if (!holds) return holds.status();
            archive::Policy policy(rules, *runtime);
            uint64_t start = from;
            // A pass starts where the last one ended when nothing it kept
            // can be due yet under the same rules and holds.
            *resumed = first && resume && now < resume->until_ms &&
                       resume->basis == archive::decision_basis(policy, *holds);
            if (*resumed) start = resume->from;
            auto r = archive::purge_batch(journal, t.handle(), db, policy, *holds, {now, start, batch});
            if (!r) return r.status();
            *result = *r;
            if (r->removed || r->views_removed || r->held) {
                auto a = archive::append_audit(journal, t.handle(), db,
                                               {0, now, "parleyd retention (" + who + ")", "purge", "all", r->summary()});
                if (!a) return a.status();
            }
            return Status::ok();
        },
        [this, alive = std::weak_ptr<bool>(alive_), result, resumed](Status st) {
            if (alive.expired() || !pass_) return;
            auto finish = [&](Result<std::string> outcome) {
                auto waiting = std::move(pass_->waiting);
                ended_.emplace_back(pass_->number, outcome);
                if (ended_.size() > kPassesKept) ended_.erase(ended_.begin());
                pass_.reset();
                for (auto& w : waiting) w(outcome);
            };
            if (!st) {
                log::error("archive", "a retention purge batch failed: {}", st.to_string());
                finish(st);
                return;
            }
            // What the records before a resumed start may need stays owed.
            if (*resumed && resume_) pass_->next_due_ms = resume_->until_ms;
            if (pass_->batches == 0) pass_->basis = result->basis;
            else if (pass_->basis != result->basis) pass_->basis.clear();
            pass_->next_due_ms = std::min(pass_->next_due_ms, result->next_due_ms);
            archive::PurgeResult& t = pass_->total;
            t.add(*result);
            ++pass_->batches;
            if (!result->done) {
                pass_->from = result->next_id;
                next_batch();
                return;
            }
            if (pass_->basis.empty()) resume_.reset();
            else resume_ = Resume{pass_->basis, result->next_id, pass_->next_due_ms};
            std::string summary = t.summary();
            if (t.removed || t.views_removed) log::info("archive", "retention purge: {}", summary);
            finish(summary);
        });
    if (!s) {
        // The writer is busy with traffic: try again at the next interval.
        log::warn("archive", "retention purge postponed: {}", s.to_string());
        auto waiting = std::move(pass_->waiting);
        ended_.emplace_back(pass_->number, s);
        if (ended_.size() > kPassesKept) ended_.erase(ended_.begin());
        pass_.reset();
        for (auto& w : waiting) w(s);
    }
}

void Keeper::forget(const std::string& owner, bool compliance, std::function<void(Status)> done) {
    if (compliance) {
        // The journal keeps everything in compliance mode (disclosed in disco).
        Status s = db_->write(
            [journal = journal_, owner, now = now_ms()](store::Txn& t, MDB_dbi db) {
                auto a = archive::append_audit(journal, t.handle(), db,
                                               {0, now, "parleyd (account deleted)", "account.forget", "user " + owner,
                                                "kept: compliance mode"});
                return a ? Status::ok() : a.status();
            },
            [alive = std::weak_ptr<bool>(alive_), done](Status st) {
                if (!alive.expired()) done(st);
            });
        if (!s) done(s);
        return;
    }
    forget_batch(owner, 0, std::make_shared<archive::PurgeResult>(), std::move(done));
}

void Keeper::forget_batch(std::string owner, uint64_t from, std::shared_ptr<archive::PurgeResult> total,
                          std::function<void(Status)> done) {
    auto result = std::make_shared<archive::PurgeResult>();
    Status s = db_->write(
        [journal = journal_, owner, from, batch = settings_.purge_batch, now = now_ms(), so_far = *total,
         result](store::Txn& t, MDB_dbi db) {
            auto holds = archive::load_holds(t.handle(), db);
            if (!holds) return holds.status();
            auto r = archive::forget_owner_batch(journal, t.handle(), db, owner, *holds, {now, from, batch});
            if (!r) return r.status();
            *result = *r;
            if (r->done) {
                archive::PurgeResult all = so_far;
                all.add(*r);
                auto a = archive::append_audit(journal, t.handle(), db,
                                               {0, now, "parleyd (account deleted)", "account.forget", "user " + owner,
                                                all.summary()});
                if (!a) return a.status();
            }
            return Status::ok();
        },
        [this, alive = std::weak_ptr<bool>(alive_), owner, total, result, done](Status st) {
            if (alive.expired()) return;
            if (!st) {
                log::error("archive", "removing the archive of the deleted account {} failed: {}", owner, st.to_string());
                done(st);
                return;
            }
            total->add(*result);
            if (!result->done) {
                forget_batch(owner, result->next_id, total, done);
                return;
            }
            log::info("archive", "the archive of the deleted account {}: {}", owner, total->summary());
            done(Status::ok());
        });
    if (!s) done(s);
}

void Keeper::retention(const std::vector<std::string>& args, module::ControlReply reply) {
    auto usage = [&] {
        reply(Status::error("usage", "usage: retention list | retention set SCOPE TARGET TYPE DAYS WHO | "
                                     "retention del SCOPE TARGET TYPE WHO | retention explain JID"));
    };
    if (args.empty()) return usage();
    const std::string& verb = args[0];
    if (verb == "list" && args.size() == 1) {
        std::vector<archive::Rule> runtime;
        Status s = db_->read([&](const store::Txn& t, MDB_dbi db) {
            auto r = archive::load_rules(t.handle(), db);
            if (!r) return r.status();
            runtime = std::move(*r);
            return Status::ok();
        });
        if (!s) return reply(s);
        archive::Policy policy(settings_.rules, runtime);
        std::string json = "{\"rules\":[", text;
        bool first = true;
        for (const archive::Rule& r : policy.rules()) {
            json += (first ? "" : ",") + rule_json(r);
            first = false;
            text += rule_text(r) + "\n";
        }
        json += "],\"text\":" + json_string(text) + "}";
        return reply(json);
    }
    if (verb == "explain" && (args.size() == 2 || args.size() == 3)) {
        auto jid = xmpp::Jid::parse(args[1]);
        if (!jid) return reply(Status::error("invalid", "'" + args[1] + "' is not a JID"));
        std::vector<archive::Rule> runtime;
        std::vector<archive::LegalHold> holds;
        Status s = db_->read([&](const store::Txn& t, MDB_dbi db) {
            auto r = archive::load_rules(t.handle(), db);
            if (!r) return r.status();
            runtime = std::move(*r);
            auto h = archive::load_holds(t.handle(), db);
            if (!h) return h.status();
            holds = std::move(*h);
            return Status::ok();
        });
        if (!s) return reply(s);
        archive::Policy policy(settings_.rules, runtime);
        std::string json = "{\"jid\":" + json_string(jid->bare_str()) + ",\"types\":[";
        std::string text;
        for (size_t i = 1; i < std::size(kTypes); ++i) {
            archive::Decision d = policy.decide(jid->bare_str(), kTypes[i]);
            json += fmt::format("{}{{\"type\":\"{}\",\"days\":{},\"rule\":{},\"text\":{}}}", i > 1 ? "," : "",
                                kTypes[i], d.days, rule_json(d.rule), json_string(d.explain()));
            text += fmt::format("{:<10} {}\n", kTypes[i], d.explain());
        }
        json += "],\"holds\":[";
        archive::Entry probe;
        probe.from = jid->bare_str();
        bool first = true;
        for (const archive::LegalHold& h : holds) {
            if (!h.active() || !archive::held({h}, probe)) continue;
            json += (first ? "" : ",") + json_string(h.case_id);
            first = false;
            text += "on legal hold: case " + h.case_id + " (" + h.reason + "): nothing is deleted\n";
        }
        json += "],\"text\":" + json_string(text) + "}";
        return reply(json);
    }
    const bool set = verb == "set" && args.size() == 6;
    const bool del = verb == "del" && args.size() == 5;
    if (!set && !del) return usage();
    archive::Rule rule;
    auto scope = archive::parse_scope(args[1]);
    if (!scope) return reply(Status::error("invalid", "scope must be default, domain, user or room"));
    rule.scope = *scope;
    rule.target = field(args[2]);
    rule.type = field(args[3]);
    if (std::string e = check_target(rule.scope, rule.target); !e.empty()) return reply(Status::error("invalid", e));
    if (!known_type(rule.type))
        return reply(Status::error("invalid", "type must be chat, normal, groupchat, headline, error or -"));
    const std::string who = args.back();
    if (set) {
        uint32_t days = 0;
        auto [p, ec] = std::from_chars(args[4].data(), args[4].data() + args[4].size(), days);
        if (args[4] == "forever") days = 0;
        else if (ec != std::errc() || p != args[4].data() + args[4].size() || days > 36500)
            return reply(Status::error("invalid", "days must be 0 to 36500 (0 or forever: keep forever)"));
        rule.days = days;
    }
    rule.origin = "set by " + who;
    rule.set_ms = now_ms();
    const std::string scope_text = std::string(archive::to_string(rule.scope)) +
                                   (rule.target.empty() ? "" : " " + rule.target) +
                                   (rule.type.empty() ? "" : " " + rule.type);
    auto found = std::make_shared<bool>(true);
    Status s = db_->write(
        [journal = journal_, rule, set, who, scope_text, found](store::Txn& t, MDB_dbi db) {
            std::string result;
            if (set) {
                if (Status p = archive::put_rule(t.handle(), db, rule); !p) return p;
                result = rule.days == 0 ? "keep forever" : "keep " + std::to_string(rule.days) + " days";
            } else {
                auto d = archive::delete_rule(t.handle(), db, rule.scope, rule.target, rule.type);
                if (!d) return d.status();
                *found = *d;
                if (!*d) return Status::error("not-found", "no run-time rule for " + scope_text);
                result = "removed";
            }
            auto a = archive::append_audit(journal, t.handle(), db,
                                           {0, rule.set_ms, who, set ? "retention.set" : "retention.del", scope_text,
                                            result});
            return a ? Status::ok() : a.status();
        },
        [reply, set, scope_text, rule](Status st) {
            if (!st) return reply(st);
            std::string text = set ? "retention for " + scope_text + ": " +
                                         (rule.days == 0 ? "keep forever" : "keep " + std::to_string(rule.days) + " days")
                                   : "removed the run-time rule for " + scope_text;
            reply("{\"text\":" + json_string(text + "\n") + "}");
        });
    if (!s) reply(s);
}

void Keeper::hold(const std::vector<std::string>& args, module::ControlReply reply) {
    auto usage = [&] {
        reply(Status::error("usage", "usage: hold list | hold add CASE SCOPE TARGET WHO REASON... | "
                                     "hold release CASE WHO"));
    };
    if (args.empty()) return usage();
    const std::string& verb = args[0];
    if (verb == "list" && args.size() == 1) {
        std::vector<archive::LegalHold> holds;
        Status s = db_->read([&](const store::Txn& t, MDB_dbi db) {
            auto h = archive::load_holds(t.handle(), db);
            if (!h) return h.status();
            holds = std::move(*h);
            return Status::ok();
        });
        if (!s) return reply(s);
        std::string json = "{\"holds\":[", text;
        for (size_t i = 0; i < holds.size(); ++i) {
            const auto& h = holds[i];
            json += (i ? "," : "") + hold_json(h);
            text += fmt::format("{:<16} {:<8} {:<30} {} by {}{}\n", h.case_id, archive::to_string(h.scope),
                                h.target.empty() ? "-" : h.target, h.active() ? "ACTIVE" : "released", h.by,
                                h.active() ? "" : " (released by " + h.released_by + ")");
        }
        json += "],\"text\":" + json_string(text) + "}";
        return reply(json);
    }
    if (verb == "add" && args.size() >= 6) {
        archive::LegalHold h;
        h.case_id = args[1];
        auto scope = archive::parse_scope(args[2]);
        if (!scope) return reply(Status::error("invalid", "scope must be user, room, domain or default"));
        h.scope = *scope;
        h.target = field(args[3]);
        if (std::string e = check_target(h.scope, h.target); !e.empty()) return reply(Status::error("invalid", e));
        if (h.case_id.empty() || h.case_id.size() > 200) return reply(Status::error("invalid", "a case id is needed"));
        h.by = args[4];
        h.reason = join(args, 5);
        h.since_ms = now_ms();
        Status s = db_->write(
            [journal = journal_, h](store::Txn& t, MDB_dbi db) {
                if (Status a = archive::add_hold(t.handle(), db, h); !a) return a;
                auto e = archive::append_audit(journal, t.handle(), db,
                                               {0, h.since_ms, h.by, "hold.add",
                                                std::string(archive::to_string(h.scope)) + " " + h.target,
                                                "case " + h.case_id + ": " + h.reason});
                return e ? Status::ok() : e.status();
            },
            [reply, h](Status st) {
                if (!st) return reply(st);
                reply("{\"text\":" + json_string("case " + h.case_id + " on hold: nothing in its scope is deleted\n") +
                      "}");
            });
        if (!s) reply(s);
        return;
    }
    if (verb == "release" && args.size() == 3) {
        const std::string case_id = args[1], who = args[2];
        const uint64_t now = now_ms();
        Status s = db_->write(
            [journal = journal_, case_id, who, now](store::Txn& t, MDB_dbi db) {
                auto r = archive::release_hold(t.handle(), db, case_id, who, now);
                if (!r) return r.status();
                auto e = archive::append_audit(journal, t.handle(), db,
                                               {0, now, who, "hold.release",
                                                std::string(archive::to_string(r->scope)) + " " + r->target,
                                                "case " + case_id});
                return e ? Status::ok() : e.status();
            },
            [reply, case_id](Status st) {
                if (!st) return reply(st);
                reply("{\"text\":" + json_string("case " + case_id + " released\n") + "}");
            });
        if (!s) reply(s);
        return;
    }
    usage();
}

void Keeper::archive_cmd(const std::vector<std::string>& args, module::ControlReply reply) {
    if (args.size() == 2 && args[0] == "purge") {
        // Answered at once: a pass over a large archive outlasts a control
        // request. The caller asks `purge-status N` until it has ended.
        const uint64_t n = purge(args[1], nullptr);
        auto ended = std::find_if(ended_.begin(), ended_.end(), [&](const auto& e) { return e.first == n; });
        if (ended != ended_.end() && !ended->second) return reply(ended->second.status());  // could not start
        reply("{\"pass\":" + std::to_string(n) + "}");
        return;
    }
    if (args.size() == 2 && args[0] == "purge-status") {
        uint64_t n = 0;
        try {
            n = std::stoull(args[1]);
        } catch (const std::exception&) {
            return reply(Status::error("usage", "purge-status takes a pass number"));
        }
        if (pass_ && pass_->number == n)
            return reply("{\"pass\":" + std::to_string(n) + ",\"running\":true,\"examined\":" +
                         std::to_string(pass_->total.examined) + "}");
        for (const auto& [number, outcome] : ended_)
            if (number == n) {
                if (!outcome) return reply(outcome.status());
                return reply("{\"pass\":" + std::to_string(n) + ",\"running\":false,\"summary\":" +
                             json_string(*outcome) + ",\"text\":" + json_string(*outcome + "\n") + "}");
            }
        return reply(Status::error("not-found", "no purge pass " + args[1] + " is remembered"));
    }
    if (args.size() >= 5 && args[0] == "audit") {
        archive::AuditEvent e{0, now_ms(), args[1], args[2], args[3], join(args, 4)};
        Status s = db_->write(
            [journal = journal_, e](store::Txn& t, MDB_dbi db) {
                auto a = archive::append_audit(journal, t.handle(), db, e);
                return a ? Status::ok() : a.status();
            },
            [reply](Status st) {
                if (!st) return reply(st);
                reply(std::string("{}"));
            });
        if (!s) reply(s);
        return;
    }
    reply(Status::error("usage", "usage: archive purge WHO | archive purge-status PASS | "
                                 "archive audit WHO ACTION SCOPE RESULT..."));
}

}  // namespace parley::mod_archive

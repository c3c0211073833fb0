#include "archive/retention/policy.hpp"

#include <algorithm>

#include "archive/journal/journal.hpp"
#include "archive/journal/raw_db.hpp"

namespace parley::archive {

namespace {

constexpr char kRulePrefix = 'R';

std::string rule_key(Scope scope, std::string_view target, std::string_view type) {
    std::string k(1, kRulePrefix);
    k.push_back(static_cast<char>(scope));
    raw::put_str16(k, target);
    raw::put_str16(k, type);
    return k;
}

}  // namespace

const char* to_string(Scope s) {
    switch (s) {
        case Scope::all: return "default";
        case Scope::domain: return "domain";
        case Scope::user: return "user";
        case Scope::room: return "room";
    }
    return "default";
}

std::optional<Scope> parse_scope(std::string_view s) {
    if (s == "default" || s == "all") return Scope::all;
    if (s == "domain") return Scope::domain;
    if (s == "user") return Scope::user;
    if (s == "room") return Scope::room;
    return std::nullopt;
}

std::string_view bare_of(std::string_view jid) { return jid.substr(0, jid.find('/')); }

std::string_view domain_of(std::string_view jid) {
    std::string_view b = bare_of(jid);
    size_t at = b.find('@');
    return at == std::string_view::npos ? b : b.substr(at + 1);
}

std::string Decision::explain() const {
    std::string what = days == 0 ? "keep forever" : "keep " + std::to_string(days) + " day" + (days == 1 ? "" : "s");
    std::string scope = to_string(rule.scope);
    if (!rule.target.empty()) scope += " " + rule.target;
    scope += rule.type.empty() ? ", every type" : ", " + rule.type;
    return what + " (rule: " + scope + "; " + (rule.origin.empty() ? "built in" : rule.origin) + ")";
}

Policy::Policy(std::vector<Rule> configured, std::vector<Rule> runtime) {
    rules_ = std::move(configured);
    for (Rule& r : runtime) {
        auto same = std::find_if(rules_.begin(), rules_.end(), [&](const Rule& c) {
            return c.scope == r.scope && c.target == r.target && c.type == r.type;
        });
        if (same != rules_.end()) *same = std::move(r);
        else rules_.push_back(std::move(r));
    }
}

const Rule* Policy::find(Scope scope, std::string_view target, std::string_view type) const {
    for (const Rule& r : rules_)
        if (r.scope == scope && r.target == target && r.type == type) return &r;
    return nullptr;
}

Decision Policy::decide(std::string_view jid, std::string_view type) const {
    const std::string_view bare = bare_of(jid), domain = domain_of(jid);
    const std::pair<Scope, std::string_view> order[] = {
        {Scope::user, bare}, {Scope::room, bare}, {Scope::domain, domain}, {Scope::all, std::string_view()}};
    for (auto [scope, target] : order) {
        if (const Rule* r = find(scope, target, type)) return {r->days, *r};
        if (const Rule* r = find(scope, target, "")) return {r->days, *r};
    }
    // Nothing configured at all: keep forever (the safe side for a
    // compliance archive); the module always configures a default.
    return {0, Rule{Scope::all, "", "", 0, "built in", 0}};
}

uint32_t Policy::record_days(const Entry& e) const {
    // The longest wins; 0 (forever) is the longest of all.
    bool any = false;
    uint32_t longest = 0;
    auto take = [&](std::string_view jid) {
        uint32_t d = decide(jid, e.type).days;
        if (d == 0) {
            longest = 0;
            return false;
        }
        longest = any ? std::max(longest, d) : d;
        any = true;
        return true;
    };
    if (!e.views.empty()) {
        for (const View& v : e.views)
            if (!take(v.owner)) return 0;
        // A room's record (in the room's view only) is also the sender's
        // message: the sender's rule counts, as it did for their own view.
        if (e.type == "groupchat" && !e.from.empty() && !take(e.from)) return 0;
    } else {
        if (!take(e.from) || !take(e.to)) return 0;
    }
    return longest;
}

Result<std::vector<Rule>> load_rules(MDB_txn* txn, MDB_dbi db) {
    std::vector<Rule> out;
    bool bad = false;
    Status s = raw::scan(txn, db, std::string(1, kRulePrefix), {}, [&](std::string_view key, std::string_view value) {
        Rule r;
        std::string_view k = key.substr(1);
        if (k.empty() || static_cast<uint8_t>(k[0]) > 3) return !(bad = true);
        r.scope = static_cast<Scope>(k[0]);
        k.remove_prefix(1);
        if (!raw::get_str16(k, r.target) || !raw::get_str16(k, r.type) || !k.empty() || value.size() < 12)
            return !(bad = true);
        r.days = static_cast<uint32_t>(layout::read_u64_be(std::string(4, '\0') + std::string(value.substr(0, 4))));
        r.set_ms = layout::read_u64_be(value.substr(4, 8));
        std::string_view rest = value.substr(12);
        if (!raw::get_str16(rest, r.origin)) return !(bad = true);
        out.push_back(std::move(r));
        return true;
    });
    if (!s) return s;
    if (bad) return Status::error("corrupt", "a stored retention rule is damaged");
    return out;
}

Status put_rule(MDB_txn* txn, MDB_dbi db, const Rule& r) {
    std::string v = layout::u32_be(r.days) + layout::u64_be(r.set_ms);
    raw::put_str16(v, r.origin);
    return raw::put(txn, db, rule_key(r.scope, r.target, r.type), v);
}

Result<bool> delete_rule(MDB_txn* txn, MDB_dbi db, Scope scope, std::string_view target, std::string_view type) {
    return raw::del(txn, db, rule_key(scope, target, type));
}

}  // namespace parley::archive

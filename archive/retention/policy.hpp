// Retention policy: how long the archive keeps a message.
//
// A rule names a scope (the default, a domain, a user's bare JID, later a
// room's), optionally a message type (chat, normal, groupchat, headline,
// error; empty: every type), and how many days to keep (0: forever). For
// one party (a bare JID) and a type, the most specific rule wins: the user's
// rule for the type, the user's for every type, the domain's for the type,
// the domain's, the default's for the type, the default. Rules set at run
// time (parleyctl retention set) replace a configured rule of the same scope,
// target and type.
//
// A view (one party's archive) is kept as long as that party's rule says; a
// record as long as the longest of its views (or, for a record in no view,
// of its sender and recipient): nothing a policy still needs is deleted for
// another party's shorter one.
//
// Run-time rules are stored in the journal's database under 'R':
//   'R' scope(u8) | str16 target | str16 type  ->  u32 days | u64 set_ms | str16 by
// Value types and free functions: any thread.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "archive/journal/entry.hpp"
#include "errors/status.hpp"

namespace parley::archive {

enum class Scope : uint8_t { all = 0, domain = 1, user = 2, room = 3 };
const char* to_string(Scope s);
std::optional<Scope> parse_scope(std::string_view s);

struct Rule {
    Scope scope = Scope::all;
    std::string target;  // "" for all; the domain; the bare JID
    std::string type;    // "" for every type
    uint32_t days = 0;   // 0: forever
    std::string origin;  // "config" or who set it at run time ("parleyctl by root")
    uint64_t set_ms = 0;
    bool operator==(const Rule&) const = default;
};

// The rule that decides, and what it says.
struct Decision {
    uint32_t days = 0;  // 0: forever
    Rule rule;
    std::string explain() const;  // "keep 30 days (user alice@example.org, chat: set by ...)"
};

class Policy {
public:
    Policy() = default;
    // Configured rules, then run-time rules (which replace a configured one
    // with the same scope, target and type).
    Policy(std::vector<Rule> configured, std::vector<Rule> runtime);

    Decision decide(std::string_view bare_jid, std::string_view type) const;
    // How long a record is kept: the longest of its views' (or its parties').
    uint32_t record_days(const Entry& e) const;
    const std::vector<Rule>& rules() const { return rules_; }

private:
    const Rule* find(Scope scope, std::string_view target, std::string_view type) const;
    std::vector<Rule> rules_;
};

// Run-time rules in the journal's database.
Result<std::vector<Rule>> load_rules(MDB_txn* txn, MDB_dbi db);
Status put_rule(MDB_txn* txn, MDB_dbi db, const Rule& rule);
// false when there was no such rule.
Result<bool> delete_rule(MDB_txn* txn, MDB_dbi db, Scope scope, std::string_view target, std::string_view type);

// The bare JID of a full or bare one ("a@b/c" -> "a@b"), and its domain.
std::string_view bare_of(std::string_view jid);
std::string_view domain_of(std::string_view jid);

}  // namespace parley::archive

// Legal holds: while a hold is active, nothing in its scope is deleted by
// retention, whatever the policy says.
//
// A hold has a case id (unique among active holds), a scope (a user's bare
// JID, a room, a domain, or everything), a reason and who placed it, when.
// Releasing keeps the record of the hold (who released it, when): the list
// of holds is history, not only state. Stored in the journal's database:
//   'H' str16 case_id  ->  u8 scope | str16 target | str16 reason | str16 by | u64 since_ms |
//                          u64 released_ms (0: active) | str16 released_by
// Value types and free functions: any thread, within the given transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "archive/journal/entry.hpp"
#include "archive/retention/policy.hpp"
#include "errors/status.hpp"

namespace parley::archive {

struct LegalHold {
    std::string case_id;
    Scope scope = Scope::user;
    std::string target;  // bare JID, room JID or domain; empty for Scope::all
    std::string reason;
    std::string by;
    uint64_t since_ms = 0;
    uint64_t released_ms = 0;  // 0 while active
    std::string released_by;
    bool active() const { return released_ms == 0; }
    bool operator==(const LegalHold&) const = default;
};

// Every hold, active and released, in case id order.
Result<std::vector<LegalHold>> load_holds(MDB_txn* txn, MDB_dbi db);
// Places a hold; code "exists" when an active hold has that case id
// (a released one is replaced: the case is on hold again).
Status add_hold(MDB_txn* txn, MDB_dbi db, const LegalHold& hold);
// Releases an active hold; code "not-found" when there is none.
Result<LegalHold> release_hold(MDB_txn* txn, MDB_dbi db, std::string_view case_id, std::string_view by,
                               uint64_t now_ms);

// Whether an active hold covers the entry: one of its parties (sender,
// recipient, the owners and peers of its views) is the hold's user or room,
// or on the hold's domain; Scope::all covers everything.
bool held(const std::vector<LegalHold>& holds, const Entry& e);

}  // namespace parley::archive

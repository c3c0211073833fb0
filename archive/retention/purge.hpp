// The retention purge: deletes what policy no longer keeps, in bounded
// batches, leaving checkpoints so that the rest still verifies.
//
// purge_batch() examines records in id order from `from_id`, at most
// `max_examined` of them (each is decrypted to learn its parties and type),
// within one write transaction: a record whose every view (or whose parties,
// for a record in no view) has outlived its rule, and that no active legal
// hold covers, is deleted with its views; a view that outlived its owner's
// rule while the record stays for another party is deleted alone, leaving a
// marker. Runs of deleted records get a checkpoint each (checkpoint.hpp).
// The batch stops early at the first record too young for the shortest rule
// to apply. The caller (mod_archive, on the writer thread) runs batch after
// batch from next_id until done, and records the result in the audit log:
// counts and id ranges, never content.
//
// Free functions: the thread that owns the (write) transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <vector>

#include "archive/hold/holds.hpp"
#include "archive/journal/journal.hpp"
#include "archive/retention/policy.hpp"

namespace parley::archive {

struct PurgeOptions {
    uint64_t now_ms = 0;
    uint64_t from_id = 0;
    size_t max_examined = 2000;
};

struct PurgedRun {
    uint32_t segment = 0;
    uint64_t first = 0, last = 0, count = 0;
};

struct PurgeResult {
    uint64_t examined = 0;
    uint64_t removed = 0;        // records
    uint64_t views_removed = 0;  // views removed from records that stay
    uint64_t held = 0;           // expired, but kept by a legal hold
    uint64_t unreadable = 0;     // records that do not decrypt: kept, verify reports them
    std::vector<PurgedRun> runs;
    uint64_t next_id = 0;  // where the next batch starts
    bool done = false;     // nothing further can be due now
    // The earliest time at which a record this batch examined and kept could
    // be due, as long as the rules and holds stay what `basis` says
    // (UINT64_MAX: never). A pass that saw one basis throughout may start
    // its successor at its own end while that successor's time is earlier
    // and the basis is the same: nothing before it can be due.
    uint64_t next_due_ms = UINT64_MAX;
    std::string basis;     // decision_basis() of the rules and holds the batch used
    // "removed 12 records (3 runs: 0190..-0190.. ...), 4 views; 2 held"
    std::string summary() const;
    // Adds r's counts and runs (a pass adding up its batches).
    void add(const PurgeResult& r);
};

// The smallest number of days any rule keeps (0: every rule keeps forever).
uint32_t shortest_days(const Policy& policy);

// What a purge decision depends on besides a record and the time: every
// rule and every active hold, as a digest (hex). Equal digests, equal
// decisions.
std::string decision_basis(const Policy& policy, const std::vector<LegalHold>& holds);

Result<PurgeResult> purge_batch(const Journal& journal, MDB_txn* txn, MDB_dbi db, const Policy& policy,
                                const std::vector<LegalHold>& holds, const PurgeOptions& options);

// A deleted account's archive (outside compliance mode): forget_owner_batch()
// walks `owner`'s view (a bare JID) from `from_id`, at most `max_examined`
// records in one write transaction. A record in no one else's view goes
// (with its words and views, under a checkpoint as a purge leaves); a record
// that is also in others' views stays for them and loses only the owner's
// view (a marker says it was removed, as a purge's). What an active legal
// hold covers stays whole, and an unreadable record stays for verify to
// report. `next_id` and `done` as for purge_batch; nothing of `policy`
// applies.
Result<PurgeResult> forget_owner_batch(const Journal& journal, MDB_txn* txn, MDB_dbi db, const std::string& owner,
                                       const std::vector<LegalHold>& holds, const PurgeOptions& options);

// One record removed on purpose outside compliance mode (a moderated room
// message whose service does not keep originals): record `id` goes with its
// words and views, under a checkpoint of its own, so that the rest still
// verifies. A record an active legal hold covers stays (`held`), as does
// one that does not decrypt (`unreadable`); a record already gone changes
// nothing (`examined` 0).
Result<PurgeResult> forget_record(const Journal& journal, MDB_txn* txn, MDB_dbi db, uint64_t id,
                                  const std::vector<LegalHold>& holds, uint64_t now_ms);

}  // namespace parley::archive

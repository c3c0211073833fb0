// The audit log: every retention change, hold, purge, search, export and
// verification, with who, when, what scope and the result, appended to the
// archive's database and chained so that it proves itself like the journal.
//
// Each event has a sequence number (1, 2, ...); its fields are sealed with
// AES-256-GCM under the data key (who looked at whose archive is confidential
// too), and mac = HMAC-SHA-256(chain key, seq, previous mac, sealed fields); the last
// sequence number and mac are kept in the meta record "audit". verify_audit()
// names any event that was altered, removed (a gap in the sequence, or the
// end cut off) or inserted. Results are summaries (counts, id ranges, rule
// names), never message content.
//
//   'A' seq(u64)  ->  sealed(u64 at_ms | str16 who | str16 action | str16 scope | u32 len + result) | mac[32]
//   'M' "audit"   ->  u64 last seq | mac[32]
// Free functions: the thread that owns the transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "archive/journal/journal.hpp"

namespace parley::archive {

struct AuditEvent {
    uint64_t seq = 0;  // assigned by append_audit
    uint64_t at_ms = 0;
    std::string who;     // "parleyctl (uid 0, root)", "parleyd retention"
    std::string action;  // "retention.set", "hold.add", "purge", "search", "export", "verify", ...
    std::string scope;   // "user alice@example.org", "all"
    std::string result;  // "ok: 12 records", "refused: ..."
};

// Appends e (its seq is set) in a write transaction; makes the archive's
// keys if it has none yet.
Result<uint64_t> append_audit(const Journal& journal, MDB_txn* txn, MDB_dbi db, AuditEvent e);
// Events with seq > after, at most `limit`, in order (not verified: see below).
Result<std::vector<AuditEvent>> list_audit(const Journal& journal, MDB_txn* txn, MDB_dbi db, uint64_t after,
                                           size_t limit);

struct AuditReport {
    uint64_t events = 0;
    std::vector<std::string> problems;  // each names the sequence numbers concerned
    bool ok() const { return problems.empty(); }
};
Result<AuditReport> verify_audit(const Journal& journal, MDB_txn* txn, MDB_dbi db);

}  // namespace parley::archive

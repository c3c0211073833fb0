// Checkpoints: what a retention purge leaves in place of the records it
// removed, so that what remains still verifies (journal.hpp "Integrity").
//
// A purge removes runs of records that follow each other in their segment's
// chain. For each run it writes one checkpoint: the first and last id
// removed, how many, the id before the run (the chain's predecessor of the
// first), the link of the last removed (which the next record's prev link
// names), when, and an HMAC-SHA-256 under the chain key over all of it (the
// "signature": only the key holder can make one). verify() steps over a run
// that a valid checkpoint covers and reports it as purged, not removed.
//
// A view that retention removed while the record stays (another party's
// policy keeps it longer) leaves a marker with an HMAC of its own, so verify
// does not report the view as missing.
//
//   'C' segment(u32) first(u64)  ->  last | count | prev (u64) | last link[32] | at_ms (u64) | mac[32]
//   'V' id(u64) owner tag[16]    ->  mac[32]
// Free functions: the thread that owns the transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "archive/crypto/keys.hpp"
#include "errors/status.hpp"

namespace parley::archive {

struct Checkpoint {
    uint32_t segment = 0;
    uint64_t first = 0, last = 0, count = 0;
    uint64_t prev = 0;      // the id before the run in the chain (0: the segment's start)
    std::string last_link;  // kDigestBytes
    uint64_t at_ms = 0;
    std::string mac;        // kDigestBytes
};

Digest checkpoint_mac(const ArchiveKeys& keys, const Checkpoint& c);
// Writes c with its MAC.
Status put_checkpoint(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, Checkpoint c);
// The checkpoints of one segment, in order of their first id; damaged ones
// are returned with an empty mac (verify reports them).
Result<std::vector<Checkpoint>> load_checkpoints(MDB_txn* txn, MDB_dbi db, uint32_t segment);

std::string view_marker_key(uint64_t id, std::string_view owner_tag);
Digest view_marker_mac(const ArchiveKeys& keys, uint64_t id, std::string_view owner_tag);
// Whether a valid marker says the owner's view of record id was purged.
bool view_purged(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, uint64_t id, std::string_view owner_tag);

}  // namespace parley::archive

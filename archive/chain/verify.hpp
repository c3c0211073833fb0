// Verification of the journal's integrity chain (journal.hpp "Integrity").
//
// verify() walks every segment in id order and reports, by record id, what
// was altered (a record whose link does not verify but which the chain still
// references), inserted (a record whose link does not verify and that
// nothing references), removed (a gap in the chain: a predecessor, or the
// end of a segment, that is gone), and whether every segment head and the
// views agree with the records. Only someone holding the key file can make a
// record or head that verifies, so whoever edits data.mdb directly is caught.
//
// A gap that a valid purge checkpoint covers (chain/checkpoint.hpp) was
// retention's doing: counted in `purged`, not reported; a record that is
// back inside a purged range is reported as inserted.
//
// Free functions over a read transaction: the calling thread.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <vector>

#include "archive/journal/journal.hpp"

namespace parley::archive {

struct Finding {
    enum class Kind {
        altered,        // the record at `first` was changed
        inserted,       // the record at `first` was not written by the server
        removed,        // records after `first` up to `last` (inclusive) are gone; `first` 0: from the segment's start
        segment,        // the segment head does not verify or disagrees with its records
        view_missing,   // the record at `first` is missing from a view it belongs to
        view_extra,     // a view lists `first`, which is not in that view (or does not exist)
        undecryptable,  // the record at `first` verifies but does not decrypt
    };
    Kind kind;
    uint32_t segment = 0;
    uint64_t first = 0;
    uint64_t last = 0;
    std::string text;
};
const char* to_string(Finding::Kind kind);

struct VerifyOptions {
    bool views = true;  // also check the per-owner and per-peer views (decrypts every record)
    std::string owner;  // only this owner's views (bare JID), or empty: all
    // Only these segments (UTC days, segment_of()), both inclusive: what
    // proves a range of records (an export's) without reading the rest of
    // the archive. Removal at the end of the archive is then only caught
    // within the range's segment heads.
    uint32_t first_segment = 0;
    uint32_t last_segment = UINT32_MAX;
};

struct Report {
    uint64_t records = 0;   // records read
    uint64_t segments = 0;  // segments checked
    uint64_t purged = 0;    // records removed by retention under valid checkpoints
    std::vector<Finding> findings;
    bool ok() const { return findings.empty(); }
};

// "wrong-key"/"corrupt" when the archive's keys do not open with the
// journal's key; an empty archive verifies (0 records).
Result<Report> verify(const Journal& journal, MDB_txn* txn, MDB_dbi db, const VerifyOptions& options);

}  // namespace parley::archive

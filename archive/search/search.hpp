// Search of the journal for compliance officers (parleyctl archive search):
// by owner (a user's archive), peer, id range and words of the body.
//
// With words, the word index ('W' keys, journal.hpp) gives the candidates:
// the ids under every word's tag, found by a leapfrog join of one cursor per
// word (each jumps to the highest id another stands on), so a search never
// scans the archive, and its work follows the rarest word and ends with the
// results wanted, however common the other words are. Each candidate is opened and kept only if
// its own word list has every word (tags are 8 bytes: a collision is
// weeded out here) and it is in the owner's view (and with the peer) when
// those are given. Without words, the owner's view is walked in id order.
// Results are in id order, at most `limit`; `truncated` says more matched.
//
// Free functions: the thread that owns the (read) transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "archive/journal/journal.hpp"

namespace parley::archive {

struct SearchQuery {
    std::string owner;  // bare JID, or empty: everyone's (words are then needed)
    std::string peer;   // bare JID, or empty
    uint64_t after = 0, before = UINT64_MAX;  // exclusive id bounds
    std::vector<std::string> words;           // as words_of() makes them
    size_t limit = 100;
};

struct SearchResult {
    std::vector<Record> records;
    bool truncated = false;
    uint64_t candidates = 0;  // ids the index or the view gave
};

// Code "invalid" for a query with neither owner nor words.
Result<SearchResult> search(const Journal& journal, MDB_txn* txn, MDB_dbi db, const SearchQuery& q);

// The same results one at a time, in id order, without a limit (q.limit is
// not used; fn returns false to stop): for exports, which must not hold a
// large result in memory. The word index's candidate ids (8 bytes each)
// are the only thing held.
Status search_each(const Journal& journal, MDB_txn* txn, MDB_dbi db, const SearchQuery& q,
                   const std::function<bool(Record&& record)>& fn);

}  // namespace parley::archive

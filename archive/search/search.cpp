#include "archive/search/search.hpp"

#include <algorithm>

#include "archive/journal/raw_db.hpp"

namespace parley::archive {

namespace {

// The ids under one word's tag within the bounds, in order.
Result<std::vector<uint64_t>> word_ids(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, const std::string& word,
                                       uint64_t after, uint64_t before) {
    std::vector<uint64_t> out;
    const std::string prefix = std::string(1, layout::kWord) + Journal::word_tag(keys, word);
    Status s = raw::scan(txn, db, prefix, prefix + layout::u64_be(after == UINT64_MAX ? after : after + 1),
                         [&](std::string_view key, std::string_view) {
                             if (key.size() != prefix.size() + 8) return true;
                             uint64_t id = layout::read_u64_be(key.substr(prefix.size()));
                             if (id >= before) return false;
                             out.push_back(id);
                             return true;
                         });
    if (!s) return s;
    return out;
}

bool in_view(const Entry& e, const SearchQuery& q) {
    if (q.owner.empty()) return true;
    for (const View& v : e.views)
        if (v.owner == q.owner && (q.peer.empty() || v.peer == q.peer)) return true;
    return false;
}

}  // namespace

namespace {

// The records matching q, in id order, to fn (false: stop); candidates
// counts the ids the index or the view gave.
Status walk(const Journal& journal, MDB_txn* txn, MDB_dbi db, const SearchQuery& q,
            const std::function<bool(Record&&)>& fn, uint64_t& candidates) {
    if (q.owner.empty() && q.words.empty())
        return Status::error("invalid", "a search needs a user (or room) or words");
    auto keys = journal.keys(txn, db);
    if (!keys) return keys.status().code() == "not-found" ? Status::ok() : keys.status();

    bool stop = false;
    auto take = [&](uint64_t id) -> Status {
        auto rec = journal.get(txn, db, id);
        if (!rec) return rec.status();
        if (!*rec || !in_view((*rec)->entry, q)) return Status::ok();
        const auto& words = (*rec)->entry.words;
        for (const std::string& w : q.words)
            if (std::find(words.begin(), words.end(), w) == words.end()) return Status::ok();
        stop = !fn(std::move(**rec));
        return Status::ok();
    };

    if (!q.words.empty()) {
        std::vector<std::vector<uint64_t>> lists;
        for (const std::string& w : q.words) {
            auto ids = word_ids(txn, db, *keys, w, q.after, q.before);
            if (!ids) return ids.status();
            lists.push_back(std::move(*ids));
        }
        std::sort(lists.begin(), lists.end(), [](const auto& a, const auto& b) { return a.size() < b.size(); });
        std::vector<uint64_t> ids = lists.front();
        for (size_t i = 1; i < lists.size(); ++i) {
            std::vector<uint64_t> both;
            std::set_intersection(ids.begin(), ids.end(), lists[i].begin(), lists[i].end(), std::back_inserter(both));
            ids = std::move(both);
        }
        candidates = ids.size();
        for (uint64_t id : ids) {
            if (Status s = take(id); !s) return s;
            if (stop) break;
        }
        return Status::ok();
    }
    Status failed = Status::ok();
    Status s = journal.view(txn, db, {q.owner, q.peer, q.after, q.before, false}, [&](uint64_t id) {
        ++candidates;
        failed = take(id);
        return failed.is_ok() && !stop;
    });
    if (!s) return s;
    return failed;
}

}  // namespace

Result<SearchResult> search(const Journal& journal, MDB_txn* txn, MDB_dbi db, const SearchQuery& q) {
    SearchResult result;
    Status s = walk(
        journal, txn, db, q,
        [&](Record&& r) {
            if (result.records.size() == q.limit) {
                result.truncated = true;
                return false;
            }
            result.records.push_back(std::move(r));
            return true;
        },
        result.candidates);
    if (!s) return s;
    return result;
}

Status search_each(const Journal& journal, MDB_txn* txn, MDB_dbi db, const SearchQuery& q,
                   const std::function<bool(Record&& record)>& fn) {
    uint64_t candidates = 0;
    return walk(journal, txn, db, q, fn, candidates);
}

}  // namespace parley::archive

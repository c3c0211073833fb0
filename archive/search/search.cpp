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

Result<SearchResult> search(const Journal& journal, MDB_txn* txn, MDB_dbi db, const SearchQuery& q) {
    if (q.owner.empty() && q.words.empty())
        return Status::error("invalid", "a search needs a user (or room) or words");
    SearchResult result;
    auto keys = journal.keys(txn, db);
    if (!keys) return keys.status().code() == "not-found" ? Result<SearchResult>(result) : keys.status();

    auto take = [&](uint64_t id) -> Status {
        auto rec = journal.get(txn, db, id);
        if (!rec) return rec.status();
        if (!*rec || !in_view((*rec)->entry, q)) return Status::ok();
        const auto& words = (*rec)->entry.words;
        for (const std::string& w : q.words)
            if (std::find(words.begin(), words.end(), w) == words.end()) return Status::ok();
        if (result.records.size() == q.limit) {
            result.truncated = true;
            return Status::ok();
        }
        result.records.push_back(std::move(**rec));
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
        result.candidates = ids.size();
        for (uint64_t id : ids) {
            if (result.truncated) break;
            if (Status s = take(id); !s) return s;
        }
        return result;
    }
    Status failed = Status::ok();
    Status s = journal.view(txn, db, {q.owner, q.peer, q.after, q.before, false}, [&](uint64_t id) {
        ++result.candidates;
        failed = take(id);
        return failed.is_ok() && !result.truncated;
    });
    if (!s) return s;
    if (!failed) return failed;
    return result;
}

}  // namespace parley::archive

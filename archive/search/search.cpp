#include "archive/search/search.hpp"

#include <algorithm>

#include "archive/journal/raw_db.hpp"

namespace parley::archive {

namespace {

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
        // A leapfrog join over one cursor per word: each cursor jumps to the
        // highest id any other stands on, so the work follows the rarest
        // word and stops as soon as fn has enough, however common the others.
        struct Word {
            std::string prefix;
            raw::Cursor cursor;
        };
        std::vector<Word> words;
        for (const std::string& w : q.words) {
            auto c = raw::cursor(txn, db);
            if (!c) return c.status();
            words.push_back({std::string(1, layout::kWord) + Journal::word_tag(*keys, w), std::move(*c)});
        }
        // The first id >= from under a word's tag, or nullopt past its end or `before`.
        auto seek = [&](Word& w, uint64_t from, Status& err) -> std::optional<uint64_t> {
            const std::string start = w.prefix + layout::u64_be(from);
            MDB_val k = raw::val_of(start), v{};
            int rc = mdb_cursor_get(w.cursor.get(), &k, &v, MDB_SET_RANGE);
            for (; rc == 0; rc = mdb_cursor_get(w.cursor.get(), &k, &v, MDB_NEXT)) {
                std::string_view key = raw::view_of(k);
                if (key.substr(0, w.prefix.size()) != w.prefix) return std::nullopt;
                if (key.size() != w.prefix.size() + 8) continue;
                const uint64_t id = layout::read_u64_be(key.substr(w.prefix.size()));
                if (id >= q.before) return std::nullopt;
                return id;
            }
            if (rc != MDB_NOTFOUND) err = raw::error(rc, "search");
            return std::nullopt;
        };
        Status err = Status::ok();
        uint64_t target = q.after == UINT64_MAX ? UINT64_MAX : q.after + 1;
        while (!stop && target != UINT64_MAX) {
            bool all = true;
            for (Word& w : words) {
                auto id = seek(w, target, err);
                if (!err) return err;
                if (!id) return Status::ok();
                if (*id != target) {
                    target = *id;
                    all = false;
                    break;
                }
            }
            if (!all) continue;
            ++candidates;
            if (Status s = take(target); !s) return s;
            ++target;
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

#include "archive/retention/purge.hpp"

#include <algorithm>
#include <optional>

#include "archive/chain/checkpoint.hpp"
#include "archive/crypto/keys.hpp"
#include "archive/journal/raw_db.hpp"

namespace parley::archive {

namespace {

constexpr uint64_t kDayMs = 86'400'000;

struct Candidate {
    uint64_t id = 0;
    std::string value;
};

// The run of deleted records being gathered, and its checkpoint.
class Runs {
public:
    Runs(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, uint64_t now, PurgeResult& out)
        : txn_(txn), db_(db), keys_(keys), now_(now), out_(out) {}

    // A deleted record; it extends the run when it follows its last.
    Status removed(const RawRecord& r) {
        const uint32_t seg = segment_of(r.id);
        if (run_ && (run_->segment != seg || r.prev != run_->last)) {
            if (Status s = flush(); !s) return s;
        }
        if (!run_) {
            run_.emplace();
            run_->segment = seg;
            run_->first = r.id;
            run_->prev = r.prev;
        }
        run_->last = r.id;
        run_->count += 1;
        run_->last_link.assign(r.link);
        return Status::ok();
    }
    // A record that stays ends the run.
    Status flush() {
        if (!run_) return Status::ok();
        run_->at_ms = now_;
        Status s = put_checkpoint(txn_, db_, keys_, *run_);
        if (s) out_.runs.push_back({run_->segment, run_->first, run_->last, run_->count});
        run_.reset();
        return s;
    }

private:
    MDB_txn* txn_;
    MDB_dbi db_;
    const ArchiveKeys& keys_;
    uint64_t now_;
    PurgeResult& out_;
    std::optional<Checkpoint> run_;
};

Status delete_view(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, uint64_t id, const View& v) {
    std::string id_be = layout::u64_be(id);
    if (auto d = raw::del(txn, db, std::string(1, layout::kOwner) + Journal::owner_tag(keys, v.owner) + id_be); !d)
        return d.status();
    if (auto d = raw::del(txn, db, std::string(1, layout::kPeer) + Journal::peer_tag(keys, v.owner, v.peer) + id_be);
        !d)
        return d.status();
    return Status::ok();
}

// Deletes a record with its words, views and view markers.
Status delete_record(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, uint64_t id, const Entry& e) {
    if (auto d = raw::del(txn, db, layout::record_key(id)); !d) return d.status();
    for (const std::string& w : e.words)
        if (auto d = raw::del(txn, db, std::string(1, layout::kWord) + Journal::word_tag(keys, w) + layout::u64_be(id));
            !d)
            return d.status();
    for (const View& v : e.views) {
        if (Status d = delete_view(txn, db, keys, id, v); !d) return d;
        if (auto m = raw::del(txn, db, view_marker_key(id, Journal::owner_tag(keys, v.owner))); !m) return m.status();
    }
    return Status::ok();
}

// Deletes one view of a record that stays, leaving the marker that says it
// was removed on purpose (verify reports a view missing without one).
Status drop_view(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, uint64_t id, const View& v,
                 const std::string& owner_tag) {
    if (Status d = delete_view(txn, db, keys, id, v); !d) return d;
    return raw::put(txn, db, view_marker_key(id, owner_tag), as_view(view_marker_mac(keys, id, owner_tag)));
}

}  // namespace

void PurgeResult::add(const PurgeResult& r) {
    examined += r.examined;
    removed += r.removed;
    views_removed += r.views_removed;
    held += r.held;
    unreadable += r.unreadable;
    runs.insert(runs.end(), r.runs.begin(), r.runs.end());
}

std::string PurgeResult::summary() const {
    std::string s = "examined " + std::to_string(examined) + ", removed " + std::to_string(removed) + " record(s)";
    if (!runs.empty()) {
        s += " in " + std::to_string(runs.size()) + " run(s):";
        size_t shown = 0;
        for (const PurgedRun& r : runs) {
            if (++shown > 20) {
                s += " ...";
                break;
            }
            s += " " + to_hex(layout::u64_be(r.first)) + "-" + to_hex(layout::u64_be(r.last)) + " (" +
                 std::to_string(r.count) + ")";
        }
    }
    s += ", " + std::to_string(views_removed) + " view(s) of records that stay";
    if (held) s += ", " + std::to_string(held) + " kept by a legal hold";
    if (unreadable) s += ", " + std::to_string(unreadable) + " unreadable (kept)";
    return s;
}

uint32_t shortest_days(const Policy& policy) {
    uint32_t out = 0;
    for (const Rule& r : policy.rules())
        if (r.days != 0 && (out == 0 || r.days < out)) out = r.days;
    return out;
}

std::string decision_basis(const Policy& policy, const std::vector<LegalHold>& holds) {
    // Each field with its length first, so that no two lists read the same.
    std::string text;
    auto field = [&text](std::string_view f) { text += std::to_string(f.size()) + ":" + std::string(f) + ";"; };
    for (const Rule& r : policy.rules()) {
        field("rule");
        field(std::to_string(static_cast<int>(r.scope)));
        field(r.target);
        field(r.type);
        field(std::to_string(r.days));
    }
    for (const LegalHold& h : holds) {
        if (!h.active()) continue;
        field("hold");
        field(h.case_id);
        field(std::to_string(static_cast<int>(h.scope)));
        field(h.target);
    }
    const Digest d = sha256(text);
    return to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
}

Result<PurgeResult> purge_batch(const Journal& journal, MDB_txn* txn, MDB_dbi db, const Policy& policy,
                                const std::vector<LegalHold>& holds, const PurgeOptions& o) {
    PurgeResult result;
    result.next_id = o.from_id;
    result.basis = decision_basis(policy, holds);
    const uint32_t shortest = shortest_days(policy);
    auto keys_r = journal.keys(txn, db);
    if (shortest == 0 || (!keys_r && keys_r.status().code() == "not-found")) {
        result.done = true;
        return result;
    }
    if (!keys_r) return keys_r.status();
    const ArchiveKeys& keys = *keys_r;
    const uint64_t horizon = o.now_ms > uint64_t{shortest} * kDayMs ? o.now_ms - uint64_t{shortest} * kDayMs : 0;

    // Gather first: deleting under a live cursor is not worth the subtlety.
    std::vector<Candidate> batch;
    bool reached_end = true;
    Status s = raw::scan(txn, db, std::string(1, layout::kRecord), layout::record_key(o.from_id),
                         [&](std::string_view key, std::string_view value) {
                             if (key.size() != 9) return true;
                             uint64_t id = layout::read_u64_be(key.substr(1));
                             if (id_time_ms(id) > horizon) return false;  // too young for any rule
                             if (batch.size() == o.max_examined) {
                                 reached_end = false;
                                 return false;
                             }
                             batch.push_back({id, std::string(value)});
                             return true;
                         });
    if (!s) return s;

    Runs runs(txn, db, keys, o.now_ms, result);
    for (const Candidate& c : batch) {
        ++result.examined;
        result.next_id = c.id + 1;
        auto raw = parse_record(c.id, c.value);
        auto entry = raw ? Journal::open_record(keys, *raw) : Result<Entry>(raw.status());
        if (!entry) {
            ++result.unreadable;
            // Unknown: it may be readable again (repaired), so no later pass
            // may skip it.
            result.next_due_ms = std::min(result.next_due_ms, o.now_ms);
            if (Status f = runs.flush(); !f) return f;
            continue;
        }
        const uint64_t age = o.now_ms - std::min(o.now_ms, id_time_ms(c.id));
        auto due = [&](uint32_t days) { return days != 0 && age >= uint64_t{days} * kDayMs; };
        const bool expired = due(policy.record_days(*entry));
        if (held(holds, *entry)) {
            bool any_due = expired;
            for (const View& v : entry->views) any_due = any_due || due(policy.decide(v.owner, entry->type).days);
            if (any_due) ++result.held;
            if (Status f = runs.flush(); !f) return f;
            continue;
        }
        if (expired) {
            if (Status d = delete_record(txn, db, keys, c.id, *entry); !d) return d;
            ++result.removed;
            if (Status r = runs.removed(*raw); !r) return r;
            continue;
        }
        if (Status f = runs.flush(); !f) return f;
        // Kept: when could it (or one of its views) be due next?
        auto at = [&](uint32_t days) { return days == 0 ? UINT64_MAX : id_time_ms(c.id) + uint64_t{days} * kDayMs; };
        result.next_due_ms = std::min(result.next_due_ms, at(policy.record_days(*entry)));
        for (const View& v : entry->views)
            if (const uint64_t when = at(policy.decide(v.owner, entry->type).days); when > o.now_ms)
                result.next_due_ms = std::min(result.next_due_ms, when);
        for (const View& v : entry->views) {
            if (!due(policy.decide(v.owner, entry->type).days)) continue;
            const std::string tag = Journal::owner_tag(keys, v.owner);
            auto present = raw::get(txn, db, std::string(1, layout::kOwner) + tag + layout::u64_be(c.id));
            if (!present) return present.status();
            if (!*present) continue;  // purged before
            if (Status d = drop_view(txn, db, keys, c.id, v, tag); !d) return d;
            ++result.views_removed;
        }
    }
    if (Status f = runs.flush(); !f) return f;
    result.done = reached_end;
    return result;
}

Result<PurgeResult> forget_owner_batch(const Journal& journal, MDB_txn* txn, MDB_dbi db, const std::string& owner,
                                       const std::vector<LegalHold>& holds, const PurgeOptions& o) {
    PurgeResult result;
    result.next_id = o.from_id;
    auto keys_r = journal.keys(txn, db);
    if (!keys_r && keys_r.status().code() == "not-found") {
        result.done = true;
        return result;
    }
    if (!keys_r) return keys_r.status();
    const ArchiveKeys& keys = *keys_r;
    const std::string tag = Journal::owner_tag(keys, owner);
    const std::string prefix = std::string(1, layout::kOwner) + tag;

    std::vector<uint64_t> ids;
    bool reached_end = true;
    Status s = raw::scan(txn, db, prefix, prefix + layout::u64_be(o.from_id),
                         [&](std::string_view key, std::string_view) {
                             if (key.size() != prefix.size() + 8) return true;
                             if (ids.size() == o.max_examined) {
                                 reached_end = false;
                                 return false;
                             }
                             ids.push_back(layout::read_u64_be(key.substr(prefix.size())));
                             return true;
                         });
    if (!s) return s;

    Runs runs(txn, db, keys, o.now_ms, result);
    for (uint64_t id : ids) {
        ++result.examined;
        result.next_id = id + 1;
        auto value = raw::get(txn, db, layout::record_key(id));
        if (!value) return value.status();
        if (!*value) {
            // A view of a record that is gone: only the view goes.
            if (Status f = runs.flush(); !f) return f;
            if (auto d = raw::del(txn, db, prefix + layout::u64_be(id)); !d) return d.status();
            continue;
        }
        // A copy: the record's page changes under the deletes below.
        const std::string stored(**value);
        auto raw = parse_record(id, stored);
        auto entry = raw ? Journal::open_record(keys, *raw) : Result<Entry>(raw.status());
        if (!entry) {
            ++result.unreadable;
            if (Status f = runs.flush(); !f) return f;
            continue;
        }
        if (held(holds, *entry)) {
            ++result.held;
            if (Status f = runs.flush(); !f) return f;
            continue;
        }
        const bool others = std::any_of(entry->views.begin(), entry->views.end(),
                                        [&](const View& v) { return v.owner != owner; });
        if (!others) {
            if (Status d = delete_record(txn, db, keys, id, *entry); !d) return d;
            ++result.removed;
            if (Status r = runs.removed(*raw); !r) return r;
            continue;
        }
        if (Status f = runs.flush(); !f) return f;
        for (const View& v : entry->views) {
            if (v.owner != owner) continue;
            if (Status d = drop_view(txn, db, keys, id, v, tag); !d) return d;
            ++result.views_removed;
        }
    }
    if (Status f = runs.flush(); !f) return f;
    result.done = reached_end;
    return result;
}

Result<PurgeResult> forget_record(const Journal& journal, MDB_txn* txn, MDB_dbi db, uint64_t id,
                                  const std::vector<LegalHold>& holds, uint64_t now_ms) {
    PurgeResult result;
    result.next_id = id + 1;
    result.done = true;
    auto keys_r = journal.keys(txn, db);
    if (!keys_r && keys_r.status().code() == "not-found") return result;
    if (!keys_r) return keys_r.status();
    const ArchiveKeys& keys = *keys_r;
    auto value = raw::get(txn, db, layout::record_key(id));
    if (!value) return value.status();
    if (!*value) return result;
    result.examined = 1;
    const std::string stored(**value);  // the page changes under the deletes
    auto raw = parse_record(id, stored);
    auto entry = raw ? Journal::open_record(keys, *raw) : Result<Entry>(raw.status());
    if (!entry) {
        result.unreadable = 1;
        return result;
    }
    if (held(holds, *entry)) {
        result.held = 1;
        return result;
    }
    if (Status d = delete_record(txn, db, keys, id, *entry); !d) return d;
    result.removed = 1;
    Runs runs(txn, db, keys, now_ms, result);
    if (Status r = runs.removed(*raw); !r) return r;
    if (Status f = runs.flush(); !f) return f;
    return result;
}

}  // namespace parley::archive

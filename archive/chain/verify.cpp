#include "archive/chain/verify.hpp"

#include "archive/chain/checkpoint.hpp"
#include "archive/journal/raw_db.hpp"

#include <gnutls/crypto.h>

#include <algorithm>
#include <array>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

namespace parley::archive {

namespace {

using namespace layout;

// Calls fn(key, value) for every key starting with `prefix`, in order.
template <class Fn>
Status each(MDB_txn* txn, MDB_dbi db, std::string_view prefix, Fn&& fn) {
    return raw::scan(txn, db, prefix, {}, [&](std::string_view k, std::string_view v) {
        fn(k, v);
        return true;
    });
}

// Calls fn(key) for every view key under `prefix` ('O' or 'P', maybe with
// a tag) whose id is in [lowest, highest]. View keys sort by tag, then id:
// for a range of days it seeks to the range within each tag and jumps to
// the next tag past it, instead of reading every view key of the archive.
template <class Fn>
Status each_view_in(MDB_txn* txn, MDB_dbi db, std::string_view prefix, uint64_t lowest, uint64_t highest, Fn&& fn) {
    auto c = raw::cursor(txn, db);
    if (!c) return c.status();
    std::string seek(prefix);
    MDB_val k = raw::val_of(seek), v{};
    int rc = mdb_cursor_get(c->get(), &k, &v, MDB_SET_RANGE);
    while (rc == 0) {
        const std::string_view key = raw::view_of(k);
        if (key.substr(0, prefix.size()) != prefix) break;
        if (key.size() != 1 + kIndexTagBytes + 8) {
            fn(key);  // not a view key's shape: the caller reports or skips it
            rc = mdb_cursor_get(c->get(), &k, &v, MDB_NEXT);
            continue;
        }
        const uint64_t id = read_u64_be(key.substr(1 + kIndexTagBytes));
        if (id < lowest) {
            seek.assign(key.substr(0, 1 + kIndexTagBytes));
            seek += u64_be(lowest);
        } else if (id > highest) {
            // The next tag: this one plus one, as a big-endian number.
            seek.assign(key.substr(0, 1 + kIndexTagBytes));
            size_t i = seek.size();
            while (i > 1 && static_cast<unsigned char>(seek[i - 1]) == 0xff) seek[--i] = '\0';
            if (i == 1) break;  // past the last possible tag
            seek[i - 1] = static_cast<char>(static_cast<unsigned char>(seek[i - 1]) + 1);
        } else {
            fn(key);
            rc = mdb_cursor_get(c->get(), &k, &v, MDB_NEXT);
            continue;
        }
        k = raw::val_of(seek);
        rc = mdb_cursor_get(c->get(), &k, &v, MDB_SET_RANGE);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return raw::error(rc, "scan");
    return Status::ok();
}

// The view keys the walk found in place, as 64-bit digests of (kind, tag,
// id), so that the pass over the view keys need not open each record again
// (four views a record: four lookups and decryptions saved per record).
// The digest is keyed with a secret drawn for each run, so whoever can
// write the database cannot make a forged view key match a real one's
// digest; one that is not here is checked against its record all the
// same. Bounded: past kMaxSeenViews (64 MB) it is dropped and every record
// is opened.
class SeenViews {
public:
    static constexpr size_t kMaxSeenViews = size_t{8} << 20;
    void add(char kind, std::string_view tag, uint64_t id) {
        if (overflow_) return;
        if (digests_.size() == kMaxSeenViews) {
            overflow_ = true;
            std::vector<uint64_t>().swap(digests_);
            return;
        }
        digests_.push_back(digest(kind, tag, id));
    }
    void seal() { std::sort(digests_.begin(), digests_.end()); }
    bool has(char kind, std::string_view tag, uint64_t id) const {
        return !overflow_ && std::binary_search(digests_.begin(), digests_.end(), digest(kind, tag, id));
    }

private:
    // The splitmix64 finalizer: a bijection that spreads every input bit.
    static uint64_t mix(uint64_t x) {
        x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
        x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
        return x ^ (x >> 31);
    }
    uint64_t digest(char kind, std::string_view tag, uint64_t id) const {
        uint64_t h = mix(read_u64_be(tag.substr(0, 8)) ^ key_[0]);
        h = mix(h ^ read_u64_be(tag.substr(8, 8)) ^ key_[1]);
        h = mix(h ^ id ^ key_[2]);
        return mix(h ^ static_cast<unsigned char>(kind) ^ key_[3]);
    }
    std::array<uint64_t, 4> key_ = [] {
        std::array<uint64_t, 4> k{};
        (void)gnutls_rnd(GNUTLS_RND_NONCE, k.data(), sizeof k);
        return k;
    }();
    std::vector<uint64_t> digests_;
    bool overflow_ = false;
};

bool exists(MDB_txn* txn, MDB_dbi db, std::string_view key) {
    auto v = raw::get(txn, db, key);
    return v && *v;
}

std::string id_text(uint64_t id) { return std::to_string(id); }

// The walk of one segment's records, in id order.
class SegmentWalk {
public:
    SegmentWalk(const ArchiveKeys& keys, uint32_t segment, Report& report, std::vector<Checkpoint> checkpoints)
        : keys_(keys), segment_(segment), report_(report), tail_link_(kDigestBytes, '\0') {
        for (Checkpoint& c : checkpoints) {
            if (c.mac.empty() || !equal_constant_time(as_view(checkpoint_mac(keys, c)), c.mac)) {
                add(Finding::Kind::segment, c.first, c.last,
                    "a purge checkpoint (records " + id_text(c.first) + " to " + id_text(c.last) +
                        ") does not verify");
                continue;
            }
            ranges_.push_back({c.first, c.last});
            by_prev_.emplace(c.prev, std::move(c));
        }
    }

    // A record of this segment; returns whether it is authentic.
    bool record(const RawRecord& r) {
        ++report_.records;
        Digest expect = Journal::link(keys_, segment_, r.prev, r.prev_link, r.id, r.flags, r.sealed);
        if (!equal_constant_time(as_view(expect), r.link)) {
            pending_.push_back(r.id);
            return false;
        }
        settle_pending(r.prev);
        for (auto [first, last] : ranges_)
            if (r.id >= first && r.id <= last)
                add(Finding::Kind::inserted, r.id, r.id,
                    "record " + id_text(r.id) + " was purged by retention and is back");
        if (r.prev != tail_id_) step_over_purges();
        if (r.prev == tail_id_) {
            if (r.prev_link != tail_link_)
                add(Finding::Kind::segment, r.id, r.id,
                    "record " + id_text(r.id) + " names another link for its predecessor than the chain has");
        } else if (std::find(altered_.begin(), altered_.end(), r.prev) != altered_.end()) {
            // Its predecessor was altered (reported); the chain goes on through it.
        } else if (r.prev > tail_id_) {
            add(Finding::Kind::removed, tail_id_, r.prev,
                "records after " + (tail_id_ ? id_text(tail_id_) : std::string("the segment's start")) +
                    " up to " + id_text(r.prev) + " are missing (record " + id_text(r.id) + " follows " +
                    id_text(r.prev) + ")");
        } else {
            add(Finding::Kind::segment, r.id, r.id,
                "record " + id_text(r.id) + " follows " + id_text(r.prev) + ", but " + id_text(tail_id_) +
                    " stands between them");
        }
        tail_id_ = r.id;
        tail_link_.assign(r.link);
        ++in_chain_;
        return true;
    }

    // The end of the segment's records, with its head (nullopt: missing).
    void finish(const std::optional<SegmentHead>& head) {
        ++report_.segments;
        if (!head) {
            settle_pending(0);
            add(Finding::Kind::segment, 0, 0, "segment head missing");
            return;
        }
        bool head_ok = equal_constant_time(as_view(Journal::segment_mac(keys_, *head)), head->mac);
        settle_pending(head_ok ? head->last : 0);
        if (!head_ok) {
            add(Finding::Kind::segment, head->first, head->last, "segment head altered");
            return;
        }
        if (head->last != tail_id_) step_over_purges();
        bool last_altered = std::find(altered_.begin(), altered_.end(), head->last) != altered_.end();
        if (head->last > tail_id_ && !last_altered) {
            add(Finding::Kind::removed, tail_id_, head->last,
                "records after " + (tail_id_ ? id_text(tail_id_) : std::string("the segment's start")) +
                    " up to " + id_text(head->last) + " (the segment's last) are missing");
        } else if (head->last == tail_id_ && head->last_link != tail_link_) {
            add(Finding::Kind::segment, head->last, head->last, "segment head names another last link");
        } else if (head->last < tail_id_) {
            add(Finding::Kind::segment, head->last, tail_id_, "records stand after the segment head's last");
        }
        if (head->count != in_chain_ + altered_.size() + purged_ && !removed_reported_)
            add(Finding::Kind::segment, head->first, head->last,
                "the head counts " + std::to_string(head->count) + " records, the chain has " +
                    std::to_string(in_chain_ + altered_.size()) + " and purges removed " + std::to_string(purged_));
    }

    uint64_t purged() const { return purged_; }

private:
    // Runs removed by retention, each under a valid checkpoint that starts
    // right after the chain's tail: the chain goes on after them.
    void step_over_purges() {
        for (size_t steps = by_prev_.size(); steps > 0; --steps) {
            auto it = by_prev_.find(tail_id_);
            if (it == by_prev_.end()) return;
            tail_id_ = it->second.last;
            tail_link_ = it->second.last_link;
            purged_ += it->second.count;
            by_prev_.erase(it);
        }
    }

    // Non-authentic records seen since the last authentic one: the one the
    // chain references (`referenced`) was altered, the others inserted.
    void settle_pending(uint64_t referenced) {
        for (uint64_t id : pending_) {
            if (id == referenced) {
                altered_.push_back(id);
                add(Finding::Kind::altered, id, id, "record " + id_text(id) + " was altered");
            } else {
                add(Finding::Kind::inserted, id, id, "record " + id_text(id) + " is not part of the chain");
            }
        }
        pending_.clear();
    }

    void add(Finding::Kind kind, uint64_t first, uint64_t last, std::string text) {
        if (kind == Finding::Kind::removed) removed_reported_ = true;
        report_.findings.push_back({kind, segment_, first, last, std::move(text)});
    }

    const ArchiveKeys& keys_;
    uint32_t segment_;
    Report& report_;
    uint64_t tail_id_ = 0;
    std::string tail_link_;
    uint64_t in_chain_ = 0;
    uint64_t purged_ = 0;
    std::map<uint64_t, Checkpoint> by_prev_;
    std::vector<std::pair<uint64_t, uint64_t>> ranges_;
    bool removed_reported_ = false;
    std::vector<uint64_t> pending_;
    std::vector<uint64_t> altered_;
};

}  // namespace

const char* to_string(Finding::Kind kind) {
    switch (kind) {
        case Finding::Kind::altered: return "altered";
        case Finding::Kind::inserted: return "inserted";
        case Finding::Kind::removed: return "removed";
        case Finding::Kind::segment: return "segment";
        case Finding::Kind::view_missing: return "view-missing";
        case Finding::Kind::view_extra: return "view-extra";
        case Finding::Kind::undecryptable: return "undecryptable";
    }
    return "unknown";
}

Result<Report> verify(const Journal& journal, MDB_txn* txn, MDB_dbi db, const VerifyOptions& options) {
    Report report;
    auto keys_r = journal.keys(txn, db);
    if (!keys_r) {
        if (keys_r.status().code() != "not-found") return keys_r.status();
        bool any = false;
        Status s = each(txn, db, std::string(1, kRecord), [&](std::string_view, std::string_view) { any = true; });
        if (!s) return s;
        if (any) return Status::error("corrupt", "the archive holds records but no keys");
        return report;
    }
    const ArchiveKeys& keys = *keys_r;

    std::map<uint32_t, SegmentHead> heads;
    Status s = each(txn, db, std::string(1, kSegment), [&](std::string_view key, std::string_view value) {
        if (key.size() != 5) return;
        uint32_t seg = static_cast<uint32_t>(read_u64_be(std::string(4, '\0') + std::string(key.substr(1))));
        if (seg < options.first_segment || seg > options.last_segment) return;
        auto h = parse_segment(seg, value);
        if (h) heads.emplace(seg, *h);
        else report.findings.push_back({Finding::Kind::segment, seg, 0, 0, "segment head unreadable"});
    });
    if (!s) return s;

    std::string owner_tag = options.owner.empty() ? std::string() : Journal::owner_tag(keys, options.owner);
    // Scoped to one owner: the tags of that owner's conversations met in
    // the walk, the only peer views of the owner that can be told apart.
    std::set<std::string> pair_tags;
    SeenViews seen;
    std::optional<SegmentWalk> walk;
    uint32_t walking = 0;
    auto finish = [&] {
        if (!walk) return;
        auto it = heads.find(walking);
        walk->finish(it == heads.end() ? std::nullopt : std::optional<SegmentHead>(it->second));
        report.purged += walk->purged();
        if (it != heads.end()) heads.erase(it);
        walk.reset();
    };
    const uint64_t lowest = first_id_at(uint64_t{options.first_segment} * kSegmentMs);
    const uint64_t highest = options.last_segment == UINT32_MAX
                                 ? UINT64_MAX
                                 : first_id_at((uint64_t{options.last_segment} + 1) * kSegmentMs) - 1;
    s = raw::scan(txn, db, std::string(1, kRecord), record_key(lowest), [&](std::string_view key, std::string_view value) {
        if (key.size() != 9) return true;
        uint64_t id = read_u64_be(key.substr(1));
        if (id > highest) return false;
        uint32_t seg = segment_of(id);
        if (!walk || seg != walking) {
            finish();
            auto cps = load_checkpoints(txn, db, seg);
            walk.emplace(keys, seg, report, cps ? std::move(*cps) : std::vector<Checkpoint>{});
            walking = seg;
        }
        auto raw = parse_record(id, value);
        if (!raw) {
            ++report.records;
            report.findings.push_back({Finding::Kind::altered, seg, id, id, raw.status().message()});
            return true;
        }
        if (!walk->record(*raw) || !options.views) return true;
        auto entry = Journal::open_record(keys, *raw);
        if (!entry) {
            report.findings.push_back({Finding::Kind::undecryptable, seg, id, id, entry.status().message()});
            return true;
        }
        std::string id_be = u64_be(id);
        for (const View& v : entry->views) {
            if (!options.owner.empty() && v.owner != options.owner) continue;
            const std::string ot = Journal::owner_tag(keys, v.owner);
            std::string pt = Journal::peer_tag(keys, v.owner, v.peer);
            const bool has_o = exists(txn, db, std::string(1, kOwner) + ot + id_be);
            const bool has_p = exists(txn, db, std::string(1, kPeer) + pt + id_be);
            if (has_o) seen.add(kOwner, ot, id);
            if (has_p) seen.add(kPeer, pt, id);
            if (!options.owner.empty()) pair_tags.insert(std::move(pt));
            if ((!has_o || !has_p) && !view_purged(txn, db, keys, id, ot))
                report.findings.push_back({Finding::Kind::view_missing, seg, id, id,
                                           "record " + id_text(id) + " is missing from the archive of " + v.owner});
        }
        return true;
    });
    if (!s) return s;
    finish();
    for (auto& [seg, head] : heads) {
        // A head whose records are all gone.
        auto cps = load_checkpoints(txn, db, seg);
        SegmentWalk empty(keys, seg, report, cps ? std::move(*cps) : std::vector<Checkpoint>{});
        empty.finish(head);
        report.purged += empty.purged();
    }

    if (options.views) {
        seen.seal();
        // Every view key must name a record that belongs to that view. The
        // owner and peer are only known as tags, so a key the walk did not
        // find in place has its record opened and its views' tags compared.
        // Scoped to one owner, only that owner's views are read: its owner
        // view, and the peer views of the conversations its records name (a
        // peer view's tag does not say whose it is; opening every record
        // named by any peer view of the archive could not tell either).
        std::vector<std::string> prefixes;
        if (owner_tag.empty()) {
            prefixes = {std::string(1, kOwner), std::string(1, kPeer)};
        } else {
            prefixes.push_back(std::string(1, kOwner) + owner_tag);
            for (const std::string& t : pair_tags) prefixes.push_back(std::string(1, kPeer) + t);
        }
        for (const std::string& prefix : prefixes) {
            const char kind = prefix[0];
            s = each_view_in(txn, db, prefix, lowest, highest, [&](std::string_view key) {
                if (key.size() != 1 + kIndexTagBytes + 8) return;
                std::string_view tag = key.substr(1, kIndexTagBytes);
                uint64_t id = read_u64_be(key.substr(1 + kIndexTagBytes));
                if (seen.has(kind, tag, id)) return;  // the walk found it where its record says
                auto rec = journal.get(txn, db, id);
                bool belongs = false;
                if (rec && *rec) {
                    for (const View& v : (*rec)->entry.views) {
                        if (!options.owner.empty() && v.owner != options.owner) continue;
                        std::string t = kind == kOwner ? Journal::owner_tag(keys, v.owner)
                                                       : Journal::peer_tag(keys, v.owner, v.peer);
                        if (t == tag) belongs = true;
                    }
                }
                if (!belongs)
                    report.findings.push_back({Finding::Kind::view_extra, segment_of(id), id, id,
                                               "a view lists record " + id_text(id) + ", which does not belong to it"});
            });
            if (!s) return s;
        }
    }
    return report;
}

}  // namespace parley::archive

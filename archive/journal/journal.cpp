#include "archive/journal/journal.hpp"

#include "archive/journal/raw_db.hpp"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace parley::archive {

namespace layout {

std::string u64_be(uint64_t v) {
    std::string out(8, '\0');
    for (int i = 7; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    return out;
}

uint64_t read_u64_be(std::string_view b) {
    uint64_t v = 0;
    for (size_t i = 0; i < 8; ++i) v = v << 8 | static_cast<uint8_t>(b[i]);
    return v;
}

std::string u32_be(uint32_t v) {
    std::string out(4, '\0');
    for (int i = 3; i >= 0; --i, v >>= 8) out[static_cast<size_t>(i)] = static_cast<char>(v & 0xff);
    return out;
}

std::string record_key(uint64_t id) { return std::string(1, kRecord) + u64_be(id); }
std::string segment_key(uint32_t segment) { return std::string(1, kSegment) + u32_be(segment); }
std::string meta_key(std::string_view name) { return std::string(1, kMeta) + std::string(name); }

}  // namespace layout

namespace {

using namespace layout;

constexpr std::string_view kNonceSuffix = "JRNL";

using raw::val_of;
using raw::view_of;
using raw::error;

Result<std::optional<std::string_view>> get_value(MDB_txn* txn, MDB_dbi db, std::string_view key) {
    return raw::get(txn, db, key);
}
Status put_value(MDB_txn* txn, MDB_dbi db, std::string_view key, std::string_view value, unsigned flags = 0) {
    return raw::put(txn, db, key, value, flags);
}

void nonce_for(uint64_t id, uint8_t (&nonce)[kNonceBytes]) {
    std::string b = u64_be(id);
    std::memcpy(nonce, b.data(), 8);
    std::memcpy(nonce + 8, kNonceSuffix.data(), 4);
}

std::string aad_for(uint64_t id, uint64_t prev, uint8_t flags) {
    return std::string(1, kRecord) + u64_be(id) + u64_be(prev) + std::string(1, static_cast<char>(flags));
}

}  // namespace

struct Journal::KeyCache {
    explicit KeyCache(SecretKey k) : kek(std::move(k)) {}
    const SecretKey kek;
    std::mutex mu;
    std::string blob;  // the stored blob that `keys` came from
    std::optional<ArchiveKeys> keys;

    // The keys of the archive whose stored blob is `stored`.
    Result<ArchiveKeys> unwrap(std::string_view stored) {
        std::lock_guard lock(mu);
        if (keys && blob == stored) return *keys;
        auto k = unwrap_keys(stored, kek);
        if (!k) return k.status();
        blob.assign(stored);
        keys = *k;
        return *k;
    }
};

Journal::Journal(SecretKey kek) : cache_(std::make_shared<KeyCache>(std::move(kek))) {}

Result<RawRecord> parse_record(uint64_t id, std::string_view value) {
    if (value.size() < kRecordHeader + archive::kTagBytes || static_cast<uint8_t>(value[0]) != kRecordVersion)
        return Status::error("corrupt", "record " + std::to_string(id) + " has an unknown layout");
    RawRecord r;
    r.id = id;
    r.version = static_cast<uint8_t>(value[0]);
    r.flags = static_cast<uint8_t>(value[1]);
    r.prev = read_u64_be(value.substr(2, 8));
    r.prev_link = value.substr(10, kDigestBytes);
    r.link = value.substr(10 + kDigestBytes, kDigestBytes);
    r.sealed = value.substr(kRecordHeader);
    return r;
}

Result<SegmentHead> parse_segment(uint32_t segment, std::string_view value) {
    if (value.size() != kSegmentValue)
        return Status::error("corrupt", "segment head " + std::to_string(segment) + " has an unknown layout");
    SegmentHead h;
    h.segment = segment;
    h.first = read_u64_be(value.substr(0, 8));
    h.last = read_u64_be(value.substr(8, 8));
    h.count = read_u64_be(value.substr(16, 8));
    h.last_link.assign(value.substr(24, kDigestBytes));
    h.mac.assign(value.substr(24 + kDigestBytes, kDigestBytes));
    return h;
}

Status Journal::check_key(MDB_txn* txn, MDB_dbi db) const {
    auto k = keys(txn, db);
    if (!k && k.status().code() == "not-found") return Status::ok();
    return k ? Status::ok() : k.status();
}

Result<ArchiveKeys> Journal::keys(MDB_txn* txn, MDB_dbi db) const {
    auto blob = get_value(txn, db, meta_key("keys"));
    if (!blob) return blob.status();
    if (!*blob) return Status::error("not-found", "the archive has no keys yet");
    return cache_->unwrap(**blob);
}

std::string Journal::owner_tag(const ArchiveKeys& keys, std::string_view owner) {
    std::string in(1, kOwner);
    in += owner;
    return std::string(as_view(hmac_sha256(keys.chain, in)).substr(0, kIndexTagBytes));
}

std::string Journal::peer_tag(const ArchiveKeys& keys, std::string_view owner, std::string_view peer) {
    // Length-prefixed, so that ("a", "bc") and ("ab", "c") differ.
    std::string in(1, kPeer);
    in += u32_be(static_cast<uint32_t>(owner.size()));
    in += owner;
    in += peer;
    return std::string(as_view(hmac_sha256(keys.chain, in)).substr(0, kIndexTagBytes));
}

std::string Journal::word_tag(const ArchiveKeys& keys, std::string_view word) {
    std::string in(1, kWord);
    in += word;
    return std::string(as_view(hmac_sha256(keys.chain, in)).substr(0, kWordTagBytes));
}

Digest Journal::link(const ArchiveKeys& keys, uint32_t segment, uint64_t prev, std::string_view prev_link,
                     uint64_t id, uint8_t flags, std::string_view sealed) {
    std::string in(1, 'L');
    in += u32_be(segment);
    in += u64_be(prev);
    in += prev_link;
    in += u64_be(id);
    in.push_back(static_cast<char>(flags));
    in += as_view(sha256(sealed));
    return hmac_sha256(keys.chain, in);
}

Digest Journal::segment_mac(const ArchiveKeys& keys, const SegmentHead& h) {
    std::string in(1, 'S');
    in += u32_be(h.segment);
    in += u64_be(h.first);
    in += u64_be(h.last);
    in += u64_be(h.count);
    in += h.last_link;
    return hmac_sha256(keys.chain, in);
}

Result<Entry> Journal::open_record(const ArchiveKeys& keys, const RawRecord& raw) {
    uint8_t nonce[kNonceBytes];
    nonce_for(raw.id, nonce);
    auto plain = open(keys.data, nonce, aad_for(raw.id, raw.prev, raw.flags), raw.sealed);
    if (!plain) return Status::error("corrupt", "record " + std::to_string(raw.id) + ": " + plain.status().message());
    if (raw.flags & kFlagCompressed) {
        auto unpacked = decompress(*plain, 128u << 20);
        if (!unpacked) return unpacked.status();
        return decode_entry(*unpacked);
    }
    return decode_entry(*plain);
}

Result<ArchiveKeys> Journal::ensure_keys(MDB_txn* txn, MDB_dbi db) const {
    // Made by the first write of the archive, in its transaction.
    auto stored = get_value(txn, db, meta_key("keys"));
    if (!stored) return stored.status();
    if (*stored) return cache_->unwrap(**stored);
    auto data = random_key();
    auto chain = random_key();
    if (!data || !chain) return Status::error("crypto", "cannot make the archive's keys");
    ArchiveKeys keys;
    keys.data = *data;
    keys.chain = *chain;
    auto blob = wrap_keys(keys, cache_->kek);
    if (!blob) return blob.status();
    if (Status s = put_value(txn, db, meta_key("keys"), *blob); !s) return s;
    if (Status s = put_value(txn, db, meta_key("format"), "1"); !s) return s;
    return keys;
}

Result<uint64_t> Journal::last_id(MDB_txn* txn, MDB_dbi db) const {
    auto v = get_value(txn, db, meta_key("last"));
    if (!v) return v.status();
    return *v && (*v)->size() == 8 ? read_u64_be(**v) : uint64_t{0};
}

Result<uint64_t> Journal::append(MDB_txn* txn, MDB_dbi db, uint64_t now_ms, const Entry& entry) const {
    auto last = last_id(txn, db);
    if (!last) return last.status();
    return append_at(txn, db, next_id(*last, now_ms), entry);
}

Result<uint64_t> Journal::append_at(MDB_txn* txn, MDB_dbi db, uint64_t id, const Entry& entry) const {
    auto keys_r = ensure_keys(txn, db);
    if (!keys_r) return keys_r.status();
    const ArchiveKeys& keys = *keys_r;

    auto last = last_id(txn, db);
    if (!last) return last.status();
    if (id <= *last)
        return Status::error("order", "journal id " + std::to_string(id) + " is not above the last, " +
                                          std::to_string(*last));
    uint32_t seg = segment_of(id);

    SegmentHead head;
    head.segment = seg;
    auto head_v = get_value(txn, db, segment_key(seg));
    if (!head_v) return head_v.status();
    if (*head_v) {
        auto h = parse_segment(seg, **head_v);
        if (!h) return h.status();
        head = *h;
    } else {
        head.first = id;
        head.last_link.assign(kDigestBytes, '\0');
    }
    uint64_t prev = head.count == 0 ? 0 : head.last;

    std::string plain = encode_entry(entry);
    uint8_t flags = 0;
    if (plain.size() > kCompressAbove) {
        std::string packed = compress(plain);
        if (!packed.empty() && packed.size() < plain.size()) {
            plain = std::move(packed);
            flags |= kFlagCompressed;
        }
    }
    uint8_t nonce[kNonceBytes];
    nonce_for(id, nonce);
    auto sealed = seal(keys.data, nonce, aad_for(id, prev, flags), plain);
    if (!sealed) return sealed.status();
    Digest l = link(keys, seg, prev, head.last_link, id, flags, *sealed);

    std::string value;
    value.reserve(kRecordHeader + sealed->size());
    value.push_back(static_cast<char>(kRecordVersion));
    value.push_back(static_cast<char>(flags));
    value += u64_be(prev);
    value += head.last_link;
    value += as_view(l);
    value += *sealed;
    if (Status s = put_value(txn, db, record_key(id), value, MDB_NOOVERWRITE); !s) return s;

    head.last = id;
    head.count += 1;
    head.last_link.assign(as_view(l));
    Digest mac = segment_mac(keys, head);
    std::string hv = u64_be(head.first) + u64_be(head.last) + u64_be(head.count) + head.last_link;
    hv += as_view(mac);
    if (Status s = put_value(txn, db, segment_key(seg), hv); !s) return s;
    if (Status s = put_value(txn, db, meta_key("last"), u64_be(id)); !s) return s;

    std::string id_be = u64_be(id);
    for (const std::string& w : entry.words)
        if (Status s = put_value(txn, db, std::string(1, kWord) + word_tag(keys, w) + id_be, ""); !s) return s;
    for (const View& v : entry.views) {
        if (Status s = put_value(txn, db, std::string(1, kOwner) + owner_tag(keys, v.owner) + id_be, ""); !s) return s;
        if (Status s = put_value(txn, db, std::string(1, kPeer) + peer_tag(keys, v.owner, v.peer) + id_be, ""); !s)
            return s;
    }
    return id;
}

Result<std::optional<Record>> Journal::get(MDB_txn* txn, MDB_dbi db, uint64_t id) const {
    auto v = get_value(txn, db, record_key(id));
    if (!v) return v.status();
    if (!*v) return std::optional<Record>();
    auto k = keys(txn, db);
    if (!k) return k.status();
    auto raw = parse_record(id, **v);
    if (!raw) return raw.status();
    auto e = open_record(*k, *raw);
    if (!e) return e.status();
    return std::optional<Record>(Record{id, raw->prev, std::move(*e)});
}

Status Journal::records(MDB_txn* txn, MDB_dbi db, uint64_t after, uint64_t before,
                       const std::function<bool(Record&& record)>& fn) const {
    if (after == UINT64_MAX || before <= after + 1) return Status::ok();
    auto k = keys(txn, db);
    if (!k) return k.status().code() == "not-found" ? Status::ok() : k.status();
    const std::string prefix(1, kRecord);
    Status failed = Status::ok();
    Status s = raw::scan(txn, db, prefix, record_key(after + 1), [&](std::string_view key, std::string_view value) {
        if (key.size() != 9) return true;
        const uint64_t id = read_u64_be(key.substr(1));
        if (id >= before) return false;
        auto raw = parse_record(id, value);
        if (!raw) {
            failed = raw.status();
            return false;
        }
        auto e = open_record(*k, *raw);
        if (!e) {
            failed = e.status();
            return false;
        }
        return fn(Record{id, raw->prev, std::move(*e)});
    });
    return s ? failed : s;
}

Status Journal::view(MDB_txn* txn, MDB_dbi db, const Query& q, const std::function<bool(uint64_t id)>& fn) const {
    if (q.after != UINT64_MAX && q.before <= q.after + 1) return Status::ok();
    auto k = keys(txn, db);
    if (!k) return k.status().code() == "not-found" ? Status::ok() : k.status();
    std::string prefix = q.peer.empty() ? std::string(1, kOwner) + owner_tag(*k, q.owner)
                                        : std::string(1, kPeer) + peer_tag(*k, q.owner, q.peer);
    auto guard = raw::cursor(txn, db);
    if (!guard) return guard.status();
    MDB_cursor* cur = guard->get();
    int rc = 0;
    auto id_of = [&](const MDB_val& key, uint64_t& id) {
        std::string_view kv = view_of(key);
        if (kv.size() != prefix.size() + 8 || kv.substr(0, prefix.size()) != prefix) return false;
        id = read_u64_be(kv.substr(prefix.size()));
        return true;
    };
    MDB_val key{}, val{};
    if (!q.backward) {
        if (q.after == UINT64_MAX) return Status::ok();
        std::string start = prefix + u64_be(q.after + 1);
        key = val_of(start);
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT)) {
            uint64_t id = 0;
            if (!id_of(key, id) || id >= q.before) return Status::ok();
            if (!fn(id)) return Status::ok();
        }
    } else {
        std::string start = prefix + u64_be(q.before == UINT64_MAX ? UINT64_MAX : q.before);
        key = val_of(start);
        rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
        if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &key, &val, MDB_LAST);
        else if (rc == 0) {
            uint64_t id = 0;
            // SET_RANGE lands on the first key >= start: step back unless it
            // is a key of this view below `before` (only when before is
            // UINT64_MAX and that id exists, which cannot be a real id).
            if (!(id_of(key, id) && id < q.before)) rc = mdb_cursor_get(cur, &key, &val, MDB_PREV);
        }
        for (; rc == 0; rc = mdb_cursor_get(cur, &key, &val, MDB_PREV)) {
            uint64_t id = 0;
            if (!id_of(key, id) || id <= q.after) return Status::ok();
            if (!fn(id)) return Status::ok();
        }
    }
    return rc == MDB_NOTFOUND ? Status::ok() : error(rc, "scan");
}

Status Journal::rewrap(MDB_txn* txn, MDB_dbi db, const SecretKey& new_kek) const {
    auto k = keys(txn, db);
    if (!k) return k.status();
    auto blob = wrap_keys(*k, new_kek);
    if (!blob) return blob.status();
    return put_value(txn, db, meta_key("keys"), *blob);
}

}  // namespace parley::archive

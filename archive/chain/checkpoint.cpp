#include "archive/chain/checkpoint.hpp"

#include "archive/journal/journal.hpp"
#include "archive/journal/raw_db.hpp"

namespace parley::archive {

namespace {

constexpr char kCheckpoint = 'C', kViewMarker = 'V';
constexpr size_t kValue = 8 * 3 + kDigestBytes + 8 + kDigestBytes;

std::string key_of(uint32_t segment, uint64_t first) {
    return std::string(1, kCheckpoint) + layout::u32_be(segment) + layout::u64_be(first);
}

}  // namespace

Digest checkpoint_mac(const ArchiveKeys& keys, const Checkpoint& c) {
    std::string in(1, kCheckpoint);
    in += layout::u32_be(c.segment);
    in += layout::u64_be(c.first);
    in += layout::u64_be(c.last);
    in += layout::u64_be(c.count);
    in += layout::u64_be(c.prev);
    in += c.last_link;
    in += layout::u64_be(c.at_ms);
    return hmac_sha256(keys.chain, in);
}

Status put_checkpoint(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, Checkpoint c) {
    c.mac.assign(as_view(checkpoint_mac(keys, c)));
    std::string v = layout::u64_be(c.last) + layout::u64_be(c.count) + layout::u64_be(c.prev) + c.last_link +
                    layout::u64_be(c.at_ms) + c.mac;
    return raw::put(txn, db, key_of(c.segment, c.first), v);
}

Result<std::vector<Checkpoint>> load_checkpoints(MDB_txn* txn, MDB_dbi db, uint32_t segment) {
    std::vector<Checkpoint> out;
    std::string prefix = std::string(1, kCheckpoint) + layout::u32_be(segment);
    Status s = raw::scan(txn, db, prefix, {}, [&](std::string_view key, std::string_view v) {
        Checkpoint c;
        c.segment = segment;
        if (key.size() != prefix.size() + 8 || v.size() != kValue) {
            out.push_back(c);  // damaged: no mac
            return true;
        }
        c.first = layout::read_u64_be(key.substr(prefix.size()));
        c.last = layout::read_u64_be(v.substr(0, 8));
        c.count = layout::read_u64_be(v.substr(8, 8));
        c.prev = layout::read_u64_be(v.substr(16, 8));
        c.last_link.assign(v.substr(24, kDigestBytes));
        c.at_ms = layout::read_u64_be(v.substr(24 + kDigestBytes, 8));
        c.mac.assign(v.substr(32 + kDigestBytes, kDigestBytes));
        out.push_back(std::move(c));
        return true;
    });
    if (!s) return s;
    return out;
}

std::string view_marker_key(uint64_t id, std::string_view owner_tag) {
    return std::string(1, kViewMarker) + layout::u64_be(id) + std::string(owner_tag);
}

Digest view_marker_mac(const ArchiveKeys& keys, uint64_t id, std::string_view owner_tag) {
    return hmac_sha256(keys.chain, view_marker_key(id, owner_tag));
}

bool view_purged(MDB_txn* txn, MDB_dbi db, const ArchiveKeys& keys, uint64_t id, std::string_view owner_tag) {
    auto v = raw::get(txn, db, view_marker_key(id, owner_tag));
    return v && *v && equal_constant_time(**v, as_view(view_marker_mac(keys, id, owner_tag)));
}

}  // namespace parley::archive

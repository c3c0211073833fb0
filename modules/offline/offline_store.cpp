#include "offline_store.hpp"

#include <fmt/core.h>

#include <ctime>

#include "xml/parse_element.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_offline {

namespace {

constexpr uint8_t kUserTag = 0;     // owner + u8(0): the user record
constexpr uint8_t kMessageTag = 1;  // owner + u8(1) + u64(seq): one message
constexpr uint8_t kFormat = 1;      // first byte of every value
constexpr size_t kUserValueSize = 1 + 8 + 8 + 8;
constexpr size_t kMessageHeader = 1 + 8;

void put_uint(std::string& out, uint64_t v, size_t bytes) {
    for (size_t i = bytes; i-- > 0;) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_uint(std::string_view s, size_t at, size_t bytes) {
    uint64_t v = 0;
    for (size_t i = 0; i < bytes; ++i) v = (v << 8) | uint8_t(s[at + i]);
    return v;
}

std::string user_key(std::string_view owner) {
    std::string k(owner);
    k += static_cast<char>(kUserTag);
    return k;
}

std::string message_prefix(std::string_view owner) {
    std::string k(owner);
    k += static_cast<char>(kMessageTag);
    return k;
}

std::string message_key(std::string_view owner, uint64_t seq) {
    std::string k = message_prefix(owner);
    put_uint(k, seq, 8);
    return k;
}

Result<QueueInfo> decode_user(std::string_view v, std::string_view owner) {
    if (v.size() != kUserValueSize || uint8_t(v[0]) != kFormat)
        return Status::error("corrupt", fmt::format("offline: the user record of a queue ({} bytes of key) is damaged",
                                                    owner.size()));
    return QueueInfo{get_uint(v, 1, 8), get_uint(v, 9, 8), get_uint(v, 17, 8)};
}

std::string encode_user(const QueueInfo& q) {
    std::string v;
    v.reserve(kUserValueSize);
    v += static_cast<char>(kFormat);
    put_uint(v, q.next_seq, 8);
    put_uint(v, q.count, 8);
    put_uint(v, q.bytes, 8);
    return v;
}

}  // namespace

Result<std::string> owner_key(const xmpp::Jid& bare) {
    // LMDB's limit is 511 bytes; a message key adds 9 to the owner.
    if (bare.domain().size() + bare.node().size() + 4 + 9 > 511)
        return Status::error("invalid", "offline: the address is too long for a queue key");
    std::string k;
    k.reserve(4 + bare.domain().size() + bare.node().size());
    put_uint(k, bare.domain().size(), 2);
    k += bare.domain();
    put_uint(k, bare.node().size(), 2);
    k += bare.node();
    return k;
}

Result<QueueInfo> queue_info(const store::Txn& txn, MDB_dbi db, std::string_view owner) {
    auto v = txn.get(db, user_key(owner));
    if (!v) return v.status();
    if (!v.value()) return QueueInfo{};
    return decode_user(*v.value(), owner);
}

Status append(store::Txn& txn, MDB_dbi db, std::string_view owner, int64_t stored_ms, std::string_view xml,
              const Quota& quota) {
    auto q = queue_info(txn, db, owner);
    if (!q) return q.status();
    QueueInfo info = q.value();
    if (info.count + 1 > quota.max_messages || info.bytes + xml.size() > quota.max_bytes)
        return Status::error("quota", fmt::format("offline: the queue holds {} messages, {} bytes", info.count,
                                                  info.bytes));
    std::string value;
    value.reserve(kMessageHeader + xml.size());
    value += static_cast<char>(kFormat);
    put_uint(value, static_cast<uint64_t>(stored_ms), 8);
    value += xml;
    // The sequence number never repeats while the queue has messages, so
    // an existing key would mean a damaged user record: refuse to overwrite.
    Status s = txn.put(db, message_key(owner, info.next_seq), value, MDB_NOOVERWRITE);
    if (!s) return s;
    ++info.next_seq;
    ++info.count;
    info.bytes += xml.size();
    return txn.put(db, user_key(owner), encode_user(info));
}

Status remove(store::Txn& txn, MDB_dbi db, std::string_view owner, const std::vector<uint64_t>& seqs) {
    auto q = queue_info(txn, db, owner);
    if (!q) return q.status();
    QueueInfo info = q.value();
    for (uint64_t seq : seqs) {
        const std::string key = message_key(owner, seq);
        auto v = txn.get(db, key);
        if (!v) return v.status();
        if (!v.value()) continue;  // removed already (delivered twice after a crash)
        const uint64_t size = v.value()->size() >= kMessageHeader ? v.value()->size() - kMessageHeader : 0;
        auto d = txn.del(db, key);
        if (!d) return d.status();
        if (info.count > 0) --info.count;
        info.bytes = info.bytes >= size ? info.bytes - size : 0;
    }
    if (info.count == 0) {
        // The queue is empty: the user record goes too. The sequence may
        // restart at 0, since no message of the old one is left.
        auto d = txn.del(db, user_key(owner));
        return d ? Status::ok() : d.status();
    }
    return txn.put(db, user_key(owner), encode_user(info));
}

Status remove_queue(store::Txn& txn, MDB_dbi db, std::string_view owner, uint64_t& removed) {
    removed = 0;
    // The keys are copied first: a view from the scan dies with the first del.
    std::vector<std::string> keys;
    const std::string messages = message_prefix(owner);
    Status s = txn.scan(db, owner, [&](std::string_view key, std::string_view) {
        keys.emplace_back(key);
        if (key.size() == messages.size() + 8 && key.substr(0, messages.size()) == messages) ++removed;
        return true;
    });
    if (!s) return s;
    for (const auto& k : keys) {
        auto d = txn.del(db, k);
        if (!d) return d.status();
    }
    return Status::ok();
}

Result<std::vector<StoredMessage>> first_messages(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                                                  size_t max) {
    std::vector<StoredMessage> out;
    const std::string prefix = message_prefix(owner);
    Status s = txn.scan(db, prefix, [&](std::string_view key, std::string_view value) {
        if (out.size() >= max) return false;
        StoredMessage m;
        if (key.size() == prefix.size() + 8) m.seq = get_uint(key, prefix.size(), 8);
        else return true;  // not a message key of this owner
        if (value.size() >= kMessageHeader && uint8_t(value[0]) == kFormat) {
            m.stored_ms = static_cast<int64_t>(get_uint(value, 1, 8));
            m.xml.assign(value.substr(kMessageHeader));
        }
        out.push_back(std::move(m));
        return true;
    });
    if (!s) return s;
    return out;
}

std::string xep0082_stamp(int64_t unix_ms) {
    const time_t seconds = static_cast<time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                       tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ms % 1000));
}

Result<xml::Element> parse_stored(std::string_view text) {
    // Limits only against a damaged record: what is stored passed the
    // limits of the stream it came from.
    auto e = xml::parse_element(text, xmpp::kNsClient, 256);
    if (!e) return Status::error("corrupt", fmt::format("offline: a stored stanza does not parse ({})", e.status().message()));
    return std::move(e.value());
}

}  // namespace parley::mod_offline

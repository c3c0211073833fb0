// The journal: every archived message, once, in its own LMDB database.
//
// Records are keyed by a time-ordered 64-bit id (milliseconds since the Unix
// epoch << 16 | a counter), which is also the XEP-0359 stanza-id that
// recipients see. Ids are assigned by append(), inside the write transaction,
// so they increase in commit order: a MAM client that paged up to an id never
// misses a later commit with a smaller id.
//
// Every payload (the encoded Entry, zstd-compressed when large) is sealed
// with AES-256-GCM under the archive's data key; nothing readable of a
// message, its addresses or its owners is stored in clear. The per-owner and
// per-peer views are index keys whose owner part is an HMAC of the JID under
// the chain key, so `strings data.mdb` shows nothing, and parleyctl, holding
// the key file, finds a user's records all the same.
//
// Integrity: records form one keyed hash chain per segment (one UTC day of
// ids). Each record stores the id and the link of the record appended before
// it in its segment, and its own link = HMAC-SHA-256(chain key, segment, prev
// id, prev link, id, flags, SHA-256(stored payload)). So a record proves
// itself on its own (an altered or forged one fails its link) and where it
// stood (a removed predecessor is missing, a replaced one has another link);
// the segment head stores its first and last id, count and last link under
// an HMAC of its own, which catches removal at the end. Whoever lacks the key file
// can neither alter, insert nor remove a record without chain/verify.hpp
// saying which. Records are never rewritten: a later fact about a message
// (a retraction, a moderation) is a record of its own.
//
// Layout of the one LMDB database (keys sort in query order):
//   'M' name            meta: "format" ("1"), "keys" (wrapped keys), "last" (u64 last id)
//   'J' id              record: u8 version | u8 flags | u64 prev | prev link[32] | link[32] | sealed
//   'S' segment         segment head: first | last | count (u64) | last link[32] | mac[32]
//   'O' tag16 id        view: the owner's archive            (tag16 = HMAC("O", owner)[0..16])
//   'P' tag16 id        view: the owner's archive with a peer (tag16 = HMAC("P", owner, peer)[0..16])
//   'W' tag8 id         word index: a word of the body (tag8 = HMAC("W", word)[0..8]; collisions are
//                       weeded out by the entry's own word list)
// Integers are big-endian.
//
// Thread affinity: a Journal may be shared by threads (its key cache is
// locked); each call uses only the transaction it is given, which belongs to
// the calling thread. append() needs a write transaction (the environment's
// writer thread); everything else works in a read transaction.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "archive/crypto/keys.hpp"
#include "archive/journal/entry.hpp"
#include "errors/status.hpp"

namespace parley::archive {

constexpr unsigned kIdCounterBits = 16;
constexpr uint64_t kSegmentMs = 86'400'000;  // one UTC day
inline uint64_t id_time_ms(uint64_t id) { return id >> kIdCounterBits; }
inline uint64_t first_id_at(uint64_t ms) { return ms << kIdCounterBits; }
// The id after `last` at the time now_ms.
inline uint64_t next_id(uint64_t last, uint64_t now_ms) {
    uint64_t at = first_id_at(now_ms);
    return at > last ? at : last + 1;
}
inline uint32_t segment_of(uint64_t id) { return static_cast<uint32_t>(id_time_ms(id) / kSegmentMs); }

namespace layout {
constexpr char kMeta = 'M', kRecord = 'J', kSegment = 'S', kOwner = 'O', kPeer = 'P', kWord = 'W';
constexpr size_t kWordTagBytes = 8;
constexpr size_t kIndexTagBytes = 16;
constexpr size_t kRecordHeader = 1 + 1 + 8 + 2 * kDigestBytes;  // version, flags, prev, prev link, link
constexpr uint8_t kRecordVersion = 1;
constexpr uint8_t kFlagCompressed = 1;
constexpr size_t kSegmentValue = 8 * 3 + 2 * kDigestBytes;

std::string u64_be(uint64_t v);
uint64_t read_u64_be(std::string_view b);  // b.size() >= 8
std::string u32_be(uint32_t v);
std::string record_key(uint64_t id);
std::string segment_key(uint32_t segment);
std::string meta_key(std::string_view name);
}  // namespace layout

// A record as read back.
struct Record {
    uint64_t id = 0;
    uint64_t prev = 0;  // the record before it in its segment (0: the first)
    Entry entry;
};

// A record's stored fields before decryption (for verification).
struct RawRecord {
    uint64_t id = 0;
    uint8_t version = 0;
    uint8_t flags = 0;
    uint64_t prev = 0;
    std::string_view prev_link;  // kDigestBytes
    std::string_view link;       // kDigestBytes
    std::string_view sealed;  // ciphertext || tag
};
// Code "corrupt" when the value is too short or of an unknown version.
Result<RawRecord> parse_record(uint64_t id, std::string_view value);

// A segment head as stored.
struct SegmentHead {
    uint32_t segment = 0;
    uint64_t first = 0, last = 0, count = 0;
    std::string last_link;  // kDigestBytes
    std::string mac;        // kDigestBytes
};
Result<SegmentHead> parse_segment(uint32_t segment, std::string_view value);

class Journal {
public:
    // kek: the key-encryption key from the archive's key file.
    explicit Journal(SecretKey kek);

    // Ok when the archive opens with this key, or has no keys yet (the first
    // append makes them). "wrong-key" or "corrupt" otherwise. The message
    // names the key ids, never key material.
    Status check_key(MDB_txn* txn, MDB_dbi db) const;
    // The archive's keys ("not-found" while it has none).
    Result<ArchiveKeys> keys(MDB_txn* txn, MDB_dbi db) const;
    // The same, making them first if the archive has none (write transaction).
    Result<ArchiveKeys> ensure_keys(MDB_txn* txn, MDB_dbi db) const;

    // Appends one entry at the time now_ms (its id is at least
    // first_id_at(now_ms), and above every earlier id) and returns its id.
    // Safe to run again in a fresh transaction (the writer's retry).
    Result<uint64_t> append(MDB_txn* txn, MDB_dbi db, uint64_t now_ms, const Entry& entry) const;
    // Appends under an id the caller assigned (next_id() of the ids it gave
    // before, in the order of the write queue); code "order" when id is not
    // above the last id appended.
    Result<uint64_t> append_at(MDB_txn* txn, MDB_dbi db, uint64_t id, const Entry& entry) const;
    // The last id appended (0 for an empty archive).
    Result<uint64_t> last_id(MDB_txn* txn, MDB_dbi db) const;

    Result<std::optional<Record>> get(MDB_txn* txn, MDB_dbi db, uint64_t id) const;

    // Ids of one view, in id order (backward: newest first), strictly
    // between after and before. fn returns false to stop.
    struct Query {
        std::string owner;  // bare JID
        std::string peer;   // bare JID, or empty: every peer
        uint64_t after = 0;
        uint64_t before = UINT64_MAX;
        bool backward = false;
    };
    Status view(MDB_txn* txn, MDB_dbi db, const Query& q, const std::function<bool(uint64_t id)>& fn) const;

    // Every record with an id strictly between after and before, opened, in
    // id order (whole-archive exports). fn returns false to stop. A record
    // that does not open stops the walk with its error: an export never
    // leaves a record out silently.
    Status records(MDB_txn* txn, MDB_dbi db, uint64_t after, uint64_t before,
                   const std::function<bool(Record&& record)>& fn) const;

    // Wraps the archive's keys under new_kek instead (write transaction);
    // history is not rewritten. This Journal keeps its old kek: open a new
    // one with new_kek afterwards.
    Status rewrap(MDB_txn* txn, MDB_dbi db, const SecretKey& new_kek) const;

    // Index tags (for the views and for verification).
    static std::string owner_tag(const ArchiveKeys& keys, std::string_view owner);
    static std::string peer_tag(const ArchiveKeys& keys, std::string_view owner, std::string_view peer);
    static std::string word_tag(const ArchiveKeys& keys, std::string_view word);
    // The chain link of a record and the MAC of a segment head.
    static Digest link(const ArchiveKeys& keys, uint32_t segment, uint64_t prev, std::string_view prev_link,
                       uint64_t id, uint8_t flags, std::string_view sealed);
    static Digest segment_mac(const ArchiveKeys& keys, const SegmentHead& head);
    // Decrypts and decodes a raw record.
    static Result<Entry> open_record(const ArchiveKeys& keys, const RawRecord& raw);

private:
    struct KeyCache;
    std::shared_ptr<KeyCache> cache_;
};

}  // namespace parley::archive

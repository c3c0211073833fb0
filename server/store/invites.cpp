#include "store/invites.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "store/scram.hpp"

namespace parley::store::invites {

namespace detail {

namespace {

constexpr uint8_t kRecordFormat = 1;
constexpr const char* kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";

void put_uint(std::string& out, uint64_t v, int bytes) {
    for (int i = bytes - 1; i >= 0; --i) out += static_cast<char>((v >> (8 * i)) & 0xff);
}

uint64_t get_uint(std::string_view s, size_t at, int bytes) {
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
    return v;
}

int base32_value(char c) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c >= 'a' && c <= 'z') return c - 'a';
    if (c >= '2' && c <= '7') return c - '2' + 26;
    return -1;
}

// Decodes unpadded base32 whose length is a multiple of 8 characters.
bool unbase32(std::string_view text, std::string& out) {
    if (text.size() % 8 != 0) return false;
    out.clear();
    uint64_t bits = 0;
    int count = 0;
    for (char c : text) {
        const int v = base32_value(c);
        if (v < 0) return false;
        bits = (bits << 5) | static_cast<uint64_t>(v);
        count += 5;
        if (count >= 8) {
            count -= 8;
            out += static_cast<char>((bits >> count) & 0xff);
        }
    }
    return true;
}

}  // namespace

std::string base32(std::string_view raw) {
    std::string out;
    uint64_t bits = 0;
    int count = 0;
    for (unsigned char c : raw) {
        bits = (bits << 8) | c;
        count += 8;
        while (count >= 5) {
            count -= 5;
            out += kAlphabet[(bits >> count) & 31];
        }
    }
    if (count > 0) out += kAlphabet[(bits << (5 - count)) & 31];
    return out;
}

bool split_token(std::string_view token, std::string& id, std::string& secret) {
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t')) token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t')) token.remove_suffix(1);
    if (token.size() != kTokenChars) return false;
    std::string raw_id;
    if (!unbase32(token.substr(0, kIdChars), raw_id) || raw_id.size() != kIdBytes) return false;
    if (!unbase32(token.substr(kIdChars), secret) || secret.size() != kSecretBytes) return false;
    id = base32(raw_id);  // the canonical (lowercase) spelling of the key
    return true;
}

std::string sha256(std::string_view data) {
    std::string out(32, '\0');
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data(), data.size(), out.data());
    return out;
}

std::string encode(const Invite& inv) {
    std::string v;
    v += static_cast<char>(kRecordFormat);
    v += inv.secret_hash;
    put_uint(v, inv.uses, 4);
    put_uint(v, inv.uses_left, 4);
    put_uint(v, static_cast<uint64_t>(inv.created_unix), 8);
    put_uint(v, static_cast<uint64_t>(inv.expires_unix), 8);
    return v;
}

bool decode(std::string_view key, std::string_view value, Invite& out) {
    if (key.size() != kIdChars || value.size() != 1 + 32 + 4 + 4 + 8 + 8) return false;
    if (static_cast<uint8_t>(value[0]) != kRecordFormat) return false;
    Invite inv;
    inv.id = std::string(key);
    inv.secret_hash = std::string(value.substr(1, 32));
    inv.uses = static_cast<uint32_t>(get_uint(value, 33, 4));
    inv.uses_left = static_cast<uint32_t>(get_uint(value, 37, 4));
    inv.created_unix = static_cast<int64_t>(get_uint(value, 41, 8));
    inv.expires_unix = static_cast<int64_t>(get_uint(value, 49, 8));
    if (inv.uses == 0 || inv.uses_left == 0 || inv.uses_left > inv.uses) return false;
    out = std::move(inv);
    return true;
}

}  // namespace detail

Result<NewInvite> make(uint32_t uses, int64_t now, int64_t expires_unix) {
    if (uses == 0 || uses > kMaxUses) return Status::error("invalid", "an invitation allows 1 to 1000000 uses");
    if (expires_unix != 0 && expires_unix <= now) return Status::error("invalid", "the expiry is not in the future");
    unsigned char raw[kIdBytes + kSecretBytes];
    if (gnutls_rnd(GNUTLS_RND_KEY, raw, sizeof raw) < 0)
        return Status::error("random", "no random bytes for the invitation");
    const std::string_view id_raw(reinterpret_cast<const char*>(raw), kIdBytes);
    const std::string_view secret(reinterpret_cast<const char*>(raw) + kIdBytes, kSecretBytes);
    NewInvite n;
    n.invite.id = detail::base32(id_raw);
    n.invite.secret_hash = detail::sha256(secret);
    n.invite.uses = uses;
    n.invite.uses_left = uses;
    n.invite.created_unix = now;
    n.invite.expires_unix = expires_unix;
    n.token = n.invite.id + detail::base32(secret);
    gnutls_memset(raw, 0, sizeof raw);
    return n;
}

Status put(Txn& txn, MDB_dbi db, const Invite& invite) {
    return txn.put(db, invite.id, detail::encode(invite), MDB_NOOVERWRITE);
}

Result<Consumed> consume(Txn& txn, MDB_dbi db, std::string_view token, int64_t now) {
    Consumed c;
    std::string id, secret;
    if (!detail::split_token(token, id, secret)) return c;  // unknown
    auto v = txn.get(db, id);
    if (!v) return v.status();
    if (!v.value()) return c;
    Invite inv;
    // The hash is computed and compared even for a malformed record, so the
    // time taken does not depend on what is stored.
    const std::string hash = detail::sha256(secret);
    const bool decoded = detail::decode(id, *v.value(), inv);
    const bool match = scram::constant_time_equal(hash, decoded ? inv.secret_hash : std::string(32, '\0'));
    if (!decoded || !match) return c;
    c.before = inv;
    if (inv.expired(now)) {
        auto gone = txn.del(db, id);
        if (!gone) return gone.status();
        c.kind = Consumed::Kind::expired;
        return c;
    }
    if (--inv.uses_left == 0) {
        auto gone = txn.del(db, id);
        if (!gone) return gone.status();
    } else {
        Status s = txn.put(db, id, detail::encode(inv));
        if (!s) return s;
    }
    c.kind = Consumed::Kind::ok;
    return c;
}

Status refund(Txn& txn, MDB_dbi db, const Invite& before) {
    auto v = txn.get(db, before.id);
    if (!v) return v.status();
    Invite now;
    if (v.value() && detail::decode(before.id, *v.value(), now)) {
        if (now.uses_left >= now.uses) return Status::ok();
        ++now.uses_left;
        return txn.put(db, now.id, detail::encode(now));
    }
    // Its last use was taken, so the record went: put it back as it was.
    return txn.put(db, before.id, detail::encode(before));
}

Result<std::vector<Invite>> list(const Txn& txn, MDB_dbi db) {
    std::vector<Invite> out;
    bool malformed = false;
    Status s = txn.scan(db, "", [&](std::string_view key, std::string_view value) {
        Invite inv;
        if (!detail::decode(key, value, inv)) {
            malformed = true;
            return false;
        }
        out.push_back(std::move(inv));
        return true;
    });
    if (!s) return s;
    if (malformed) return Status::error("corrupt", std::string("a record of ") + kDatabase + " is malformed");
    return out;
}

Result<bool> remove(Txn& txn, MDB_dbi db, std::string_view id) {
    std::string canonical(id);
    for (char& c : canonical)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (canonical.size() != kIdChars) return false;
    return txn.del(db, canonical);
}

}  // namespace parley::store::invites

// Invitations: tokens that let someone register an account in-band
// (XEP-0077 through mod_register with `require_invite`), made by
// `parleyctl invite create`.
//
// A token is 40 characters of lowercase base32 (RFC 4648 alphabet): the
// first 8 encode a public id (5 random bytes), the other 32 a secret (20
// random bytes, 160 bits). Only the id and SHA-256 of the secret are
// stored, so a copy of the store gives no usable token; a plain hash is
// enough because the secret is random, not chosen by a person. The secret
// is compared in constant time. `parleyctl invite list` shows ids, never
// tokens.
//
// The records live in the database `register.invites` of the state
// environment (data_dir/state), named after the module that uses them:
// parleyd opens it for that module (Host::invitations,
// loop/host_invitations.hpp: module "register", name kModuleDatabase) and
// writes through the writer thread; parleyctl opens the same database
// (kDatabase) and writes with Env::write, while parleyd runs or not, as it
// does for accounts. Modules never include this header. Both
// use the functions below inside their own write transaction, so using a
// token (check, count down, delete at zero) is one atomic step for either.
// Key and value layout are in doc/storage.md. Pure functions over a
// transaction: any thread that holds it.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"
#include "store/env.hpp"

namespace parley::store::invites {

inline constexpr const char* kModuleDatabase = "invites";          // as mod_register names it
inline constexpr const char* kDatabase = "register.invites";       // its name in data_dir/state
inline constexpr uint32_t kSchemaVersion = 1;
inline constexpr size_t kIdBytes = 5;
inline constexpr size_t kSecretBytes = 20;
inline constexpr size_t kIdChars = 8;  // base32 of kIdBytes
inline constexpr size_t kTokenChars = 40;
inline constexpr uint32_t kMaxUses = 1000000;

struct Invite {
    std::string id;           // kIdChars base32 characters: the key, shown by `invite list`
    std::string secret_hash;  // SHA-256 of the secret's raw bytes (32 bytes)
    uint32_t uses = 1;        // how many registrations it was made for
    uint32_t uses_left = 1;   // how many it still allows (the record is deleted at 0)
    int64_t created_unix = 0;
    int64_t expires_unix = 0;  // 0: never
    bool expired(int64_t now) const { return expires_unix != 0 && now >= expires_unix; }
};

// A new token and the record to store for it (fresh random id and secret
// from gnutls_rnd's key generator). `uses` 1..kMaxUses, `expires_unix` 0
// (never) or later than `now`; code "invalid" otherwise.
struct NewInvite {
    std::string token;
    Invite invite;
};
Result<NewInvite> make(uint32_t uses, int64_t now, int64_t expires_unix);

// Stores a new record; code "exists" when its id is taken (make another).
Status put(Txn& txn, MDB_dbi db, const Invite& invite);

// Uses `token` once, at time `now`. ok: the token was good and one use is
// taken (the record deleted when none is left); unknown: no such id, a
// wrong secret or not a token at all; expired: past its expiry (the record
// is deleted). The Status is an error only for the store itself.
struct Consumed {
    enum class Kind { ok, unknown, expired };
    Kind kind = Kind::unknown;
    Invite before;  // the record as it was (ok and expired)
};
Result<Consumed> consume(Txn& txn, MDB_dbi db, std::string_view token, int64_t now);

// Gives back the use consume() took (the registration failed after all):
// one more use left, or the record as it was if it is gone. Never more
// than it was made for.
Status refund(Txn& txn, MDB_dbi db, const Invite& before);

// Every record, by id.
Result<std::vector<Invite>> list(const Txn& txn, MDB_dbi db);
// false when there was no such id.
Result<bool> remove(Txn& txn, MDB_dbi db, std::string_view id);

namespace detail {
// The codecs, exposed for the unit tests (doc/storage.md) and for the
// host's receipt of a use (loop/host_invitations.hpp: the record as it was,
// for refund()).
std::string encode(const Invite& invite);
bool decode(std::string_view key, std::string_view value, Invite& out);
std::string base32(std::string_view raw);
// Splits a token (surrounding spaces ignored, either case) into its id and
// the secret's raw bytes; false if it is not one.
bool split_token(std::string_view token, std::string& id, std::string& secret);
std::string sha256(std::string_view data);
}  // namespace detail

}  // namespace parley::store::invites

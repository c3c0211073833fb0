// AccountStore: the local accounts of every virtual host, in the `accounts`
// database of the state environment (data_dir/state).
//
// An account holds SCRAM-SHA-1 and SCRAM-SHA-256 credentials (salted keys,
// RFC 5803) and its creation time, never the password: the password passed
// to create() or set_password() is used to derive the keys and dropped.
// Nodes and domains arrive already normalised (nodeprep, lowercased domain)
// by the caller; the store compares bytes. Key and value layout, and the
// schema version, are in doc/storage.md.
//
// Deleting an account leaves a tombstone in the `deleted_accounts`
// database, written in the same transaction: the modules' data about the
// account (roster, offline messages, PEP, ...) is removed by parleyd
// afterwards (loop/account_purge.hpp), which then forgets the tombstone. So
// an account deleted while parleyd is down is purged when it starts, and a
// new account of the same name cannot inherit the old one's data: create()
// refuses it ("exists") while the tombstone is there.
//
// Every call runs in its own LMDB transaction, so parleyctl (another
// process) and parleyd see each other's changes at once. Writes and
// check_password() run PBKDF2 and take milliseconds: callers on an event
// loop run them off the loop. Any thread; the Env must outlive the store.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"
#include "store/env.hpp"
#include "store/scram.hpp"

namespace parley::store {

// The rules a new password must pass wherever it is set (parleyctl's
// `user add` and `user passwd`, XEP-0077 registration and password change):
// not empty, at most kMaxPasswordBytes bytes, valid UTF-8, no control
// characters (a line typed to parleyctl cannot hold one either). Code
// "invalid", the message naming the rule broken (never the password).
inline constexpr size_t kMaxPasswordBytes = 1023;
Status check_new_password(std::string_view password);

struct Account {
    std::string node, domain;
    std::vector<scram::ScramCredential> scram;  // SCRAM-SHA-1 and SCRAM-SHA-256
    int64_t created_unix = 0;
};

class AccountStore {
  public:
    static constexpr const char* kDatabase = "accounts";
    static constexpr uint32_t kSchemaVersion = 1;
    static constexpr const char* kDeletedDatabase = "deleted_accounts";
    static constexpr uint32_t kDeletedSchemaVersion = 1;

    // Opens (creating) the accounts database; code "schema" if it was
    // written by a newer Parley.
    static Result<std::unique_ptr<AccountStore>> open(Env& env);

    Result<bool> exists(std::string_view node, std::string_view domain) const;
    Result<std::optional<Account>> get(std::string_view node, std::string_view domain) const;
    // Code "exists" if the account is already there or was deleted and its
    // data is not purged yet (a tombstone), "invalid" for an empty node or
    // domain or one too long for a key.
    Status create(std::string_view node, std::string_view domain, std::string_view password,
                  uint32_t iterations = 4096);
    // New salts and keys for both mechanisms; code "not-found" if absent.
    Status set_password(std::string_view node, std::string_view domain, std::string_view password,
                        uint32_t iterations = 4096);
    // Removes the account and leaves its tombstone. Code "not-found" if absent.
    Status remove(std::string_view node, std::string_view domain);

    // Accounts deleted whose data is not purged yet, oldest key first, at
    // most `max`, as {node, domain}.
    struct Deleted {
        std::string node, domain;
        int64_t deleted_unix = 0;
    };
    Result<std::vector<Deleted>> deleted(size_t max) const;
    // Forgets the tombstone once every module purged the account (no error
    // when it is already gone).
    Status forget_deleted(std::string_view node, std::string_view domain);
    // The nodes of one domain, sorted; with an empty domain every account as
    // "node@domain", sorted.
    Result<std::vector<std::string>> list(std::string_view domain) const;
    // For SASL PLAIN: derives with the salt and iterations of the strongest
    // stored credential and compares StoredKey in constant time. false for a
    // wrong password and for an unknown account, which costs the same: a
    // SCRAM-SHA-256 derivation with typical_iterations(domain,
    // `fallback_iterations`).
    Result<bool> check_password(std::string_view node, std::string_view domain,
                                std::string_view password, uint32_t fallback_iterations = 4096) const;

    // The iteration count a real account of `domain` shows: the most common
    // one among up to kIterationSample of its accounts (read from a random
    // point of the domain's key range, wrapping), remembered for
    // kIterationTtl and forgotten when this store changes an account of the
    // domain; `fallback` when the domain has no account (or on a read
    // error). Names without an account are answered with it (SCRAM's
    // decoy keys, PLAIN's decoy PBKDF2), so that neither the count shown
    // nor the time taken tells who has an account, even after
    // [sasl] scram_iterations changed and old accounts keep their count.
    uint32_t typical_iterations(std::string_view domain, uint32_t fallback) const;
    static constexpr size_t kIterationSample = 64;
    static constexpr std::chrono::seconds kIterationTtl{60};

  private:
    AccountStore(Env& env, MDB_dbi dbi, MDB_dbi deleted) : env_(env), dbi_(dbi), deleted_(deleted) {}
    Result<std::string> key_of(std::string_view node, std::string_view domain) const;

    void forget_typical(std::string_view domain) const;

    Env& env_;
    MDB_dbi dbi_;
    MDB_dbi deleted_;  // tombstones: account key -> i64 deletion time
    struct Typical {
        uint32_t iterations = 0;
        std::chrono::steady_clock::time_point at;
    };
    mutable std::mutex typical_mutex_;
    mutable std::map<std::string, Typical, std::less<>> typical_;  // per domain
};

namespace detail {
// The record codec, exposed for the unit tests (doc/storage.md).
std::string account_key(std::string_view node, std::string_view domain);
bool split_account_key(std::string_view key, std::string& node, std::string& domain);
std::string encode_account(const Account& account);
bool decode_account(std::string_view value, Account& out);  // node, domain untouched
}  // namespace detail

}  // namespace parley::store

#include "store/accounts.hpp"

#include <fmt/core.h>

#include <gnutls/crypto.h>

#include <algorithm>
#include <cstring>
#include <ctime>

namespace parley::store {

namespace detail {

namespace {

constexpr uint8_t kRecordFormat = 1;

void put_u16(std::string& out, size_t v) {
    out += static_cast<char>((v >> 8) & 0xff);
    out += static_cast<char>(v & 0xff);
}

void put_u8_string(std::string& out, std::string_view s) {
    out += static_cast<char>(s.size());
    out += s;
}

// A bounds-checked reader over a record; any overrun makes ok() false.
class Cursor {
  public:
    explicit Cursor(std::string_view s) : s_(s) {}
    bool ok() const { return ok_; }
    bool done() const { return ok_ && pos_ == s_.size(); }
    uint64_t uint(size_t bytes) {
        if (!take(bytes)) return 0;
        uint64_t v = 0;
        for (size_t i = 0; i < bytes; ++i) v = (v << 8) | uint8_t(s_[pos_ - bytes + i]);
        return v;
    }
    std::string bytes(size_t n) {
        if (!take(n)) return {};
        return std::string(s_.substr(pos_ - n, n));
    }
    std::string u8_string() { return bytes(static_cast<size_t>(uint(1))); }
    std::string u16_string() { return bytes(static_cast<size_t>(uint(2))); }

  private:
    bool take(size_t n) {
        if (!ok_ || s_.size() - pos_ < n) return ok_ = false;
        pos_ += n;
        return true;
    }
    std::string_view s_;
    size_t pos_ = 0;
    bool ok_ = true;
};

}  // namespace

std::string account_key(std::string_view node, std::string_view domain) {
    std::string k;
    k.reserve(4 + node.size() + domain.size());
    put_u16(k, domain.size());
    k += domain;
    put_u16(k, node.size());
    k += node;
    return k;
}

bool split_account_key(std::string_view key, std::string& node, std::string& domain) {
    Cursor c(key);
    std::string d = c.u16_string();
    std::string n = c.u16_string();
    if (!c.done()) return false;
    node = std::move(n);
    domain = std::move(d);
    return true;
}

std::string encode_account(const Account& a) {
    std::string v;
    v += static_cast<char>(kRecordFormat);
    const uint64_t created = static_cast<uint64_t>(a.created_unix);
    for (int i = 7; i >= 0; --i) v += static_cast<char>((created >> (8 * i)) & 0xff);
    v += static_cast<char>(a.scram.size());
    for (const auto& c : a.scram) {
        put_u8_string(v, c.mechanism);
        for (int i = 3; i >= 0; --i) v += static_cast<char>((c.iterations >> (8 * i)) & 0xff);
        put_u8_string(v, c.salt);
        put_u8_string(v, c.stored_key);
        put_u8_string(v, c.server_key);
    }
    return v;
}

bool decode_account(std::string_view value, Account& out) {
    Cursor c(value);
    if (c.uint(1) != kRecordFormat) return false;
    Account a;
    a.created_unix = static_cast<int64_t>(c.uint(8));
    const size_t count = static_cast<size_t>(c.uint(1));
    for (size_t i = 0; i < count && c.ok(); ++i) {
        scram::ScramCredential cred;
        cred.mechanism = c.u8_string();
        cred.iterations = static_cast<uint32_t>(c.uint(4));
        cred.salt = c.u8_string();
        cred.stored_key = c.u8_string();
        cred.server_key = c.u8_string();
        const size_t size = scram::hash_size(cred.mechanism);
        if (size == 0 || cred.iterations == 0 || cred.salt.empty() ||
            cred.stored_key.size() != size || cred.server_key.size() != size)
            return false;
        a.scram.push_back(std::move(cred));
    }
    if (!c.done()) return false;
    out.created_unix = a.created_unix;
    out.scram = std::move(a.scram);
    return true;
}

}  // namespace detail

Status check_new_password(std::string_view password) {
    if (password.empty()) return Status::error("invalid", "the password must not be empty");
    if (password.size() > kMaxPasswordBytes)
        return Status::error("invalid", fmt::format("the password is longer than {} bytes", kMaxPasswordBytes));
    // RFC 3629 UTF-8 (no overlong forms, no surrogates), and no C0 or C1
    // control character and no DEL.
    size_t i = 0;
    while (i < password.size()) {
        const auto c = static_cast<unsigned char>(password[i]);
        uint32_t cp = 0;
        size_t n = 0;
        if (c < 0x80) cp = c;
        else if (c >= 0xC2 && c <= 0xDF) n = 1, cp = c & 0x1F;
        else if (c >= 0xE0 && c <= 0xEF) n = 2, cp = c & 0x0F;
        else if (c >= 0xF0 && c <= 0xF4) n = 3, cp = c & 0x07;
        else return Status::error("invalid", "the password is not valid UTF-8");
        if (i + n >= password.size() && n > 0) return Status::error("invalid", "the password is not valid UTF-8");
        for (size_t k = 1; k <= n; ++k) {
            const auto d = static_cast<unsigned char>(password[i + k]);
            if ((d & 0xC0) != 0x80) return Status::error("invalid", "the password is not valid UTF-8");
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return Status::error("invalid", "the password is not valid UTF-8");
        if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            return Status::error("invalid", "the password must not contain control characters");
        i += n + 1;
    }
    return Status::ok();
}

namespace {

constexpr const char* kMechanisms[] = {"SCRAM-SHA-1", "SCRAM-SHA-256"};

// Fresh salts and keys for every stored mechanism.
Result<std::vector<scram::ScramCredential>> make_credentials(std::string_view password,
                                                             uint32_t iterations) {
    std::vector<scram::ScramCredential> out;
    for (const char* mech : kMechanisms) {
        auto salt = scram::random_salt();
        if (!salt) return salt.status();
        auto c = scram::derive(mech, password, salt.value(), iterations);
        if (!c) return c.status();
        out.push_back(std::move(c.value()));
    }
    return out;
}

Status corrupt(std::string_view node, std::string_view domain) {
    return Status::error("corrupt",
                         fmt::format("the account record of {}@{} is malformed", node, domain));
}

}  // namespace

Result<std::unique_ptr<AccountStore>> AccountStore::open(Env& env) {
    auto dbi = env.database(kDatabase, kSchemaVersion);
    if (!dbi) return dbi.status();
    auto deleted = env.database(kDeletedDatabase, kDeletedSchemaVersion);
    if (!deleted) return deleted.status();
    return std::unique_ptr<AccountStore>(new AccountStore(env, dbi.value(), deleted.value()));
}

Result<std::string> AccountStore::key_of(std::string_view node, std::string_view domain) const {
    if (node.empty() || domain.empty())
        return Status::error("invalid", "an account needs a node and a domain");
    std::string key = detail::account_key(node, domain);
    if (key.size() > env_.max_key_size())
        return Status::error(
            "invalid",
            fmt::format("the account {}@{} is too long for the store ({} bytes of key, at "
                        "most {})",
                        node, domain, key.size(), env_.max_key_size()));
    return key;
}

Result<bool> AccountStore::exists(std::string_view node, std::string_view domain) const {
    auto key = key_of(node, domain);
    if (!key)
        return key.status().code() == "invalid" ? Result<bool>(false) : Result<bool>(key.status());
    auto txn = env_.begin_read();
    if (!txn) return txn.status();
    auto v = txn->get(dbi_, key.value());
    if (!v) return v.status();
    return v.value().has_value();
}

Result<std::optional<Account>> AccountStore::get(std::string_view node,
                                                 std::string_view domain) const {
    auto key = key_of(node, domain);
    if (!key) {
        if (key.status().code() == "invalid") return std::optional<Account>();
        return key.status();
    }
    auto txn = env_.begin_read();
    if (!txn) return txn.status();
    auto v = txn->get(dbi_, key.value());
    if (!v) return v.status();
    if (!v.value()) return std::optional<Account>();
    Account a;
    a.node = std::string(node);
    a.domain = std::string(domain);
    if (!detail::decode_account(*v.value(), a)) return corrupt(node, domain);
    return std::optional<Account>(std::move(a));
}

Status AccountStore::create(std::string_view node, std::string_view domain,
                            std::string_view password, uint32_t iterations) {
    auto key = key_of(node, domain);
    if (!key) return key.status();
    // PBKDF2 before the write transaction: never hold the writer lock for it.
    auto creds = make_credentials(password, iterations);
    if (!creds) return creds.status();
    Account a{std::string(node), std::string(domain), std::move(creds.value()),
              static_cast<int64_t>(std::time(nullptr))};
    const std::string value = detail::encode_account(a);
    bool pending = false;
    Status s = env_.write([&](Txn& txn) -> Status {
        auto tomb = txn.get(deleted_, key.value());
        if (!tomb) return tomb.status();
        if (tomb.value()) {
            pending = true;
            return Status::error("exists", "tombstone");
        }
        return txn.put(dbi_, key.value(), value, MDB_NOOVERWRITE);
    });
    forget_typical(domain);
    if (pending)
        return Status::error("exists", fmt::format("{}@{} was deleted and parleyd has not yet removed its data "
                                                   "(it does when it runs); try again then",
                                                   node, domain));
    if (s.code() == "exists")
        return Status::error("exists", fmt::format("{}@{} already exists", node, domain));
    return s;
}

Status AccountStore::set_password(std::string_view node, std::string_view domain,
                                  std::string_view password, uint32_t iterations) {
    auto key = key_of(node, domain);
    if (!key)
        return key.status().code() == "invalid" ? Status::error("not-found", "no such account")
                                                : key.status();
    auto creds = make_credentials(password, iterations);
    if (!creds) return creds.status();
    Status s = env_.write([&](Txn& txn) -> Status {
        auto v = txn.get(dbi_, key.value());
        if (!v) return v.status();
        if (!v.value())
            return Status::error("not-found", fmt::format("{}@{} does not exist", node, domain));
        Account a;
        if (!detail::decode_account(*v.value(), a)) return corrupt(node, domain);
        a.scram = creds.value();
        return txn.put(dbi_, key.value(), detail::encode_account(a));
    });
    forget_typical(domain);
    return s;
}

Status AccountStore::remove(std::string_view node, std::string_view domain) {
    auto key = key_of(node, domain);
    if (!key)
        return key.status().code() == "invalid" ? Status::error("not-found", "no such account")
                                                : key.status();
    Status s = env_.write([&](Txn& txn) -> Status {
        auto gone = txn.del(dbi_, key.value());
        if (!gone) return gone.status();
        if (!gone.value())
            return Status::error("not-found", fmt::format("{}@{} does not exist", node, domain));
        std::string when(8, '\0');
        const auto now = static_cast<uint64_t>(std::time(nullptr));
        for (int i = 0; i < 8; ++i) when[i] = static_cast<char>(now >> (56 - 8 * i));
        return txn.put(deleted_, key.value(), when);
    });
    forget_typical(domain);
    return s;
}

Result<std::vector<AccountStore::Deleted>> AccountStore::deleted(size_t max) const {
    auto txn = env_.begin_read();
    if (!txn) return txn.status();
    std::vector<Deleted> out;
    Status s = txn->scan(deleted_, "", [&](std::string_view key, std::string_view value) {
        Deleted d;
        if (!detail::split_account_key(key, d.node, d.domain)) return true;  // not ours to judge: skipped
        if (value.size() == 8) {
            uint64_t when = 0;
            for (unsigned char c : value) when = (when << 8) | c;
            d.deleted_unix = static_cast<int64_t>(when);
        }
        out.push_back(std::move(d));
        return out.size() < max;
    });
    if (!s) return s;
    return out;
}

Status AccountStore::forget_deleted(std::string_view node, std::string_view domain) {
    auto key = key_of(node, domain);
    if (!key) return key.status();
    return env_.write([&](Txn& txn) -> Status {
        auto gone = txn.del(deleted_, key.value());
        return gone ? Status::ok() : gone.status();
    });
}

Result<std::vector<std::string>> AccountStore::list(std::string_view domain) const {
    std::string prefix;
    if (!domain.empty()) {
        // The key starts with the length-prefixed domain: one range per domain.
        prefix = detail::account_key("", domain);
        prefix.resize(prefix.size() - 2);
    }
    auto txn = env_.begin_read();
    if (!txn) return txn.status();
    std::vector<std::string> out;
    bool malformed = false;
    Status s = txn->scan(dbi_, prefix, [&](std::string_view key, std::string_view) {
        std::string node, dom;
        if (!detail::split_account_key(key, node, dom)) {
            malformed = true;
            return false;
        }
        out.push_back(domain.empty() ? node + "@" + dom : node);
        return true;
    });
    if (!s) return s;
    if (malformed) return Status::error("corrupt", "a key of the accounts database is malformed");
    // LMDB orders by length first (the prefix); callers want names in order.
    std::sort(out.begin(), out.end());
    return out;
}

Result<bool> AccountStore::check_password(std::string_view node, std::string_view domain,
                                          std::string_view password, uint32_t fallback_iterations) const {
    auto account = get(node, domain);
    if (!account) return account.status();
    const scram::ScramCredential* best = nullptr;
    if (account.value()) {
        for (const auto& c : account.value()->scram)
            if (!best || scram::hash_size(c.mechanism) > scram::hash_size(best->mechanism))
                best = &c;
    }
    if (!best) {
        // The work a real account of this domain costs (the strongest
        // mechanism every account has, its typical count), so that timing
        // does not reveal which accounts exist.
        (void)scram::derive("SCRAM-SHA-256", password, "parley-no-account",
                            typical_iterations(domain, fallback_iterations));
        return false;
    }
    auto d = scram::derive(best->mechanism, password, best->salt, best->iterations);
    if (!d) return d.status();
    return scram::constant_time_equal(d->stored_key, best->stored_key);
}

void AccountStore::forget_typical(std::string_view domain) const {
    std::lock_guard<std::mutex> lock(typical_mutex_);
    auto it = typical_.find(domain);
    if (it != typical_.end()) typical_.erase(it);
}

uint32_t AccountStore::typical_iterations(std::string_view domain, uint32_t fallback) const {
    const auto now = std::chrono::steady_clock::now();
    {
        std::lock_guard<std::mutex> lock(typical_mutex_);
        auto it = typical_.find(domain);
        if (it != typical_.end() && now - it->second.at < kIterationTtl)
            return it->second.iterations ? it->second.iterations : fallback;
    }
    // The domain's keys share the length-prefixed domain; a random node of
    // random length 1-16 is a random point of that range (LMDB orders by
    // bytes), so the sample is not always the same first accounts.
    std::string prefix = detail::account_key("", domain);
    prefix.resize(prefix.size() - 2);
    unsigned char rnd[17];
    if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd) < 0) std::memset(rnd, 0, sizeof rnd);
    const std::string start = detail::account_key(
        std::string_view(reinterpret_cast<const char*>(rnd + 1), 1 + rnd[0] % 16), domain);
    std::map<uint32_t, size_t> counts;
    size_t seen = 0;
    bool wrapped = false;
    auto take = [&](std::string_view key, std::string_view value) {
        if (wrapped && key >= std::string_view(start)) return false;  // back where the sample began
        Account a;
        if (detail::decode_account(value, a)) {
            uint32_t best = 0;
            size_t best_size = 0;
            for (const auto& c : a.scram)
                if (scram::hash_size(c.mechanism) > best_size) best_size = scram::hash_size(c.mechanism), best = c.iterations;
            if (best) ++counts[best];
        }
        return ++seen < kIterationSample;
    };
    uint32_t typical = 0;
    auto txn = env_.begin_read();
    Status s = txn ? txn->scan(dbi_, prefix, start, take) : txn.status();
    if (s && seen < kIterationSample) {
        wrapped = true;
        s = txn->scan(dbi_, prefix, take);
    }
    if (!s) return fallback;  // not remembered: the next call tries again
    size_t most = 0;
    for (const auto& [iterations, n] : counts)
        if (n >= most) most = n, typical = iterations;  // ties: the larger count
    std::lock_guard<std::mutex> lock(typical_mutex_);
    typical_[std::string(domain)] = Typical{typical, now};
    return typical ? typical : fallback;
}

}  // namespace parley::store

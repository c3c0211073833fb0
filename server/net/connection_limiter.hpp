// net::ConnectionLimiter: how many connections one client address, and the
// unauthenticated part of the world, may hold open at once.
//
// A connection is admitted at accept time and counted until it is freed;
// while it has not authenticated it also counts as unauthenticated, for its
// address and in total. Three limits ([limits] in parley.toml(5)): total
// unauthenticated connections, connections per address, unauthenticated
// connections per address. An address is an IPv4 address, or an IPv6 /64
// (one customer's allocation, so that rotating through its 2^64 addresses
// does not multiply the limit); an IPv4-mapped IPv6 address is its IPv4
// address. Refusals are meant to be logged once per address per minute:
// should_log() answers that and counts the refusals it silenced.
//
// Admission is the counted connection: move-only, it gives its counts back
// when destroyed. Thread-safe (one mutex); shared by every worker through
// daemon::Shared, and kept alive by the Admissions that refer to it. Any
// thread.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::net {

struct ConnectionLimits {
    size_t max_unauthenticated = 1000;           // in total, every address
    size_t max_per_address = 500;                // authenticated or not
    size_t max_unauthenticated_per_address = 32;
};

// An IPv4 address or IPv6 /64, as one 128-bit value.
struct AddressKey {
    uint64_t hi = 0;
    uint64_t lo = 0;
    friend bool operator==(const AddressKey&, const AddressKey&) = default;
    static AddressKey of(const sockaddr_storage& ss);
    // Not an address: the key under which refusals that are about nobody in
    // particular (the total of unauthenticated connections), and those of
    // addresses past the log state's bound, are logged.
    static AddressKey everyone() { return AddressKey{~uint64_t{0}, ~uint64_t{0}}; }
};

enum class Refusal { none, unauthenticated_total, per_address, unauthenticated_per_address };
// A sentence for logs and the <text/> of the stream error.
std::string refusal_text(Refusal r, const ConnectionLimits& limits);

class ConnectionLimiter;

class Admission {
public:
    Admission() = default;
    Admission(Admission&& o) noexcept;
    Admission& operator=(Admission&& o) noexcept;
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission();

    explicit operator bool() const { return limiter_ != nullptr; }
    // The connection authenticated: it no longer counts as unauthenticated.
    void authenticated();

private:
    friend class ConnectionLimiter;
    void release();
    std::shared_ptr<ConnectionLimiter> limiter_;
    AddressKey key_;
    bool authenticated_ = false;
};

class ConnectionLimiter : public std::enable_shared_from_this<ConnectionLimiter> {
public:
    explicit ConnectionLimiter(ConnectionLimits limits) : limits_(limits) {}

    // Reload: applies to connections accepted from now on.
    void set_limits(ConnectionLimits limits);
    ConnectionLimits limits() const;

    // Counts a new connection from `key`, or says which limit refuses it
    // (the returned Admission is then empty).
    Admission admit(const AddressKey& key, Refusal* refusal);

    // True if a refusal for `key` should be logged now (the first one in a
    // minute); `silenced` is how many were not logged since the last one.
    // The state is bounded (4096 addresses, swept at most once a minute);
    // past it, refusals are logged under AddressKey::everyone().
    bool should_log(const AddressKey& key, std::chrono::steady_clock::time_point now, uint64_t* silenced);

    // For tests and status: current counts.
    size_t unauthenticated() const;
    size_t connections_from(const AddressKey& key) const;

private:
    friend class Admission;
    struct Counts {
        size_t all = 0;
        size_t unauthenticated = 0;
    };
    struct LogState {
        std::chrono::steady_clock::time_point last;
        uint64_t silenced = 0;
    };
    struct KeyHash {
        size_t operator()(const AddressKey& k) const { return std::hash<uint64_t>()(k.hi * 0x9E3779B97F4A7C15ull ^ k.lo); }
    };
    void authenticated(const AddressKey& key);
    void release(const AddressKey& key, bool authenticated);

    mutable std::mutex mutex_;
    ConnectionLimits limits_;
    size_t unauthenticated_ = 0;
    std::unordered_map<AddressKey, Counts, KeyHash> by_address_;
    std::unordered_map<AddressKey, LogState, KeyHash> logged_;
    std::chrono::steady_clock::time_point last_sweep_{};
};

}  // namespace parley::net

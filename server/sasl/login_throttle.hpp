// LoginThrottle: growing delays for failed logins, per account and per address.
//
// Each failed authentication counts against the account tried (when known)
// and against the client's address. The delay before the failure is
// answered grows with the larger of the two counts: base * 2^(n-1), capped
// at max. A count is forgotten after kForgetAfter without a new failure for
// that key.
//
// The throttle is checked before an attempt is evaluated (admit()), on
// every connection, so that opening connections in parallel does not buy
// more guesses: after a failure, a key (account or address) refuses new
// attempts until its own delay, base * 2^(n-1) for its count n, has passed
// since that failure. An account with failures also admits at most one
// attempt per such delay, so that guesses from many addresses cannot race
// through the moment its wait ends. A refused attempt is not evaluated and
// not counted; the caller answers it like a wrong password after the delay
// that admit() returns. An address gets no such spacing of admitted
// attempts: the people behind one NAT must still log in together. A success clears the account's count; the address keeps its
// count (it still decays), so that logging in with one known-good account
// cannot wash away an address's record of guessing at others. Memory is
// bounded: at most max_keys keys are tracked, the least recently failed are
// dropped first.
//
// An account's wait must not let a stranger lock its owner out (one wrong
// guess every few seconds would keep the wait running for ever): an address
// from which the account logged in successfully within kTrustFor is not held
// by the account's wait, only by its own. That memory is bounded too
// (max_keys account-address pairs, the least recently used dropped first) and
// lives as long as the process. Any thread: every method takes the object's
// mutex.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

namespace parley::sasl {

class LoginThrottle {
public:
    using Clock = std::function<std::chrono::steady_clock::time_point()>;
    static constexpr std::chrono::minutes kForgetAfter{15};
    static constexpr size_t kDefaultMaxKeys = 65536;
    // A refusal needs the wait to have this much left: a client that waited
    // for its delayed failure reply (a libuv timer, millisecond clock) must
    // never be refused for arriving a hair early.
    static constexpr std::chrono::milliseconds kSlack{10};
    // How long a successful login vouches for its address (see above).
    static constexpr std::chrono::hours kTrustFor{24 * 30};

    LoginThrottle(uint64_t base_delay_ms, uint64_t max_delay_ms, size_t max_keys = kDefaultMaxKeys);

    // Before an attempt is evaluated. `delay_ms` is the wait before a
    // refused attempt is answered; an admitted attempt on an account with
    // failures takes that account's next slot.
    struct Admission {
        bool admitted = true;
        uint64_t delay_ms = 0;
    };
    Admission admit(const std::string& account, const std::string& ip);
    // `account` may be empty (the authcid was never learnt): then only the
    // address counts.
    void failure(const std::string& account, const std::string& ip);
    void success(const std::string& account, const std::string& ip);
    // The delay for the failure just counted; 0 when neither key has failures.
    uint64_t delay_ms(const std::string& account, const std::string& ip) const;
    // At reload.
    void set_delays(uint64_t base_delay_ms, uint64_t max_delay_ms);

    // For tests: the time source (steady_clock::now by default).
    void set_clock(Clock clock);
    size_t tracked_keys() const;

private:
    struct Entry {
        uint32_t count = 0;
        std::chrono::steady_clock::time_point last;   // the last failure
        std::chrono::steady_clock::time_point until;  // no new attempt before this
        std::list<std::string>::iterator lru;
    };
    void bump(const std::string& key, std::chrono::steady_clock::time_point now);
    uint32_t count_of(const std::string& key, std::chrono::steady_clock::time_point now) const;
    uint64_t delay_for(uint32_t count) const;  // callers hold mutex_
    bool waiting(const std::string& key, std::chrono::steady_clock::time_point now) const;
    void expire(std::chrono::steady_clock::time_point now);
    bool trusted(const std::string& account, const std::string& ip, std::chrono::steady_clock::time_point now) const;

    mutable std::mutex mutex_;
    uint64_t base_ms_, max_ms_;
    size_t max_keys_;
    Clock clock_;
    std::unordered_map<std::string, Entry> entries_;
    std::list<std::string> lru_;  // most recently failed first
    struct Trust {
        std::chrono::steady_clock::time_point last;  // the last success
        std::list<std::string>::iterator lru;
    };
    std::unordered_map<std::string, Trust> trusted_;  // "account\nip" -> last success
    std::list<std::string> trusted_lru_;             // most recently successful first
};

}  // namespace parley::sasl

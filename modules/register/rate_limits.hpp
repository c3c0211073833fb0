// mod_register's rate limits: how many registrations one client address,
// and all addresses together, may make within a sliding window.
//
// Every well-formed registration request takes one unit from the window of
// its address and from the window of all, whether it then succeeds or not
// (a name taken, a bad invitation), so that the limit also bounds the
// guessing of names and tokens. A request over a limit takes nothing. The
// window slides: each unit is given back `window` after it was taken.
// Memory is bounded by the overall limit (one entry per unit in the window).
//
// IPv6 clients usually hold a whole /64, so addresses are counted by their
// first `ipv6_prefix` bits (address_key()).
//
// RateLimits is the process-wide service (module::Service) that every
// worker's module instance shares, so the limits hold for the server, not
// per worker: any thread, one mutex. SlidingWindows is its pure core, with
// the time passed in (tests).
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "module/module_api.hpp"

namespace parley::mod_register {

class SlidingWindows {
public:
    using Clock = std::chrono::steady_clock;
    struct Decision {
        enum class Kind { ok, address_full, total_full };
        Kind kind = Kind::ok;
        std::chrono::seconds retry_after{0};  // for a refusal: when the next unit comes back
    };

    void set_limits(uint64_t per_address, uint64_t total, std::chrono::seconds window);
    // Takes one unit for `key` at `now`, or refuses.
    Decision take(const std::string& key, Clock::time_point now);
    size_t in_window() const { return events_.size(); }

private:
    void expire(Clock::time_point now);

    uint64_t per_address_ = 5;
    uint64_t total_ = 100;
    std::chrono::seconds window_{3600};
    std::deque<std::pair<Clock::time_point, std::string>> events_;  // oldest first
    std::unordered_map<std::string, std::deque<Clock::time_point>> by_key_;
};

// The key an address is counted under: an IPv4 address as it is, an IPv6
// address (an IPv4-mapped one counts as IPv4) cut to its first `ipv6_prefix`
// bits ("2001:db8:1:2::/64"), anything else as it is.
std::string address_key(std::string_view address, unsigned ipv6_prefix);

class RateLimits final : public module::Service {
public:
    static constexpr const char* kServiceName = "parley.register.limits/1";
    Status start(module::ServiceHost& host) override { return reload(host.config()); }
    Status reload(const config::Section& section) override;
    // Any thread.
    SlidingWindows::Decision take(std::string_view address);

private:
    std::mutex mutex_;
    SlidingWindows windows_;
    unsigned ipv6_prefix_ = 64;
};

}  // namespace parley::mod_register

#include "rate_limits.hpp"

#include <arpa/inet.h>

#include <algorithm>

#include <fmt/format.h>

namespace parley::mod_register {

void SlidingWindows::set_limits(uint64_t per_address, uint64_t total, std::chrono::seconds window) {
    per_address_ = per_address;
    total_ = total;
    window_ = window;
}

void SlidingWindows::expire(Clock::time_point now) {
    while (!events_.empty() && now - events_.front().first >= window_) {
        auto it = by_key_.find(events_.front().second);
        if (it != by_key_.end()) {
            it->second.pop_front();
            if (it->second.empty()) by_key_.erase(it);
        }
        events_.pop_front();
    }
}

SlidingWindows::Decision SlidingWindows::take(const std::string& key, Clock::time_point now) {
    expire(now);
    Decision d;
    auto until = [&](Clock::time_point oldest) {
        auto left = std::chrono::ceil<std::chrono::seconds>(oldest + window_ - now);
        return std::max(left, std::chrono::seconds(1));
    };
    auto it = by_key_.find(key);
    if (it != by_key_.end() && it->second.size() >= per_address_) {
        d.kind = Decision::Kind::address_full;
        d.retry_after = until(it->second.front());
        return d;
    }
    if (events_.size() >= total_) {
        d.kind = Decision::Kind::total_full;
        d.retry_after = until(events_.front().first);
        return d;
    }
    events_.emplace_back(now, key);
    by_key_[key].push_back(now);
    return d;
}

std::string address_key(std::string_view address, unsigned ipv6_prefix) {
    const std::string a(address);
    in6_addr v6{};
    if (inet_pton(AF_INET6, a.c_str(), &v6) != 1) return a;  // IPv4, or not an address
    // ::ffff:192.0.2.7 is an IPv4 client on a dual-stack socket.
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::equal(kMapped, kMapped + 12, v6.s6_addr)) {
        char buf[INET_ADDRSTRLEN];
        if (inet_ntop(AF_INET, v6.s6_addr + 12, buf, sizeof buf)) return buf;
    }
    const unsigned prefix = std::min(ipv6_prefix, 128u);
    for (unsigned bit = prefix; bit < 128; ++bit) v6.s6_addr[bit / 8] &= static_cast<unsigned char>(~(0x80u >> (bit % 8)));
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(AF_INET6, &v6, buf, sizeof buf)) return a;
    return fmt::format("{}/{}", buf, prefix);
}

Status RateLimits::reload(const config::Section& section) {
    std::lock_guard<std::mutex> lock(mutex_);
    windows_.set_limits(static_cast<uint64_t>(section.get_int("max_per_address", 5)),
                        static_cast<uint64_t>(section.get_int("max_total", 100)),
                        std::chrono::seconds(section.get_int("window_s", 3600)));
    ipv6_prefix_ = static_cast<unsigned>(section.get_int("ipv6_prefix", 64));
    return Status::ok();
}

SlidingWindows::Decision RateLimits::take(std::string_view address) {
    std::lock_guard<std::mutex> lock(mutex_);
    return windows_.take(address_key(address, ipv6_prefix_), SlidingWindows::Clock::now());
}

}  // namespace parley::mod_register

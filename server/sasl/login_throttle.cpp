#include "sasl/login_throttle.hpp"

#include <algorithm>

namespace parley::sasl {

namespace {

// Keys of the two kinds never collide: an account has no ';' prefix.
std::string account_key(const std::string& account) { return "a;" + account; }
std::string ip_key(const std::string& ip) { return "i;" + ip; }
// Neither an account nor an address holds a newline.
std::string pair_key(const std::string& account, const std::string& ip) { return account + "\n" + ip; }

}  // namespace

LoginThrottle::LoginThrottle(uint64_t base_delay_ms, uint64_t max_delay_ms, size_t max_keys)
    : base_ms_(base_delay_ms), max_ms_(max_delay_ms), max_keys_(std::max<size_t>(max_keys, 2)),
      clock_([] { return std::chrono::steady_clock::now(); }) {}

void LoginThrottle::set_clock(Clock clock) {
    std::lock_guard<std::mutex> lock(mutex_);
    clock_ = std::move(clock);
}

void LoginThrottle::set_delays(uint64_t base_delay_ms, uint64_t max_delay_ms) {
    std::lock_guard<std::mutex> lock(mutex_);
    base_ms_ = base_delay_ms;
    max_ms_ = max_delay_ms;
}

size_t LoginThrottle::tracked_keys() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return entries_.size();
}

void LoginThrottle::expire(std::chrono::steady_clock::time_point now) {
    // The list is ordered by last failure, so expired keys are at its end.
    while (!lru_.empty()) {
        auto it = entries_.find(lru_.back());
        if (it != entries_.end() && now - it->second.last < kForgetAfter) break;
        if (it != entries_.end()) entries_.erase(it);
        lru_.pop_back();
    }
}

void LoginThrottle::bump(const std::string& key, std::chrono::steady_clock::time_point now) {
    auto it = entries_.find(key);
    if (it == entries_.end()) {
        while (entries_.size() >= max_keys_ && !lru_.empty()) {
            entries_.erase(lru_.back());
            lru_.pop_back();
        }
        lru_.push_front(key);
        Entry e;
        e.lru = lru_.begin();
        it = entries_.emplace(key, e).first;
    } else {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
    }
    Entry& e = it->second;
    if (now - e.last >= kForgetAfter) e.count = 0;
    if (e.count < UINT32_MAX) ++e.count;
    e.last = now;
    e.until = now + std::chrono::milliseconds(delay_for(e.count));
}

uint64_t LoginThrottle::delay_for(uint32_t n) const {
    if (n == 0 || base_ms_ == 0) return 0;
    // base * 2^(n-1) without overflow: stop doubling once past the cap.
    uint64_t delay = base_ms_;
    for (uint32_t i = 1; i < n && delay < max_ms_; ++i) delay = delay > UINT64_MAX / 2 ? UINT64_MAX : delay * 2;
    return std::min(delay, max_ms_);
}

bool LoginThrottle::waiting(const std::string& key, std::chrono::steady_clock::time_point now) const {
    auto it = entries_.find(key);
    if (it == entries_.end() || now - it->second.last >= kForgetAfter) return false;
    return now + kSlack < it->second.until;
}

LoginThrottle::Admission LoginThrottle::admit(const std::string& account, const std::string& ip) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = clock_();
    const std::string akey = account.empty() ? std::string() : account_key(account);
    Admission a;
    // An address the account logged in from lately is not held by the
    // account's wait (a stranger's guesses), only by its own.
    const bool vouched = !akey.empty() && trusted(account, ip, now);
    if (waiting(ip_key(ip), now) || (!akey.empty() && !vouched && waiting(akey, now))) {
        a.admitted = false;
        uint32_t n = count_of(ip_key(ip), now);
        if (!akey.empty()) n = std::max(n, count_of(akey, now));
        a.delay_ms = delay_for(n);
        return a;
    }
    if (!akey.empty() && !vouched) {
        auto it = entries_.find(akey);
        if (it != entries_.end() && now - it->second.last < kForgetAfter && it->second.count > 0)
            it->second.until = now + std::chrono::milliseconds(delay_for(it->second.count));
    }
    return a;
}

uint32_t LoginThrottle::count_of(const std::string& key, std::chrono::steady_clock::time_point now) const {
    auto it = entries_.find(key);
    if (it == entries_.end() || now - it->second.last >= kForgetAfter) return 0;
    return it->second.count;
}

void LoginThrottle::failure(const std::string& account, const std::string& ip) {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = clock_();
    expire(now);
    if (!account.empty()) bump(account_key(account), now);
    bump(ip_key(ip), now);
}

bool LoginThrottle::trusted(const std::string& account, const std::string& ip,
                            std::chrono::steady_clock::time_point now) const {
    auto it = trusted_.find(pair_key(account, ip));
    return it != trusted_.end() && now - it->second.last < kTrustFor;
}

void LoginThrottle::success(const std::string& account, const std::string& ip) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (account.empty()) return;
    const auto now = clock_();
    const std::string pk = pair_key(account, ip);
    auto t = trusted_.find(pk);
    if (t == trusted_.end()) {
        while (trusted_.size() >= max_keys_ && !trusted_lru_.empty()) {
            trusted_.erase(trusted_lru_.back());
            trusted_lru_.pop_back();
        }
        trusted_lru_.push_front(pk);
        t = trusted_.emplace(pk, Trust{now, trusted_lru_.begin()}).first;
    } else {
        trusted_lru_.splice(trusted_lru_.begin(), trusted_lru_, t->second.lru);
        t->second.last = now;
    }
    auto it = entries_.find(account_key(account));
    if (it == entries_.end()) return;
    lru_.erase(it->second.lru);
    entries_.erase(it);
}

uint64_t LoginThrottle::delay_ms(const std::string& account, const std::string& ip) const {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto now = clock_();
    uint32_t n = count_of(ip_key(ip), now);
    if (!account.empty()) n = std::max(n, count_of(account_key(account), now));
    return delay_for(n);
}

}  // namespace parley::sasl

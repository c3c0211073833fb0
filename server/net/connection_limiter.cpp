#include "net/connection_limiter.hpp"

#include <netinet/in.h>

#include <cstring>

#include <fmt/format.h>

namespace parley::net {

namespace {

uint64_t load_be64(const unsigned char* p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
    return v;
}

// Log state older than this is forgotten, and a refusal logged again.
constexpr std::chrono::seconds kLogInterval{60};
// Beyond this many remembered addresses, stale log state is swept.
constexpr size_t kLogStateSweep = 4096;

}  // namespace

AddressKey AddressKey::of(const sockaddr_storage& ss) {
    AddressKey k;
    if (ss.ss_family == AF_INET) {
        const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
        k.hi = 0;
        k.lo = 0xFFFF00000000ull | ntohl(a->sin_addr.s_addr);
    } else if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        const unsigned char* b = a->sin6_addr.s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
            // The same key as the IPv4 address itself.
            k.lo = load_be64(b + 8);
        } else {
            k.hi = load_be64(b);  // the /64; the interface identifier is left out
            k.lo = 1;             // an IPv4 key's lo always has 0xFFFF << 32 set
        }
    }
    return k;
}

std::string refusal_text(Refusal r, const ConnectionLimits& l) {
    switch (r) {
        case Refusal::none: return {};
        case Refusal::unauthenticated_total:
            return fmt::format("too many connections are authenticating now (limit {}); try again later",
                               l.max_unauthenticated);
        case Refusal::per_address:
            return fmt::format("too many connections from your address (limit {})", l.max_per_address);
        case Refusal::unauthenticated_per_address:
            return fmt::format("too many unauthenticated connections from your address (limit {})",
                               l.max_unauthenticated_per_address);
    }
    return {};
}

Admission::Admission(Admission&& o) noexcept
    : limiter_(std::move(o.limiter_)), key_(o.key_), authenticated_(o.authenticated_) {
    o.limiter_.reset();
}

Admission& Admission::operator=(Admission&& o) noexcept {
    if (this != &o) {
        release();
        limiter_ = std::move(o.limiter_);
        key_ = o.key_;
        authenticated_ = o.authenticated_;
        o.limiter_.reset();
    }
    return *this;
}

Admission::~Admission() { release(); }

void Admission::authenticated() {
    if (!limiter_ || authenticated_) return;
    authenticated_ = true;
    limiter_->authenticated(key_);
}

void Admission::release() {
    if (!limiter_) return;
    limiter_->release(key_, authenticated_);
    limiter_.reset();
}

void ConnectionLimiter::set_limits(ConnectionLimits limits) {
    std::lock_guard<std::mutex> lock(mutex_);
    limits_ = limits;
}

ConnectionLimits ConnectionLimiter::limits() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return limits_;
}

Admission ConnectionLimiter::admit(const AddressKey& key, Refusal* refusal) {
    Admission a;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        Counts& c = by_address_[key];
        Refusal r = Refusal::none;
        if (c.all >= limits_.max_per_address) r = Refusal::per_address;
        else if (c.unauthenticated >= limits_.max_unauthenticated_per_address) r = Refusal::unauthenticated_per_address;
        else if (unauthenticated_ >= limits_.max_unauthenticated) r = Refusal::unauthenticated_total;
        if (refusal) *refusal = r;
        if (r != Refusal::none) {
            if (c.all == 0) by_address_.erase(key);
            return a;
        }
        ++c.all;
        ++c.unauthenticated;
        ++unauthenticated_;
    }
    a.limiter_ = shared_from_this();
    a.key_ = key;
    return a;
}

void ConnectionLimiter::authenticated(const AddressKey& key) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_address_.find(key);
    if (it == by_address_.end() || it->second.unauthenticated == 0) return;
    --it->second.unauthenticated;
    --unauthenticated_;
}

void ConnectionLimiter::release(const AddressKey& key, bool authenticated) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_address_.find(key);
    if (it == by_address_.end()) return;
    if (!authenticated && it->second.unauthenticated > 0) {
        --it->second.unauthenticated;
        --unauthenticated_;
    }
    if (--it->second.all == 0) by_address_.erase(it);
}

bool ConnectionLimiter::should_log(const AddressKey& key, std::chrono::steady_clock::time_point now,
                                   uint64_t* silenced) {
    std::lock_guard<std::mutex> lock(mutex_);
    AddressKey k = key;
    if (logged_.size() >= kLogStateSweep && !logged_.count(k)) {
        // Full: forget what is a minute old, at most once a minute (a sweep
        // on every refusal would cost each one a scan under the lock every
        // worker takes at accept and close). Still full: log it with all
        // the others.
        if (now - last_sweep_ >= kLogInterval) {
            last_sweep_ = now;
            for (auto it = logged_.begin(); it != logged_.end();)
                it = now - it->second.last >= kLogInterval ? logged_.erase(it) : std::next(it);
        }
        if (logged_.size() >= kLogStateSweep) k = AddressKey::everyone();
    }
    auto [it, fresh] = logged_.try_emplace(k, LogState{now, 0});
    if (!fresh && now - it->second.last < kLogInterval) {
        ++it->second.silenced;
        return false;
    }
    if (silenced) *silenced = fresh ? 0 : it->second.silenced;
    it->second = LogState{now, 0};
    return true;
}

size_t ConnectionLimiter::unauthenticated() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return unauthenticated_;
}

size_t ConnectionLimiter::connections_from(const AddressKey& key) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = by_address_.find(key);
    return it == by_address_.end() ? 0 : it->second.all;
}

}  // namespace parley::net

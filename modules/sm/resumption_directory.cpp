#include "resumption_directory.hpp"

#include <gnutls/crypto.h>

#include <stdexcept>

namespace parley::mod_sm {

namespace {

std::string random_id() {
    unsigned char raw[16];
    // GNUTLS_RND_RANDOM: the id is a bearer secret (with the account's
    // credentials it takes a session over), not merely a nonce.
    if (gnutls_rnd(GNUTLS_RND_RANDOM, raw, sizeof raw) != 0)
        throw std::runtime_error("the random generator failed");
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(sizeof raw * 2);
    for (unsigned char c : raw) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

}  // namespace

std::string ResumptionDirectory::issue(const std::string& bare, uint64_t session_id) {
    std::lock_guard<std::mutex> lock(mutex_);
    for (;;) {
        std::string id = random_id();
        if (live_.count(id) || ended_.count(id)) continue;  // 2^-128; never reused all the same
        live_.emplace(id, Live{bare, session_id});
        return id;
    }
}

std::optional<uint64_t> ResumptionDirectory::find(std::string_view id, std::string_view bare) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(std::string(id));
    if (it == live_.end() || it->second.bare != bare) return std::nullopt;
    return it->second.session_id;
}

void ResumptionDirectory::ended(std::string_view id, uint32_t h, Clock::duration keep) {
    const auto now = Clock::now();
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = live_.find(std::string(id));
    if (it == live_.end()) return;
    std::string bare = std::move(it->second.bare);
    live_.erase(it);
    prune(now);
    if (max_ended_ == 0) return;
    while (ended_.size() >= max_ended_ && !ended_order_.empty()) {
        ended_.erase(ended_order_.front());
        ended_order_.pop_front();
    }
    ended_[std::string(id)] = Ended{std::move(bare), h, now + keep};
    ended_order_.emplace_back(id);
}

std::optional<uint32_t> ResumptionDirectory::ended_h(std::string_view id, std::string_view bare) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = ended_.find(std::string(id));
    if (it == ended_.end() || it->second.bare != bare || it->second.until <= Clock::now()) return std::nullopt;
    return it->second.h;
}

void ResumptionDirectory::prune(Clock::time_point now) {
    // Oldest first: each entry is looked at once, when it is at the front.
    while (!ended_order_.empty()) {
        auto it = ended_.find(ended_order_.front());
        if (it != ended_.end() && it->second.until > now) break;
        if (it != ended_.end()) ended_.erase(it);
        ended_order_.pop_front();
    }
}

size_t ResumptionDirectory::live() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return live_.size();
}

size_t ResumptionDirectory::remembered() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return ended_.size();
}

}  // namespace parley::mod_sm

#include "sessions/registry.hpp"

#include <algorithm>
#include <cstring>
#include <functional>

namespace parley::sessions {

namespace {

// "node@domain" of a JID in a stack buffer when it fits (almost always), so
// that a lookup allocates nothing.
class BareKey {
public:
    explicit BareKey(const xmpp::Jid& j) {
        const size_t n = j.node().size() + (j.node().empty() ? 0 : 1) + j.domain().size();
        char* p = n <= sizeof buf_ ? buf_ : (heap_.resize(n), heap_.data());
        size_t at = 0;
        if (!j.node().empty()) {
            std::memcpy(p, j.node().data(), j.node().size());
            at = j.node().size();
            p[at++] = '@';
        }
        std::memcpy(p + at, j.domain().data(), j.domain().size());
        view_ = std::string_view(p, n);
    }
    std::string_view view() const { return view_; }

private:
    char buf_[192];
    std::string heap_;
    std::string_view view_;
};

}  // namespace

LocalRegistry::Shard& LocalRegistry::shard_for(std::string_view bare) const {
    return shards_[std::hash<std::string_view>{}(bare) % kShards];
}

std::optional<SessionEntry> LocalRegistry::bind(const xmpp::Jid& full_jid, SessionRef ref) {
    return try_bind(full_jid, ref, 0).replaced;
}

BindOutcome LocalRegistry::try_bind(const xmpp::Jid& full_jid, SessionRef ref, size_t max_sessions) {
    const std::string bare = full_jid.bare_str();
    Shard& s = shard_for(bare);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto& list = s.by_bare[bare];
    BindOutcome out;
    for (auto& e : list) {
        if (e.full_jid.resource() == full_jid.resource()) {
            // Taking over a resource does not add a session: never refused.
            out.replaced = e;
            e = SessionEntry{full_jid, ref, false, 0};
            return out;
        }
    }
    if (max_sessions != 0 && list.size() >= max_sessions) {
        if (list.empty()) s.by_bare.erase(bare);
        out.refused = true;
        return out;
    }
    list.push_back(SessionEntry{full_jid, ref, false, 0});
    return out;
}

bool LocalRegistry::unbind(const xmpp::Jid& full_jid, SessionRef ref) {
    const std::string bare = full_jid.bare_str();
    Shard& s = shard_for(bare);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.by_bare.find(bare);
    if (it == s.by_bare.end()) return false;
    auto& list = it->second;
    auto e = std::find_if(list.begin(), list.end(), [&](const SessionEntry& x) {
        return x.ref == ref && x.full_jid.resource() == full_jid.resource();
    });
    if (e == list.end()) return false;
    list.erase(e);
    if (list.empty()) s.by_bare.erase(it);
    return true;
}

bool LocalRegistry::move(const xmpp::Jid& full_jid, SessionRef from, SessionRef to) {
    const std::string bare = full_jid.bare_str();
    Shard& s = shard_for(bare);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.by_bare.find(bare);
    if (it == s.by_bare.end()) return false;
    for (auto& e : it->second) {
        if (e.ref == from && e.full_jid.resource() == full_jid.resource()) {
            e.ref = to;
            return true;
        }
    }
    return false;
}

void LocalRegistry::set_presence(const xmpp::Jid& full_jid, SessionRef ref, bool available, int priority) {
    const std::string bare = full_jid.bare_str();
    Shard& s = shard_for(bare);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.by_bare.find(bare);
    if (it == s.by_bare.end()) return;
    for (auto& e : it->second) {
        if (e.ref == ref && e.full_jid.resource() == full_jid.resource()) {
            e.available = available;
            e.priority = priority;
        }
    }
}

void LocalRegistry::set_ending(const xmpp::Jid& full_jid, SessionRef ref) {
    const std::string bare = full_jid.bare_str();
    Shard& s = shard_for(bare);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.by_bare.find(bare);
    if (it == s.by_bare.end()) return;
    for (auto& e : it->second)
        if (e.ref == ref && e.full_jid.resource() == full_jid.resource()) e.ending = true;
}

std::optional<SessionEntry> LocalRegistry::find(const xmpp::Jid& full_jid) const {
    const BareKey key(full_jid);
    const std::string_view bare = key.view();
    Shard& s = shard_for(bare);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.by_bare.find(bare);
    if (it == s.by_bare.end()) return std::nullopt;
    for (const auto& e : it->second)
        if (e.full_jid.resource() == full_jid.resource()) return e;
    return std::nullopt;
}

std::vector<SessionEntry> LocalRegistry::sessions_of(const xmpp::Jid& bare_jid) const {
    const BareKey key(bare_jid);
    const std::string_view bare = key.view();
    Shard& s = shard_for(bare);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.by_bare.find(bare);
    if (it == s.by_bare.end()) return {};
    return it->second;
}

size_t LocalRegistry::count_of(const xmpp::Jid& bare_jid) const {
    const BareKey key(bare_jid);
    const std::string_view bare = key.view();
    Shard& s = shard_for(bare);
    std::lock_guard<std::mutex> lock(s.mutex);
    auto it = s.by_bare.find(bare);
    return it == s.by_bare.end() ? 0 : it->second.size();
}

size_t LocalRegistry::total() const {
    size_t n = 0;
    for (auto& s : shards_) {
        std::lock_guard<std::mutex> lock(s.mutex);
        for (const auto& [k, v] : s.by_bare) n += v.size();
    }
    return n;
}

std::vector<SessionEntry> LocalRegistry::all() const {
    std::vector<SessionEntry> out;
    for (auto& s : shards_) {
        std::lock_guard<std::mutex> lock(s.mutex);
        for (const auto& [k, v] : s.by_bare) out.insert(out.end(), v.begin(), v.end());
    }
    return out;
}

}  // namespace parley::sessions

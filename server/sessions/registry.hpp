// The session registry: which resources of which account are online, where.
//
// Maps a bare JID to its bound sessions (full JID, owning worker, session id,
// presence availability and priority). Sharded by bare JID, each shard behind
// its own mutex: any thread. Entries are plain values so that a session can
// be found from any worker and reached by posting to its owner's inbox; a
// node-to-node directory (NATS, later) can implement the same interface.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "xmpp/jid.hpp"

namespace parley::sessions {

// Where a bound session lives. session_id is unique within the process.
struct SessionRef {
    unsigned worker = 0;
    uint64_t session_id = 0;
    friend bool operator==(const SessionRef&, const SessionRef&) = default;
};

struct SessionEntry {
    xmpp::Jid full_jid;
    SessionRef ref;
    bool available = false;  // sent available presence (RFC 6121 §4.2)
    int priority = 0;        // from its last available presence
    // Its `closed` event runs (Registry::set_ending): still bound, so that
    // other workers keep routing to its worker, which routes on what it
    // is given; modules no longer count it (Host::sessions_of).
    bool ending = false;
};

// What try_bind did: refused (the account is at its limit; nothing changed),
// or bound, possibly replacing an older session of the same full JID.
struct BindOutcome {
    bool refused = false;
    std::optional<SessionEntry> replaced;
};

class Registry {
public:
    virtual ~Registry() = default;
    // Binds full_jid to ref. When that full JID is already bound, the older
    // entry is replaced and returned so its owner can end it with <conflict/>.
    virtual std::optional<SessionEntry> bind(const xmpp::Jid& full_jid, SessionRef ref) = 0;
    // The same, but refused when the account already has max_sessions
    // sessions (0: no limit) and full_jid is not one of them. The check and
    // the insertion are one atomic step: binds racing on several workers
    // can never take an account past its limit.
    virtual BindOutcome try_bind(const xmpp::Jid& full_jid, SessionRef ref, size_t max_sessions) = 0;
    // Removes the entry only if it still belongs to ref (a newer session may
    // have taken the resource over). Returns whether it was removed.
    virtual bool unbind(const xmpp::Jid& full_jid, SessionRef ref) = 0;
    // The entry of full_jid that belongs to `from` now belongs to `to` (a
    // session resumed on another worker); availability and priority stay.
    // false when it no longer belongs to `from`.
    virtual bool move(const xmpp::Jid& full_jid, SessionRef from, SessionRef to) = 0;
    virtual void set_presence(const xmpp::Jid& full_jid, SessionRef ref, bool available, int priority) = 0;
    // Marks the entry of ref as ending (its session's `closed` event is about
    // to run; unbind follows).
    virtual void set_ending(const xmpp::Jid& full_jid, SessionRef ref) = 0;
    virtual std::optional<SessionEntry> find(const xmpp::Jid& full_jid) const = 0;
    virtual std::vector<SessionEntry> sessions_of(const xmpp::Jid& bare_jid) const = 0;
    virtual size_t count_of(const xmpp::Jid& bare_jid) const = 0;
    virtual size_t total() const = 0;
    // Every bound session (admin tools; not for the stanza path).
    virtual std::vector<SessionEntry> all() const = 0;
};

// The single-node registry: sharded in memory.
class LocalRegistry final : public Registry {
public:
    std::optional<SessionEntry> bind(const xmpp::Jid& full_jid, SessionRef ref) override;
    BindOutcome try_bind(const xmpp::Jid& full_jid, SessionRef ref, size_t max_sessions) override;
    bool unbind(const xmpp::Jid& full_jid, SessionRef ref) override;
    bool move(const xmpp::Jid& full_jid, SessionRef from, SessionRef to) override;
    void set_presence(const xmpp::Jid& full_jid, SessionRef ref, bool available, int priority) override;
    void set_ending(const xmpp::Jid& full_jid, SessionRef ref) override;
    std::optional<SessionEntry> find(const xmpp::Jid& full_jid) const override;
    std::vector<SessionEntry> sessions_of(const xmpp::Jid& bare_jid) const override;
    size_t count_of(const xmpp::Jid& bare_jid) const override;
    size_t total() const override;
    std::vector<SessionEntry> all() const override;

private:
    static constexpr size_t kShards = 64;
    // Looked up by a string_view of the bare JID, built without allocating
    // (BareKey in registry.cpp): no string per stanza on the routing path.
    struct KeyHash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
    };
    struct Shard {
        mutable std::mutex mutex;
        // bare JID string -> its sessions (few per account, so a vector).
        std::unordered_map<std::string, std::vector<SessionEntry>, KeyHash, std::equal_to<>> by_bare;
    };
    Shard& shard_for(std::string_view bare) const;
    mutable std::array<Shard, kShards> shards_;
};

}  // namespace parley::sessions

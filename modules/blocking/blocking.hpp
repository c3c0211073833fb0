// mod_blocking: XEP-0191 Blocking Command (1.3). A user's blocklist (stored
// in LMDB, blocklist_store.hpp) cuts every stanza between the user and the
// JIDs it catches (matching.hpp), in both directions, presence included.
//
// Requests: <blocklist/> (get), <block/> and <unblock/> (set) to the user's
// own account. A change is answered, pushed to the user's sessions that
// asked for the blocklist, and acted on (unavailable presence to a newly
// blocked contact, probes when unblocking) only once it is on disk and
// every worker has dropped its cached copy of the list, so that anything
// routed after the answer is filtered by the new list.
//
// Filtering, at every point a stanza can pass (doc: README.md):
//   stanza_in   a client's stanza to a JID its user blocks: refused with
//               not-acceptable + <blocked xmlns='urn:xmpp:blocking:errors'/>;
//               a message or iq to a local user who blocks the sender:
//               answered service-unavailable as if the user were offline.
//   routed      the same answer for messages and iqs from the server's own
//               modules and remote servers (they skip stanza_in).
//   unavailable a stanza to a user nobody's online for (probes,
//               subscriptions, messages the offline store would keep), at a
//               priority above the other handlers.
//   stanza_out  whatever reaches a session from a JID its user blocks, or
//               from a local user who blocks the session's JID: dropped.
//               This catches what the server sends on a user's behalf
//               through Host::send (the roster module's presence broadcasts
//               and probe answers), which no stanza_in hook sees.
//
// Each worker keeps the lists it has read in a bounded cache; a change drops
// the user's entry on every worker before it is answered. A deleted
// account's own list is removed (Host::on_account_deleted) and dropped from
// every worker's cache; other users' lists that name it stay. One instance per
// worker; loop-affine.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "../roster/roster_service.hpp"
#include "module/module_api.hpp"

namespace parley::mod_blocking {

inline constexpr std::string_view kNsBlocking = "urn:xmpp:blocking";
inline constexpr std::string_view kNsBlockingErrors = "urn:xmpp:blocking:errors";

// Before the hooks of other modules act on a stanza (archives, carbons, CSI),
// and at the unavailable point before offline storage and the roster module
// (which would store a message or answer a probe).
inline constexpr int kHookPriority = 1000;
inline constexpr int kUnavailablePriority = 10000;
// Users whose lists a worker keeps in memory; past that an entry is dropped
// for each one read.
inline constexpr size_t kMaxCachedUsers = 20000;

class Blocking final : public module::Module {
public:
    // `roster`: the roster service to use (tests); nullptr: the roster
    // module's, looked up at each use (it may come and go with a reload),
    // none meaning that no contact may see presence.
    explicit Blocking(const roster::RosterService* roster = nullptr);
    ~Blocking() override;

    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override { return configure(section); }
    void stop() override;

    // Whether the blocklist of `user` (a local account's bare JID) catches `jid`.
    bool blocks(const xmpp::Jid& user, const xmpp::Jid& jid);
    // Drops this worker's cached list of `user` (bare JID string).
    void forget(const std::string& user) { cache_.erase(user); }
    size_t cached_users() const { return cache_.size(); }

private:
    struct Change;
    using Items = std::unordered_set<std::string>;

    const Items* list_of(const xmpp::Jid& user);
    bool local_account(const xmpp::Jid& jid) const;
    module::HookResult on_stanza_in(module::StanzaContext& c);
    module::HookResult on_stanza_out(module::StanzaContext& c);
    void on_routed(module::RoutedContext& c);
    module::HookResult on_unavailable(module::RoutedContext& c);

    void get(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    void change(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r, bool block);
    void written(uint64_t op, const Status& s);
    void acked(uint64_t op);
    // A deleted account (worker 0): its own list goes, durably, then every
    // worker drops its cached copy; then `done`.
    void purge(const xmpp::Jid& user, std::function<void(Status)> done);
    void purge_written(uint64_t op, const Status& s);
    // One worker has dropped its copy (count), or none was left to ask.
    void purge_acked(uint64_t op, bool count = true);
    void finish(uint64_t op);
    void mark_requested(const xmpp::Jid& session);
    void push(const xmpp::Jid& user, const xml::Element& payload);
    void announce_unavailable(const xmpp::Jid& user, const std::vector<std::string>& items);
    void probe_again(const xmpp::Jid& user, const std::vector<std::string>& items);
    const roster::RosterService* roster() const;

    module::Host* host_ = nullptr;
    std::shared_ptr<module::Database> db_;
    size_t max_items_ = 1000;
    std::unordered_map<std::string, Items> cache_;
    const roster::RosterService* roster_override_;
    // Changes between their request and their answer, by operation number.
    std::unordered_map<uint64_t, std::unique_ptr<Change>> changes_;
    // Purges of deleted accounts waiting for the workers to drop their
    // cached lists, by operation number.
    struct Purge {
        std::string user;
        size_t acks = 0;
        std::function<void(Status)> done;
    };
    std::unordered_map<uint64_t, Purge> purges_;
    uint64_t next_op_ = 0;
    uint64_t next_push_ = 0;
};

extern const config::OptionSpec kOptions[];
inline constexpr size_t kOptionCount = 1;
extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;

}  // namespace parley::mod_blocking

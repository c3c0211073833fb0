// mod_offline: offline message storage and delivery (XEP-0160).
//
// Storing: at the router's "no available resource" decision point (a
// message to an existing local account with no available resource of
// non-negative priority, including a message to an offline full JID that
// fell back to the bare JID), a message of type normal or chat (or no
// type) is copied with a XEP-0203 <delay/> (from the server's domain,
// stamp: when it was accepted) and appended to the account's queue in LMDB
// through the writer thread. The stanza is held (module::Hold) until the
// write is on disk: only then is the sender told nothing (no bounce); a
// full queue bounces it with resource-constraint, a stanza over
// max_message_bytes with policy-violation, a failed write with an error
// too. Headline, groupchat and error messages never reach this module (the
// router drops or bounces them, RFC 6121 §8.5.2); messages with a XEP-0334
// <no-store/> hint are left to the default bounce, and chat-state-only
// messages (XEP-0085) are dropped without being stored (XEP-0160 §3).
//
// Delivering: when a session sends its first available presence with a
// non-negative priority (the session event `available`, or a later
// presence that raises a negative priority), every stored message goes to
// that session, oldest first, through the stanza_out hooks, in batches;
// each batch is deleted durably only after it was handed to the session.
// So a crash between the two delivers a batch again (at least once), and
// nothing is deleted that was not handed over.
//
// Once in total across workers: the flushes of one account are serialised
// by one worker, the account's owner (a hash of the bare JID over the
// workers). A session that comes online asks the owner; the owner lets one
// flush run at a time (on the worker of the session it delivers to) and
// runs the next one when it is done, so two resources coming online on two
// workers at the same time do not both receive the queue: the first gets
// it all, the second finds it empty. A message stored while its recipient
// was coming online (the router decided before the presence was recorded;
// the write completes after the flush read the queue) is caught by the
// store's completion: when it sees an available session of non-negative
// priority, it asks the owner for another flush.
//
// One instance per worker; every call and callback runs on that worker's
// loop (loop-affine). Instances reach each other only through Host::post.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>

#include "config/config.hpp"
#include "module/module_api.hpp"
#include "offline_store.hpp"
#include "xmpp/jid.hpp"

namespace parley::mod_offline {

inline constexpr const char* kFeature = "msgoffline";  // XEP-0160 §4
inline constexpr const char* kNsDelay = "urn:xmpp:delay";
inline constexpr const char* kNsHints = "urn:xmpp:hints";
inline constexpr const char* kNsChatStates = "http://jabber.org/protocol/chatstates";
// Messages a flush hands over before it deletes them and reads on.
inline constexpr size_t kBatch = 100;
// Its routed hook runs after the archive's (500), which gives the stanza its
// stanza-id, so that the copy stored for later delivery carries it too.
inline constexpr int kStorePriority = 0;

struct Settings {
    Quota quota;
    uint64_t max_message_bytes = 65536;
};

class Offline final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override { return configure(section); }
    void stop() override;

    const Settings& settings() const { return settings_; }
    // For tests: runs on the owner worker each time a flush of `user` ends
    // (delivered, found nothing, or its session was gone).
    std::function<void(const xmpp::Jid& user)> on_flush_done;

private:
    // One account's flushes on its owner worker.
    struct Flush {
        uint64_t generation = 0;  // of the flush running now
        std::chrono::steady_clock::time_point since;
        std::deque<module::SessionInfo> waiting;  // sessions asking next, each once
    };

    // The unavailable decision: takes what offline storage keeps.
    module::HookResult take(module::RoutedContext& c);
    // The routed hook: writes what take() took, holding it until on disk.
    void store(module::RoutedContext& c);
    void stored(const xmpp::Jid& user, const Status& s, const std::shared_ptr<module::Hold>& hold);
    void presence_in(const module::StanzaContext& c);
    // A deleted account (worker 0): its queue and user record go, durably,
    // before `done`. The flushes kept for it on its owner worker need no
    // care: its sessions were ended, so a flush in progress finds none and
    // ends.
    void purge(const xmpp::Jid& user, std::function<void(Status)> done);

    // Any worker: asks the owner of `user` for a flush to `to`.
    void request_flush(const xmpp::Jid& user, const module::SessionInfo& to);
    // On the owner worker.
    void flush_requested(const xmpp::Jid& user, const module::SessionInfo& to);
    void run_flush(const xmpp::Jid& user, Flush& f, const module::SessionInfo& to);
    void flush_finished(const xmpp::Jid& user, uint64_t generation);
    // On the worker of the session (a flush in progress).
    void deliver_batch(const xmpp::Jid& user, uint64_t session_id, uint64_t generation, int hops);
    void finish(const xmpp::Jid& user, uint64_t generation);

    unsigned owner_of(const xmpp::Jid& user) const;

    Settings settings_;
    module::Host* host_ = nullptr;
    std::shared_ptr<module::Database> db_;
    std::unordered_map<xmpp::Jid, Flush> flushes_;  // owner side
    uint64_t next_generation_ = 0;
};

// XEP-0160 §3: a message that carries only XEP-0085 chat states (and
// threads or hints) is not stored.
bool chat_state_only(const xml::Element& message);

// The copy of `message` that is stored: every <delay/> claiming to be from
// `domain` removed (only the server may say when it stored a message),
// then the server's own added.
xml::Element with_delay(const xml::Element& message, const std::string& domain, int64_t unix_ms);

extern const config::OptionSpec kOptions[];
inline constexpr size_t kOptionCount = 3;
extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 2;

}  // namespace parley::mod_offline

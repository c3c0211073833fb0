// Router: where a stanza goes (RFC 6120 §10, RFC 6121 §8), decided once.
//
// One per worker. For every stanza, whatever its origin (a local session,
// the server or a module, later s2s), the router makes one decision: local
// session(s) (on this worker: direct call; on another: posted to its
// inbox), the "no available resource" decision point (modules may take the
// stanza: offline storage, probes, subscriptions), the server itself (iq
// handlers of the running modules, answered on behalf of a domain or an
// account; replies to server-sent iqs), a domain handler (a module owning
// e.g. conference.example.org), or a bounce (a remote domain until s2s
// exists). Then the routed hooks see the stanza and its outcome exactly
// once; they may hold it (module::Hold) until a durable write completes.
// The outcome is carried out once nothing holds the stanza, and in order
// per sender: a stanza waits behind every earlier held stanza of the same
// sender. Held stanzas are bounded per sender and per worker; past either,
// a new stanza is bounced with resource-constraint (type wait).
//
// Errors go back to the sender; never in reply to an error, never to an iq
// result or error. The session directory behind it is the
// sessions::Registry interface, so a multi-node directory slots in without
// changing these rules. Loop-affine: only the owning worker.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>

#include "errors/stanza_error.hpp"
#include "module/module_api.hpp"
#include "router/rules.hpp"
#include "sessions/registry.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::loop {
class Worker;
class Delay;
}

namespace parley::router {

// Limits on held stanzas (module::Hold).
struct HoldLimits {
    size_t per_sender = 1000;   // stanzas of one sender waiting behind a hold
    size_t per_worker = 100000; // every waiting stanza of this worker
};

class Router {
public:
    explicit Router(loop::Worker& worker);
    ~Router();
    Router(const Router&) = delete;
    Router& operator=(const Router&) = delete;

    // A stanza to route: 'from' already stamped; 'to' parsed (empty when
    // absent: the sender's own bare JID). `session`: the local client
    // session that sent it (RoutedContext::session_id), 0 for none.
    void route(xml::Element stanza, xmpp::Jid from, xmpp::Jid to, module::Origin origin, uint64_t session = 0);
    // A stanza the server originates (modules, iq replies, bounces): reads
    // 'from' and 'to' from its attributes.
    void route_from_server(xml::Element stanza);
    // A stanza refused before routing (validation, a stanza_in hook): the
    // routed hooks see it as bounced, then the sender gets `error`.
    void refuse(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to, module::Origin origin,
                const StanzaError& error, uint64_t session = 0);
    // A stanza a stanza_in hook of module `owner` handled: the routed hooks
    // see it as consumed.
    void consumed(xml::Element& stanza, const xmpp::Jid& from, const xmpp::Jid& to, module::Origin origin,
                  const std::string& owner, uint64_t session = 0);
    // A client stanza its session took care of itself, so that the routed
    // hooks see every stanza a client sends exactly once: `kind` server (the
    // RFC 3921 session request it answers) or dropped (presence without
    // meaning).
    void handled_by_session(const xml::Element& stanza, const xmpp::Jid& from, module::RouteOutcome::Kind kind,
                            uint64_t session);
    // Sends the error reply for `stanza` back to its sender, when allowed.
    void bounce(const xml::Element& stanza, const StanzaError& error);
    // A session's presence broadcast (no 'to'): to the account's available
    // resources, including the sender (RFC 6121 §4.2.2, §4.5.2).
    void broadcast_own_presence(const xmpp::Jid& sender, uint64_t sender_id, const xml::Element& presence);
    // A bound session that was available ended: its unavailable presence
    // goes to the account's other available resources.
    void session_ended(const xmpp::Jid& jid, uint64_t id, bool was_available);
    // Hands a stanza to one bound session, wherever it runs. If it is gone
    // (or ending) by then: with `reroute` (the router's own decisions) the
    // stanza is decided again as if that session had been gone from the
    // start; without (a module's delivery to one session), it is dropped.
    // with_hooks runs the stanza_out hooks on its worker.
    void deliver(const sessions::SessionEntry& to, xml::Element stanza,
                 module::Delivery how = module::Delivery::with_hooks, bool reroute = false);
    // Sends an iq request from the server and calls fn with the reply or
    // nullptr after timeout_ms (see module::Host::send_iq).
    void send_iq(xml::Element iq, uint64_t timeout_ms, module::IqReplyHandler fn);

    // Worker shutdown, before modules stop: pending server iqs get their
    // nullptr reply; stanzas still waiting are dropped (logged).
    void stop();

    void set_hold_limits(HoldLimits limits) { limits_ = limits; }
    // Stanzas waiting (held or behind a held one) on this worker.
    size_t waiting() const { return waiting_; }
    // Called when the last waiting stanza was carried out (worker shutdown
    // waits for that, bounded).
    void set_on_idle(std::function<void()> fn) { on_idle_ = std::move(fn); }

    struct Flight;

private:
    struct HoldState;
    class Context;
    class HoldImpl;
    struct PendingIq;

    void to_server(Flight& f);
    void handle_iq(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to, bool account);
    // Fills f.outcome (and what apply needs) from the rules.
    void decide(Flight& f);
    void decide_account(Flight& f);
    void run_unavailable(Flight& f);
    // Runs the routed hooks, then applies now or queues behind the sender's holds.
    void dispatch(Flight&& f);
    void apply(Flight& f);
    // A session's own presence to its account's available resources, and to
    // session `also` (the sender itself) whether available or not.
    void to_own_resources(xml::Element presence, const xmpp::Jid& sender, uint64_t also);
    void carry_out(Flight& f);
    void pump(std::string sender);
    bool reply_to_server_iq(const xml::Element& stanza, const xmpp::Jid& to);
    void finish_iq(uint64_t seq, const xml::Element* reply, const xmpp::Jid* from);
    bool account_exists(const xmpp::Jid& jid) const;
    // A registry entry this worker must not hand stanzas to: session `gone`,
    // or one of this worker's sessions that ended or is ending.
    bool unreachable(const sessions::SessionRef& ref, const sessions::SessionRef& gone) const;
    // A stanza that reached a session after it ended: decided again without
    // it (its routed hooks do not run again).
    void reroute_gone(xml::Element stanza, sessions::SessionRef session);

    loop::Worker& worker_;
    HoldLimits limits_;
    // Senders with stanzas waiting, each in arrival order.
    std::unordered_map<std::string, std::deque<std::shared_ptr<Flight>>> waiting_by_sender_;
    size_t waiting_ = 0;
    // Lets a Hold released after this router is gone do nothing.
    std::shared_ptr<Router*> self_;
    std::unordered_map<uint64_t, std::unique_ptr<PendingIq>> pending_iqs_;
    uint64_t next_iq_ = 0;
    std::function<void()> on_idle_;
};

}  // namespace parley::router

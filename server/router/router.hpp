// Router: where a stanza goes (RFC 6120 §10, RFC 6121 §8).
//
// One per worker. Decides between a local session (on this worker: direct
// call; on another: posted to its inbox), the server itself (iq handlers of
// the running modules, answered on behalf of a domain or an account), or a
// remote domain (no s2s yet: remote-server-not-found). Errors go back to the
// sender; never in reply to an error, never to an iq result or error.
// The session directory behind it is the sessions::Registry interface, so a
// multi-node directory slots in without changing these rules.
// Loop-affine: only the owning worker.
#pragma once

#include "c2s/session.hpp"
#include "errors/stanza_error.hpp"
#include "router/rules.hpp"
#include "sessions/registry.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::loop {
class Worker;
}

namespace parley::router {

class Router {
public:
    explicit Router(loop::Worker& worker) : worker_(worker) {}

    // A stanza from a local session or the server: 'from' already stamped;
    // 'to' parsed (empty when absent).
    void route(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to);
    // A stanza the server originates (modules, iq replies, bounces): reads
    // 'from' and 'to' from its attributes.
    void route_from_server(xml::Element stanza);
    // Sends the error reply for `stanza` back to its sender, when allowed.
    void bounce(const xml::Element& stanza, const StanzaError& error);
    // A session's presence broadcast (no 'to'): to the account's available
    // resources, including the sender (RFC 6121 §4.2.2, §4.5.2).
    void broadcast_own_presence(const c2s::SessionState& sender, const xml::Element& presence);
    // A bound session ended: tell the account's other resources if it was available.
    void session_ended(const c2s::SessionState& state);
    // Hands a stanza to one bound session, wherever it runs.
    void deliver(const sessions::SessionEntry& to, xml::Element stanza);

private:
    void to_server(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to);
    void to_account(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to);
    void to_bare(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to);
    void handle_iq(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to, bool account);
    void apply(const Decision& d, xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to);
    bool account_exists(const xmpp::Jid& jid) const;

    loop::Worker& worker_;
};

}  // namespace parley::router

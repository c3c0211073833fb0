#include "router/router.hpp"

#include <algorithm>

#include "log/log.hpp"
#include "loop/worker.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::router {

namespace {

// Answers an iq on the worker that received it. An unanswered request gets
// internal-server-error when the last reference goes.
class Responder final : public module::IqResponder {
public:
    Responder(loop::Worker& w, xml::Element request) : worker_(w), request_(std::move(request)) {}
    ~Responder() override {
        if (!answered_) error(StanzaError::cancel("internal-server-error", "the request was not answered"));
    }
    void result(std::optional<xml::Element> payload) override {
        if (answered_) return;
        answered_ = true;
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "result");
        iq.set_attr("id", std::string(request_.attr_or("id")));
        if (const std::string* to = request_.attr("to")) iq.set_attr("from", *to);
        iq.set_attr("to", std::string(request_.attr_or("from")));
        if (payload) iq.add_child(std::move(*payload));
        worker_.router().route_from_server(std::move(iq));
    }
    void error(const StanzaError& e) override {
        if (answered_) return;
        answered_ = true;
        worker_.router().bounce(request_, e);
    }

private:
    loop::Worker& worker_;
    xml::Element request_;
    bool answered_ = false;
};

}  // namespace

bool Router::account_exists(const xmpp::Jid& jid) const {
    auto r = worker_.shared().accounts->exists(jid.node(), jid.domain());
    if (!r) {
        log::error("router", "account lookup failed: {}", r.status().to_string());
        return false;
    }
    return r.value();
}

void Router::route_from_server(xml::Element stanza) {
    xmpp::Jid from, to;
    if (auto f = xmpp::Jid::parse(stanza.attr_or("from")); f) from = f.value();
    auto t = xmpp::Jid::parse(stanza.attr_or("to"));
    if (!t || t->empty()) {
        log::warn("router", "dropping a server stanza without a valid 'to'");
        return;
    }
    to = t.value();
    route(std::move(stanza), from, to);
}

void Router::route(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to_in) {
    xmpp::Jid to = to_in;
    if (to.empty()) {
        // RFC 6120 §10.3: no 'to' means the sender's own account (bare JID).
        to = from.bare();
    }
    // The worker's own config snapshot: no lock on the stanza path.
    if (worker_.config().find_host(to.domain()) == nullptr) {
        // UNFINISHED: server-to-server federation is a later capability.
        bounce(stanza, StanzaError::cancel("remote-server-not-found",
                                           "this server does not federate with other domains yet"));
        return;
    }
    if (!to.has_node()) {
        to_server(std::move(stanza), from, to);
        return;
    }
    to_account(std::move(stanza), from, to);
}

void Router::to_server(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to) {
    const std::string& name = stanza.name();
    const std::string_view type = stanza.attr_or("type");
    if (name == "iq") {
        if (type == "get" || type == "set") handle_iq(std::move(stanza), from, to, false);
        return;  // results and errors addressed to the server end here
    }
    if (name == "message" && type != "error" && type != "headline" && type != "groupchat") {
        bounce(stanza, StanzaError::cancel("service-unavailable", "the server does not accept messages"));
    }
    // Presence to the server: nothing to do.
}

void Router::handle_iq(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to, bool account) {
    const xml::Element* payload = stanza.first_child();
    // On behalf of an account, a request that nothing serves gets the bounce
    // a missing account gets (rules.hpp): a different one would tell the
    // sender that the account exists.
    if (!payload) {
        bounce(stanza, account ? recipient_unavailable()
                               : StanzaError::modify("bad-request", "an iq request carries exactly one child"));
        return;
    }
    const std::string type(stanza.attr_or("type"));
    const module::IqHandler* handler = worker_.hooks().find_iq(
        account ? module::IqTarget::account : module::IqTarget::server, type, payload->ns(), payload->name());
    if (!handler) {
        bounce(stanza, account ? recipient_unavailable()
                               : StanzaError::cancel("service-unavailable", "no service here handles that request"));
        return;
    }
    // The request is kept by the responder; the handler sees a reference.
    auto responder = std::make_shared<Responder>(worker_, stanza);
    module::IqRequest req{stanza, *payload, from, to};
    try {
        (*handler)(req, responder);
    } catch (const std::exception& e) {
        log::error("router", "iq handler for {{{}}}{} failed: {}", payload->ns(), payload->name(), e.what());
        responder->error(StanzaError::cancel("internal-server-error", "a server module failed"));
    }
}

void Router::to_account(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to) {
    if (!to.has_resource()) {
        to_bare(std::move(stanza), from, to);
        return;
    }
    auto found = worker_.shared().registry->find(to);
    Decision d = decide_full(stanza.name(), stanza.attr_or("type"), found ? &*found : nullptr);
    if (d.action == Decision::Action::to_bare) {
        to_bare(std::move(stanza), from, to.bare());
        return;
    }
    apply(d, std::move(stanza), from, to);
}

void Router::to_bare(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to) {
    auto sessions = worker_.shared().registry->sessions_of(to);
    // Online sessions imply the account exists (deleting it ends them).
    const bool exists = !sessions.empty() || account_exists(to);
    Decision d = decide_bare(stanza.name(), stanza.attr_or("type"), sessions, exists);
    apply(d, std::move(stanza), from, to);
}

void Router::apply(const Decision& d, xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to) {
    switch (d.action) {
        case Decision::Action::deliver:
            for (size_t i = 0; i + 1 < d.targets.size(); ++i) deliver(d.targets[i], stanza);
            if (!d.targets.empty()) deliver(d.targets.back(), std::move(stanza));
            return;
        case Decision::Action::bounce:
            bounce(stanza, d.error);
            return;
        case Decision::Action::handle_iq:
            handle_iq(std::move(stanza), from, to, true);
            return;
        case Decision::Action::to_bare:
        case Decision::Action::drop:
            return;
    }
}

void Router::deliver(const sessions::SessionEntry& to, xml::Element stanza) {
    const uint64_t id = to.ref.session_id;
    if (to.ref.worker == worker_.index()) {
        if (c2s::Session* s = worker_.find_session(id)) s->deliver(std::move(stanza));
        return;
    }
    loop::Worker* target = worker_.shared().workers[to.ref.worker];
    target->post([id, stanza = std::move(stanza)](loop::Worker& w) mutable {
        if (c2s::Session* s = w.find_session(id)) s->deliver(std::move(stanza));
    });
}

void Router::bounce(const xml::Element& stanza, const StanzaError& error) {
    if (xmpp::is_error_or_result(stanza)) return;
    const std::string* from = stanza.attr("from");
    if (!from || from->empty()) return;
    xml::Element reply = xmpp::make_error_reply(stanza, error);
    if (!reply.attr("from")) {
        // The original had no 'to': the reply comes from the sender's server.
        if (auto f = xmpp::Jid::parse(*from); f) reply.set_attr("from", f->domain());
    }
    route_from_server(std::move(reply));
}

void Router::broadcast_own_presence(const c2s::SessionState& sender, const xml::Element& presence) {
    auto sessions = worker_.shared().registry->sessions_of(sender.jid.bare());
    for (const auto& s : sessions) {
        // Unavailable presence also reaches the sender's now-unavailable resource.
        if (!s.available && s.ref.session_id != sender.id) continue;
        xml::Element copy = presence;
        copy.set_attr("to", s.full_jid.str());
        deliver(s, std::move(copy));
    }
}

void Router::session_ended(const c2s::SessionState& state) {
    if (!state.available) return;
    // Replaced by a newer session of the same full JID (resource conflict):
    // that address is still online, so nobody is told it went away.
    if (auto now = worker_.shared().registry->find(state.jid); now && now->ref.session_id != state.id) return;
    xml::Element p("presence", std::string(xmpp::kNsClient));
    p.set_attr("type", "unavailable");
    p.set_attr("from", state.jid.str());
    for (const auto& s : worker_.shared().registry->sessions_of(state.jid.bare())) {
        if (!s.available) continue;
        xml::Element copy = p;
        copy.set_attr("to", s.full_jid.str());
        deliver(s, std::move(copy));
    }
}

}  // namespace parley::router

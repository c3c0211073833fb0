// c2s::Session, established phase: validate, stamp, hook, route; send.
#include <charconv>

#include "c2s/session.hpp"
#include "log/log.hpp"
#include "loop/worker.hpp"
#include "router/router.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::c2s {

using xmpp::StreamErrorCondition;

namespace {

bool valid_iq_type(std::string_view t) { return t == "get" || t == "set" || t == "result" || t == "error"; }
bool valid_presence_type(std::string_view t) {
    return t.empty() || t == "unavailable" || t == "subscribe" || t == "subscribed" || t == "unsubscribe" ||
           t == "unsubscribed" || t == "probe" || t == "error";
}

}  // namespace

void Session::handle_established(xml::Element stanza) {
    const std::string& name = stanza.name();
    if (stanza.ns() != xmpp::kNsClient || (name != "message" && name != "presence" && name != "iq")) {
        stream_error(StreamErrorCondition::unsupported_stanza_type,
                     "unexpected element <" + name + "> in namespace '" + stanza.ns() + "'");
        return;
    }
    // RFC 6120 §8.1.2.1: a 'from' other than the session's own JID is spoofing.
    if (const std::string* from = stanza.attr("from")) {
        auto f = xmpp::Jid::parse(*from);
        if (!f || !(f.value() == state_.jid || (f->is_bare() && f.value() == state_.jid.bare()))) {
            stream_error(StreamErrorCondition::invalid_from, "the 'from' address does not match this session");
            return;
        }
    }
    stanza.set_attr("from", state_.jid.str());
    const std::string type(stanza.attr_or("type"));
    auto& router = worker().router();

    xmpp::Jid to;
    if (const std::string* to_attr = stanza.attr("to")) {
        auto t = xmpp::Jid::parse(*to_attr);
        if (!t) {
            // The error comes from our server, not from an address that does not parse.
            stanza.remove_attr("to");
            router.refuse(std::move(stanza), state_.jid, {}, module::Origin::local_client,
                          StanzaError::modify("jid-malformed", "the 'to' address is not a valid JID"), state_.id);
            return;
        }
        to = t.value();
        stanza.set_attr("to", to.str());
    }

    if (name == "iq") {
        if (!valid_iq_type(type) || !stanza.attr("id")) {
            router.refuse(std::move(stanza), state_.jid, to, module::Origin::local_client,
                          StanzaError::modify("bad-request", "an iq needs an id and a type of get, set, result or error"),
                          state_.id);
            return;
        }
        if ((type == "get" || type == "set") && stanza.child_count() != 1) {
            router.refuse(std::move(stanza), state_.jid, to, module::Origin::local_client,
                          StanzaError::modify("bad-request", "an iq request carries exactly one child"), state_.id);
            return;
        }
        // RFC 3921 session establishment: a no-op since RFC 6121, kept for old clients.
        if (type == "set" && (to.empty() || (!to.has_node() && to.domain() == state_.jid.domain())) &&
            stanza.child("session", xmpp::kNsSession)) {
            xml::Element result("iq", std::string(xmpp::kNsClient));
            result.set_attr("type", "result");
            result.set_attr("id", std::string(stanza.attr_or("id")));
            result.set_attr("from", state_.jid.domain());
            result.set_attr("to", state_.jid.str());
            router.handled_by_session(stanza, state_.jid, module::RouteOutcome::Kind::server, state_.id);
            write_stanza(result);
            return;
        }
    } else if (name == "presence" && !valid_presence_type(type)) {
        router.refuse(std::move(stanza), state_.jid, to, module::Origin::local_client,
                      StanzaError::modify("bad-request", "unknown presence type"), state_.id);
        return;
    }

    auto& hooks = worker().hooks();
    if (hooks.has_hooks(module::HookPoint::stanza_in)) {
        module::StanzaContext ctx{stanza, state_.jid, to, true, state_.id};
        std::string owner;
        module::HookResult r = hooks.run(module::HookPoint::stanza_in, ctx, &owner);
        if (r.verdict == module::HookResult::Verdict::handled) {
            router.consumed(stanza, state_.jid, to, module::Origin::local_client, owner, state_.id);
            return;
        }
        if (r.verdict == module::HookResult::Verdict::reject) {
            router.refuse(std::move(stanza), state_.jid, to, module::Origin::local_client, r.error, state_.id);
            return;
        }
    }

    if (name == "presence" && to.empty()) {
        // Presence without 'to' is the session's own broadcast (RFC 6121 §4.2, §4.5).
        const bool was_available = state_.available;
        if (type.empty()) {
            int prio = 0;
            if (const xml::Element* p = stanza.child("priority", xmpp::kNsClient)) {
                const std::string t = p->text();
                int v = 0;
                auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
                if (ec == std::errc() && ptr == t.data() + t.size() && v >= -128 && v <= 127) prio = v;
            }
            state_.available = true;
            state_.priority = prio;
        } else if (type == "unavailable") {
            state_.available = false;
        } else {
            // Subscription states without 'to' mean nothing.
            router.handled_by_session(stanza, state_.jid, module::RouteOutcome::Kind::dropped, state_.id);
            return;
        }
        worker().shared().registry->set_presence(state_.jid, sessions::SessionRef{worker().index(), state_.id},
                                                 state_.available, state_.priority);
        router.broadcast_own_presence(state_.jid, state_.id, stanza);
        if (was_available != state_.available)
            hooks.fire(state_.available ? module::SessionEvent::available : module::SessionEvent::unavailable,
                       sessions::SessionEntry{state_.jid, sessions::SessionRef{worker().index(), state_.id},
                                              state_.available, state_.priority});
        return;
    }
    router.route(std::move(stanza), state_.jid, std::move(to), module::Origin::local_client, state_.id);
}

bool Session::is_stanza(const xml::Element& el) {
    const std::string& n = el.name();
    return (n == "message" || n == "presence" || n == "iq") && el.ns() == xmpp::kNsClient;
}

void Session::observe(const xml::Element& stanza) {
    const auto& hooks = worker().hooks();
    if (hooks.has_output_observers()) hooks.observe_output(state_.id, stanza);
}

void Session::write_stanza(const xml::Element& stanza) {
    // A stream that is closing takes nothing more; the observers still see
    // the stanza, as one written to a connection that died.
    if (!closing()) send(stanza);
    observe(stanza);
}

void Session::send_stanza(const xml::Element& stanza) {
    if (phase_ == Phase::ended) return;  // its `closed` event runs
    const bool nonza = !is_stanza(stanza);
    if (!transport_ || resuming()) {
        // Kept for a connection that resumes it, or being resumed here. A
        // nonza belongs to the stream it was meant for: it is not kept.
        if (nonza) return;
        Resumption& r = this->r();
        r.queued.push_back(stanza);
        if (r.queued.size() > r.max_queued && !r.resuming) {
            log::info("c2s", "{}: {} stanzas queued for a resumption; ending the session", state_.jid.str(),
                      r.queued.size());
            finish();
        }
        return;
    }
    if (nonza) {
        if (!closing()) send(stanza);
        return;
    }
    write_stanza(stanza);
}

sessions::SessionDetails Session::details() const {
    sessions::SessionDetails d;
    d.connected = transport_ != nullptr && !transport_->closing();
    if (transport_) {
        d.address = transport_->remote_ip();
        d.tls = transport_->secure();
    }
    d.since_unix = state_.bound_unix;
    return d;
}

}  // namespace parley::c2s

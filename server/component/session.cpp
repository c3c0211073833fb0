#include "component/session.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "component/directory.hpp"
#include "component/handshake.hpp"
#include "component/routing.hpp"
#include "log/log.hpp"
#include "loop/worker.hpp"
#include "net/stream_transport.hpp"
#include "router/router.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/hex.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::component {

using xmpp::StreamErrorCondition;

Status Session::accept(loop::Worker& worker, uv_stream_t* server) {
    const auto& l = worker.config().limits;
    // Before the handshake the peer is anonymous: the small limit.
    auto* transport = new net::StreamTransport(
        worker, xml::StreamLimits::for_stanza_bytes(l.max_stanza_bytes_before_auth, l.max_depth));
    new Session(worker, *transport);  // owned by the transport's lifetime from here
    return transport->accept_from(server, false);
}

Session::Session(loop::Worker& worker, net::Transport& transport)
    : worker_(worker), transport_(&transport), id_(worker.shared().next_session_id()) {
    transport.set_user(this);
    transport.set_deadline(uint64_t{worker.config().component_listener.handshake_timeout_s} * 1000);
}

std::string_view Session::default_ns() const { return kNsComponentAccept; }

void Session::on_deadline() {
    transport_->stream_error(StreamErrorCondition::connection_timeout,
                             "the handshake took too long");
}

void Session::on_stream_open(const xml::StreamHeader& header) {
    if (transport_->closing()) return;
    if (phase_ != Phase::header) {
        // XEP-0114 has no stream restart.
        transport_->stream_error(StreamErrorCondition::invalid_xml, "a second stream header");
        return;
    }
    if (header.name != "stream" || header.ns != xml::kStreamNs) {
        transport_->stream_error(
            StreamErrorCondition::invalid_namespace,
            "the stream element must be stream:stream in http://etherx.jabber.org/streams");
        return;
    }
    if (header.default_ns != kNsComponentAccept) {
        transport_->stream_error(
            StreamErrorCondition::invalid_namespace,
            "the content namespace of a component stream must be jabber:component:accept");
        return;
    }
    std::string domain;
    if (auto j = xmpp::Jid::parse(header.attr("to")); j && !j->has_node() && !j->has_resource())
        domain = j->domain();
    const bool known =
        !domain.empty() && worker_.config().find_component(domain) && routed_here(worker_, domain);
    stream_id_ = xmpp::random_hex(16);
    // XEP-0114 §3: the answer names the component's domain and carries the id.
    transport_->send_stream_header(known ? std::string_view(domain) : std::string_view{}, {},
                                   stream_id_);
    if (!known) {
        log::info("component", "{}: refused a component stream for unknown domain '{}'",
                  transport_->remote_ip(), header.attr("to"));
        transport_->stream_error(StreamErrorCondition::host_unknown,
                                 "no component is configured for that domain");
        return;
    }
    domain_ = std::move(domain);
    phase_ = Phase::handshake;
}

void Session::on_stanza(xml::Element stanza) {
    if (transport_->closing()) return;
    if (phase_ == Phase::handshake) return handshake(stanza);
    if (phase_ == Phase::established) return from_component(std::move(stanza));
}

void Session::handshake(const xml::Element& stanza) {
    if (stanza.name() != "handshake" || stanza.ns() != kNsComponentAccept) {
        transport_->stream_error(StreamErrorCondition::not_authorized, "send <handshake/> first");
        return;
    }
    // The worker's snapshot: a secret changed by a reload applies from the next handshake.
    const config::Component* c = worker_.config().find_component(domain_);
    if (!c || !handshake_matches(stream_id_, c->secret, stanza.text())) {
        log::warn("component", "{}: handshake for {} failed (wrong secret)",
                  transport_->remote_ip(), domain_);
        transport_->stream_error(StreamErrorCondition::not_authorized,
                                 "the handshake does not match the secret");
        return;
    }
    if (!worker_.shared().components.claim(domain_, Where{worker_.index(), id_, this})) {
        // The running connection wins: a second process with the secret
        // cannot take the domain over (Prosody behaves the same).
        log::warn("component", "{}: refused a second connection for {} (one is connected already)",
                  transport_->remote_ip(), domain_);
        transport_->stream_error(StreamErrorCondition::conflict,
                                 "a component is already connected for this domain");
        return;
    }
    registered_ = true;
    phase_ = Phase::established;
    const auto& l = worker_.config().limits;
    transport_->authenticated(xml::StreamLimits::for_stanza_bytes(l.max_stanza_bytes, l.max_depth));
    transport_->set_deadline(0);
    transport_->send_raw("<handshake/>");
    log::info("component", "{} connected from {} (worker {})", domain_, transport_->remote_ip(),
              worker_.index());
}

void Session::from_component(xml::Element in) {
    const std::string& name = in.name();
    if (in.ns() != kNsComponentAccept ||
        (name != "message" && name != "presence" && name != "iq")) {
        transport_->stream_error(
            StreamErrorCondition::unsupported_stanza_type,
            "unexpected element <" + name + "> in namespace '" + in.ns() + "'");
        return;
    }
    const std::string* from_attr = in.attr("from");
    const std::string* to_attr = in.attr("to");
    if (!from_attr || !to_attr) {
        transport_->stream_error(StreamErrorCondition::improper_addressing,
                                 "a component's stanzas carry both 'from' and 'to'");
        return;
    }
    auto from = xmpp::Jid::parse(*from_attr);
    if (!from || from->domain() != domain_) {
        log::warn("component", "{}: sent a stanza from '{}', not at its domain: closed", domain_,
                  *from_attr);
        transport_->stream_error(StreamErrorCondition::invalid_from,
                                 "the 'from' address is not at the component's domain " + domain_);
        return;
    }
    xml::Element stanza = translate_ns(in, kNsComponentAccept, xmpp::kNsClient);
    stanza.set_attr("from", from->str());
    auto& router = worker_.router();
    auto to = xmpp::Jid::parse(*to_attr);
    if (!to || to->empty()) {
        stanza.remove_attr("to");
        router.refuse(std::move(stanza), from.value(), {}, module::Origin::remote_server,
                      StanzaError::modify("jid-malformed", "the 'to' address is not a valid JID"));
        return;
    }
    stanza.set_attr("to", to->str());
    if (name == "iq") {
        if (auto bad = xmpp::iq_shape_error(stanza)) {
            router.refuse(std::move(stanza), from.value(), to.value(), module::Origin::remote_server, *bad);
            return;
        }
    }
    router.route(std::move(stanza), std::move(from.value()), std::move(to.value()),
                 module::Origin::remote_server);
}

void Session::send_stanza(const xml::Element& stanza) {
    if (phase_ != Phase::established || transport_->closing()) return;
    transport_->send(translate_ns(stanza, xmpp::kNsClient, kNsComponentAccept));
}

void Session::on_stream_close() {
    log::debug("component", "{}: the component closed its stream",
               domain_.empty() ? transport_->remote_ip() : domain_);
    transport_->close_stream();
}

void Session::on_transport_closed() {
    // The transport's last call: this session ends with it.
    std::unique_ptr<Session> self(this);
    if (registered_) {
        worker_.shared().components.release(domain_, id_);
        log::info("component", "{} disconnected (worker {})", domain_, worker_.index());
    }
    transport_ = nullptr;
}

}  // namespace parley::component

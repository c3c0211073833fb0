#include "s2s/inbound.hpp"

#include "component/handshake.hpp"
#include "log/log.hpp"
#include "loop/worker.hpp"
#include "net/stream_transport.hpp"
#include "router/router.hpp"
#include "s2s/dialback.hpp"
#include "s2s/links.hpp"
#include "s2s/receive.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::s2s {

using xmpp::StreamErrorCondition;

namespace {

// A domain as a peer names it: a JID with only a domain part, normalised.
std::string domain_of(std::string_view s) {
    auto j = xmpp::Jid::parse(s);
    if (!j || j->has_node() || j->has_resource()) return {};
    return j->domain();
}

}  // namespace

Status Inbound::accept(loop::Worker& worker, uv_stream_t* server, bool direct_tls) {
    const auto& l = worker.config().limits;
    auto* transport = new net::StreamTransport(
        worker, xml::StreamLimits::for_stanza_bytes(l.max_stanza_bytes_before_auth, l.max_depth));
    transport->set_tls_peer(net::TlsSession::Peer::server);
    new Inbound(worker, *transport);  // owned by the transport's lifetime from here
    Status s = transport->accept_from(server, direct_tls);
    if (!s || transport->closing()) return s;
    if (direct_tls) {
        s = transport->start_tls(net::TlsSession::Mode::direct);
        if (!s) {
            transport->close_now();
            return Status::error("tls", "cannot start TLS: " + s.message());
        }
    }
    return Status::ok();
}

Inbound::Inbound(loop::Worker& worker, net::Transport& transport)
    : worker_(worker), transport_(&transport), id_(worker.shared().next_session_id()) {
    transport.set_user(this);
    transport.set_deadline(uint64_t{worker.config().s2s.handshake_timeout_s} * 1000);
    worker_.s2s().add_inbound(id_, this);
}

std::string_view Inbound::default_ns() const { return xmpp::kNsServer; }

void Inbound::on_deadline() {
    if (!authenticated_.empty()) {
        log::info("s2s", "{}: idle, closing the stream from {}", transport_->remote_ip(), authenticated_.begin()->first);
        transport_->close_stream();
        return;
    }
    transport_->stream_error(StreamErrorCondition::connection_timeout, "authentication took too long");
}

void Inbound::on_stream_open(const xml::StreamHeader& header) {
    if (transport_->closing()) return;
    if (header.name != "stream" || header.ns != xml::kStreamNs) {
        transport_->stream_error(StreamErrorCondition::invalid_namespace,
                                 "the stream element must be stream:stream in http://etherx.jabber.org/streams");
        return;
    }
    if (header.default_ns != xmpp::kNsServer) {
        transport_->stream_error(StreamErrorCondition::invalid_namespace,
                                 "the content namespace of a server stream must be jabber:server");
        return;
    }
    const std::string to = domain_of(header.attr("to"));
    stream_id_ = random_stream_id();  // a new id for every stream, restarts included
    transport_->send_stream_header(to, header.attr("from"), stream_id_);
    if (to.empty() || !served_here(worker_, to)) {
        log::info("s2s", "{}: refused a stream for '{}', not served here", transport_->remote_ip(), header.attr("to"));
        transport_->stream_error(StreamErrorCondition::host_unknown, "that domain is not served here");
        return;
    }
    if (opened_ && to != header_to_) {
        transport_->stream_error(StreamErrorCondition::host_unknown, "a restarted stream must keep its 'to'");
        return;
    }
    if (header.attr("version").empty()) {
        // Pre-RFC 3920 servers cannot do TLS, which is required here.
        transport_->stream_error(StreamErrorCondition::unsupported_version,
                                 "this server federates only over TLS; version 1.0 streams are required");
        return;
    }
    opened_ = true;
    header_to_ = to;
    header_from_ = domain_of(header.attr("from"));
    send_features();
}

void Inbound::send_features() {
    xml::Element features("features", std::string(xml::kStreamNs));
    // XEP-0288 §2.1: before and after TLS (it is used only after).
    if (worker_.config().s2s.bidi && authenticated_.empty())
        features.add_child("bidi", std::string(kNsBidiFeature));
    if (!transport_->secure()) {
        features.add_child("starttls", std::string(xmpp::kNsTls)).add_child("required", std::string(xmpp::kNsTls));
    } else {
        if (!sasl_done_ && !header_from_.empty() && transport_->tls()->verify_domain(header_from_).ok())
            features.add_child("mechanisms", std::string(xmpp::kNsSasl))
                .add_child("mechanism", std::string(xmpp::kNsSasl))
                .add_text("EXTERNAL");
        if (worker_.config().s2s.dialback)
            features.add_child("dialback", std::string(kNsDialbackFeature))
                .add_child("errors", std::string(kNsDialbackFeature));
        if (worker_.config().s2s.stream_management && !sm_) features.add_child("sm", std::string(kNsSm));
    }
    transport_->send(features);
}

void Inbound::on_stanza(xml::Element el) {
    if (transport_->closing()) return;
    const std::string& ns = el.ns();
    const std::string& name = el.name();
    if (ns == xml::kStreamNs && name == "error") {
        log::info("s2s", "{}: the peer sent a stream error", transport_->remote_ip());
        transport_->close_stream();
        return;
    }
    if (!transport_->secure()) {
        if (ns == xmpp::kNsTls && name == "starttls" && transport_->tls() == nullptr) {
            transport_->send_raw("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
            transport_->flush();  // the proceed goes out in clear before any TLS record
            transport_->starttls_after_current();
            return;
        }
        transport_->stream_error(StreamErrorCondition::policy_violation, "this server federates only over TLS");
        return;
    }
    if (ns == kNsBidi && name == "bidi" && worker_.config().s2s.bidi) {
        if (!bidi_) log::debug("s2s", "{}: the peer asks for a bidirectional stream", transport_->remote_ip());
        bidi_ = true;
        for (const auto& [local, remote] : pairs_) Links::offer_bidi(worker_, local, remote, id_);
        bidi_offered_ = bidi_offered_ || !pairs_.empty();
        return;
    }
    if (ns == kNsSm && worker_.config().s2s.stream_management) {
        if (name == "enable") {
            if (authenticated_.empty() || sm_) {
                transport_->send_raw("<failed xmlns='urn:xmpp:sm:3'><unexpected-request "
                                     "xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>");
                return;
            }
            sm_ = true;
            handled_ = 0;
            transport_->send_raw("<enabled xmlns='urn:xmpp:sm:3'/>");
            return;
        }
        if (name == "r" && sm_) {
            transport_->send_raw("<a xmlns='urn:xmpp:sm:3' h='" + std::to_string(handled_) + "'/>");
            return;
        }
        if (name == "a" && sm_) return;  // nothing we send here is counted
    }
    if (ns == xmpp::kNsSasl && name == "auth") return on_auth(el);
    if (ns == kNsDialback && name == "result") return on_db_result(el);
    if (ns == kNsDialback && name == "verify") return on_db_verify(el);
    if (ns == xmpp::kNsServer && (name == "message" || name == "presence" || name == "iq"))
        return on_remote_stanza(std::move(el));
    transport_->stream_error(StreamErrorCondition::unsupported_stanza_type,
                             "unexpected element <" + name + "> in namespace '" + ns + "'");
}

void Inbound::on_auth(const xml::Element& el) {
    auto failure = [&](const char* condition, const std::string& why) {
        log::info("s2s", "{}: SASL EXTERNAL for '{}' refused: {}", transport_->remote_ip(), header_from_, why);
        transport_->send_raw(std::string("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><") + condition + "/></failure>");
    };
    if (sasl_done_) {
        transport_->stream_error(StreamErrorCondition::policy_violation, "already authenticated");
        return;
    }
    if (el.attr_or("mechanism") != "EXTERNAL") return failure("invalid-mechanism", "not EXTERNAL");
    if (header_from_.empty()) return failure("not-authorized", "the stream header has no 'from'");
    // The authorization identity: none ("=" or empty), or the header's domain.
    std::string text = el.text();
    std::string authzid;
    if (!text.empty() && text != "=") {
        auto decoded = xmpp::base64_decode(text);
        if (!decoded) return failure("incorrect-encoding", "bad base64");
        authzid = domain_of(decoded.value());
        if (authzid != header_from_) return failure("invalid-authzid", "it names another domain");
    }
    const net::PeerVerification v = transport_->tls()->verify_domain(header_from_);
    if (!v.ok()) return failure("not-authorized", v.text);
    if (auto refusal = gate(header_from_, true, false)) {
        failure("not-authorized", "refused by policy");
        transport_->stream_error(StreamErrorCondition::policy_violation, *refusal);
        return;
    }
    sasl_done_ = true;
    transport_->send_raw("<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>");
    authenticate(header_from_, header_to_, "SASL EXTERNAL", true, false);
    transport_->restart_stream();
}

std::optional<std::string> Inbound::gate(const std::string& remote, bool certificate_valid, bool dialback) const {
    const module::S2sAuth auth{header_to_, remote, true, certificate_valid, dialback, transport_->remote_ip()};
    return worker_.s2s().gate(auth);
}

bool Inbound::close_if(const std::function<bool(const module::S2sAuth&)>& which, std::string_view text) {
    if (!transport_ || transport_->closing()) return false;
    for (const auto& [local, remote] : pairs_)
        if (const How h = authenticated_[remote];
            which(module::S2sAuth{local, remote, true, h.certificate_valid, h.dialback, transport_->remote_ip()})) {
            transport_->stream_error(StreamErrorCondition::policy_violation, text);
            return true;
        }
    return false;
}

void Inbound::authenticate(const std::string& remote, const std::string& local, const char* how,
                           bool certificate_valid, bool dialback) {
    const bool first = authenticated_.empty();
    const bool fresh = authenticated_.try_emplace(remote, How{certificate_valid, dialback}).second;
    if (pairs_.emplace(local, remote).second && bidi_) {
        Links::offer_bidi(worker_, local, remote, id_);
        bidi_offered_ = true;
    }
    if (!fresh) return;
    log::info("s2s", "{}: {} authenticated by {} (to {}{})", transport_->remote_ip(), remote, how, local,
              bidi_ ? ", bidirectional" : "");
    if (first) {
        const auto& l = worker_.config().limits;
        transport_->authenticated(xml::StreamLimits::for_stanza_bytes(l.max_stanza_bytes, l.max_depth));
        transport_->set_read_rate(worker_.config().s2s.max_read_bytes_per_s);
        const unsigned idle = worker_.config().s2s.idle_timeout_s;
        transport_->set_deadline(idle ? uint64_t{idle} * 1000 : 0);
    }
}

void Inbound::answer_result(const std::string& remote, const std::string& local, std::string_view type,
                            std::string_view error_condition, std::string_view error_text) {
    xml::Element r("result", std::string(kNsDialback));
    r.set_attr("from", local);
    r.set_attr("to", remote);
    r.set_attr("type", std::string(type));
    if (!error_condition.empty()) {
        auto& e = r.add_child("error", std::string(kNsDialback));
        e.set_attr("type", "cancel");
        e.add_child(std::string(error_condition), std::string(xmpp::kNsStanzas));
        if (!error_text.empty()) e.add_child("text", std::string(xmpp::kNsStanzas)).add_text(std::string(error_text));
    }
    transport_->send(r);
}

void Inbound::on_db_result(const xml::Element& el) {
    if (el.attr("type")) return;  // answers belong on our own outgoing streams
    const std::string remote = domain_of(el.attr_or("from"));
    const std::string local = domain_of(el.attr_or("to"));
    if (remote.empty() || local.empty()) {
        transport_->stream_error(StreamErrorCondition::improper_addressing,
                                 "<db:result/> needs 'from' and 'to' domains");
        return;
    }
    if (!served_here(worker_, local))
        return answer_result(remote, local, "error", "item-not-found", "that domain is not served here");
    if (authenticated_.count(remote)) {
        const How h = authenticated_[remote];
        authenticate(remote, local, "dialback for another of our domains", h.certificate_valid, h.dialback);
        return answer_result(remote, local, "valid");
    }
    // XEP-0344: a certificate that proves the domain needs no dialing back.
    const bool certified = transport_->tls()->verify_domain(remote).ok();
    if (auto refusal = gate(remote, certified, !certified)) {
        answer_result(remote, local, "error", "policy-violation", *refusal);
        transport_->stream_error(StreamErrorCondition::policy_violation, *refusal);
        return;
    }
    if (certified) {
        authenticate(remote, local, "dialback with a valid certificate", true, true);
        return answer_result(remote, local, "valid");
    }
    if (!worker_.config().s2s.dialback) {
        log::info("s2s", "{}: dialback for '{}' refused: dialback is off and its certificate does not prove it",
                  transport_->remote_ip(), remote);
        answer_result(remote, local, "error", "policy-violation",
                      "this server accepts only a valid certificate for " + remote);
        transport_->close_stream();
        return;
    }
    if (pending_verifies_ >= kMaxPendingVerifies) {
        transport_->stream_error(StreamErrorCondition::policy_violation, "too many dialback requests at once");
        return;
    }
    ++pending_verifies_;
    const uint64_t id = id_;
    VerifyRequest req;
    req.stream_id = stream_id_;
    req.key = el.text();
    // The answer comes back to this worker; the stream may be gone by then.
    req.done = [&w = worker_, id, remote, local](bool valid) {
        if (Inbound* s = w.s2s().find_inbound(id)) s->dialback_checked(remote, local, valid);
    };
    Links::verify(worker_, local, remote, std::move(req));
}

void Inbound::dialback_checked(const std::string& remote, const std::string& local, bool valid) {
    if (pending_verifies_ > 0) --pending_verifies_;
    if (transport_->closing()) return;
    if (valid) {
        authenticate(remote, local, "dialback", false, true);
        answer_result(remote, local, "valid");
        return;
    }
    log::info("s2s", "{}: dialback for '{}' failed: its authoritative server did not confirm the key",
              transport_->remote_ip(), remote);
    answer_result(remote, local, "invalid");
    transport_->close_stream();
}

void Inbound::on_db_verify(const xml::Element& el) {
    if (el.attr("type")) return;  // answers belong on our own outgoing streams
    const std::string receiving = domain_of(el.attr_or("from"));
    const std::string originating = domain_of(el.attr_or("to"));
    const std::string stream_id(el.attr_or("id"));
    if (receiving.empty() || originating.empty() || stream_id.empty()) {
        transport_->stream_error(StreamErrorCondition::improper_addressing,
                                 "<db:verify/> needs 'from', 'to' and 'id'");
        return;
    }
    xml::Element v("verify", std::string(kNsDialback));
    v.set_attr("from", originating);
    v.set_attr("to", receiving);
    v.set_attr("id", stream_id);
    if (!served_here(worker_, originating)) {
        v.set_attr("type", "error");
        auto& e = v.add_child("error", std::string(kNsDialback));
        e.set_attr("type", "cancel");
        e.add_child("item-not-found", std::string(xmpp::kNsStanzas));
    } else {
        const bool ok = dialback_key_matches(worker_.shared().dialback_secret, receiving, originating, stream_id,
                                             el.text());
        v.set_attr("type", ok ? "valid" : "invalid");
    }
    transport_->send(v);
}

void Inbound::on_remote_stanza(xml::Element in) {
    if (authenticated_.empty()) {
        transport_->stream_error(StreamErrorCondition::not_authorized, "authenticate before sending stanzas");
        return;
    }
    const unsigned idle = worker_.config().s2s.idle_timeout_s;
    if (idle) transport_->set_deadline(uint64_t{idle} * 1000);
    if (sm_) ++handled_;  // handled, whatever becomes of it (modulo 2^32)
    auto refusal = receive_stanza(
        worker_, in, [this](const std::string& d) { return authenticated_.count(d) > 0; },
        [this](const std::string& d) { return served_here(worker_, d); }, transport_->remote_ip());
    if (refusal) transport_->stream_error(refusal->condition, refusal->text);
}

bool Inbound::send_stanza(const xml::Element& stanza) {
    if (!transport_ || transport_->closing()) {
        withdraw_bidi();
        return false;
    }
    transport_->send(component::translate_ns(stanza, xmpp::kNsClient, xmpp::kNsServer));
    const unsigned idle = worker_.config().s2s.idle_timeout_s;
    if (idle) transport_->set_deadline(uint64_t{idle} * 1000);
    return true;
}

void Inbound::withdraw_bidi() {
    if (!bidi_offered_) return;
    bidi_offered_ = false;
    for (const auto& [local, remote] : pairs_) Links::withdraw_bidi(worker_, local, remote, id_);
}

void Inbound::on_stream_close() {
    log::debug("s2s", "{}: the peer closed its stream", transport_->remote_ip());
    transport_->close_stream();
}

void Inbound::on_transport_closed() {
    std::unique_ptr<Inbound> self(this);
    withdraw_bidi();
    worker_.s2s().remove_inbound(id_);
    if (!authenticated_.empty())
        log::info("s2s", "{}: stream from {} closed", transport_->remote_ip(), authenticated_.begin()->first);
    transport_ = nullptr;
}

}  // namespace parley::s2s

#include "s2s/outbound.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <charconv>
#include <random>

#include "component/handshake.hpp"
#include "log/log.hpp"
#include "loop/worker.hpp"
#include "net/stream_transport.hpp"
#include "s2s/dialback.hpp"
#include "s2s/receive.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::s2s {

namespace {

// The client context of the virtual host that `local` is, or is a
// subdomain of (a service such as conference.example.org).
std::shared_ptr<const net::TlsContext> client_context(const daemon::Shared& shared, const std::string& local) {
    auto clients = shared.s2s_clients();
    std::string_view d = local;
    for (;;) {
        if (auto it = clients->find(std::string(d)); it != clients->end()) return it->second;
        const size_t dot = d.find('.');
        if (dot == std::string_view::npos) return nullptr;
        d.remove_prefix(dot + 1);
    }
}

}  // namespace

Outbound* Outbound::create(loop::Worker& worker, Links& links, std::string local, std::string remote) {
    return new Outbound(worker, links, std::move(local), std::move(remote));
}

void Outbound::begin() { resolve(); }

Outbound::Outbound(loop::Worker& worker, Links& links, std::string local, std::string remote)
    : worker_(worker), links_(links), local_(std::move(local)), remote_(std::move(remote)) {}

std::string_view Outbound::default_ns() const { return xmpp::kNsServer; }

void Outbound::resolve() {
    const config::Config& cfg = worker_.config();
    if (const config::S2sRoute* r = cfg.find_route(remote_)) {
        sockaddr_storage addr{};
        if (uv_ip4_addr(r->host.c_str(), r->port, reinterpret_cast<sockaddr_in*>(&addr)) != 0 &&
            uv_ip6_addr(r->host.c_str(), r->port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0) {
            fail(StanzaError::cancel("remote-server-not-found", "the route to " + remote_ + " has a bad address"),
                 "bad route address " + r->host);
            return;
        }
        addresses_ = {addr};
        direct_tls_ = r->direct_tls;
        target_text_ = "route " + r->host + ":" + std::to_string(r->port) + (r->direct_tls ? ", direct TLS" : "");
        next_address();
        return;
    }
    net::Resolver* dns = links_.resolver();
    auto ascii = xmpp::domain_to_ascii(remote_);
    if (!dns || !ascii) {
        fail(StanzaError::cancel("remote-server-not-found", "cannot look up " + remote_),
             !dns ? "no DNS resolver" : ascii.status().message());
        return;
    }
    remote_ascii_ = std::move(ascii.value());
    // RFC 6120 §3.2.1 and XEP-0368 §3: both services' SRV records, at once.
    srv_waiting_ = 2;
    for (const bool direct : {true, false})
        dns->srv(std::string(direct ? "_xmpps-server._tcp." : "_xmpp-server._tcp.") + remote_ascii_, direct,
                 [this](net::Answer a, std::vector<net::SrvTarget> records, std::string error) {
                     on_srv(a, std::move(records), error);
                 });
}

void Outbound::on_srv(net::Answer answer, std::vector<net::SrvTarget> records, const std::string& error) {
    switch (answer) {
    case net::Answer::ok:
        for (auto& r : records) targets_.push_back(std::move(r));
        break;
    case net::Answer::unavailable: ++srv_unavailable_; break;
    case net::Answer::cancelled: lookup_cancelled_ = true; break;
    case net::Answer::failed: log::info("s2s", "{} -> {}: SRV lookup failed: {}", local_, remote_, error); break;
    case net::Answer::no_records: break;
    }
    if (--srv_waiting_ > 0) return;
    if (lookup_cancelled_) {
        fail(StanzaError::cancel("remote-server-not-found", "the server is shutting down"), "lookup cancelled");
        return;
    }
    if (!targets_.empty()) {
        srv_ = true;
        std::mt19937 rng(std::random_device{}());
        targets_ = net::order_srv(std::move(targets_), rng);
    } else if (srv_unavailable_ > 0) {
        // "." (RFC 2782) and nothing else: the domain says it does not federate.
        fail(StanzaError::cancel("remote-server-not-found", remote_ + " does not accept server connections (its SRV "
                                                                      "record says the service is not available)"),
             "SRV target \".\": no XMPP server for the domain");
        return;
    } else {
        // No SRV: the domain itself, on the default port (RFC 6120 §3.2.2).
        targets_.push_back(net::SrvTarget{remote_ascii_, 5269, 0, 0, false});
    }
    next_target();
}

void Outbound::next_target() {
    if (refused_) {
        fail(*error_, "refused by policy");
        return;
    }
    if (next_target_ >= targets_.size() || attempts_ >= kMaxAttempts) {
        if (!error_)
            error_ = std::make_unique<StanzaError>(StanzaError::cancel(
                "remote-server-not-found", attempts_ ? "no server of " + remote_ + " could be reached"
                                                     : "no address was found for " + remote_));
        fail(*error_, attempts_ ? "every address failed" : "no address found");
        return;
    }
    const net::SrvTarget& t = targets_[next_target_++];
    direct_tls_ = t.direct_tls;
    target_text_ = t.host + ":" + std::to_string(t.port) +
                   (!srv_ ? " (A/AAAA)" : t.direct_tls ? " (SRV, direct TLS)" : " (SRV)");
    net::Resolver* dns = links_.resolver();
    if (!dns) {
        fail(StanzaError::cancel("remote-server-not-found", "cannot look up " + remote_), "no DNS resolver");
        return;
    }
    dns->addresses(t.host, t.port, [this](net::Answer a, std::vector<sockaddr_storage> found, std::string error) {
        if (a == net::Answer::cancelled) {
            fail(StanzaError::cancel("remote-server-not-found", "the server is shutting down"), "lookup cancelled");
            return;
        }
        if (a != net::Answer::ok) {
            log::info("s2s", "{} -> {}: no address for {}{}", local_, remote_, target_text_,
                      error.empty() ? "" : ": " + error);
            next_target();
            return;
        }
        addresses_ = std::move(found);
        next_address_ = 0;
        next_address();
    });
}

void Outbound::next_address() {
    if (next_address_ >= addresses_.size() || attempts_ >= kMaxAttempts) {
        next_target();
        return;
    }
    ++attempts_;
    const sockaddr_storage addr = addresses_[next_address_++];
    char ip[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET)
        inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&addr)->sin_addr, ip, sizeof ip);
    else
        inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, ip, sizeof ip);
    log::debug("s2s", "{} -> {}: connecting to {} at {}", local_, remote_, target_text_, ip);
    connect_to(addr, direct_tls_);
}

void Outbound::connect_to(const sockaddr_storage& addr, bool direct_tls) {
    if (refused_) {
        fail(*error_, "refused by policy");
        return;
    }
    if (worker_.shutting_down()) {
        fail(StanzaError::cancel("remote-server-not-found", "the server is shutting down"), "shutting down");
        return;
    }
    const auto& lim = worker_.config().limits;
    // The peer only answers our stream's negotiation: the small limit.
    transport_ = new net::StreamTransport(
        worker_, xml::StreamLimits::for_stanza_bytes(lim.max_stanza_bytes_before_auth, lim.max_depth));
    transport_->set_user(this);
    phase_ = Phase::connecting;
    transport_->set_deadline(uint64_t{worker_.config().s2s.handshake_timeout_s} * 1000);
    Status s = transport_->connect(addr, [this, direct_tls](Status st) {
        if (!st) {
            error_ = std::make_unique<StanzaError>(
                StanzaError::cancel("remote-server-not-found", "cannot connect to " + remote_));
            log::info("s2s", "{} -> {}: {}: {}", local_, remote_, target_text_, st.message());
            return;  // the transport closes; on_transport_closed reports
        }
        if (direct_tls) {
            Status t = start_tls();
            if (!t) {
                fail(StanzaError::cancel("remote-server-not-found", "TLS to " + remote_ + " failed"), t.message());
                return;
            }
            phase_ = Phase::tls;
            return;  // the stream opens once TLS is up
        }
        open_stream();
    });
    if (!s) log::info("s2s", "{} -> {}: {}", local_, remote_, s.message());
}

Status Outbound::start_tls() {
    auto ctx = client_context(worker_.shared(), local_);
    if (!ctx) return Status::error("s2s", "no TLS client context for " + local_);
    net::TlsClientParams p;
    p.server_name = remote_;
    p.reference_id = remote_;
    // ALPN only on direct TLS (XEP-0368); STARTTLS has already said what the stream is.
    if (phase_ == Phase::connecting) p.alpn = {"xmpp-server"};
    return transport_->start_tls_client(ctx, p);
}

void Outbound::open_stream() {
    phase_ = Phase::features;
    transport_->send_stream_header(local_, remote_, {});
}

void Outbound::on_tls_established() {
    if (!transport_ || transport_->closing()) return;
    tls_up_ = true;
    const net::PeerVerification v = transport_->tls()->verify_domain(remote_);
    cert_ok_ = v.ok();
    log::debug("s2s", "{} -> {}: TLS up ({}); certificate: {}", local_, remote_, transport_->tls()->protocol_name(),
               v.text);
    if (!cert_ok_ && !worker_.config().s2s.dialback) {
        fail(StanzaError::cancel("remote-server-not-found",
                                 remote_ + " did not prove its identity with a valid certificate"),
             "certificate refused: " + v.text);
        return;
    }
    const module::S2sAuth auth{local_, remote_, false, cert_ok_, !cert_ok_, transport_->remote_ip()};
    if (auto refusal = links_.gate(auth)) {
        fail(StanzaError::cancel("policy-violation", *refusal), "refused by policy: " + *refusal);
        return;
    }
    open_stream();
}

void Outbound::on_stream_open(const xml::StreamHeader& header) {
    if (!transport_ || transport_->closing()) return;
    if (header.name != "stream" || header.ns != xml::kStreamNs || header.default_ns != xmpp::kNsServer) {
        fail(StanzaError::cancel("remote-server-not-found", remote_ + " does not speak the server protocol"),
             "bad stream header");
        return;
    }
    stream_id_ = std::string(header.attr("id"));
}

void Outbound::on_stanza(xml::Element el) {
    if (!transport_ || transport_->closing()) return;
    const std::string& ns = el.ns();
    const std::string& name = el.name();
    if (ns == xml::kStreamNs && name == "error") {
        std::string cond = "undefined-condition", text;
        for (const xml::Element& ce : el.children()) {
            if (ce.name() == "text") text = ce.text();
            else cond = ce.name();
        }
        fail(StanzaError::cancel("remote-server-not-found",
                                 remote_ + " refused the connection: " + cond + (text.empty() ? "" : " (" + text + ")")),
             "stream error from the peer: " + cond + (text.empty() ? "" : ": " + text));
        return;
    }
    if (ns == xml::kStreamNs && name == "features") return on_features(el);
    if (ns == kNsSm && phase_ == Phase::established) return on_sm(el);
    if (ns == kNsDialback && name == "verify") return on_verify_answer(el);
    if (phase_ == Phase::starttls && ns == xmpp::kNsTls) {
        if (name != "proceed") {
            fail(StanzaError::cancel("remote-server-not-found", remote_ + " refused TLS"), "STARTTLS refused");
            return;
        }
        Status s = start_tls();
        if (!s) {
            fail(StanzaError::cancel("remote-server-not-found", "TLS to " + remote_ + " failed"), s.message());
            return;
        }
        phase_ = Phase::tls;
        return;
    }
    if (phase_ == Phase::sasl && ns == xmpp::kNsSasl) {
        if (name == "success") {
            authenticated_ = true;
            transport_->restart_stream();
            open_stream();
            return;
        }
        try_dialback("SASL EXTERNAL was refused");
        return;
    }
    if (phase_ == Phase::dialback && ns == kNsDialback && name == "result") return on_dialback_result(el);
    if (phase_ == Phase::established && ns == xmpp::kNsServer && bidi_ &&
        (name == "message" || name == "presence" || name == "iq")) {
        // XEP-0288: the peer answers on our stream, only from the domain
        // its certificate proved, only to ours.
        touch();
        auto refusal = receive_stanza(
            worker_, el, [this](const std::string& d) { return d == remote_; },
            [this](const std::string& d) { return d == local_; }, remote_);
        if (refusal) transport_->stream_error(refusal->condition, refusal->text);
        return;
    }
    if (phase_ == Phase::established && ns == xmpp::kNsServer) {
        // One direction per stream (RFC 6120 §4.2.2) unless bidi was agreed.
        transport_->stream_error(xmpp::StreamErrorCondition::unsupported_stanza_type,
                                 "this stream carries stanzas one way; open a stream of your own");
        return;
    }
    transport_->stream_error(xmpp::StreamErrorCondition::unsupported_stanza_type,
                             "unexpected element <" + name + "> in namespace '" + ns + "'");
}

void Outbound::on_features(const xml::Element& features) {
    if (phase_ != Phase::features) return;
    if (!transport_->secure()) {
        if (!features.child("starttls", xmpp::kNsTls)) {
            fail(StanzaError::cancel("remote-server-not-found", remote_ + " does not offer TLS"),
                 "no STARTTLS offered; this server federates only over TLS");
            return;
        }
        phase_ = Phase::starttls;
        transport_->send_raw("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        return;
    }
    send_verifies();
    if (features.child("sm", kNsSm)) sm_offered_ = true;
    // XEP-0288: ask the peer to use this stream for its stanzas to us too,
    // when its certificate proves its domain (its stanzas are then as
    // authenticated as on a stream it opened) and policy would accept it
    // as a sender.
    if (!bidi_ && !authenticated_ && cert_ok_ && worker_.config().s2s.bidi &&
        features.child("bidi", kNsBidiFeature)) {
        const module::S2sAuth in{local_, remote_, true, true, false, transport_->remote_ip()};
        if (!links_.gate(in)) {
            bidi_ = true;
            transport_->send_raw("<bidi xmlns='urn:xmpp:bidi'/>");
        }
    }
    if (authenticated_) {
        phase_ = Phase::established;
        start_sm();
        links_.link_established(*this);
        return;
    }
    bool external = false;
    if (const xml::Element* mechs = features.child("mechanisms", xmpp::kNsSasl))
        for (const xml::Element& m : mechs->children())
            if (m.name() == "mechanism" && m.text() == "EXTERNAL") external = true;
    if (external) {
        phase_ = Phase::sasl;
        // XEP-0178 §2: the authorization identity is our domain.
        transport_->send_raw("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" +
                             xmpp::base64_encode(local_) + "</auth>");
        return;
    }
    try_dialback("the peer does not offer SASL EXTERNAL");
}

void Outbound::try_dialback(const std::string& why) {
    if (!worker_.config().s2s.dialback) {
        fail(StanzaError::cancel("remote-server-not-found", "could not authenticate to " + remote_),
             why + ", and dialback is off");
        return;
    }
    if (stream_id_.empty()) {
        fail(StanzaError::cancel("remote-server-not-found", "could not authenticate to " + remote_),
             why + ", and the peer's stream has no id for dialback");
        return;
    }
    phase_ = Phase::dialback;
    xml::Element r("result", std::string(kNsDialback));
    r.set_attr("from", local_);
    r.set_attr("to", remote_);
    r.add_text(dialback_key(worker_.shared().dialback_secret, remote_, local_, stream_id_));
    transport_->send(r);
}

void Outbound::on_dialback_result(const xml::Element& el) {
    if (el.attr_or("from") != remote_ || el.attr_or("to") != local_) return;  // another pair's answer
    const std::string_view type = el.attr_or("type");
    if (type == "valid") {
        log::info("s2s", "{} -> {}: established (dialback{}{})", local_, remote_,
                  cert_ok_ ? ", certificate valid" : ", certificate not verified", bidi_ ? ", bidirectional" : "");
        phase_ = Phase::established;
        start_sm();
        links_.link_established(*this);
        return;
    }
    fail(StanzaError::cancel("remote-server-not-found", remote_ + " did not accept this server's identity"),
         std::string("dialback answered ") + std::string(type.empty() ? "nothing" : type));
}

void Outbound::send_verifies() {
    if (!transport_ || transport_->closing() || !transport_->secure()) return;
    if (phase_ != Phase::features && phase_ != Phase::sasl && phase_ != Phase::dialback && phase_ != Phase::established)
        return;
    for (auto& r : links_.take_verifies(local_, remote_)) {
        xml::Element v("verify", std::string(kNsDialback));
        v.set_attr("from", local_);
        v.set_attr("to", remote_);
        v.set_attr("id", r.stream_id);
        v.add_text(r.key);
        transport_->send(v);
        verifies_[r.stream_id].push_back(std::move(r));
    }
}

void Outbound::on_verify_answer(const xml::Element& el) {
    if (el.attr_or("from") != remote_ || el.attr_or("to") != local_) return;
    auto it = verifies_.find(std::string(el.attr_or("id")));
    if (it == verifies_.end() || it->second.empty()) return;
    VerifyRequest r = std::move(it->second.front());
    it->second.pop_front();
    if (it->second.empty()) verifies_.erase(it);
    if (r.done) r.done(el.attr_or("type") == "valid");
}

bool Outbound::send_stanza(xml::Element& stanza, bool retried) {
    if (phase_ != Phase::established || !transport_ || transport_->closing()) return false;
    if (sm_ && !retried && fresh_unacked_ >= worker_.config().s2s.queue_max_stanzas) {
        // Bounded: a peer that acknowledges nothing loses the link; what
        // waits goes again on the next connection (Links), then bounces.
        // Stanzas sent again are not counted here, so that a connection
        // can carry them and new ones (at most twice the bound in memory).
        transport_->stream_error(xmpp::StreamErrorCondition::resource_constraint,
                                 "too many stanzas wait for an acknowledgement");
        return false;
    }
    transport_->send(component::translate_ns(stanza, xmpp::kNsClient, xmpp::kNsServer));
    touch();
    if (!sm_) return true;
    if (!retried) ++fresh_unacked_;
    unacked_.push_back(Links::Unconfirmed{std::move(stanza), retried});
    // One request outstanding at a time: an ack per round trip at most.
    ask_ack();
    links_.start_tick();
    return true;
}

void Outbound::start_sm() {
    if (!sm_offered_ || sm_ || !worker_.config().s2s.stream_management) return;
    sm_ = true;
    acked_ = 0;
    transport_->send_raw("<enable xmlns='urn:xmpp:sm:3'/>");
}

void Outbound::ask_ack() {
    if (!sm_ || ack_asked_ || phase_ != Phase::established || !transport_ || transport_->closing()) return;
    ack_asked_ = true;
    transport_->send_raw("<r xmlns='urn:xmpp:sm:3'/>");
}

void Outbound::on_sm(const xml::Element& el) {
    if (!sm_) {
        transport_->stream_error(xmpp::StreamErrorCondition::unsupported_stanza_type,
                                 "stream management was not enabled on this stream");
        return;
    }
    if (el.name() == "enabled") return;
    if (el.name() == "failed") {
        // The peer will not count: nothing sent can be confirmed.
        log::info("s2s", "{} -> {}: the peer refused stream management", local_, remote_);
        sm_ = false;
        unacked_.clear();
        fresh_unacked_ = 0;
        return;
    }
    if (el.name() == "r") {
        // We count nothing the peer sends here (bidi stanzas are not covered).
        transport_->send_raw("<a xmlns='urn:xmpp:sm:3' h='0'/>");
        return;
    }
    if (el.name() != "a") return;
    ack_asked_ = false;
    uint32_t h = 0;
    const std::string_view text = el.attr_or("h");
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), h);
    if (ec != std::errc() || end != text.data() + text.size()) {
        transport_->stream_error(xmpp::StreamErrorCondition::invalid_xml, "<a/> needs a numeric 'h'");
        return;
    }
    const uint32_t newly = h - acked_;  // modulo 2^32 (XEP-0198 §4)
    if (newly > unacked_.size()) {
        transport_->stream_error(xmpp::StreamErrorCondition::undefined_condition,
                                 "the peer acknowledged more stanzas than were sent");
        return;
    }
    for (uint32_t i = 0; i < newly; ++i) {
        if (!unacked_.front().retried) --fresh_unacked_;
        unacked_.pop_front();
    }
    acked_ = h;
}

void Outbound::touch() {
    const unsigned idle = worker_.config().s2s.idle_timeout_s;
    transport_->set_deadline(idle ? uint64_t{idle} * 1000 : 0);
}

void Outbound::close() {
    if (transport_ && !transport_->closing()) transport_->close_stream();
}

void Outbound::refuse(std::string text) {
    error_ = std::make_unique<StanzaError>(StanzaError::cancel("policy-violation", text));
    refused_ = true;
    if (!transport_) {
        refused_ = true;  // the lookup's end sees it
        return;
    }
    if (!transport_->closing()) transport_->stream_error(xmpp::StreamErrorCondition::policy_violation, text);
}

void Outbound::on_deadline() {
    if (phase_ == Phase::established) {
        log::info("s2s", "{} -> {}: idle, closing", local_, remote_);
        close();
        return;
    }
    fail(StanzaError::wait("remote-server-timeout", remote_ + " did not answer in time"), "handshake timed out");
}

void Outbound::on_stream_close() {
    log::info("s2s", "{} -> {}: the peer closed the stream", local_, remote_);
    if (transport_) transport_->close_stream();
}

void Outbound::fail(StanzaError error, const std::string& log_text) {
    log::info("s2s", "{} -> {}: {}", local_, remote_, log_text);
    if (!error_) error_ = std::make_unique<StanzaError>(std::move(error));
    if (transport_) {
        if (!transport_->closing()) {
            if (phase_ == Phase::resolving || phase_ == Phase::connecting) transport_->close_now();
            else
                transport_->stream_error(error_->condition == "policy-violation"
                                             ? xmpp::StreamErrorCondition::policy_violation
                                             : xmpp::StreamErrorCondition::undefined_condition,
                                         log_text);
        }
        return;  // on_transport_closed reports and deletes
    }
    // Nothing was connected: report and go.
    on_transport_closed();
}

void Outbound::on_transport_closed() {
    // Before TLS was up, another address or target may do better
    // (RFC 6120 §3.2.1 step 5); the transport is gone either way.
    if (!tls_up_ && !refused_ && !reported_ && phase_ != Phase::closed && !worker_.shutting_down() &&
        (next_address_ < addresses_.size() || next_target_ < targets_.size()) && attempts_ < kMaxAttempts) {
        transport_ = nullptr;
        phase_ = Phase::resolving;
        stream_id_.clear();
        error_.reset();
        next_address();
        return;
    }
    std::unique_ptr<Outbound> self(this);
    const bool was_up = phase_ == Phase::established;
    phase_ = Phase::closed;
    transport_ = nullptr;
    // Verifications sent and not answered: not valid.
    for (auto& [id, list] : verifies_)
        for (auto& r : list)
            if (r.done) r.done(false);
    verifies_.clear();
    if (reported_) return;
    reported_ = true;
    if (!was_up && !error_)
        error_ = std::make_unique<StanzaError>(
            StanzaError::cancel("remote-server-not-found", "the connection to " + remote_ + " was lost"));
    // A link policy ended: what it carried is neither sent again nor
    // bounced (it most likely arrived; the domain is refused from now on).
    if (refused_ && !unacked_.empty())
        log::info("s2s", "{} -> {}: {} stanza(s) not acknowledged when policy closed the link", local_, remote_,
                  unacked_.size());
    links_.link_closed(*this, was_up ? nullptr : error_.get(),
                       refused_ ? std::deque<Links::Unconfirmed>{} : std::exchange(unacked_, {}));
}

}  // namespace parley::s2s

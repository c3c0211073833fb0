#include "s2s/outbound.hpp"

#include <netdb.h>

#include <algorithm>
#include <cstring>

#include "component/handshake.hpp"
#include "log/log.hpp"
#include "loop/worker.hpp"
#include "net/stream_transport.hpp"
#include "s2s/dialback.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::s2s {

namespace {

struct Lookup {
    uv_getaddrinfo_t req{};
    Outbound* self = nullptr;
    uint16_t port = 5269;
};

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
        connect_to(addr, r->direct_tls);
        return;
    }
    // No route: the domain's own addresses (A/AAAA) on the default port,
    // looked up off the loop.
    auto* l = new Lookup();
    l->self = this;
    l->req.data = l;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = uv_getaddrinfo(worker_.loop(), &l->req, &Outbound::on_resolved, remote_.c_str(), "5269", &hints);
    if (rc != 0) {
        delete l;
        fail(StanzaError::cancel("remote-server-not-found", "cannot look up " + remote_),
             std::string("lookup: ") + uv_strerror(rc));
    }
}

void Outbound::on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res) {
    std::unique_ptr<Lookup> l(static_cast<Lookup*>(req->data));
    Outbound* self = l->self;
    if (status != 0 || !res) {
        if (res) uv_freeaddrinfo(res);
        self->fail(StanzaError::cancel("remote-server-not-found", "the domain " + self->remote_ + " was not found"),
                   std::string("lookup failed: ") + uv_strerror(status));
        return;
    }
    sockaddr_storage addr{};
    std::memcpy(&addr, res->ai_addr, std::min<size_t>(res->ai_addrlen, sizeof addr));
    uv_freeaddrinfo(res);
    self->connect_to(addr, false);
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
            log::info("s2s", "{} -> {}: {}", local_, remote_, st.message());
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
    if (phase_ == Phase::established && ns == xmpp::kNsServer) {
        // One direction per stream (RFC 6120 §4.2.2): nothing comes back on ours.
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
    if (authenticated_) {
        phase_ = Phase::established;
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
        log::info("s2s", "{} -> {}: established (dialback{})", local_, remote_,
                  cert_ok_ ? ", certificate valid" : ", certificate not verified");
        phase_ = Phase::established;
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

void Outbound::send_stanza(const xml::Element& stanza) {
    if (phase_ != Phase::established || !transport_ || transport_->closing()) return;
    transport_->send(component::translate_ns(stanza, xmpp::kNsClient, xmpp::kNsServer));
    touch();
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
    links_.link_closed(*this, was_up ? nullptr : error_.get());
}

}  // namespace parley::s2s

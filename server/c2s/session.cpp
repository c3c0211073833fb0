// c2s::Session: stream header, features, STARTTLS, SASL and bind.
// The established phase is in established.cpp.
#include "c2s/session.hpp"

#include <gnutls/crypto.h>

#include <charconv>
#include <ctime>

#include "log/log.hpp"
#include "net/stream_transport.hpp"
#include "loop/worker.hpp"
#include "router/router.hpp"
#include "xml/serializer.hpp"
#include "xmpp/base64.hpp"
#include "xmpp/hex.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::c2s {

using xmpp::StreamErrorCondition;

namespace {

constexpr int kMaxSaslFailures = 5;

// Before authentication a peer is anonymous: small stanzas only (SASL and
// bind fit in RFC 6120's 10000 bytes).
xml::StreamLimits limits_before_auth(const loop::Worker& w) {
    const auto& l = w.config().limits;
    return xml::StreamLimits::for_stanza_bytes(l.max_stanza_bytes_before_auth, l.max_depth);
}

xml::StreamLimits limits_after_auth(const loop::Worker& w) {
    const auto& l = w.config().limits;
    return xml::StreamLimits::for_stanza_bytes(l.max_stanza_bytes, l.max_depth);
}

// Answers an iq before authentication on the stream it came from, if that
// stream is still open; unanswered, it answers internal-server-error.
class PreAuthResponder final : public module::IqResponder {
public:
    PreAuthResponder(std::weak_ptr<Session*> session, xml::Element request)
        : session_(std::move(session)), request_(std::move(request)) {}
    ~PreAuthResponder() override {
        if (!answered_) error(StanzaError::cancel("internal-server-error", "the request was not answered"));
    }
    void result(std::optional<xml::Element> payload) override {
        if (answered_) return;
        answered_ = true;
        auto s = session_.lock();
        if (!s || (*s)->closing()) return;
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "result");
        iq.set_attr("id", std::string(request_.attr_or("id")));
        if (payload) iq.add_child(std::move(*payload));
        (*s)->send(iq);
    }
    void error(const StanzaError& e) override {
        if (answered_) return;
        answered_ = true;
        auto s = session_.lock();
        if (!s || (*s)->closing()) return;
        // Without the request's payload: it may hold a password (XEP-0077).
        xml::Element bare("iq", request_.ns());
        for (const auto& a : request_.attrs()) bare.set_attr(a.name, a.value);
        xml::Element reply = xmpp::make_error_reply(bare, e);
        reply.remove_attr("from");
        reply.remove_attr("to");
        (*s)->send(reply);
    }

private:
    std::weak_ptr<Session*> session_;
    xml::Element request_;
    bool answered_ = false;
};

}  // namespace

Session::Session(loop::Worker& worker, net::Transport& transport, net::TlsSession::Mode mode)
    : worker_(worker), transport_(&transport), mode_(mode) {
    transport.set_user(this);
    set_deadline(uint64_t{worker.config().c2s.handshake_timeout_s} * 1000);
}

Status Session::accept(loop::Worker& worker, uv_stream_t* server, net::TlsSession::Mode mode) {
    auto* transport = new net::StreamTransport(worker, limits_before_auth(worker));
    new Session(worker, *transport, mode);  // owned by the transport's lifetime from here
    // TLS starts only once the socket is ours: closing before the accept
    // would leave the pending connection's fd to a closed handle, never to
    // be closed.
    Status s = transport->accept_from(server, mode == net::TlsSession::Mode::direct);
    if (!s || transport->closing()) return s;  // refused by a connection limit: closing already
    if (mode == net::TlsSession::Mode::direct) {
        s = transport->start_tls(mode);
        if (!s) {
            transport->close_now();
            return Status::error("tls", "cannot start TLS: " + s.message());
        }
    }
    return Status::ok();
}

Session::Session(loop::Worker& worker) : worker_(worker), transport_(nullptr), mode_(net::TlsSession::Mode::starttls) {}

Session::~Session() = default;

void Session::on_deadline() { stream_error(StreamErrorCondition::connection_timeout, "timed out"); }

std::string_view Session::default_ns() const { return xmpp::kNsClient; }

void Session::on_tls_established() {
    log::debug("c2s", "{}: TLS established ({}{})", remote_ip(), tls()->protocol_name(),
               tls()->alpn().empty() ? "" : ", ALPN " + tls()->alpn());
}

void Session::on_stream_open(const xml::StreamHeader& header) {
    if (closing()) return;
    const config::Config& cfg = worker().config();
    // RFC 6120 §4.7.5 and §4.8: the stream element and namespaces.
    if (header.name != "stream" || header.ns != xml::kStreamNs) {
        stream_error(StreamErrorCondition::invalid_namespace, "the stream element must be stream:stream in "
                                                              "http://etherx.jabber.org/streams");
        return;
    }
    if (header.default_ns != xmpp::kNsClient) {
        stream_error(StreamErrorCondition::invalid_namespace, "the content namespace of a client stream must be "
                                                              "jabber:client");
        return;
    }
    const std::string to(header.attr("to"));
    const std::string version(header.attr("version"));
    const std::string client_from(header.attr("from"));

    // Answer with a header first so that any error below is well-formed.
    std::string domain;
    if (to.empty()) {
        domain = domain_.empty() ? cfg.hosts.front().domain : domain_;
    } else {
        auto j = xmpp::Jid::parse(to);
        if (j && !j->has_node() && !j->has_resource()) domain = j->domain();
    }
    const bool hosted = !domain.empty() && cfg.find_host(domain) != nullptr;
    state_.stream_id = xmpp::random_hex(12);
    std::string reply_to;
    if (auto f = xmpp::Jid::parse(client_from); f && !client_from.empty()) reply_to = f->str();
    send_stream_header(hosted ? domain : std::string_view{}, reply_to, state_.stream_id);
    if (!hosted) {
        stream_error(StreamErrorCondition::host_unknown, "this server does not serve that domain");
        return;
    }
    if (!domain_.empty() && domain != domain_) {
        stream_error(StreamErrorCondition::host_unknown, "the domain changed across a stream restart");
        return;
    }
    domain_ = domain;
    // RFC 6120 §4.7.5: major version 1 is what we speak; none means pre-1.0.
    int major = 0;
    auto dot = version.find('.');
    auto [p, ec] = std::from_chars(version.data(), version.data() + (dot == std::string::npos ? version.size() : dot), major);
    (void)p;
    if (version.empty() || ec != std::errc() || dot == std::string::npos || major < 1) {
        stream_error(StreamErrorCondition::unsupported_version, "XMPP version 1.0 is required");
        return;
    }
    if (phase_ == Phase::header) phase_ = Phase::negotiating;
    send_features();
}

void Session::send_features() {
    const config::Config& cfg = worker().config();
    xml::Element features("features", std::string(xml::kStreamNs));
    if (phase_ == Phase::authenticated) {
        features.add_child("bind", std::string(xmpp::kNsBind));
        // RFC 3921 session establishment, optional per RFC 6121 appendix E,
        // for clients that still send it.
        features.add_child("session", std::string(xmpp::kNsSession)).add_child("optional", std::string(xmpp::kNsSession));
        worker().hooks().stream_features(module::StreamStage::after_auth, stream_info(), features);
        send(features);
        return;
    }
    if (!secure()) {
        auto& st = features.add_child("starttls", std::string(xmpp::kNsTls));
        if (cfg.c2s.require_encryption) st.add_child("required", std::string(xmpp::kNsTls));
    }
    if (secure() || !cfg.c2s.require_encryption) {
        reset_sasl();
        if (!sasl_) {
            stream_error(StreamErrorCondition::internal_server_error, "authentication is unavailable");
            return;
        }
        auto& mechs = features.add_child("mechanisms", std::string(xmpp::kNsSasl));
        for (const auto& m : sasl_->mechanisms()) mechs.add_child("mechanism", std::string(xmpp::kNsSasl)).add_text(m);
        // XEP-0440: which channel binding -PLUS means on this stream, so that
        // a client does not have to guess (tls-unique does not exist on TLS 1.3).
        const auto types = sasl_->channel_binding_types();
        if (!types.empty()) {
            auto& cb = features.add_child("sasl-channel-binding", std::string(xmpp::kNsChannelBinding));
            for (const auto& t : types)
                cb.add_child("channel-binding", std::string(xmpp::kNsChannelBinding)).set_attr("type", t);
        }
        worker().hooks().stream_features(module::StreamStage::before_auth, stream_info(), features);
    }
    send(features);
}

module::StreamInfo Session::stream_info() const {
    return module::StreamInfo{domain_, state_.stream_id, secure(), state_.id, state_.jid,
                              transport_ ? std::string_view(remote_ip()) : std::string_view()};
}

bool Session::handle_nonza(const xml::Element& el) {
    const module::StreamStage stage = phase_ == Phase::bound           ? module::StreamStage::bound
                                      : phase_ == Phase::authenticated ? module::StreamStage::after_auth
                                                                       : module::StreamStage::before_auth;
    const module::NonzaHandler* h = worker().hooks().find_nonza(stage, el.ns(), el.name());
    if (!h) return false;
    Control control(*this);
    try {
        (*h)(stream_info(), el, control);
    } catch (const std::exception& e) {
        log::error("c2s", "nonza handler for {{{}}}{} failed: {}", el.ns(), el.name(), e.what());
        stream_error(StreamErrorCondition::internal_server_error, "a server module failed");
    }
    return true;
}

bool Session::handle_pre_auth_iq(const xml::Element& el) {
    const std::string_view type = el.attr_or("type");
    if (type != "get" && type != "set") return false;
    const xml::Element* payload = el.first_child();
    if (!payload || el.child_count() != 1 || !el.attr("id")) return false;
    const module::IqHandler* h =
        worker().hooks().find_iq(module::IqTarget::pre_auth, type, payload->ns(), payload->name());
    if (!h) return false;
    // Made on first use: most streams never need a weak reference to themselves.
    if (!alive_) alive_ = std::make_shared<Session*>(this);
    auto responder = std::make_shared<PreAuthResponder>(alive_, el);
    static const xmpp::Jid kNobody;
    const module::StreamInfo info = stream_info();
    module::IqRequest req{el, *payload, kNobody, kNobody, &info};
    try {
        (*h)(req, responder);
    } catch (const std::exception& e) {
        log::error("c2s", "pre-authentication iq handler for {{{}}}{} failed: {}", payload->ns(), payload->name(),
                   e.what());
        responder->error(StanzaError::cancel("internal-server-error", "a server module failed"));
    }
    return true;
}

void Session::on_stanza(xml::Element el) {
    if (closing()) return;
    if (phase_ == Phase::bound) {
        if (el.ns() != xmpp::kNsClient && handle_nonza(el)) return;
        handle_established(std::move(el));
        return;
    }
    const std::string& ns = el.ns();
    if (ns == xmpp::kNsTls && el.name() == "starttls") {
        handle_starttls(el);
    } else if (ns == xmpp::kNsSasl && el.name() == "auth") {
        handle_auth(el);
    } else if (ns == xmpp::kNsSasl && el.name() == "response") {
        handle_sasl_response(el);
    } else if (ns == xmpp::kNsSasl && el.name() == "abort") {
        handle_sasl_abort();
    } else if (phase_ == Phase::authenticated && ns == xmpp::kNsClient && el.name() == "iq") {
        const xml::Element* bind = el.child("bind", xmpp::kNsBind);
        if (bind && el.attr_or("type") == "set") {
            handle_bind(el);
        } else if (el.attr_or("type") == "get" || el.attr_or("type") == "set") {
            send_iq_error(el, StanzaError::auth("not-authorized", "bind a resource first"));
        }
    } else if (phase_ != Phase::authenticated && ns == xmpp::kNsClient && el.name() == "iq" &&
               handle_pre_auth_iq(el)) {
        // XEP-0077 and the like: a module answers on this stream.
    } else if (ns == xmpp::kNsClient && (el.name() == "iq" || el.name() == "message" || el.name() == "presence")) {
        // RFC 6120 §6.4.? and §4.9.3.12: no stanzas before authentication (and bind).
        stream_error(StreamErrorCondition::not_authorized, "authenticate and bind a resource before sending stanzas");
    } else if (handle_nonza(el)) {
        // A module's element (XEP-0198 <resume/> before bind, ...).
    } else {
        stream_error(StreamErrorCondition::unsupported_stanza_type,
                     "unexpected element <" + el.name() + "> in namespace '" + el.ns() + "'");
    }
}

void Session::on_stream_close() {
    log::debug("c2s", "{}: client closed the stream", remote_ip());
    close_stream();
}

void Session::handle_starttls(const xml::Element&) {
    if (secure() || tls() != nullptr || phase_ != Phase::negotiating) {
        send_raw("<failure xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        close_stream();
        return;
    }
    send_raw("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
    // The proceed must reach the client in clear before any TLS record.
    flush();
    starttls_after_current();
}

void Session::handle_auth(const xml::Element& el) {
    if (delay_ != nullptr || sasl_busy_) return;  // a failure is being delayed, or a check runs; the client must wait
    if (phase_ == Phase::authenticated || phase_ == Phase::bound) {
        stream_error(StreamErrorCondition::policy_violation, "already authenticated");
        return;
    }
    const std::string mech = std::string(el.attr_or("mechanism"));
    const config::Config& cfg = worker().config();
    if (!secure() && (cfg.c2s.require_encryption || mech == "PLAIN")) {
        sasl_failure("encryption-required", "TLS is required before authentication");
        return;
    }
    if (!sasl_) {
        sasl_failure("temporary-auth-failure", "authentication is not available now");
        return;
    }
    const auto offered = sasl_->mechanisms();
    if (mech.empty() || std::find(offered.begin(), offered.end(), mech) == offered.end()) {
        sasl_failure("invalid-mechanism", "mechanism not offered");
        return;
    }
    std::optional<std::string> initial;
    const std::string text = el.text();
    if (!text.empty()) {
        if (text == "=") {
            initial = std::string();  // RFC 6120 §6.4.2: an empty initial response
        } else {
            auto decoded = xmpp::base64_decode(text);
            if (!decoded) {
                sasl_failure("incorrect-encoding", "the initial response is not valid base64");
                return;
            }
            initial = std::move(decoded.value());
        }
    }
    phase_ = Phase::sasl;
    sasl_mech_ = mech;
    sasl_user_.clear();
    sasl_first_pending_ = !initial;
    if (initial && (!binding_type_supported(*initial) || !admitted_by_throttle(*initial))) return;
    if (checks_password(mech)) {
        sasl_off_loop([mech, initial](sasl::ServerSession& ss) {
            return initial ? ss.start(mech, std::string_view(*initial)) : ss.start(mech, std::nullopt);
        });
        return;
    }
    sasl::Outcome out = initial ? sasl_->start(mech, std::string_view(*initial)) : sasl_->start(mech, std::nullopt);
    finish_sasl_step(std::move(out));
}

void Session::handle_sasl_response(const xml::Element& el) {
    if (delay_ != nullptr || sasl_busy_) return;
    if (phase_ != Phase::sasl || !sasl_) {
        sasl_failure("malformed-request", "no authentication exchange is in progress");
        return;
    }
    std::string data;
    const std::string text = el.text();
    if (!text.empty() && text != "=") {
        auto decoded = xmpp::base64_decode(text);
        if (!decoded) {
            sasl_failure("incorrect-encoding", "the response is not valid base64");
            return;
        }
        data = std::move(decoded.value());
    }
    if (sasl_first_pending_) {
        sasl_first_pending_ = false;
        if (!binding_type_supported(data) || !admitted_by_throttle(data)) return;
    }
    if (checks_password(sasl_mech_)) {
        sasl_off_loop([data = std::move(data)](sasl::ServerSession& ss) { return ss.step(data); });
        return;
    }
    finish_sasl_step(sasl_->step(data));
}

void Session::handle_sasl_abort() {
    if (delay_ != nullptr || sasl_busy_) return;
    phase_ = Phase::negotiating;
    send_raw("<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><aborted/></failure>");
    reset_sasl();
}

void Session::reset_sasl() {
    // A fresh SASL context per attempt; -PLUS needs the TLS channel binding.
    sasl_.reset();
    if (!secure() && worker().config().c2s.require_encryption) return;
    // The binding of this TLS session: tls-unique on TLS 1.2, tls-exporter
    // (RFC 9266) on TLS 1.3; -PLUS is offered with it and its type is
    // announced with XEP-0440 (send_features).
    std::optional<net::ChannelBindingData> cbd;
    if (secure() && tls()) cbd = tls()->channel_binding();  // an in-memory transport has no TLS layer
    if (cbd && cbd->name == "tls-exporter" && !worker().config().sasl.plus_on_tls13) cbd.reset();
    sasl::ChannelBinding cb;
    if (cbd) cb = sasl::ChannelBinding{cbd->name, cbd->data};
    auto s = sasl::ServerSession::create(domain_, local_addr(), remote_addr(), secure(), cbd ? &cb : nullptr);
    if (s) sasl_ = std::move(s.value());
    else log::error("sasl", "cannot start SASL: {}", s.status().message());
}

bool Session::checks_password(std::string_view mech) {
    // PLAIN verifies a password: PBKDF2 over the stored salt, milliseconds
    // of CPU. SCRAM compares stored keys and stays on the loop.
    return mech == "PLAIN";
}

namespace {

// Password checks queued or running on the thread pool for this worker.
// Jobs are started and finished on the worker's loop thread (uv_queue_work's
// completion runs on the loop), and a worker is one thread, so a
// thread-local count is the worker's count without a lock.
thread_local uint32_t t_queued_checks = 0;
// Refusals over the bound are logged once a minute per worker, with how
// many there were: a flood must not become a flood of log lines.
thread_local uint64_t t_refusals_unlogged = 0;
thread_local uint64_t t_refusal_logged_ms = 0;
constexpr uint64_t kRefusalLogIntervalMs = 60000;

struct SaslJob {
    uv_work_t req{};
    Session* session = nullptr;
    std::unique_ptr<sasl::ServerSession> sasl;
    std::function<sasl::Outcome(sasl::ServerSession&)> fn;
    sasl::Outcome out;
};

sasl::Outcome temporary_failure(const char* text) {
    sasl::Outcome o;
    o.kind = sasl::Outcome::Kind::failure;
    o.condition = "temporary-auth-failure";
    o.text = text;
    return o;
}

}  // namespace

void Session::sasl_off_loop(std::function<sasl::Outcome(sasl::ServerSession&)> fn) {
    // libuv's thread pool queues without bound; clients sending PLAIN
    // faster than PBKDF2 runs would grow the queue (and everyone's wait)
    // without limit. Past the bound a new check is refused at once, as a
    // server condition: it is not counted against the account or address.
    if (t_queued_checks >= worker().config().sasl.max_queued_password_checks) {
        ++t_refusals_unlogged;
        const uint64_t now = uv_now(worker().loop());
        if (t_refusal_logged_ms == 0 || now - t_refusal_logged_ms >= kRefusalLogIntervalMs) {
            log::warn("c2s", "{}: {} password checks already queued on worker {}; refused {} since the last report",
                      remote_ip(), t_queued_checks, worker().index(), t_refusals_unlogged);
            t_refusals_unlogged = 0;
            t_refusal_logged_ms = now;
        }
        phase_ = Phase::negotiating;
        ++sasl_failures_;
        reset_sasl();
        send_sasl_failure("temporary-auth-failure", "the server is busy; try again", 0);
        return;
    }
    // The Cyrus context moves to the job for its duration (one thread at a
    // time uses it); the job holds this session so that it outlives the job.
    auto* job = new SaslJob();
    job->req.data = job;
    job->session = this;
    job->sasl = std::move(sasl_);
    job->fn = std::move(fn);
    sasl_busy_ = true;
    hold();
    ++t_queued_checks;
    int rc = uv_queue_work(
        worker().loop(), &job->req,
        [](uv_work_t* r) {
            auto* j = static_cast<SaslJob*>(r->data);
            try {
                j->out = j->fn(*j->sasl);
            } catch (...) {
                j->out = temporary_failure("authentication failed inside the server");
            }
        },
        [](uv_work_t* r, int status) {
            auto* j = static_cast<SaslJob*>(r->data);
            Session* self = j->session;
            --t_queued_checks;
            self->sasl_busy_ = false;
            if (status == 0 && !self->closing()) {
                self->sasl_ = std::move(j->sasl);
                self->finish_sasl_step(std::move(j->out));
            }
            delete j;
            self->release();
        });
    if (rc != 0) {
        // A failed call means no callback: undo here.
        --t_queued_checks;
        sasl_ = std::move(job->sasl);
        sasl_busy_ = false;
        delete job;
        release();
        finish_sasl_step(temporary_failure("authentication is busy; try again"));
    }
}

void Session::finish_sasl_step(sasl::Outcome out) {
    if (sasl_ && !sasl_->attempted_user().empty()) sasl_user_ = sasl_->attempted_user();
    switch (out.kind) {
        case sasl::Outcome::Kind::challenge: {
            xml::Element c("challenge", std::string(xmpp::kNsSasl));
            c.add_text(out.data.empty() ? std::string("=") : xmpp::base64_encode(out.data));
            send(c);
            return;
        }
        case sasl::Outcome::Kind::success: {
            auto jid = xmpp::Jid::make(out.node, domain_);
            if (!jid) {
                sasl_failure("not-authorized", "authentication failed");
                return;
            }
            worker().shared().throttle->success(jid->bare_str(), remote_ip());
            log::info("c2s", "{} authenticated from {} with {}", jid->bare_str(), remote_ip(), sasl_mech_);
            state_.jid = jid.value();
            xml::Element s("success", std::string(xmpp::kNsSasl));
            if (!out.data.empty()) s.add_text(xmpp::base64_encode(out.data));
            send(s);
            sasl_.reset();
            phase_ = Phase::authenticated;
            authenticated(limits_after_auth(worker()));
            restart_stream();
            return;
        }
        case sasl::Outcome::Kind::failure:
            sasl_failure(out.condition.empty() ? "not-authorized" : out.condition, out.text);
            return;
    }
}

bool Session::binding_type_supported(std::string_view first) {
    // COMPAT(slixmpp 1.8 and other clients on CPython's ssl, which binds
    // with tls-unique even on TLS 1.3): a -PLUS attempt naming a binding
    // type this stream does not have (XEP-0440 lists the ones it has) is
    // refused at once, before anything is evaluated. It is not a guess at a
    // password, so it is not counted by the login throttle and not delayed:
    // such a client moves on quickly to another mechanism.
    //
    // Likewise a SCRAM client that says "y" (it can bind but believes we
    // cannot) on a stream where we offered -PLUS: RFC 5802 §6 requires the
    // failure, as -PLUS was stripped on the way or the client is confused.
    // Cyrus would refuse it too, but only after checking the password (a
    // right one gives another error than a wrong one); refused here, before
    // any evaluation, it tells nothing and is not counted either.
    if (!sasl_ || sasl_mech_.rfind("SCRAM-", 0) != 0) return true;
    const auto types = sasl_->channel_binding_types();
    std::string why;
    if (first.substr(0, 2) == "y," && !types.empty()) {
        why = "channel binding is offered on this stream (a -PLUS mechanism was removed on the way?)";
        log::info("c2s", "{}: {} with gs2 flag 'y' on a stream offering channel binding: refused", remote_ip(),
                  sasl_mech_);
    } else {
        const std::string name = sasl::gs2_channel_binding_name(first);
        if (name.empty() || std::find(types.begin(), types.end(), name) != types.end()) return true;
        why = "that channel binding type is not offered on this stream";
        log::info("c2s", "{}: {} with channel binding '{}', which this stream does not offer", remote_ip(),
                  sasl_mech_, name.size() > 64 ? name.substr(0, 64) : name);
    }
    phase_ = Phase::negotiating;
    ++sasl_failures_;
    reset_sasl();
    send_sasl_failure("not-authorized", why, 0);
    return false;
}

bool Session::admitted_by_throttle(std::string_view first) {
    // Before Cyrus or the password check sees anything: a refused attempt
    // is answered like a wrong password after the throttle's delay, whether
    // its password was right or not, and costs the server no PBKDF2.
    const std::string node = sasl::authcid_in(sasl_mech_, first, domain_);
    if (node.empty() && (sasl_mech_ == "PLAIN" || sasl_mech_.rfind("SCRAM-", 0) == 0)) {
        // These mechanisms name the account in their first message: one we
        // cannot read (or prepare) could not be throttled per account, so
        // Cyrus does not evaluate it either. A failure of this address.
        sasl_failure("not-authorized", "authentication failed");
        return false;
    }
    sasl_user_ = node;
    const std::string account = node.empty() ? std::string() : node + "@" + domain_;
    const auto a = worker().shared().throttle->admit(account, remote_ip());
    if (a.admitted) return true;
    log::info("c2s", "authentication for '{}' from {} throttled: refused unevaluated", account, remote_ip());
    phase_ = Phase::negotiating;
    ++sasl_failures_;
    reset_sasl();
    send_sasl_failure("not-authorized", "authentication failed", a.delay_ms);
    return false;
}

void Session::sasl_failure(const std::string& condition, const std::string& text) {
    phase_ = Phase::negotiating;
    ++sasl_failures_;
    std::string account = sasl_user_.empty() ? std::string() : sasl_user_ + "@" + domain_;
    auto* throttle = worker().shared().throttle;
    throttle->failure(account, remote_ip());
    uint64_t delay = throttle->delay_ms(account, remote_ip());
    log::info("c2s", "authentication failed for '{}' from {}: {}", account, remote_ip(), condition);
    reset_sasl();
    send_sasl_failure(condition, text, delay);
}

void Session::send_sasl_failure(const std::string& condition, const std::string& text, uint64_t delay) {
    xml::Element f("failure", std::string(xmpp::kNsSasl));
    f.add_child(condition, std::string(xmpp::kNsSasl));
    if (!text.empty()) {
        auto& t = f.add_child("text", std::string(xmpp::kNsSasl));
        t.set_attr(xml::xml_lang(), "en");
        t.add_text(text);
    }
    const bool give_up = sasl_failures_ >= kMaxSaslFailures;
    auto respond = [this, f = std::move(f), give_up]() {
        delay_ = nullptr;
        if (closing()) return;
        send(f);
        if (give_up) stream_error(StreamErrorCondition::policy_violation, "too many failed authentication attempts");
    };
    if (delay == 0) {
        respond();
    } else {
        // Each failure costs the client a growing wait (per account and per
        // address). The loop's clock is brought up to date first so that the
        // reply never leaves before the throttle's wait has passed.
        uv_update_time(worker().loop());
        delay_ = loop::Delay::start(worker().loop(), delay, std::move(respond));
    }
}

void Session::handle_bind(const xml::Element& iq) {
    const config::Config& cfg = worker().config();
    const xml::Element* bind = iq.child("bind", xmpp::kNsBind);
    std::string resource;
    if (const xml::Element* r = bind->child("resource", xmpp::kNsBind)) resource = r->text();
    if (resource.empty()) resource = "parley-" + xmpp::random_hex(6);
    auto full = state_.jid.bare().with_resource(resource);
    if (!full) {
        send_iq_error(iq, StanzaError::modify("bad-request", "the resource is not a valid resourcepart"));
        return;
    }
    auto& shared = worker().shared();
    // The account may have been deleted while this stream negotiated.
    auto exists = shared.accounts->exists(full->node(), full->domain());
    if (!exists || !exists.value()) {
        stream_error(StreamErrorCondition::not_authorized, "the account no longer exists");
        return;
    }
    // The limit is checked by the registry in the same step as the insertion:
    // a check here and a bind later would let binds racing on two workers
    // both pass the check.
    const uint64_t id = shared.next_session_id();
    auto outcome = shared.registry->try_bind(full.value(), sessions::SessionRef{worker().index(), id},
                                             cfg.limits.max_sessions_per_account);
    if (outcome.refused) {
        send_iq_error(iq, StanzaError::cancel("resource-constraint", "too many sessions for this account"));
        return;
    }
    state_.id = id;
    state_.jid = full.value();
    state_.bound_unix = static_cast<int64_t>(std::time(nullptr));
    auto& old = outcome.replaced;
    worker().add_session(state_.id, this);
    phase_ = Phase::bound;
    set_deadline(0);
    if (old) {
        // RFC 6120 §7.7.2.2: the older session of this full JID is ended.
        uint64_t old_id = old->ref.session_id;
        auto end_old = [old_id](loop::Worker& w) {
            if (sessions::LocalSession* s = w.find_session(old_id))
                s->end_with(StreamErrorCondition::conflict, "replaced by a new session with the same resource");
        };
        if (old->ref.worker == worker().index()) end_old(worker());
        else shared.workers[old->ref.worker]->post(end_old);
    }
    xml::Element result("iq", std::string(xmpp::kNsClient));
    result.set_attr("type", "result");
    if (const std::string* id = iq.attr("id")) result.set_attr("id", *id);
    result.add_child("bind", std::string(xmpp::kNsBind)).add_child("jid", std::string(xmpp::kNsBind)).add_text(state_.jid.str());
    send(result);
    log::info("c2s", "{} bound on worker {}", state_.jid.str(), worker().index());
    worker().hooks().fire(module::SessionEvent::bound,
                          sessions::SessionEntry{state_.jid, sessions::SessionRef{worker().index(), state_.id}, false, 0});
}

void Session::send_iq_error(const xml::Element& iq, const StanzaError& e) {
    if (xmpp::is_error_or_result(iq)) return;
    xml::Element reply = xmpp::make_error_reply(iq, e);
    send(reply);
}

void Session::end_with(StreamErrorCondition condition, std::string_view text) {
    if (phase_ == Phase::ended) return;  // going already
    if (!transport_) {
        finish();
        return;
    }
    stream_error(condition, text);
}

void Session::on_transport_closed() {
    // Kept only when the connection was lost: a stream that either side
    // ended (</stream:stream>, a stream error) ends its session.
    const bool lost = !transport_->stream_ended();
    transport_ = nullptr;
    if (phase_ == Phase::bound && lost && keep_ms() > 0 && !worker().shutting_down()) {
        detach();
        return;
    }
    // The transport's last call: this session ends with it, and is deleted
    // when this function returns.
    std::unique_ptr<Session> self(this);
    on_closed();
}

void Session::on_closed() {
    alive_.reset();  // answers still on their way to this stream are dropped
    if (r_ && r_->keep_timer) {
        r_->keep_timer->cancel();
        r_->keep_timer = nullptr;
    }
    if (resuming()) {
        // The stream that was taking another session over is gone.
        const uint64_t id = r_->resume_id;
        r_->resuming = false;
        r_->done = nullptr;
        if (worker().find_session(id) == this) {
            worker().remove_session(id);
            if (!placeholder_ && !worker().shutting_down()) {
                // The session is on its way here from another worker: a
                // stand-in without a connection takes it when it arrives, with
                // what was routed to it meanwhile, so it stays kept as it was
                // (resumable again) instead of ending without a word.
                auto* p = new Session(worker_);
                p->placeholder_ = true;
                p->r().resuming = true;
                p->r().resume_id = id;
                p->r().queued = std::move(r_->queued);
                worker().add_session(id, p);
            }
        }
        r_->queued.clear();
    }
    if (delay_) {
        delay_->cancel();
        delay_ = nullptr;
    }
    if (phase_ != Phase::bound) return;
    phase_ = Phase::ended;
    // The `closed` event runs while the session is still bound and findable
    // by its id, so that modules reach their slots, and what stream
    // management re-routes (stanzas the client never acknowledged) is handed
    // on before another worker can see the address free and route a newer
    // stanza around it. It takes no stanza any more: this worker's router
    // treats it as gone (ending()), and what other workers sent it meanwhile
    // is routed again when it arrives (Router::deliver). Marked ending in
    // the registry first, so that modules on every worker stop counting it
    // (two sessions of an account closing at once on two workers: at least
    // one sees the other gone).
    worker().shared().registry->set_ending(state_.jid, sessions::SessionRef{worker().index(), state_.id});
    worker().hooks().fire(module::SessionEvent::closed,
                          sessions::SessionEntry{state_.jid, sessions::SessionRef{worker().index(), state_.id},
                                                 state_.available, state_.priority});
    auto& shared = worker().shared();
    shared.registry->unbind(state_.jid, sessions::SessionRef{worker().index(), state_.id});
    worker().router().session_ended(state_.jid, state_.id, state_.available);
    if (worker().find_session(state_.id) == this) worker().remove_session(state_.id);
    // Module data dies with the session, after the modules heard it end.
    clear_slots();
    log::info("c2s", "{} disconnected", state_.jid.str());
}

}  // namespace parley::c2s

// c2s::Session: one client-to-server stream (RFC 6120) and, once bound, the
// user's session (RFC 6121).
//
// Negotiation: stream header checks -> STARTTLS (required before SASL by
// default) -> SASL through Cyrus (progressive delay after failures) ->
// stream restart -> resource binding (conflict: the older session is ended)
// -> established. An established session stamps 'from' on everything it
// sends, rejects spoofed addresses with <invalid-from/>, runs the stanza/in
// hooks and hands stanzas to the worker's router.
//
// The session is not its connection: it speaks to a net::Transport (an XML
// stream over TCP/TLS, or an in-memory transport in unit tests) as that
// transport's user. The session's routable state (SessionState) is plain
// data, so that stream management moves it to another worker (resume.cpp).
// Every stanza written to the client goes through write_stanza(), where the
// output observers (module::OutputObserver) see it.
// Loop-affine: owned by one worker; it deletes itself when its transport
// reports on_transport_closed() (the transport's last call).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "loop/delay.hpp"
#include "net/transport.hpp"
#include "sasl/sasl_server.hpp"
#include "sessions/local_session.hpp"
#include "sessions/registry.hpp"
#include "xmpp/jid.hpp"

namespace parley::loop {
class Worker;
}

namespace parley::c2s {

// What a bound session is, independent of its connection.
struct SessionState {
    uint64_t id = 0;
    xmpp::Jid jid;          // full JID once bound
    bool available = false;
    int priority = 0;
    std::string stream_id;
    int64_t bound_unix = 0;  // when it bound its resource (parleyctl session list)
};

class Session final : public net::TransportUser, public sessions::LocalSession {
public:
    // A session on `transport` (which it becomes the user of). For direct
    // TLS the caller has started TLS on the transport already.
    Session(loop::Worker& worker, net::Transport& transport, net::TlsSession::Mode mode);
    ~Session() override;
    // Accepts the pending connection of `server` on a new StreamTransport
    // with a Session on it, and starts TLS at once for direct TLS. On
    // failure everything closes (the socket too) and the error is returned.
    static Status accept(loop::Worker& worker, uv_stream_t* server, net::TlsSession::Mode mode);

    // sessions::LocalSession
    uint64_t session_id() const override { return state_.id; }
    const xmpp::Jid& full_jid() const override { return state_.jid; }
    void send_stanza(const xml::Element& stanza) override;
    void end_with(xmpp::StreamErrorCondition condition, std::string_view text) override;
    bool keep(uint64_t keep_ms, size_t max_queued) override;
    sessions::SessionDetails details() const override;

    // Stream resumption (resume.cpp): this stream, authenticated but not
    // bound, takes over the session `old` of the same account (see
    // module::StreamControl::resume).
    void request_resume(const sessions::SessionEntry& old, module::ResumeDone done);
    // On the worker of session `id`: packs it for `to_worker` and hands it
    // over (or reports why not). Any session kind but c2s refuses.
    // `requester`: the asking stream when it is on this same worker.
    static void hand_over(loop::Worker& w, uint64_t id, const xmpp::Jid& bare, unsigned to_worker, Session* requester);
    struct Moved;

    const SessionState& state() const { return state_; }
    bool bound() const { return phase_ == Phase::bound; }
    bool ending() const override { return phase_ == Phase::ended; }

    // net::TransportUser
    void on_stream_open(const xml::StreamHeader& header) override;
    void on_stanza(xml::Element stanza) override;
    void on_stream_close() override;
    void on_tls_established() override;
    void on_deadline() override;
    void on_transport_closed() override;
    std::string_view default_ns() const override;

    // What the session asks of its transport (a dead transport: nothing).
    loop::Worker& worker() const { return worker_; }
    void send(const xml::Element& element) {
        if (transport_) transport_->send(element);
    }
    void send_raw(std::string_view bytes) { transport_->send_raw(bytes); }
    void stream_error(xmpp::StreamErrorCondition condition, std::string_view text) {
        transport_->stream_error(condition, text);
    }
    void close_stream() {
        if (transport_) transport_->close_stream();
    }
    // A detached session (no transport) is not closing: it queues.
    bool closing() const { return transport_ && transport_->closing(); }
    bool secure() const { return transport_->secure(); }

    class Control;

private:
    // A stand-in without a connection for a session on its way here, whose
    // resuming stream closed meanwhile (resume.cpp).
    explicit Session(loop::Worker& worker);
    net::TlsSession* tls() { return transport_->tls(); }
    const std::string& remote_ip() const { return transport_->remote_ip(); }
    const std::string& remote_addr() const { return transport_->remote_addr(); }
    const std::string& local_addr() const { return transport_->local_addr(); }
    void send_stream_header(std::string_view from, std::string_view to, std::string_view id) {
        transport_->send_stream_header(from, to, id);
    }
    void flush() { transport_->flush(); }
    void restart_stream() { transport_->restart_stream(); }
    void starttls_after_current() { transport_->starttls_after_current(); }
    void authenticated(xml::StreamLimits limits) { transport_->authenticated(limits); }
    void set_deadline(uint64_t ms) { transport_->set_deadline(ms); }
    void hold() { transport_->hold(); }
    void release() { transport_->release(); }

    // ended: the bound session is going (its `closed` event runs); it takes
    // nothing more.
    enum class Phase { header, negotiating, sasl, authenticated, bound, ended };

    static bool is_stanza(const xml::Element& el);
    // Writes a stanza to the client (if the stream is still open) and shows
    // it to the output observers.
    void write_stanza(const xml::Element& stanza);
    void observe(const xml::Element& stanza);

    void on_closed();
    // The connection dropped while the session is kept: it stays bound,
    // without a transport, until resumed or until keep_ms passed.
    void detach();
    // Ends a detached session for good (unbind, presence, events) and deletes it.
    void finish();
    // The session moved here from another worker: becomes it (resume.cpp).
    void adopt(std::unique_ptr<Moved> moved);
    void resume_failed(const Status& why);
    void send_features();
    module::StreamInfo stream_info() const;
    // A module's nonza for the current stage; false when none handles it.
    bool handle_nonza(const xml::Element& el);
    // An iq before authentication that a module handles; false when none does.
    bool handle_pre_auth_iq(const xml::Element& el);
    void handle_starttls(const xml::Element& el);
    void handle_auth(const xml::Element& el);
    void handle_sasl_response(const xml::Element& el);
    void handle_sasl_abort();
    void reset_sasl();
    void finish_sasl_step(sasl::Outcome outcome);
    // Mechanisms whose steps verify a password (costly: PBKDF2) run on
    // libuv's thread pool, never on the loop (DESIGN.md "Threads"); directory
    // and Kerberos sign-in will use the same path.
    static bool checks_password(std::string_view mech);
    void sasl_off_loop(std::function<sasl::Outcome(sasl::ServerSession&)> fn);
    void sasl_failure(const std::string& condition, const std::string& text);
    // Asks the process-wide login throttle about the attempt whose first
    // client message is `first` (before anything evaluates it); false when
    // it was refused, and then the refusal is already on its way.
    bool admitted_by_throttle(std::string_view first);
    // false (and the refusal sent) when `first` asks for a channel binding
    // type this stream does not have.
    bool binding_type_supported(std::string_view first);
    void send_sasl_failure(const std::string& condition, const std::string& text, uint64_t delay_ms);
    void handle_bind(const xml::Element& iq);
    void handle_established(xml::Element stanza);
    void send_iq_error(const xml::Element& iq, const StanzaError& e);

    loop::Worker& worker_;
    net::Transport* transport_;
    net::TlsSession::Mode mode_;
    Phase phase_ = Phase::header;
    std::string domain_;        // the virtual host this stream is for
    SessionState state_;
    std::unique_ptr<sasl::ServerSession> sasl_;
    std::string sasl_user_;     // the account tried, for throttling and logs
    std::string sasl_mech_;     // the mechanism of the current attempt, for logs
    int sasl_failures_ = 0;
    loop::Delay* delay_ = nullptr;  // a delayed SASL failure pending
    bool sasl_busy_ = false;        // a SASL step runs on the thread pool
    bool sasl_first_pending_ = false;
    std::shared_ptr<Session*> alive_;  // weak references: answers that may outlive the stream
    // Keeping and resuming (resume.cpp); allocated only for sessions that
    // use it, so an idle session pays one pointer.
    struct Resumption {
        uint64_t keep_ms = 0;     // kept after a dropped connection (Host::keep_session)
        size_t max_queued = 0;
        loop::Delay* keep_timer = nullptr;
        std::vector<xml::Element> queued;  // for the connection that resumes it
        bool resuming = false;    // this stream asked to resume another session
        uint64_t resume_id = 0;
        module::ResumeDone done;
    };
    std::unique_ptr<Resumption> r_;
    bool placeholder_ = false;  // a stand-in without a connection (resume.cpp)
    Resumption& r() {
        if (!r_) r_ = std::make_unique<Resumption>();
        return *r_;
    }
    bool resuming() const { return r_ && r_->resuming; }
    uint64_t keep_ms() const { return r_ ? r_->keep_ms : 0; }  // <auth/> had no initial response: the next <response/> is the first message
};

// What a module's nonza handler (and a resumption's completion) may do to
// the stream: module::StreamControl over this session.
class Session::Control final : public module::StreamControl {
public:
    explicit Control(Session& s) : session_(s) {}
    void send(const xml::Element& element) override { session_.send(element); }
    void stream_error(xmpp::StreamErrorCondition condition, std::string_view text) override {
        if (session_.transport_) session_.stream_error(condition, text);
    }
    void close() override { session_.close_stream(); }
    void resume(const module::SessionInfo& old, module::ResumeDone done) override {
        session_.request_resume(old, std::move(done));
    }

private:
    Session& session_;
};

}  // namespace parley::c2s

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
// The session's routable state (SessionState) is plain data so stream
// management can later move it to another worker. Loop-affine: owned by one
// worker; deleted by its transport's close callback.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "loop/delay.hpp"
#include "net/stream_transport.hpp"
#include "sasl/sasl_server.hpp"
#include "sessions/local_session.hpp"
#include "sessions/registry.hpp"
#include "xmpp/jid.hpp"

namespace parley::c2s {

// What a bound session is, independent of its connection.
struct SessionState {
    uint64_t id = 0;
    xmpp::Jid jid;          // full JID once bound
    bool available = false;
    int priority = 0;
    std::string stream_id;
};

class Session final : public net::StreamTransport, public sessions::LocalSession {
public:
    Session(loop::Worker& worker, net::TlsSession::Mode mode);
    ~Session() override;
    // Accepts the pending connection of `server`, then starts TLS at once
    // for direct TLS. On failure the session closes itself (and the socket
    // it accepted) and the error is returned.
    Status accept(uv_stream_t* server);

    // sessions::LocalSession
    uint64_t session_id() const override { return state_.id; }
    const xmpp::Jid& full_jid() const override { return state_.jid; }
    void send_stanza(const xml::Element& stanza) override;
    void end_with(xmpp::StreamErrorCondition condition, std::string_view text) override;

    const SessionState& state() const { return state_; }
    bool bound() const { return phase_ == Phase::bound; }

    // StreamHandler
    void on_stream_open(const xml::StreamHeader& header) override;
    void on_stanza(xml::Element stanza) override;
    void on_stream_close() override;

protected:
    void on_tls_established() override;
    void on_closed() override;
    std::string_view default_ns() const override;

private:
    enum class Phase { header, negotiating, sasl, authenticated, bound };

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
    std::shared_ptr<Session*> alive_;  // weak references: answers that may outlive the stream  // <auth/> had no initial response: the next <response/> is the first message
};

}  // namespace parley::c2s

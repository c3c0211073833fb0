// ClientSession: one XMPP c2s client of parley-bench, from TCP connect to a
// bound resource with initial presence.
//
// Steps (RFC 6120): TCP connect, stream header to the domain, features with
// <starttls/>, <proceed/>, TLS handshake (CA-verified, SNI = domain), new
// stream, SASL PLAIN, new stream, bind resource "b<index>", <presence/>.
// Every reply is checked; anything unexpected is a failure reported to the
// Runner with the session's index and what the server sent. Once bound, the
// session counts the messages it receives (the Runner decides what to do
// with them), answers the server's iq requests (pings) and ignores
// presence; in room mode its RoomClient takes the messages, presences and
// iq results instead.
//
// Output is coalesced: send() only appends to a plaintext buffer and asks
// the Runner to flush this session once per loop iteration, so a burst of
// messages becomes one TLS record and one write.
//
// Lifetime: the Runner owns every session for the whole life of its loop;
// a session is destroyed only after uv_run has returned with every handle
// closed, so a callback never sees a dead session. Loop-affine: only the
// Runner's thread.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "scram_client.hpp"
#include "tls_client.hpp"
#include "xml_scanner.hpp"

namespace parley::bench {

class Runner;
class RoomClient;

class ClientSession {
public:
    enum class Step {
        idle,            // not started
        connecting,
        features_tls,    // waiting for the first features
        proceed,
        handshake,
        features_sasl,
        sasl_challenge,  // SCRAM only
        sasl_result,
        features_bind,
        bind_result,
        bound,
        closing,
        closed,
    };

    ClientSession(Runner& runner, int index);
    ~ClientSession();
    ClientSession(const ClientSession&) = delete;
    ClientSession& operator=(const ClientSession&) = delete;

    int index() const { return index_; }
    // Its server's domain: the peer's (--peer-domain) for a receiver of
    // messages mode across federation, else --domain.
    const std::string& domain() const;
    bool on_peer() const;
    Step step() const { return step_; }
    const char* step_name() const;
    uint64_t started_ns() const { return started_ns_; }
    uint64_t bound_ns() const { return bound_ns_; }
    bool finished() const { return step_ == Step::idle || step_ == Step::closed; }

    // Begins the connection; the outcome arrives through the Runner.
    void start();
    // Queues `stanza` (plaintext XML) for the next flush.
    void send(std::string_view stanza);
    // Writes what send() queued; called by the Runner once per loop iteration.
    void flush();
    // Ends the stream politely (</stream:stream>, close_notify, TCP
    // shutdown) and then closes the handle.
    void close_gracefully();
    // Closes the handle now, whatever is pending.
    void close_now();
    // Reports `what` to the Runner as this session's failure and closes it.
    void fail(const std::string& what);

    // The session this one sends messages to, or receives them from.
    ClientSession* partner = nullptr;
    bool sender = false;
    std::string message_to_partner;  // the stanza a sender sends, prebuilt
    bool dirty = false;              // queued for the Runner's flush
    std::unique_ptr<RoomClient> room;  // room mode: this session as an occupant

private:
    static void on_connect(uv_connect_t* req, int status);
    static void on_alloc(uv_handle_t* h, size_t hint, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t n, const uv_buf_t* buf);
    static void on_shutdown(uv_shutdown_t* req, int status);
    static void on_close(uv_handle_t* h);

    void received(std::string_view bytes);
    void pump_tls();
    void drive_handshake();
    void process_plaintext(std::string_view plain);
    void handle_event(const StreamScanner::Event& ev);
    void handle_element(std::string_view el);
    void handle_bound_element(std::string_view name, std::string_view el);
    void send_header();
    void write_raw(std::string data);
    std::string user() const;

    Runner& runner_;
    const int index_;
    Step step_ = Step::idle;
    std::unique_ptr<ScramClient> scram_;  // during a SCRAM login
    uv_tcp_t tcp_{};
    uv_connect_t connect_req_{};
    uv_shutdown_t shutdown_req_{};
    bool handle_open_ = false;
    bool shut_ = false;         // close_gracefully() queued the last bytes
    bool stream_open_ = false;  // the current stream's header arrived
    bool tls_active_ = false;   // handshake done: send() output is encrypted
    StreamScanner scanner_;
    std::unique_ptr<TlsClient> tls_;
    std::string plain_out_;
    uint64_t started_ns_ = 0;
    uint64_t bound_ns_ = 0;
};

}  // namespace parley::bench

// StreamTransport: one XML stream over one TCP connection, TLS optional
// (a net::Transport).
//
// The pipeline below an XMPP stream, shared by c2s and (later) s2s: socket
// reads land in the worker's read buffer, go through GnuTLS when TLS is on,
// then into the incremental expat stream parser, whose events reach the
// transport's user (the session). Writes are appended to one pending buffer
// (encrypted when TLS is on) and flushed once per loop iteration by the
// worker; the buffer is released once handed to the kernel.
//
// Lifetime: created with new on its worker; deleted by itself in the close
// callback of its last handle, after telling its user on_transport_closed().
// Every stream error is sent (after a stream header if none was sent yet),
// followed by </stream:stream> and TLS close_notify; the connection closes
// once that is written. Loop-affine: only the owning worker.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "net/connection_limiter.hpp"
#include "net/transport.hpp"
#include "net/tls.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/errors.hpp"

namespace parley::loop {
class Worker;
}

namespace parley::net {

class StreamTransport final : public Transport, private xml::StreamHandler {
public:
    StreamTransport(loop::Worker& worker, xml::StreamLimits limits);
    ~StreamTransport() override;
    void set_user(TransportUser* user) override { user_ = user; }
    StreamTransport(const StreamTransport&) = delete;
    StreamTransport& operator=(const StreamTransport&) = delete;

    // Accepts the pending connection of `server` and starts reading. Over a
    // connection limit the peer gets <policy-violation/> in the clear, or,
    // when it speaks TLS from the first byte (`tls_first`: direct TLS), is
    // closed without a word; the transport is then closing() and the caller
    // starts nothing more on it.
    Status accept_from(uv_stream_t* server, bool tls_first);
    // An outbound stream (s2s): connects to `peer`; `connected` runs on this
    // worker once the connection is up (ok: reading has started; the user
    // sends its stream header) or has failed (the transport then closes;
    // its user hears on_transport_closed() as always). An outbound
    // connection does not count against the limits on inbound ones.
    Status connect(const sockaddr_storage& peer, std::function<void(Status)> connected);
    // TLS as a client, on an outbound stream: at once for direct TLS
    // (XEP-0368), or after the peer's <proceed/> (call it from on_stanza;
    // the stream then restarts). The ClientHello is queued at once; the
    // user hears on_tls_established() and then reads tls()->verification().
    Status start_tls_client(std::shared_ptr<const TlsContext> ctx, const TlsClientParams& params);

    // Transport
    void send_raw(std::string_view bytes) override;
    void send(const xml::Element& element) override;
    void send_stream_header(std::string_view from, std::string_view to, std::string_view id) override;
    void stream_error(xmpp::StreamErrorCondition condition, std::string_view text) override;
    void close_stream() override;
    void close_now() override;
    void flush() override;  // also called by the worker once per loop iteration
    // Turns TLS on: direct TLS at accept, or STARTTLS after <proceed/> was
    // queued (the rest of the current read is handed to TLS).
    Status start_tls(TlsSession::Mode mode) override;
    // The parser stops after the current stanza and expects a new stream
    // header (RFC 6120 §4.3.3).
    void restart_stream() override;
    void starttls_after_current() override;
    // The peer no longer counts against the limits on unauthenticated
    // connections, and its stanzas may be as large as `limits` says.
    void authenticated(xml::StreamLimits limits) override;
    void set_read_rate(size_t bytes_per_s) override;
    void set_deadline(uint64_t ms) override;
    // A hold counts like an open handle: deletion waits for its release.
    void hold() override { ++open_handles_; }
    void release() override;
    bool closing() const override { return closing_; }
    bool stream_ended() const override { return stream_ended_; }
    bool secure() const override { return tls_ && tls_->handshake_done(); }
    TlsSession* tls() override { return tls_.get(); }
    const std::string& remote_ip() const override { return remote_ip_; }
    const std::string& remote_addr() const override { return remote_addr_; }
    const std::string& local_addr() const override { return local_addr_; }

    // Who the peer is, for the TLS this transport starts as a server
    // (start_tls): a client (the default) or another server (s2s).
    void set_tls_peer(TlsSession::Peer peer) { tls_peer_ = peer; }

    // SIGTERM: <system-shutdown/>.
    void shutdown_stream();
    loop::Worker& worker() { return worker_; }

private:
    // xml::StreamHandler: parser events go to the user.
    void on_stream_open(const xml::StreamHeader& header) override;
    void on_stanza(xml::Element stanza) override;
    void on_stream_close() override;
    std::string_view default_ns() const;

    bool header_sent_ = false;
    TransportUser* user_ = nullptr;
    struct WriteReq;
    struct ConnectReq;
    static void on_connect(uv_connect_t* req, int status);
    static void on_alloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
    static void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
    static void on_write(uv_write_t* req, int status);
    static void on_close(uv_handle_t* h);
    static void on_timer(uv_timer_t* t);
    static void on_throttle(uv_timer_t* t);
    // Token bucket on what the peer sends: pauses reading while over.
    void account_read(size_t n);
    void handle_input(const char* data, size_t len);
    // Counts this connection against the limits; false: refused and closing.
    bool admit(const sockaddr_storage& peer, bool tls_first);
    void feed_parser(const char* data, size_t len);
    void append_output(std::string_view bytes);
    void mark_dirty();
    void begin_close();

    loop::Worker& worker_;
    uv_tcp_t tcp_{};
    uv_timer_t timer_{};
    uv_timer_t throttle_{};    // resumes reading after a pause of the rate limit
    int open_handles_ = 0;
    xml::StreamParser parser_;
    Admission admission_;      // this connection, counted by the daemon's ConnectionLimiter
    std::unique_ptr<TlsSession> tls_;
    std::string out_;          // pending bytes to write (ciphertext when TLS is on)
    size_t in_flight_ = 0;     // bytes handed to uv_write, not yet written
    bool dirty_ = false;
    bool closing_ = false;     // no more input is processed
    bool stream_ended_ = false;  // close_stream() ran: the stream was ended, not lost
    bool close_after_flush_ = false;
    bool restart_pending_ = false;
    bool in_feed_ = false;     // inside parser_.feed(): a restart waits for the stanza's end
    bool tls_pending_ = false;
    TlsSession::Mode tls_pending_mode_ = TlsSession::Mode::starttls;
    TlsSession::Peer tls_peer_ = TlsSession::Peer::client;
    bool tls_was_done_ = false;
    bool closing_quietly_ = false;  // refused at accept: logged (or not) by the limiter's rule
    size_t max_queue_;
    double read_rate_ = 0;      // bytes per second; 0: no limit
    double read_burst_ = 0;     // bucket depth
    double read_tokens_ = 0;
    uint64_t read_refill_ms_ = 0;
    std::string remote_ip_, remote_addr_, local_addr_;
};

}  // namespace parley::net

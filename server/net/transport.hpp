// Transport: what carries an XMPP session's stream, seen from the session.
//
// The session (c2s::Session; s2s and WebSocket sessions next) is the XMPP
// state machine; a transport is the framing below it: an XML stream over
// TCP with optional TLS (net::StreamTransport), WebSocket framing later, or
// an in-memory transport in unit tests (tests/support/memory_transport.hpp).
// The transport parses what arrives into stream events and stanzas for its
// TransportUser, and serializes what the session sends. It owns itself: it is
// deleted after it told its user on_transport_closed(), once its last
// handle (and every hold() on it) is gone; the user must not touch it after
// that call. Loop-affine: only the owning worker.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "errors/status.hpp"
#include "net/tls.hpp"
#include "xml/element.hpp"
#include "xml/stream_parser.hpp"
#include "xmpp/errors.hpp"

namespace parley::net {

// The session side of a transport.
class TransportUser {
public:
    virtual ~TransportUser() = default;
    virtual void on_stream_open(const xml::StreamHeader& header) = 0;
    virtual void on_stanza(xml::Element stanza) = 0;
    virtual void on_stream_close() = 0;
    virtual void on_tls_established() {}
    // The deadline set with set_deadline() passed.
    virtual void on_deadline() = 0;
    // The transport is closed and about to be deleted: the last call.
    virtual void on_transport_closed() = 0;
    // The default namespace of the stream (jabber:client, jabber:server).
    virtual std::string_view default_ns() const = 0;
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual void set_user(TransportUser* user) = 0;

    // Output. Nothing is queued once the transport is closing.
    virtual void send(const xml::Element& element) = 0;
    virtual void send_raw(std::string_view bytes) = 0;
    // The stream header, unless already sent for this stream.
    virtual void send_stream_header(std::string_view from, std::string_view to, std::string_view id) = 0;
    // Stream error, then </stream:stream>, then the connection closes.
    virtual void stream_error(xmpp::StreamErrorCondition condition, std::string_view text) = 0;
    // Ends our stream and closes once it is written (bounded in time).
    virtual void close_stream() = 0;
    // Closes now, dropping what is unsent.
    virtual void close_now() = 0;
    // Writes what is pending now rather than at the end of the loop iteration.
    virtual void flush() = 0;

    // Stream control.
    // The parser expects a new stream header after the current stanza.
    virtual void restart_stream() = 0;
    // After <proceed/>: TLS starts once this stanza ends, then a new stream.
    virtual void starttls_after_current() = 0;
    // TLS from the first byte (direct TLS).
    virtual Status start_tls(TlsSession::Mode mode) = 0;
    // The peer authenticated: the limits that apply from the next stanza on.
    virtual void authenticated(xml::StreamLimits limits) = 0;
    // What the peer may send on average, in bytes per second (0: no
    // limit), from now on; a transport without a read limit ignores it.
    virtual void set_read_rate(size_t bytes_per_s) { (void)bytes_per_s; }
    // Deadline for the current phase; 0 cancels. on_deadline() when it passes.
    virtual void set_deadline(uint64_t ms) = 0;
    // Work in flight that refers to the user (a thread-pool job) keeps the
    // transport, and so its user, alive until release().
    virtual void hold() = 0;
    virtual void release() = 0;

    // State.
    virtual bool closing() const = 0;
    // True once either side ended the XML stream (a </stream:stream> sent or
    // received, a stream error, TLS close_notify); false while it runs, and
    // when the connection was merely lost (reset, end of file without
    // </stream:stream>, a failed write). A session is kept for resumption
    // only when its connection was lost (XEP-0198 "Stream Closure").
    virtual bool stream_ended() const = 0;
    virtual bool secure() const = 0;
    virtual TlsSession* tls() = 0;
    virtual const std::string& remote_ip() const = 0;
    virtual const std::string& remote_addr() const = 0;  // "ip;port" (Cyrus SASL form)
    virtual const std::string& local_addr() const = 0;
};

}  // namespace parley::net

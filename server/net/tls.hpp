// TLS for XML streams, on GnuTLS, over our own buffers.
//
// TlsContext holds what every TLS session of the process shares: one
// certificate credential with the certificate and key of each virtual host
// (GnuTLS picks the host's certificate by SNI; without SNI, or for an unknown
// name, the first host's), one priority cache (TLS 1.2 and 1.3 only) and the
// session ticket key (resumption works on every worker). It
// is immutable after create() and shared by all workers as a
// shared_ptr<const TlsContext>, swapped as a whole at reload: any thread.
// Sharing the priority cache matters: a session then costs about 10 KB of
// heap, so no session ever builds its own priority.
//
// TlsSession is one connection's TLS state. It never touches the socket: the
// transport hands it the ciphertext it read (feed), and writes what
// take_output() returns. GnuTLS reads the fed bytes in place through our
// pull function and writes records into our output buffer through our push
// function; both buffers are released once consumed or taken, so an idle
// session holds no I/O memory. Loop-affine: only the worker that owns the
// connection; it keeps its TlsContext alive.
#pragma once

#include <gnutls/gnutls.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"

namespace parley::net {

// One virtual host's certificate chain and private key, as PEM file paths.
struct TlsCertificate {
    std::string domain, certificate, key;
};

// The data for SASL channel binding (RFC 5929, RFC 9266).
struct ChannelBindingData {
    std::string name;  // "tls-exporter" (TLS 1.3) or "tls-unique" (TLS 1.2)
    std::string data;
};

class TlsContext {
public:
    // Loads every host's certificate and key; the error names the host and
    // the files that could not be loaded. At least one host is needed.
    static Result<std::shared_ptr<const TlsContext>> create(const std::vector<TlsCertificate>& hosts);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    gnutls_certificate_credentials_t credentials() const { return cred_; }
    gnutls_priority_t priority() const { return priority_; }
    // The session ticket key, made at create(): a reload (a new context)
    // makes older tickets useless and those clients do a full handshake.
    const gnutls_datum_t& ticket_key() const { return ticket_key_; }
    const std::vector<std::string>& domains() const { return domains_; }

private:
    TlsContext() = default;
    gnutls_certificate_credentials_t cred_ = nullptr;
    gnutls_priority_t priority_ = nullptr;
    gnutls_datum_t ticket_key_{nullptr, 0};
    std::vector<std::string> domains_;
};

class TlsSession {
public:
    // starttls: after <proceed/> (RFC 6120 §5). direct: TLS from the first
    // byte (XEP-0368), negotiating ALPN "xmpp-client" when the client offers it.
    enum class Mode { starttls, direct };

    static Result<std::unique_ptr<TlsSession>> create(std::shared_ptr<const TlsContext> ctx, Mode mode);
    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Ciphertext read from the socket. Drives the handshake, appends the
    // decrypted application data to `plain`, and queues any records to send
    // (see take_output). An error Status on a fatal alert or a failed
    // handshake; the session is then unusable, though take_output may still
    // hold an alert worth sending.
    Status feed(const char* data, size_t len, std::string& plain);
    bool has_output() const { return !out_.empty(); }
    // Ciphertext to write to the socket; the buffer goes with it.
    std::string take_output();
    bool handshake_done() const { return handshake_done_; }
    // The peer sent close_notify.
    bool peer_closed() const { return peer_closed_; }
    // Encrypts application data. Before the handshake is done it is kept and
    // sent once the handshake completes.
    Status write(std::string_view plain);
    // Sends close_notify (once; only after the handshake).
    void bye();

    std::string protocol_name() const;  // "TLS1.3"; empty before the handshake
    std::string alpn() const;           // the negotiated protocol, or empty
    std::string sni() const;            // the server name the client asked for, or empty
    bool resumed() const;               // the handshake resumed a session (a ticket)
    std::optional<ChannelBindingData> channel_binding() const;

private:
    TlsSession(std::shared_ptr<const TlsContext> ctx, Mode mode);
    static ssize_t push(gnutls_transport_ptr_t self, const void* data, size_t len);
    static ssize_t pull(gnutls_transport_ptr_t self, void* data, size_t len);
    static int pull_timeout(gnutls_transport_ptr_t self, unsigned int ms);
    Status read_records(std::string& plain);
    Status send_pending();
    Status failed(const char* what, int rc);

    std::shared_ptr<const TlsContext> ctx_;
    Mode mode_;
    gnutls_session_t session_ = nullptr;
    const char* in_ = nullptr;  // the caller's buffer, only during feed()
    size_t in_len_ = 0;
    std::string out_;      // records waiting for the socket
    std::string pending_;  // application data written before the handshake finished
    bool handshake_done_ = false;
    bool peer_closed_ = false;
    bool failed_ = false;
    bool bye_sent_ = false;
};

}  // namespace parley::net

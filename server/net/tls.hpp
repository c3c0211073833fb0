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
// Client mode, for outbound connections (s2s): TlsContext::create_client
// holds the trusted CAs (a PEM bundle, or the system's trust store), an
// optional client certificate (shown when a server asks, for SASL EXTERNAL)
// and its own shared priority cache, same protocol and cipher policy as the
// server's. TlsSession::create_client makes a session that sends SNI and
// ALPN as asked and queues its ClientHello at once. Its handshake completes
// whatever certificate the server shows: the result of checking it (PKIX
// chain to a trusted CA, validity dates, key purpose, and that it names the
// reference identity, a DNS-ID per RFC 6125) is a value, verification(),
// for the caller's policy to weigh (dialback may be allowed without PKIX).
// A caller must read verification() before it trusts the peer.
// peer_identities() lists what the peer's certificate names (DNS-IDs,
// SRV-IDs, XmppAddrs), on either side.
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

// What an outbound (client) TLS context trusts and shows.
struct TlsClientOptions {
    // PEM file of the CA certificates to trust; empty: the system's trust
    // store (gnutls_certificate_set_x509_system_trust).
    std::string ca_file;
    // Optional certificate chain and key (PEM files) shown when a server
    // asks for one; both empty: none. `domain` is only used in messages.
    TlsCertificate client;
};

// What one outbound session asks for.
struct TlsClientParams {
    std::string server_name;  // sent as SNI; empty: no SNI
    // The DNS name the server's certificate must name; empty: server_name.
    // One of the two is required.
    std::string reference_id;
    std::vector<std::string> alpn;  // protocols offered, e.g. {"xmpp-server"}; empty: none
};

// The outcome of checking the peer's certificate (client sessions, after
// the handshake).
struct PeerVerification {
    enum class Result {
        pending,         // the handshake is not done, or this is not a client session
        verified,        // chains to a trusted CA, valid now, names the reference identity
        no_certificate,  // the peer showed none
        failed,          // see status, text and the predicates below
    };
    Result result = Result::pending;
    unsigned status = 0;  // gnutls_certificate_status_t bits; 0 unless failed
    std::string text;     // GnuTLS's own words on the outcome
    bool ok() const { return result == Result::verified; }
    // No trusted CA vouches for it: self-signed, an unknown CA, a signer
    // that is not a CA, or a signature that does not verify.
    bool untrusted() const;
    bool name_mismatch() const;  // it does not name the reference identity
    bool expired() const;        // it (or a certificate of its chain) has expired
    bool not_yet_valid() const;  // it (or a certificate of its chain) is not valid yet
};

// What the peer's end-entity certificate names (RFC 6125, RFC 7590).
struct PeerIdentities {
    std::vector<std::string> dns_ids;     // subjectAltName dNSName: "example.org", "*.example.org"
    std::vector<std::string> srv_ids;     // otherName SRVName: "_xmpp-server.example.org"
    std::vector<std::string> xmpp_addrs;  // otherName id-on-xmppAddr: "example.org"
};

class TlsContext {
public:
    // Loads every host's certificate and key; the error names the host and
    // the files that could not be loaded. At least one host is needed.
    // `trust`: the CAs that vouch for peers' certificates (server-to-server
    // peers show one as TLS clients): nullopt, none (no session asks for a
    // peer certificate then); "", the system's trust store; else a PEM file.
    static Result<std::shared_ptr<const TlsContext>> create(const std::vector<TlsCertificate>& hosts,
                                                            const std::optional<std::string>& trust = std::nullopt);
    // A context for outbound sessions; the error names the file (or the
    // system trust store) that could not be loaded.
    static Result<std::shared_ptr<const TlsContext>> create_client(const TlsClientOptions& options);
    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    gnutls_certificate_credentials_t credentials() const { return cred_; }
    gnutls_priority_t priority() const { return priority_; }
    // The session ticket key, made at create(): a reload (a new context)
    // makes older tickets useless and those clients do a full handshake.
    const gnutls_datum_t& ticket_key() const { return ticket_key_; }
    const std::vector<std::string>& domains() const { return domains_; }
    bool is_client() const { return client_; }
    // Whether peers' certificates can be checked (a client context always; a
    // server context made with `trust`).
    bool has_trust() const { return trust_; }

private:
    TlsContext() = default;
    bool client_ = false;
    bool trust_ = false;
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
    // Who the peer is: a client (c2s; ALPN "xmpp-client") or another server
    // (s2s; ALPN "xmpp-server", and its certificate is asked for, when the
    // context has trust, to be checked with verify_domain()).
    enum class Peer { client, server };

    static Result<std::unique_ptr<TlsSession>> create(std::shared_ptr<const TlsContext> ctx, Mode mode,
                                                      Peer peer = Peer::client);
    // An outbound session on a client context. Its ClientHello is queued
    // already (has_output()); feed() what the server answers.
    static Result<std::unique_ptr<TlsSession>> create_client(std::shared_ptr<const TlsContext> ctx,
                                                             const TlsClientParams& params);
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
    std::string sni() const;            // server side: the server name the client asked for, or empty
    bool resumed() const;               // the handshake resumed a session (a ticket)
    std::optional<ChannelBindingData> channel_binding() const;
    bool is_client() const { return client_; }
    // Client sessions: the check of the server's certificate, made once
    // when the handshake completes (pending before, and on server sessions).
    const PeerVerification& verification() const { return verification_; }
    // The identities the peer's certificate names; empty before the
    // handshake or when the peer showed no certificate.
    PeerIdentities peer_identities() const;
    // Whether the peer's certificate proves it is the XMPP service `domain`
    // (RFC 6120 §13.7.2, RFC 6125, RFC 7590), on either side once the
    // handshake is done: it chains to a trusted CA and is valid now (a
    // client session also checks the TLS server key purpose), and it names
    // `domain` in a DNS-ID (a wildcard only as the whole leftmost label), an
    // SRV-ID (_xmpp-server.DOMAIN) or an XmppAddr (the CN only when it has
    // no DNS-ID, as GnuTLS reads it). pending before the handshake.
    PeerVerification verify_domain(std::string_view domain) const;

private:
    TlsSession(std::shared_ptr<const TlsContext> ctx, Mode mode);
    Status start_client(const TlsClientParams& params);
    void verify_peer();
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
    bool client_ = false;
    std::string reference_id_;  // client sessions
    PeerVerification verification_;
};

}  // namespace parley::net

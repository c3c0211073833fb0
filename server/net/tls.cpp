#include "net/tls.hpp"

#include <gnutls/x509.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <type_traits>

#include "log/log.hpp"

namespace parley::net {

namespace {

// TLS 1.2 and 1.3 only (no SSL 3, TLS 1.0 or 1.1), our cipher order.
// On TLS 1.2 only ECDHE key exchange (forward secrecy: no static RSA, no
// finite-field DHE) with AEAD ciphers (AES-GCM, ChaCha20-Poly1305: no CBC
// and its padding-oracle history, no separate MAC); TLS 1.3 suites are all
// AEAD and the same cipher list picks them. Every TLS 1.2 client of the
// last decade has one of these suites. doc/parleyd.8.md gives the string.
// Key exchange: X25519 first. It is the cheapest ECDHE, and most clients
// (OpenSSL, BoringSSL, NSS, Apple) send an X25519 key share first: a server
// that prefers P-256 answers them with a HelloRetryRequest, an extra round
// trip and a costlier exchange (measured with tools/bench/login-cost: 0.72
// against 0.63 ms of parleyd CPU per login). No finite-field groups.
// Outbound sessions offer the same list in the same order (a client's
// order is its preference); the server picks from it in ours.
#define PARLEY_TLS_POLICY                                                                  \
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:"                                          \
    "-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:"                                                     \
    "-CIPHER-ALL:+AES-256-GCM:+CHACHA20-POLY1305:+AES-128-GCM:"                            \
    "-MAC-ALL:+AEAD:"                                                                      \
    "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:+GROUP-X448:+GROUP-SECP521R1"
constexpr const char* kPriority = PARLEY_TLS_POLICY ":%SERVER_PRECEDENCE";
constexpr const char* kClientPriority = PARLEY_TLS_POLICY;
#undef PARLEY_TLS_POLICY
constexpr const char* kAlpnClient = "xmpp-client";
constexpr const char* kAlpnServer = "xmpp-server";
// The most gnutls_record_recv can return at once (one record).
constexpr size_t kRecordChunk = 16384;

Status gnutls_status(const std::string& what, int rc) {
    return Status::error("tls", what + ": " + gnutls_strerror(rc));
}

// Warns when a host's certificate does not name the host: clients would
// refuse it, and the operator should hear it at start, not from users.
void check_names(gnutls_certificate_credentials_t cred, unsigned index, const TlsCertificate& host) {
    gnutls_datum_t der{};
    if (gnutls_certificate_get_crt_raw(cred, index, 0, &der) < 0) return;
    gnutls_x509_crt_t crt = nullptr;
    if (gnutls_x509_crt_init(&crt) < 0) return;
    if (gnutls_x509_crt_import(crt, &der, GNUTLS_X509_FMT_DER) >= 0 &&
        gnutls_x509_crt_check_hostname(crt, host.domain.c_str()) == 0)
        log::warn("tls", "the certificate {} does not name the host {}", host.certificate, host.domain);
    gnutls_x509_crt_deinit(crt);
}

Status init_priority(gnutls_priority_t* out, const char* priority) {
    const char* err_pos = nullptr;
    int rc = gnutls_priority_init2(out, priority, &err_pos, 0);
    if (rc < 0) {
        *out = nullptr;
        return gnutls_status(std::string("priority string at '") + (err_pos ? err_pos : "") + "'", rc);
    }
    return Status::ok();
}

struct CrtDeleter {
    void operator()(gnutls_x509_crt_t c) const { gnutls_x509_crt_deinit(c); }
};
using Crt = std::unique_ptr<std::remove_pointer_t<gnutls_x509_crt_t>, CrtDeleter>;

// The peer's end-entity certificate, or null when it showed none.
Crt peer_certificate(gnutls_session_t session) {
    unsigned n = 0;
    const gnutls_datum_t* peers = gnutls_certificate_get_peers(session, &n);
    if (!peers || n == 0 || gnutls_certificate_type_get(session) != GNUTLS_CRT_X509) return nullptr;
    gnutls_x509_crt_t crt = nullptr;
    if (gnutls_x509_crt_init(&crt) < 0) return nullptr;
    Crt out(crt);
    if (gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER) < 0) return nullptr;
    return out;
}

// Upper bound on the subjectAltName entries read from one certificate: a
// certificate is at most 64 KB, but there is no reason to walk thousands.
constexpr unsigned kMaxAltNames = 1024;

}  // namespace

bool PeerVerification::untrusted() const {
    return (status & (GNUTLS_CERT_SIGNER_NOT_FOUND | GNUTLS_CERT_SIGNER_NOT_CA |
                      GNUTLS_CERT_SIGNATURE_FAILURE | GNUTLS_CERT_SIGNER_CONSTRAINTS_FAILURE)) != 0;
}
bool PeerVerification::name_mismatch() const { return (status & GNUTLS_CERT_UNEXPECTED_OWNER) != 0; }
bool PeerVerification::expired() const { return (status & GNUTLS_CERT_EXPIRED) != 0; }
bool PeerVerification::not_yet_valid() const { return (status & GNUTLS_CERT_NOT_ACTIVATED) != 0; }

// ---- TlsContext ------------------------------------------------------------

// Loads the trust anchors into cred: the system's store for "", else a PEM
// file. Both calls return how many CA certificates they loaded: none is an
// error, since every verification would then fail as "untrusted".
static Status load_trust(gnutls_certificate_credentials_t cred, const std::string& ca_file) {
    int rc = 0;
    if (ca_file.empty()) {
        rc = gnutls_certificate_set_x509_system_trust(cred);
        if (rc < 0) return gnutls_status("cannot load the system's trust store", rc);
        if (rc == 0) return Status::error("tls", "the system's trust store holds no CA certificate");
    } else {
        rc = gnutls_certificate_set_x509_trust_file(cred, ca_file.c_str(), GNUTLS_X509_FMT_PEM);
        if (rc < 0) return gnutls_status("cannot load the CA file " + ca_file, rc);
        if (rc == 0) return Status::error("tls", "the CA file " + ca_file + " holds no certificate");
    }
    return Status::ok();
}

static bool ascii_iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

Result<std::shared_ptr<const TlsContext>> TlsContext::create(const std::vector<TlsCertificate>& hosts,
                                                             const std::optional<std::string>& trust) {
    if (hosts.empty()) return Status::error("tls", "no host certificate to load");
    std::shared_ptr<TlsContext> ctx(new TlsContext());
    int rc = gnutls_certificate_allocate_credentials(&ctx->cred_);
    if (rc < 0) return gnutls_status("gnutls_certificate_allocate_credentials", rc);
    // API v2: set_x509_key_file2 returns the index of the loaded pair.
    gnutls_certificate_set_flags(ctx->cred_, GNUTLS_CERTIFICATE_API_V2);
    for (const auto& h : hosts) {
        if (h.certificate.empty() || h.key.empty())
            return Status::error("tls", "host " + h.domain + ": certificate and key files are required");
        // Loaded in config order into one credential: GnuTLS chooses among
        // them by SNI and falls back to the first, our default host.
        rc = gnutls_certificate_set_x509_key_file2(ctx->cred_, h.certificate.c_str(), h.key.c_str(),
                                                   GNUTLS_X509_FMT_PEM, nullptr, 0);
        if (rc < 0)
            return gnutls_status("host " + h.domain + ": cannot load certificate " + h.certificate + " with key " +
                                     h.key,
                                 rc);
        check_names(ctx->cred_, static_cast<unsigned>(rc), h);
        ctx->domains_.push_back(h.domain);
    }
    if (trust) {
        Status t = load_trust(ctx->cred_, *trust);
        if (!t) return t;
        ctx->trust_ = true;
    }
    rc = gnutls_session_ticket_key_generate(&ctx->ticket_key_);
    if (rc < 0) return gnutls_status("gnutls_session_ticket_key_generate", rc);
    Status s = init_priority(&ctx->priority_, kPriority);
    if (!s) return s;
    return std::shared_ptr<const TlsContext>(std::move(ctx));
}

Result<std::shared_ptr<const TlsContext>> TlsContext::create_client(const TlsClientOptions& options) {
    std::shared_ptr<TlsContext> ctx(new TlsContext());
    ctx->client_ = true;
    int rc = gnutls_certificate_allocate_credentials(&ctx->cred_);
    if (rc < 0) return gnutls_status("gnutls_certificate_allocate_credentials", rc);
    gnutls_certificate_set_flags(ctx->cred_, GNUTLS_CERTIFICATE_API_V2);
    Status t = load_trust(ctx->cred_, options.ca_file);
    if (!t) return t;
    ctx->trust_ = true;
    const TlsCertificate& c = options.client;
    if (!c.certificate.empty() || !c.key.empty()) {
        if (c.certificate.empty() || c.key.empty())
            return Status::error("tls", "client certificate " + c.domain + ": both certificate and key files are needed");
        rc = gnutls_certificate_set_x509_key_file2(ctx->cred_, c.certificate.c_str(), c.key.c_str(),
                                                   GNUTLS_X509_FMT_PEM, nullptr, 0);
        if (rc < 0)
            return gnutls_status("client certificate " + c.domain + ": cannot load " + c.certificate + " with key " +
                                     c.key,
                                 rc);
    }
    Status s = init_priority(&ctx->priority_, kClientPriority);
    if (!s) return s;
    return std::shared_ptr<const TlsContext>(std::move(ctx));
}

TlsContext::~TlsContext() {
    if (ticket_key_.data) {
        gnutls_memset(ticket_key_.data, 0, ticket_key_.size);
        gnutls_free(ticket_key_.data);
    }
    if (priority_) gnutls_priority_deinit(priority_);
    if (cred_) gnutls_certificate_free_credentials(cred_);
}

// ---- TlsSession ------------------------------------------------------------

TlsSession::TlsSession(std::shared_ptr<const TlsContext> ctx, Mode mode) : ctx_(std::move(ctx)), mode_(mode) {}

TlsSession::~TlsSession() {
    if (session_) gnutls_deinit(session_);
}

Result<std::unique_ptr<TlsSession>> TlsSession::create(std::shared_ptr<const TlsContext> ctx, Mode mode,
                                                      Peer peer) {
    if (!ctx) return Status::error("tls", "no TLS context");
    if (ctx->is_client()) return Status::error("tls", "a server session needs a server context");
    std::unique_ptr<TlsSession> s(new TlsSession(std::move(ctx), mode));
    // Session tickets (RFC 8446 resumption, RFC 5077 on TLS 1.2) under the
    // context's key: a mobile client that reconnects skips the certificate
    // and its signature. TLS 1.3 resumption keeps ECDHE (psk_dhe_ke), so
    // forward secrecy stays; GnuTLS rotates the keys it derives from ours.
    int rc = gnutls_init(&s->session_, GNUTLS_SERVER | GNUTLS_NONBLOCK);
    if (rc < 0) {
        s->session_ = nullptr;
        return gnutls_status("gnutls_init", rc);
    }
    rc = gnutls_priority_set(s->session_, s->ctx_->priority());
    if (rc < 0) return gnutls_status("gnutls_priority_set", rc);
    rc = gnutls_credentials_set(s->session_, GNUTLS_CRD_CERTIFICATE, s->ctx_->credentials());
    if (rc < 0) return gnutls_status("gnutls_credentials_set", rc);
    rc = gnutls_session_ticket_enable_server(s->session_, &s->ctx_->ticket_key());
    if (rc < 0) return gnutls_status("gnutls_session_ticket_enable_server", rc);
    // A server peer may prove its domain with its certificate (SASL
    // EXTERNAL, XEP-0178); one without a certificate may still use dialback.
    const bool ask = peer == Peer::server && s->ctx_->has_trust();
    gnutls_certificate_server_set_request(s->session_, ask ? GNUTLS_CERT_REQUEST : GNUTLS_CERT_IGNORE);
    if (mode == Mode::direct) {
        // XEP-0368: ALPN "xmpp-client" or "xmpp-server". Not mandatory: a
        // peer that offers no ALPN at all is still served.
        const char* name = peer == Peer::server ? kAlpnServer : kAlpnClient;
        gnutls_datum_t proto{reinterpret_cast<unsigned char*>(const_cast<char*>(name)),
                             static_cast<unsigned>(std::strlen(name))};
        rc = gnutls_alpn_set_protocols(s->session_, &proto, 1, GNUTLS_ALPN_SERVER_PRECEDENCE);
        if (rc < 0) return gnutls_status("gnutls_alpn_set_protocols", rc);
    }
    gnutls_transport_set_ptr(s->session_, s.get());
    gnutls_transport_set_push_function(s->session_, &TlsSession::push);
    gnutls_transport_set_pull_function(s->session_, &TlsSession::pull);
    gnutls_transport_set_pull_timeout_function(s->session_, &TlsSession::pull_timeout);
    // The transport's own deadline bounds the handshake.
    gnutls_handshake_set_timeout(s->session_, 0);
    return s;
}

Result<std::unique_ptr<TlsSession>> TlsSession::create_client(std::shared_ptr<const TlsContext> ctx,
                                                              const TlsClientParams& params) {
    if (!ctx) return Status::error("tls", "no TLS context");
    if (!ctx->is_client()) return Status::error("tls", "a client session needs a client context");
    std::unique_ptr<TlsSession> s(new TlsSession(std::move(ctx), Mode::direct));
    s->client_ = true;
    Status st = s->start_client(params);
    if (!st) return st;
    return s;
}

Status TlsSession::start_client(const TlsClientParams& params) {
    reference_id_ = params.reference_id.empty() ? params.server_name : params.reference_id;
    // Without a name the check could only prove that some trusted CA
    // vouches for somebody: not worth calling verified.
    if (reference_id_.empty()) return Status::error("tls", "a client session needs a server name or reference identity");
    int rc = gnutls_init(&session_, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (rc < 0) {
        session_ = nullptr;
        return gnutls_status("gnutls_init", rc);
    }
    rc = gnutls_priority_set(session_, ctx_->priority());
    if (rc < 0) return gnutls_status("gnutls_priority_set", rc);
    rc = gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, ctx_->credentials());
    if (rc < 0) return gnutls_status("gnutls_credentials_set", rc);
    if (!params.server_name.empty()) {
        rc = gnutls_server_name_set(session_, GNUTLS_NAME_DNS, params.server_name.data(), params.server_name.size());
        if (rc < 0) return gnutls_status("gnutls_server_name_set " + params.server_name, rc);
    }
    if (!params.alpn.empty()) {
        std::vector<gnutls_datum_t> protos;
        for (const auto& p : params.alpn)
            protos.push_back({reinterpret_cast<unsigned char*>(const_cast<char*>(p.data())),
                              static_cast<unsigned>(p.size())});
        rc = gnutls_alpn_set_protocols(session_, protos.data(), static_cast<unsigned>(protos.size()), 0);
        if (rc < 0) return gnutls_status("gnutls_alpn_set_protocols", rc);
    }
    // No gnutls_session_set_verify_cert: that would end the handshake on a
    // certificate the caller's policy may still accept (dialback). The
    // check runs once the handshake is done; see verify_peer().
    gnutls_transport_set_ptr(session_, this);
    gnutls_transport_set_push_function(session_, &TlsSession::push);
    gnutls_transport_set_pull_function(session_, &TlsSession::pull);
    gnutls_transport_set_pull_timeout_function(session_, &TlsSession::pull_timeout);
    gnutls_handshake_set_timeout(session_, 0);
    // Queues the ClientHello; the server's answer comes through feed().
    rc = gnutls_handshake(session_);
    if (rc != GNUTLS_E_AGAIN && rc != GNUTLS_E_INTERRUPTED) return failed("handshake", rc < 0 ? rc : GNUTLS_E_INTERNAL_ERROR);
    return Status::ok();
}

void TlsSession::verify_peer() {
    PeerVerification v;
    unsigned n = 0;
    if (!gnutls_certificate_get_peers(session_, &n) || n == 0) {
        v.result = PeerVerification::Result::no_certificate;
        v.text = "the peer showed no certificate";
        verification_ = std::move(v);
        return;
    }
    // The chain, the dates, the name (a DNS-ID, or the CN when the
    // certificate has no DNS-ID at all, as GnuTLS does) and the key purpose
    // (a TLS server's, when the certificate restricts it).
    gnutls_typed_vdata_st data[2] = {
        {GNUTLS_DT_DNS_HOSTNAME, reinterpret_cast<unsigned char*>(const_cast<char*>(reference_id_.c_str())), 0},
        {GNUTLS_DT_KEY_PURPOSE_OID, reinterpret_cast<unsigned char*>(const_cast<char*>(GNUTLS_KP_TLS_WWW_SERVER)), 0},
    };
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers(session_, data, 2, &status);
    if (rc < 0) {
        v.result = PeerVerification::Result::failed;
        v.status = GNUTLS_CERT_INVALID;
        v.text = std::string("cannot verify the certificate: ") + gnutls_strerror(rc);
    } else {
        v.result = status == 0 ? PeerVerification::Result::verified : PeerVerification::Result::failed;
        v.status = status;
        gnutls_datum_t out{};
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
            v.text.assign(reinterpret_cast<const char*>(out.data), out.size);
            gnutls_free(out.data);
        }
    }
    verification_ = std::move(v);
}

PeerVerification TlsSession::verify_domain(std::string_view domain) const {
    PeerVerification v;
    if (!handshake_done_) return v;
    Crt crt = peer_certificate(session_);
    if (!crt) {
        v.result = PeerVerification::Result::no_certificate;
        v.text = "the peer showed no certificate";
        return v;
    }
    // The chain and the dates here; the name below, since GnuTLS knows only
    // DNS names. A client checks that the server's certificate is for a TLS
    // server; a server does not ask the same of its peer's client
    // certificate, which servers take from their own server certificate.
    gnutls_typed_vdata_st purpose{GNUTLS_DT_KEY_PURPOSE_OID,
                                  reinterpret_cast<unsigned char*>(const_cast<char*>(GNUTLS_KP_TLS_WWW_SERVER)), 0};
    unsigned status = 0;
    int rc = gnutls_certificate_verify_peers(session_, client_ ? &purpose : nullptr, client_ ? 1 : 0, &status);
    if (rc < 0) {
        v.result = PeerVerification::Result::failed;
        v.status = GNUTLS_CERT_INVALID;
        v.text = std::string("cannot verify the certificate: ") + gnutls_strerror(rc);
        return v;
    }
    const std::string name(domain);
    bool named = gnutls_x509_crt_check_hostname2(crt.get(), name.c_str(), 0) != 0;
    if (!named) {
        const PeerIdentities ids = peer_identities();
        const std::string srv = "_xmpp-server." + name;
        for (const auto& a : ids.xmpp_addrs) named = named || ascii_iequal(a, name);
        for (const auto& a : ids.srv_ids) named = named || ascii_iequal(a, srv);
    }
    if (!named) status |= GNUTLS_CERT_INVALID | GNUTLS_CERT_UNEXPECTED_OWNER;
    v.result = status == 0 ? PeerVerification::Result::verified : PeerVerification::Result::failed;
    v.status = status;
    if (status != 0) {
        gnutls_datum_t out{};
        if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
            v.text.assign(reinterpret_cast<const char*>(out.data), out.size);
            gnutls_free(out.data);
        }
        if (!named) v.text += " (it does not name " + name + ")";
    } else {
        v.text = "the certificate is valid for " + name;
    }
    return v;
}

PeerIdentities TlsSession::peer_identities() const {
    PeerIdentities out;
    if (!handshake_done_) return out;
    Crt crt = peer_certificate(session_);
    if (!crt) return out;
    std::string buf;
    for (unsigned i = 0; i < kMaxAltNames; ++i) {
        buf.resize(256);
        size_t size = buf.size();
        unsigned critical = 0;
        int rc = gnutls_x509_crt_get_subject_alt_name(crt.get(), i, buf.data(), &size, &critical);
        if (rc == GNUTLS_E_SHORT_MEMORY_BUFFER) {
            buf.resize(size + 1);
            size = buf.size();
            rc = gnutls_x509_crt_get_subject_alt_name(crt.get(), i, buf.data(), &size, &critical);
        }
        if (rc == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE) break;
        if (rc < 0) continue;  // one entry GnuTLS cannot read: the others still count
        std::string value(buf.data(), std::min(size, buf.size()));
        // GnuTLS decodes SRVName and XmppAddr otherNames itself (the
        // "virtual" SAN types); other otherNames are not identities here.
        switch (rc) {
            case GNUTLS_SAN_DNSNAME:
                out.dns_ids.push_back(std::move(value));
                break;
            case GNUTLS_SAN_OTHERNAME_SRV:
                out.srv_ids.push_back(std::move(value));
                break;
            case GNUTLS_SAN_OTHERNAME_XMPP:
                out.xmpp_addrs.push_back(std::move(value));
                break;
            default:
                break;
        }
    }
    return out;
}

ssize_t TlsSession::push(gnutls_transport_ptr_t p, const void* data, size_t len) {
    auto* self = static_cast<TlsSession*>(p);
    self->out_.append(static_cast<const char*>(data), len);
    return static_cast<ssize_t>(len);
}

ssize_t TlsSession::pull(gnutls_transport_ptr_t p, void* data, size_t len) {
    auto* self = static_cast<TlsSession*>(p);
    if (self->in_len_ == 0) {
        gnutls_transport_set_errno(self->session_, EAGAIN);
        return -1;
    }
    size_t n = std::min(len, self->in_len_);
    std::memcpy(data, self->in_, n);
    self->in_ += n;
    self->in_len_ -= n;
    return static_cast<ssize_t>(n);
}

int TlsSession::pull_timeout(gnutls_transport_ptr_t p, unsigned int) {
    // Never waits: either the fed input has bytes left or it would block.
    auto* self = static_cast<TlsSession*>(p);
    return self->in_len_ > 0 ? 1 : 0;
}

Status TlsSession::failed(const char* what, int rc) {
    failed_ = true;
    return gnutls_status(what, rc);
}

Status TlsSession::feed(const char* data, size_t len, std::string& plain) {
    if (failed_) return Status::error("tls", "the TLS session has failed");
    in_ = data;
    in_len_ = len;
    Status s;
    while (!handshake_done_) {
        int rc = gnutls_handshake(session_);
        if (rc == GNUTLS_E_SUCCESS) {
            handshake_done_ = true;
            if (client_) verify_peer();
            s = send_pending();
            break;
        }
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) break;  // needs more input
        if (gnutls_error_is_fatal(rc)) {
            if (rc == GNUTLS_E_FATAL_ALERT_RECEIVED) {
                const char* alert = gnutls_alert_get_name(gnutls_alert_get(session_));
                failed_ = true;
                s = Status::error("tls", std::string("handshake: the ") + (client_ ? "server" : "client") +
                                          " sent the alert " + (alert ? alert : "?"));
            } else {
                // Tell the client why (e.g. protocol_version for TLS 1.1).
                gnutls_alert_send_appropriate(session_, rc);
                s = failed("handshake", rc);
            }
            break;
        }
        // A warning alert and the like: go on with the handshake.
    }
    if (s && handshake_done_) s = read_records(plain);
    in_ = nullptr;
    in_len_ = 0;
    return s;
}

Status TlsSession::read_records(std::string& plain) {
    while (!peer_closed_) {
        const size_t unread_before = in_len_;
        size_t old = plain.size();
        plain.resize(old + kRecordChunk);
        ssize_t n = gnutls_record_recv(session_, plain.data() + old, kRecordChunk);
        plain.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
        if (n > 0) continue;
        if (n == 0) {
            peer_closed_ = true;  // close_notify
            break;
        }
        int rc = static_cast<int>(n);
        if (rc == GNUTLS_E_AGAIN || rc == GNUTLS_E_INTERRUPTED) {
            // After a post-handshake message (a TLS 1.3 KeyUpdate or
            // ticket) GnuTLS answers AGAIN although fed records remain; go
            // on while input is still being used up, or the rest of this
            // read would be lost. Bounded: each round consumes input.
            if ((in_len_ > 0 && in_len_ < unread_before) || gnutls_record_check_pending(session_) > 0) continue;
            break;  // all input consumed
        }
        if (rc == GNUTLS_E_REHANDSHAKE) {
            // A TLS 1.2 client asking to renegotiate: we do not, and say so.
            gnutls_alert_send(session_, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
            continue;
        }
        if (gnutls_error_is_fatal(rc)) return failed("record", rc);
        // Non-fatal (a warning alert, a TLS 1.3 key update): keep reading.
    }
    if (plain.empty()) plain.shrink_to_fit();  // nothing decrypted: keep no buffer
    return Status::ok();
}

Status TlsSession::send_pending() {
    if (pending_.empty()) return Status::ok();
    std::string data;
    data.swap(pending_);
    return write(data);
}

Status TlsSession::write(std::string_view plain) {
    if (failed_) return Status::error("tls", "the TLS session has failed");
    if (plain.empty()) return Status::ok();
    if (!handshake_done_) {
        pending_.append(plain);
        return Status::ok();
    }
    while (!plain.empty()) {
        ssize_t n = gnutls_record_send(session_, plain.data(), plain.size());
        if (n > 0) {
            plain.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        int rc = static_cast<int>(n);
        if (rc == GNUTLS_E_INTERRUPTED || rc == GNUTLS_E_AGAIN) continue;  // our push never blocks
        return failed("record send", rc);
    }
    return Status::ok();
}

void TlsSession::bye() {
    if (!handshake_done_ || bye_sent_ || failed_) return;
    bye_sent_ = true;
    // SHUT_WR: close_notify only; the push never blocks, so this completes.
    gnutls_bye(session_, GNUTLS_SHUT_WR);
}

std::string TlsSession::take_output() {
    std::string out;
    out.swap(out_);  // the buffer's memory leaves with it
    return out;
}

bool TlsSession::resumed() const { return handshake_done_ && gnutls_session_is_resumed(session_) != 0; }

std::string TlsSession::protocol_name() const {
    if (!handshake_done_) return {};
    const char* name = gnutls_protocol_get_name(gnutls_protocol_get_version(session_));
    return name ? name : "";
}

std::string TlsSession::alpn() const {
    gnutls_datum_t proto{};
    if (!handshake_done_ || gnutls_alpn_get_selected_protocol(session_, &proto) < 0) return {};
    return std::string(reinterpret_cast<const char*>(proto.data), proto.size);
}

std::string TlsSession::sni() const {
    char name[256];
    size_t len = sizeof name;
    unsigned type = 0;
    if (gnutls_server_name_get(session_, name, &len, &type, 0) < 0 || type != GNUTLS_NAME_DNS) return {};
    return std::string(name, strnlen(name, len));
}

std::optional<ChannelBindingData> TlsSession::channel_binding() const {
    if (!handshake_done_) return std::nullopt;
    const bool tls13 = gnutls_protocol_get_version(session_) == GNUTLS_TLS1_3;
    // RFC 9266: tls-exporter for TLS 1.3; tls-unique (RFC 5929) is only
    // defined up to TLS 1.2.
    gnutls_datum_t cb{};
    int rc = gnutls_session_channel_binding(session_, tls13 ? GNUTLS_CB_TLS_EXPORTER : GNUTLS_CB_TLS_UNIQUE, &cb);
    if (rc < 0) return std::nullopt;
    ChannelBindingData out{tls13 ? "tls-exporter" : "tls-unique",
                           std::string(reinterpret_cast<const char*>(cb.data), cb.size)};
    gnutls_free(cb.data);
    return out;
}

}  // namespace parley::net

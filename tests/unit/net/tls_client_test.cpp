// net::TlsSession in client mode: our client session against our server
// session (and, for client certificates, a GnuTLS server that asks for one),
// wired through buffers in memory, no sockets. Certificates come from
// tests/support/certs.sh: two test CAs, a right-name, a wrong-name, an
// expired, a self-signed, an XMPP (SRV-ID, XmppAddr) and a client
// certificate.
#define BOOST_TEST_DYN_LINK
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <boost/test/unit_test.hpp>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "net/tls.hpp"

using parley::Status;
using parley::net::PeerVerification;
using parley::net::TlsCertificate;
using parley::net::TlsClientOptions;
using parley::net::TlsClientParams;
using parley::net::TlsContext;
using parley::net::TlsSession;

namespace {

// The certificates, made once per test run by certs.sh in a temporary
// directory: `trusted` holds the CA the clients trust and what it signed,
// `stranger` another CA and a certificate for a.example it signed.
struct Certs {
    std::string dir, trusted, stranger;
    Certs() {
        char tmpl[] = "/tmp/parley-tls-client-test-XXXXXX";
        if (!mkdtemp(tmpl)) throw std::runtime_error("tls client test: mkdtemp failed");
        dir = tmpl;
        trusted = dir + "/trusted";
        stranger = dir + "/stranger";
        const std::string script = std::string(PARLEY_TEST_SRCDIR) + "/tests/support/certs.sh";
        const std::string make_trusted =
            "sh '" + script + "' '" + trusted +
            "' a.example other.example xmpp:x.example expired:a.example "
            "self-signed:a.example client:c.example xmppaddr:q.example srv:r.example";
        const std::string make_stranger = "sh '" + script + "' '" + stranger + "' a.example";
        if (std::system(make_trusted.c_str()) != 0 || std::system(make_stranger.c_str()) != 0)
            throw std::runtime_error(
                "tls client test: tests/support/certs.sh failed (is certtool installed?)");
    }
    ~Certs() { std::filesystem::remove_all(dir); }
    TlsCertificate host(const std::string& base, const std::string& domain,
                        const std::string& in = "") const {
        const std::string d = in.empty() ? trusted : in;
        return {domain, d + "/" + base + ".pem", d + "/" + base + ".key"};
    }
    std::string ca() const { return trusted + "/ca.pem"; }
};

const Certs& certs() {
    static Certs c;
    return c;
}

std::shared_ptr<const TlsContext> server_context(std::vector<TlsCertificate> hosts) {
    auto ctx = TlsContext::create(hosts);
    BOOST_REQUIRE_MESSAGE(ctx, "tls: server context: " << ctx.status().to_string());
    return ctx.value();
}

std::shared_ptr<const TlsContext> client_context(TlsClientOptions options = {}) {
    if (options.ca_file.empty()) options.ca_file = certs().ca();
    auto ctx = TlsContext::create_client(options);
    BOOST_REQUIRE_MESSAGE(ctx, "tls: client context: " << ctx.status().to_string());
    return ctx.value();
}

std::unique_ptr<TlsSession> client_session(std::shared_ptr<const TlsContext> ctx,
                                           TlsClientParams params) {
    auto s = TlsSession::create_client(std::move(ctx), params);
    BOOST_REQUIRE_MESSAGE(s, "tls: client session: " << s.status().to_string());
    return std::move(s.value());
}

std::unique_ptr<TlsSession> server_session(std::shared_ptr<const TlsContext> ctx,
                                           TlsSession::Mode mode = TlsSession::Mode::starttls) {
    auto s = TlsSession::create(std::move(ctx), mode);
    BOOST_REQUIRE_MESSAGE(s, "tls: server session: " << s.status().to_string());
    return std::move(s.value());
}

struct Pumped {
    Status client, server;
    std::string client_plain, server_plain;
};

// Carries each side's output to the other until neither has any left
// (bounded), as two transports would.
Pumped pump(TlsSession& client, TlsSession& server) {
    Pumped p;
    for (int i = 0; i < 20 && p.client && p.server; ++i) {
        bool moved = false;
        if (client.has_output()) {
            const std::string wire = client.take_output();
            p.server = server.feed(wire.data(), wire.size(), p.server_plain);
            moved = true;
        }
        if (server.has_output()) {
            const std::string wire = server.take_output();
            p.client = client.feed(wire.data(), wire.size(), p.client_plain);
            moved = true;
        }
        if (!moved) break;
    }
    return p;
}

// A handshake of a client for `name` against a server with `hosts`; both
// must complete (the client's verdict is a value, not a failure).
std::unique_ptr<TlsSession> connect(std::vector<TlsCertificate> hosts, TlsClientParams params,
                                    std::unique_ptr<TlsSession>* server_out = nullptr) {
    auto server = server_session(server_context(std::move(hosts)));
    auto client = client_session(client_context(), std::move(params));
    Pumped p = pump(*client, *server);
    BOOST_REQUIRE_MESSAGE(p.client, "tls: client: " << p.client.to_string());
    BOOST_REQUIRE_MESSAGE(p.server, "tls: server: " << p.server.to_string());
    BOOST_REQUIRE_MESSAGE(client->handshake_done() && server->handshake_done(),
                          "tls: the handshake did not complete");
    if (server_out) *server_out = std::move(server);
    return client;
}

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls_client)

BOOST_AUTO_TEST_CASE(the_right_name_under_a_trusted_ca_is_verified) {
    std::unique_ptr<TlsSession> server;
    auto client = connect({certs().host("a.example", "a.example")}, {"a.example", "", {}}, &server);
    const PeerVerification& v = client->verification();
    BOOST_TEST(v.ok(), "tls: " << v.text);
    BOOST_TEST(v.status == 0u);
    BOOST_TEST(!v.untrusted());
    BOOST_TEST(!v.name_mismatch());
    BOOST_TEST(has(v.text, "trusted"), v.text);
    BOOST_TEST(client->is_client());
    BOOST_TEST(!server->is_client());
    BOOST_TEST(client->protocol_name() == "TLS1.3");
    BOOST_TEST(server->sni() == "a.example", "tls: the server sees the SNI the client sent");
    BOOST_TEST((server->verification().result == PeerVerification::Result::pending),
               "tls: a server session checks no certificate");

    // Application data both ways, and the server's TLS 1.3 ticket on the
    // way does not disturb the client.
    BOOST_REQUIRE(client->write("<stream:stream to='a.example'>"));
    BOOST_REQUIRE(server->write("<stream:features/>"));
    Pumped p = pump(*client, *server);
    BOOST_REQUIRE(p.client && p.server);
    BOOST_TEST(p.server_plain == "<stream:stream to='a.example'>");
    BOOST_TEST(p.client_plain == "<stream:features/>");
}

BOOST_AUTO_TEST_CASE(data_written_before_the_handshake_follows_it) {
    auto server = server_session(server_context({certs().host("a.example", "a.example")}));
    auto client = client_session(client_context(), {"a.example", "", {}});
    BOOST_TEST(client->has_output(), "tls: the ClientHello is queued at once");
    BOOST_TEST((client->verification().result == PeerVerification::Result::pending));
    BOOST_REQUIRE(client->write("early"));
    Pumped p = pump(*client, *server);
    BOOST_REQUIRE(p.client && p.server);
    BOOST_TEST(p.server_plain == "early");
}

BOOST_AUTO_TEST_CASE(a_wrong_name_is_reported_not_fatal) {
    auto client = connect({certs().host("other.example", "other.example")}, {"a.example", "", {}});
    const PeerVerification& v = client->verification();
    BOOST_TEST(!v.ok());
    BOOST_TEST((v.result == PeerVerification::Result::failed));
    BOOST_TEST(v.name_mismatch(), "tls: " << v.text);
    BOOST_TEST(!v.untrusted(), "tls: " << v.text);
    BOOST_TEST(!v.expired());
    BOOST_TEST(has(v.text, "does not match"), v.text);
}

BOOST_AUTO_TEST_CASE(the_reference_identity_is_checked_not_the_sni) {
    const std::vector<TlsCertificate> hosts = {certs().host("a.example", "a.example"),
                                               certs().host("other.example", "other.example")};
    // SNI picks other.example's certificate, which names other.example.
    auto same = connect(hosts, {"other.example", "", {}});
    BOOST_TEST(same->verification().ok(), same->verification().text);
    auto differs = connect(hosts, {"other.example", "a.example", {}});
    BOOST_TEST(differs->verification().name_mismatch(), differs->verification().text);
    // No SNI at all: the server's first host, checked against the reference.
    auto no_sni = connect(hosts, {"", "a.example", {}});
    BOOST_TEST(no_sni->verification().ok(), no_sni->verification().text);
}

BOOST_AUTO_TEST_CASE(an_untrusted_ca_and_a_self_signed_certificate_are_reported) {
    auto other_ca =
        connect({certs().host("a.example", "a.example", certs().stranger)}, {"a.example", "", {}});
    const PeerVerification& v = other_ca->verification();
    BOOST_TEST(!v.ok());
    BOOST_TEST(v.untrusted(), "tls: " << v.text);
    BOOST_TEST(!v.name_mismatch(), "tls: " << v.text);
    BOOST_TEST(has(v.text, "NOT trusted"), v.text);

    auto self =
        connect({certs().host("self-signed-a.example", "a.example")}, {"a.example", "", {}});
    BOOST_TEST(self->verification().untrusted(), "tls: " << self->verification().text);
    BOOST_TEST(!self->verification().name_mismatch());
}

BOOST_AUTO_TEST_CASE(an_expired_certificate_is_reported) {
    auto client = connect({certs().host("expired-a.example", "a.example")}, {"a.example", "", {}});
    const PeerVerification& v = client->verification();
    BOOST_TEST(!v.ok());
    BOOST_TEST(v.expired(), "tls: " << v.text);
    BOOST_TEST(!v.untrusted(), "tls: " << v.text);
    BOOST_TEST(!v.name_mismatch(), "tls: " << v.text);
    BOOST_TEST(has(v.text, "expired"), v.text);
}

BOOST_AUTO_TEST_CASE(alpn_is_negotiated_when_asked) {
    auto ctx = server_context({certs().host("a.example", "a.example")});
    {
        auto server = server_session(ctx, TlsSession::Mode::direct);
        auto client = client_session(client_context(), {"a.example", "", {"xmpp-client"}});
        Pumped p = pump(*client, *server);
        BOOST_REQUIRE(p.client && p.server && client->handshake_done());
        BOOST_TEST(client->alpn() == "xmpp-client");
        BOOST_TEST(server->alpn() == "xmpp-client");
    }
    {
        // Several offered: the server picks the one it serves.
        auto server = server_session(ctx, TlsSession::Mode::direct);
        auto client =
            client_session(client_context(), {"a.example", "", {"xmpp-server", "xmpp-client"}});
        Pumped p = pump(*client, *server);
        BOOST_REQUIRE(p.client && p.server && client->handshake_done());
        BOOST_TEST(client->alpn() == "xmpp-client");
    }
    {
        // A server that negotiates no ALPN (STARTTLS): none, and no failure.
        auto server = server_session(ctx, TlsSession::Mode::starttls);
        auto client = client_session(client_context(), {"a.example", "", {"xmpp-server"}});
        Pumped p = pump(*client, *server);
        BOOST_REQUIRE(p.client && p.server && client->handshake_done());
        BOOST_TEST(client->alpn() == "");
    }
    {
        // None asked: none sent.
        auto server = server_session(ctx, TlsSession::Mode::direct);
        auto client = client_session(client_context(), {"a.example", "", {}});
        Pumped p = pump(*client, *server);
        BOOST_REQUIRE(p.client && p.server && client->handshake_done());
        BOOST_TEST(server->alpn() == "");
    }
}

BOOST_AUTO_TEST_CASE(the_peer_certificate_identities) {
    auto server = server_session(server_context({certs().host("xmpp-x.example", "x.example")}));
    auto client = client_session(client_context(), {"x.example", "", {}});
    BOOST_TEST(client->peer_identities().dns_ids.empty(), "tls: nothing before the handshake");
    Pumped p = pump(*client, *server);
    BOOST_REQUIRE(p.client && p.server && client->handshake_done());
    BOOST_TEST(client->verification().ok(), client->verification().text);
    const auto ids = client->peer_identities();
    BOOST_TEST((ids.dns_ids == std::vector<std::string>{"x.example"}));
    BOOST_TEST((ids.srv_ids ==
                std::vector<std::string>{"_xmpp-server.x.example", "_xmpp-client.x.example"}));
    BOOST_TEST((ids.xmpp_addrs == std::vector<std::string>{"x.example"}));
    // The server saw no client certificate: it asked for none.
    BOOST_TEST(server->peer_identities().dns_ids.empty());

    auto plain = connect({certs().host("a.example", "a.example")}, {"a.example", "", {}});
    const auto a = plain->peer_identities();
    BOOST_TEST((a.dns_ids == std::vector<std::string>{"a.example"}));
    BOOST_TEST(a.srv_ids.empty());
    BOOST_TEST(a.xmpp_addrs.empty());
}

namespace {

// A GnuTLS server that asks for a client certificate, trusting the test CA.
struct CertAskingServer {
    gnutls_session_t s = nullptr;
    gnutls_certificate_credentials_t cred = nullptr;
    std::string in, out;
    size_t pos = 0;

    CertAskingServer() {
        const TlsCertificate h = certs().host("a.example", "a.example");
        BOOST_REQUIRE(gnutls_certificate_allocate_credentials(&cred) == 0);
        BOOST_REQUIRE(gnutls_certificate_set_x509_key_file(
                          cred, h.certificate.c_str(), h.key.c_str(), GNUTLS_X509_FMT_PEM) == 0);
        BOOST_REQUIRE(gnutls_certificate_set_x509_trust_file(cred, certs().ca().c_str(),
                                                             GNUTLS_X509_FMT_PEM) > 0);
        BOOST_REQUIRE(gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NONBLOCK) == 0);
        BOOST_REQUIRE(gnutls_set_default_priority(s) == 0);
        BOOST_REQUIRE(gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred) == 0);
        gnutls_certificate_server_set_request(s, GNUTLS_CERT_REQUEST);
        gnutls_transport_set_ptr(s, this);
        gnutls_transport_set_push_function(
            s, [](gnutls_transport_ptr_t p, const void* d, size_t n) -> ssize_t {
                static_cast<CertAskingServer*>(p)->out.append(static_cast<const char*>(d), n);
                return static_cast<ssize_t>(n);
            });
        gnutls_transport_set_pull_function(
            s, [](gnutls_transport_ptr_t p, void* d, size_t n) -> ssize_t {
                auto* self = static_cast<CertAskingServer*>(p);
                if (self->pos >= self->in.size()) {
                    gnutls_transport_set_errno(self->s, EAGAIN);
                    return -1;
                }
                n = std::min(n, self->in.size() - self->pos);
                std::memcpy(d, self->in.data() + self->pos, n);
                self->pos += n;
                return static_cast<ssize_t>(n);
            });
    }
    ~CertAskingServer() {
        gnutls_deinit(s);
        gnutls_certificate_free_credentials(cred);
    }
    // Handshakes with client; true when both sides are done.
    bool handshake(TlsSession& client) {
        bool done = false;
        std::string plain;
        for (int i = 0; i < 20 && !(done && client.handshake_done()); ++i) {
            in += client.take_output();
            int rc = done ? 0 : gnutls_handshake(s);
            if (rc == 0)
                done = true;
            else if (gnutls_error_is_fatal(rc))
                return false;
            std::string wire;
            wire.swap(out);
            if (!wire.empty() && !client.feed(wire.data(), wire.size(), plain)) return false;
        }
        return done && client.handshake_done();
    }
    // The client certificate's verdict and the name it was checked for.
    unsigned client_cert_status(const char* name) {
        unsigned status = 0;
        if (gnutls_certificate_verify_peers3(s, name, &status) < 0) return ~0u;
        return status;
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(a_client_certificate_is_shown_when_asked) {
    TlsClientOptions with_cert;
    with_cert.client = certs().host("client-c.example", "c.example");
    {
        CertAskingServer server;
        auto client = client_session(client_context(with_cert), {"a.example", "", {}});
        BOOST_REQUIRE_MESSAGE(server.handshake(*client),
                              "tls: handshake with a certificate-asking server");
        BOOST_TEST(client->verification().ok(), client->verification().text);
        unsigned n = 0;
        BOOST_REQUIRE(gnutls_certificate_get_peers(server.s, &n) != nullptr);
        BOOST_TEST(n >= 1u, "tls: the client showed its certificate");
        BOOST_TEST(server.client_cert_status("c.example") == 0u,
                   "tls: the server verifies the client's certificate for c.example");
    }
    {
        CertAskingServer server;
        auto client = client_session(client_context(), {"a.example", "", {}});
        BOOST_REQUIRE(server.handshake(*client));
        unsigned n = 0;
        BOOST_TEST((gnutls_certificate_get_peers(server.s, &n) == nullptr || n == 0),
                   "tls: without a client certificate none is shown");
    }
}

// Server-to-server identities (RFC 6125, RFC 7590): the client checks the
// server's certificate for a domain; the server, asked with Peer::server and
// trust, checks the client's.
BOOST_AUTO_TEST_CASE(verify_domain_checks_an_xmpp_domain_either_way) {
    // DNS-ID, XmppAddr only, SRV-ID only: each proves its domain and no other.
    struct Case {
        const char* base;
        const char* domain;
    };
    for (const Case c : {Case{"a.example", "a.example"}, Case{"xmppaddr-q.example", "q.example"},
                         Case{"srv-r.example", "r.example"}}) {
        auto client = connect({certs().host(c.base, c.domain)}, {c.domain, "", {}});
        const PeerVerification v = client->verify_domain(c.domain);
        BOOST_TEST(v.ok(), c.base << ": " << v.text);
        const PeerVerification other = client->verify_domain("other.example");
        BOOST_TEST(!other.ok(), c.base << " must not prove other.example");
        BOOST_TEST(other.name_mismatch(), other.text);
        BOOST_TEST(has(other.text, "other.example"), other.text);
    }
    // The SRV-ID of a client service is not a server's.
    {
        auto client = connect({certs().host("srv-r.example", "r.example")}, {"r.example", "", {}});
        BOOST_TEST(!client->verify_domain("xmpp-server.r.example").ok());
    }

    // The server side: a peer server shows its certificate as a client.
    auto trusted_server = [](bool trust) {
        auto ctx = TlsContext::create({certs().host("a.example", "a.example")},
                                      trust ? std::optional<std::string>(certs().ca()) : std::nullopt);
        BOOST_REQUIRE_MESSAGE(ctx, ctx.status().to_string());
        auto s = TlsSession::create(ctx.value(), TlsSession::Mode::starttls, TlsSession::Peer::server);
        BOOST_REQUIRE(s);
        return std::move(s.value());
    };
    auto handshake = [](TlsSession& client, TlsSession& server) {
        Pumped p = pump(client, server);
        BOOST_REQUIRE_MESSAGE(p.client && p.server && server.handshake_done(), "tls: handshake");
    };
    TlsClientOptions as_other;
    as_other.client = certs().host("other.example", "other.example");
    {
        auto server = trusted_server(true);
        BOOST_TEST((server->verify_domain("other.example").result == PeerVerification::Result::pending));
        auto client = client_session(client_context(as_other), {"a.example", "", {}});
        handshake(*client, *server);
        const PeerVerification v = server->verify_domain("other.example");
        BOOST_TEST(v.ok(), v.text);
        BOOST_TEST(!server->verify_domain("a.example").ok(), "tls: it names other.example only");
    }
    {
        // Without trust the server asks for nothing (c2s).
        auto server = trusted_server(false);
        auto client = client_session(client_context(as_other), {"a.example", "", {}});
        handshake(*client, *server);
        BOOST_TEST((server->verify_domain("other.example").result == PeerVerification::Result::no_certificate));
    }
    {
        // No certificate shown; a certificate of another CA.
        auto server = trusted_server(true);
        auto client = client_session(client_context(), {"a.example", "", {}});
        handshake(*client, *server);
        BOOST_TEST((server->verify_domain("a.example").result == PeerVerification::Result::no_certificate));
        TlsClientOptions stranger;
        stranger.client = certs().host("a.example", "a.example", certs().stranger);
        auto server2 = trusted_server(true);
        auto client2 = client_session(client_context(stranger), {"a.example", "", {}});
        handshake(*client2, *server2);
        const PeerVerification v = server2->verify_domain("a.example");
        BOOST_TEST(!v.ok());
        BOOST_TEST(v.untrusted(), v.text);
    }
}

BOOST_AUTO_TEST_CASE(contexts_and_sessions_refuse_what_cannot_work) {
    TlsClientOptions missing;
    missing.ca_file = certs().dir + "/nope.pem";
    auto no_ca = TlsContext::create_client(missing);
    BOOST_REQUIRE(!no_ca);
    BOOST_TEST(has(no_ca.status().message(), "nope.pem"), no_ca.status().message());

    TlsClientOptions half;
    half.ca_file = certs().ca();
    half.client.domain = "c.example";
    half.client.certificate = certs().host("client-c.example", "c.example").certificate;
    auto half_cert = TlsContext::create_client(half);
    BOOST_REQUIRE(!half_cert);
    BOOST_TEST(has(half_cert.status().message(), "c.example"), half_cert.status().message());

    auto server_ctx = server_context({certs().host("a.example", "a.example")});
    auto client_ctx = client_context();
    BOOST_TEST(client_ctx->is_client());
    BOOST_TEST(!server_ctx->is_client());
    BOOST_TEST(!TlsSession::create_client(server_ctx, {"a.example", "", {}}));
    BOOST_TEST(!TlsSession::create(client_ctx, TlsSession::Mode::starttls));
    auto nameless = TlsSession::create_client(client_ctx, {"", "", {}});
    BOOST_REQUIRE(!nameless);
    BOOST_TEST(has(nameless.status().message(), "reference identity"), nameless.status().message());
}

BOOST_AUTO_TEST_CASE(the_system_trust_store_does_not_trust_the_test_ca) {
    auto ctx = TlsContext::create_client({});
    if (!ctx) {
        // A machine without CA certificates: the error says where it looked.
        BOOST_TEST(has(ctx.status().message(), "system's trust store"), ctx.status().message());
        return;
    }
    auto server = server_session(server_context({certs().host("a.example", "a.example")}));
    auto client = client_session(ctx.value(), {"a.example", "", {}});
    Pumped p = pump(*client, *server);
    BOOST_REQUIRE(p.client && p.server && client->handshake_done());
    BOOST_TEST(client->verification().untrusted(), client->verification().text);
}

BOOST_AUTO_TEST_SUITE_END()

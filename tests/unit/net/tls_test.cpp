// net::TlsContext and net::TlsSession: a server session driven in memory
// against a GnuTLS client session, the two wired through buffers.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "net/tls.hpp"

using parley::net::TlsCertificate;
using parley::net::TlsContext;
using parley::net::TlsSession;

namespace {

void write_datum(const std::string& path, const gnutls_datum_t& d) {
    std::ofstream f(path, std::ios::binary);
    f.write(reinterpret_cast<const char*>(d.data), d.size);
}

// A self-signed ECDSA P-256 certificate naming `domain` (SAN dNSName), made
// in process so that the test needs no tool.
TlsCertificate make_cert(const std::string& dir, const std::string& domain) {
    gnutls_x509_privkey_t key = nullptr;
    gnutls_x509_crt_t crt = nullptr;
    BOOST_REQUIRE(gnutls_x509_privkey_init(&key) == 0);
    BOOST_REQUIRE(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
                                               GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) == 0);
    BOOST_REQUIRE(gnutls_x509_crt_init(&crt) == 0);
    gnutls_x509_crt_set_version(crt, 3);
    unsigned char serial[8];
    gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof serial);
    serial[0] &= 0x7f;
    gnutls_x509_crt_set_serial(crt, serial, sizeof serial);
    time_t now = time(nullptr);
    gnutls_x509_crt_set_activation_time(crt, now - 3600);
    gnutls_x509_crt_set_expiration_time(crt, now + 86400);
    gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, domain.data(), domain.size());
    gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, domain.data(), domain.size(), GNUTLS_FSAN_SET);
    gnutls_x509_crt_set_key(crt, key);
    gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE);
    BOOST_REQUIRE(gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0) == 0);
    TlsCertificate c{domain, dir + "/" + domain + ".pem", dir + "/" + domain + ".key"};
    gnutls_datum_t d{};
    BOOST_REQUIRE(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) == 0);
    write_datum(c.certificate, d);
    gnutls_free(d.data);
    BOOST_REQUIRE(gnutls_x509_privkey_export2(key, GNUTLS_X509_FMT_PEM, &d) == 0);
    write_datum(c.key, d);
    gnutls_free(d.data);
    gnutls_x509_crt_deinit(crt);
    gnutls_x509_privkey_deinit(key);
    return c;
}

// Two hosts' certificates in a temporary directory, made once per test run.
struct Certs {
    std::string dir;
    std::vector<TlsCertificate> hosts;
    Certs() {
        char tmpl[] = "/tmp/parley-tls-test-XXXXXX";
        dir = mkdtemp(tmpl);
        hosts.push_back(make_cert(dir, "a.example"));
        hosts.push_back(make_cert(dir, "b.example"));
    }
    ~Certs() { std::filesystem::remove_all(dir); }
};

const Certs& certs() {
    static Certs c;
    return c;
}

std::shared_ptr<const TlsContext> context() {
    auto ctx = TlsContext::create(certs().hosts);
    BOOST_REQUIRE_MESSAGE(ctx, "tls: context: " << ctx.status().to_string());
    return ctx.value();
}

// A GnuTLS client over in-memory buffers.
struct Client {
    gnutls_session_t s = nullptr;
    gnutls_certificate_credentials_t cred = nullptr;
    std::string in;  // from the server
    size_t pos = 0;
    std::string out;  // to the server
    bool done = false;
    int error = 0;

    explicit Client(const char* priority, const char* sni = nullptr, const char* alpn = nullptr) {
        gnutls_certificate_allocate_credentials(&cred);
        gnutls_init(&s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
        const char* err = nullptr;
        BOOST_REQUIRE_MESSAGE(gnutls_priority_set_direct(s, priority, &err) == 0, "tls: client priority " << priority);
        gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred);
        if (sni) gnutls_server_name_set(s, GNUTLS_NAME_DNS, sni, std::strlen(sni));
        if (alpn) {
            gnutls_datum_t p{reinterpret_cast<unsigned char*>(const_cast<char*>(alpn)),
                             static_cast<unsigned>(std::strlen(alpn))};
            gnutls_alpn_set_protocols(s, &p, 1, 0);
        }
        gnutls_transport_set_ptr(s, this);
        gnutls_transport_set_push_function(s, [](gnutls_transport_ptr_t p, const void* d, size_t n) -> ssize_t {
            static_cast<Client*>(p)->out.append(static_cast<const char*>(d), n);
            return static_cast<ssize_t>(n);
        });
        gnutls_transport_set_pull_function(s, [](gnutls_transport_ptr_t p, void* d, size_t n) -> ssize_t {
            auto* c = static_cast<Client*>(p);
            if (c->pos >= c->in.size()) {
                gnutls_transport_set_errno(c->s, EAGAIN);
                return -1;
            }
            n = std::min(n, c->in.size() - c->pos);
            std::memcpy(d, c->in.data() + c->pos, n);
            c->pos += n;
            return static_cast<ssize_t>(n);
        });
    }
    ~Client() {
        gnutls_deinit(s);
        gnutls_certificate_free_credentials(cred);
    }
    void step() {
        if (done || error) return;
        int rc = gnutls_handshake(s);
        if (rc == 0) done = true;
        else if (gnutls_error_is_fatal(rc)) error = rc;
    }
    // A TLS 1.3 session ticket (a post-handshake message) makes
    // gnutls_record_recv answer AGAIN once while records remain: go on
    // while there is input left, as a real client does.
    ssize_t recv(char* buf, size_t len) {
        ssize_t n = GNUTLS_E_AGAIN;
        for (int i = 0; i < 16; ++i) {
            n = gnutls_record_recv(s, buf, len);
            if ((n != GNUTLS_E_AGAIN && n != GNUTLS_E_INTERRUPTED) || pos >= in.size()) break;
        }
        return n;
    }
    std::string read_all() {
        std::string got;
        char buf[4096];
        for (;;) {
            ssize_t n = recv(buf, sizeof buf);
            if (n > 0) got.append(buf, static_cast<size_t>(n));
            else break;
        }
        return got;
    }
    std::string take() {
        std::string o;
        o.swap(out);
        return o;
    }
    std::string peer_cert_name_check(const char* name) {
        unsigned n = 0;
        const gnutls_datum_t* peers = gnutls_certificate_get_peers(s, &n);
        if (!peers || n == 0) return "none";
        gnutls_x509_crt_t crt;
        gnutls_x509_crt_init(&crt);
        gnutls_x509_crt_import(crt, &peers[0], GNUTLS_X509_FMT_DER);
        bool ok = gnutls_x509_crt_check_hostname(crt, name) != 0;
        gnutls_x509_crt_deinit(crt);
        return ok ? "match" : "other";
    }
};

// Runs the handshake both ways until done or failed; returns the server's
// last feed status.
parley::Status handshake(Client& c, TlsSession& server, std::string& plain) {
    parley::Status st;
    for (int i = 0; i < 20 && st && !c.error && !(c.done && server.handshake_done()); ++i) {
        c.step();
        std::string wire = c.take();
        if (!wire.empty()) st = server.feed(wire.data(), wire.size(), plain);
        if (server.has_output()) c.in += server.take_output();
    }
    c.step();
    return st;
}

std::unique_ptr<TlsSession> server_session(TlsSession::Mode mode = TlsSession::Mode::starttls) {
    auto s = TlsSession::create(context(), mode);
    BOOST_REQUIRE_MESSAGE(s, "tls: session: " << s.status().to_string());
    return std::move(s.value());
}

void exchange_app_data(Client& c, TlsSession& server) {
    std::string plain;
    BOOST_REQUIRE_EQUAL(gnutls_record_send(c.s, "<stream:stream>", 15), 15);
    std::string wire = c.take();
    BOOST_REQUIRE_MESSAGE(server.feed(wire.data(), wire.size(), plain), "tls: server feed of app data");
    BOOST_CHECK_EQUAL(plain, "<stream:stream>");
    BOOST_REQUIRE(server.write("<features/>"));
    BOOST_REQUIRE(server.has_output());
    c.in += server.take_output();
    BOOST_CHECK_EQUAL(c.read_all(), "<features/>");
    BOOST_CHECK(!server.has_output());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tls)

BOOST_AUTO_TEST_CASE(handshake_tls13_and_app_data) {
    auto server = server_session();
    Client c("NORMAL:-VERS-ALL:+VERS-TLS1.3", "a.example");
    std::string plain;
    parley::Status st = handshake(c, *server, plain);
    BOOST_REQUIRE_MESSAGE(st, "tls: server handshake: " << st.to_string());
    BOOST_REQUIRE_MESSAGE(c.done, "tls: client handshake: " << gnutls_strerror(c.error));
    BOOST_CHECK(server->handshake_done());
    BOOST_CHECK_EQUAL(server->protocol_name(), "TLS1.3");
    BOOST_CHECK_EQUAL(server->sni(), "a.example");
    BOOST_CHECK_EQUAL(server->alpn(), "");
    exchange_app_data(c, *server);
}

BOOST_AUTO_TEST_CASE(app_data_after_a_key_update_in_the_same_read_is_not_lost) {
    auto server = server_session();
    Client c("NORMAL:-VERS-ALL:+VERS-TLS1.3", "a.example");
    std::string plain;
    BOOST_REQUIRE(handshake(c, *server, plain));
    BOOST_REQUIRE(c.done);
    // A KeyUpdate and application data arrive in one socket read.
    int rc = gnutls_session_key_update(c.s, 0);
    BOOST_REQUIRE_MESSAGE(rc == 0 || rc == GNUTLS_E_AGAIN, "tls: client key update: " << gnutls_strerror(rc));
    BOOST_REQUIRE_EQUAL(gnutls_record_send(c.s, "<presence/>", 11), 11);
    std::string wire = c.take();
    plain.clear();
    BOOST_REQUIRE_MESSAGE(server->feed(wire.data(), wire.size(), plain), "tls: feed after a key update");
    BOOST_CHECK_EQUAL(plain, "<presence/>");
}

BOOST_AUTO_TEST_CASE(a_returning_client_resumes_with_a_ticket) {
    auto ctx = context();
    for (const char* prio : {"NORMAL:-VERS-ALL:+VERS-TLS1.3", "NORMAL:-VERS-ALL:+VERS-TLS1.2"}) {
        BOOST_TEST_CONTEXT("client priority " << prio) {
            gnutls_datum_t ticket{nullptr, 0};
            std::string plain;
            {
                auto first = TlsSession::create(ctx, TlsSession::Mode::starttls);
                BOOST_REQUIRE(first);
                Client c(prio, "a.example");
                BOOST_REQUIRE(handshake(c, *first.value(), plain));
                exchange_app_data(c, *first.value());  // the client reads the TLS 1.3 ticket here
                BOOST_TEST(!first.value()->resumed(), "tls: a first handshake is a full one");
                BOOST_REQUIRE(gnutls_session_get_data2(c.s, &ticket) == 0);
            }
            // Another session of the same context (another worker, later).
            auto second = TlsSession::create(ctx, TlsSession::Mode::direct);
            BOOST_REQUIRE(second);
            Client c2(prio, "a.example");
            BOOST_REQUIRE(gnutls_session_set_data(c2.s, ticket.data, ticket.size) == 0);
            gnutls_free(ticket.data);
            BOOST_REQUIRE(handshake(c2, *second.value(), plain));
            BOOST_REQUIRE(c2.done);
            BOOST_TEST(second.value()->resumed(), "tls: the server resumed the session from its ticket");
            BOOST_TEST(gnutls_session_is_resumed(c2.s) != 0, "tls: the client sees a resumed session");
            exchange_app_data(c2, *second.value());
        }
    }
}

BOOST_AUTO_TEST_CASE(a_ticket_from_before_a_reload_gives_a_full_handshake) {
    gnutls_datum_t ticket{nullptr, 0};
    std::string plain;
    {
        auto first = TlsSession::create(context(), TlsSession::Mode::starttls);
        BOOST_REQUIRE(first);
        Client c("NORMAL:-VERS-ALL:+VERS-TLS1.3", "a.example");
        BOOST_REQUIRE(handshake(c, *first.value(), plain));
        exchange_app_data(c, *first.value());
        BOOST_REQUIRE(gnutls_session_get_data2(c.s, &ticket) == 0);
    }
    auto after = TlsSession::create(context(), TlsSession::Mode::starttls);  // a new context: a reload
    BOOST_REQUIRE(after);
    Client c2("NORMAL:-VERS-ALL:+VERS-TLS1.3", "a.example");
    BOOST_REQUIRE(gnutls_session_set_data(c2.s, ticket.data, ticket.size) == 0);
    gnutls_free(ticket.data);
    BOOST_REQUIRE(handshake(c2, *after.value(), plain));
    BOOST_REQUIRE(c2.done);
    BOOST_TEST(!after.value()->resumed(), "tls: a ticket under another context's key is not accepted");
    exchange_app_data(c2, *after.value());
}

BOOST_AUTO_TEST_CASE(x25519_is_preferred_for_key_exchange) {
    // A client that prefers P-256 but also offers X25519 still gets X25519.
    auto server = server_session();
    Client c("NORMAL:-VERS-ALL:+VERS-TLS1.3:-GROUP-ALL:+GROUP-SECP256R1:+GROUP-X25519", "a.example");
    std::string plain;
    BOOST_REQUIRE(handshake(c, *server, plain));
    BOOST_REQUIRE(c.done);
    BOOST_TEST(gnutls_group_get_name(gnutls_group_get(c.s)) == std::string("X25519"));
}

BOOST_AUTO_TEST_CASE(handshake_tls12_and_app_data) {
    auto server = server_session();
    Client c("NORMAL:-VERS-ALL:+VERS-TLS1.2", "a.example");
    std::string plain;
    parley::Status st = handshake(c, *server, plain);
    BOOST_REQUIRE_MESSAGE(st, "tls: server handshake: " << st.to_string());
    BOOST_REQUIRE_MESSAGE(c.done, "tls: client handshake: " << gnutls_strerror(c.error));
    BOOST_CHECK_EQUAL(server->protocol_name(), "TLS1.2");
    exchange_app_data(c, *server);
}

BOOST_AUTO_TEST_CASE(data_written_before_handshake_is_sent_after) {
    auto server = server_session();
    BOOST_REQUIRE(server->write("early"));
    BOOST_CHECK(!server->has_output());
    Client c("NORMAL", "a.example");
    std::string plain;
    BOOST_REQUIRE(handshake(c, *server, plain));
    BOOST_REQUIRE(c.done);
    if (server->has_output()) c.in += server->take_output();
    BOOST_CHECK_EQUAL(c.read_all(), "early");
}

BOOST_AUTO_TEST_CASE(sni_picks_the_host_certificate) {
    for (const char* name : {"a.example", "b.example"}) {
        auto server = server_session();
        Client c("NORMAL", name);
        std::string plain;
        BOOST_REQUIRE(handshake(c, *server, plain));
        BOOST_REQUIRE(c.done);
        BOOST_CHECK_MESSAGE(c.peer_cert_name_check(name) == "match", "tls: SNI " << name << " got another certificate");
    }
    // No SNI: the first host.
    auto server = server_session();
    Client c("NORMAL");
    std::string plain;
    BOOST_REQUIRE(handshake(c, *server, plain));
    BOOST_REQUIRE(c.done);
    BOOST_CHECK_EQUAL(c.peer_cert_name_check("a.example"), "match");
    BOOST_CHECK_EQUAL(server->sni(), "");
}

BOOST_AUTO_TEST_CASE(tls11_client_is_refused) {
    auto server = server_session();
    Client c("NORMAL:-VERS-ALL:+VERS-TLS1.1:+VERS-TLS1.0");
    // The client must at least have sent its hello, or the test proves nothing.
    c.step();
    BOOST_REQUIRE_MESSAGE(!c.out.empty(), "tls: the TLS 1.1 client sent no hello: " << gnutls_strerror(c.error));
    std::string plain;
    parley::Status st = handshake(c, *server, plain);
    BOOST_CHECK_MESSAGE(!st, "tls: a TLS 1.1 client was accepted");
    BOOST_TEST_MESSAGE("tls: TLS 1.1 refused with " << st.to_string() << "; client: " << gnutls_strerror(c.error));
    BOOST_CHECK(!server->handshake_done());
    BOOST_CHECK(!c.done);
    // Further input is refused too.
    BOOST_CHECK(!server->feed("x", 1, plain));
}

BOOST_AUTO_TEST_CASE(direct_tls_negotiates_alpn) {
    auto server = server_session(TlsSession::Mode::direct);
    Client c("NORMAL", "a.example", "xmpp-client");
    std::string plain;
    BOOST_REQUIRE(handshake(c, *server, plain));
    BOOST_REQUIRE(c.done);
    BOOST_CHECK_EQUAL(server->alpn(), "xmpp-client");
    gnutls_datum_t p{};
    BOOST_REQUIRE(gnutls_alpn_get_selected_protocol(c.s, &p) == 0);
    BOOST_CHECK_EQUAL(std::string(reinterpret_cast<char*>(p.data), p.size), "xmpp-client");

    // A client without ALPN is still served.
    auto server2 = server_session(TlsSession::Mode::direct);
    Client c2("NORMAL", "a.example");
    BOOST_REQUIRE(handshake(c2, *server2, plain));
    BOOST_CHECK(c2.done);
    BOOST_CHECK_EQUAL(server2->alpn(), "");
}

BOOST_AUTO_TEST_CASE(channel_binding_matches_the_client) {
    struct Case {
        const char* priority;
        const char* name;
        gnutls_channel_binding_t type;
    };
    for (const Case& k : {Case{"NORMAL:-VERS-ALL:+VERS-TLS1.3", "tls-exporter", GNUTLS_CB_TLS_EXPORTER},
                          Case{"NORMAL:-VERS-ALL:+VERS-TLS1.2", "tls-unique", GNUTLS_CB_TLS_UNIQUE}}) {
        auto server = server_session();
        BOOST_CHECK(!server->channel_binding());
        Client c(k.priority, "a.example");
        std::string plain;
        BOOST_REQUIRE(handshake(c, *server, plain));
        BOOST_REQUIRE(c.done);
        auto cb = server->channel_binding();
        BOOST_REQUIRE_MESSAGE(cb, "tls: no channel binding for " << k.name);
        BOOST_CHECK_EQUAL(cb->name, k.name);
        gnutls_datum_t d{};
        BOOST_REQUIRE(gnutls_session_channel_binding(c.s, k.type, &d) == 0);
        BOOST_CHECK_MESSAGE(cb->data == std::string(reinterpret_cast<char*>(d.data), d.size),
                            "tls: " << k.name << " differs between client and server");
        BOOST_CHECK(!cb->data.empty());
        gnutls_free(d.data);
    }
}

BOOST_AUTO_TEST_CASE(close_notify_both_ways) {
    auto server = server_session();
    Client c("NORMAL", "a.example");
    std::string plain;
    BOOST_REQUIRE(handshake(c, *server, plain));
    gnutls_bye(c.s, GNUTLS_SHUT_WR);
    std::string wire = c.take();
    BOOST_REQUIRE(server->feed(wire.data(), wire.size(), plain));
    BOOST_CHECK(server->peer_closed());
    server->bye();
    BOOST_REQUIRE(server->has_output());
    c.in += server->take_output();
    char buf[16];
    BOOST_CHECK_EQUAL(c.recv(buf, sizeof buf), 0);
}

BOOST_AUTO_TEST_CASE(bad_files_are_named) {
    auto r = TlsContext::create({TlsCertificate{"x.example", "/nonexistent/x.pem", "/nonexistent/x.key"}});
    BOOST_REQUIRE(!r);
    BOOST_CHECK_MESSAGE(r.status().message().find("/nonexistent/x.pem") != std::string::npos,
                        "tls: the error does not name the file: " << r.status().message());
    BOOST_CHECK(!TlsContext::create({}));
}

BOOST_AUTO_TEST_SUITE_END()

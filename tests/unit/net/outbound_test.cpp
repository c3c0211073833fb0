// An outbound stream on StreamTransport (what s2s needs): it connects to a
// running worker's c2s listener on loopback, opens a stream, negotiates
// STARTTLS as a TLS client and checks the server's certificate against the
// test CA, then sees the features offered over TLS.
#define BOOST_TEST_DYN_LINK
#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <future>

#include "daemon/shared.hpp"
#include "loop/worker.hpp"
#include "net/stream_transport.hpp"
#include "net/tls.hpp"
#include "sasl/login_throttle.hpp"
#include "sasl/sasl_server.hpp"
#include "store/accounts.hpp"
#include "store/env.hpp"
#include "support/temp_dir.hpp"
#include "support/loopback.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;
using parley::test::free_port;

namespace {

// The client side: opens the stream, asks for STARTTLS, checks the
// certificate, opens the stream again over TLS; reports what happened.
class Peer final : public net::TransportUser {
public:
    Peer(net::StreamTransport& t, std::shared_ptr<const net::TlsContext> ctx) : t_(t), ctx_(std::move(ctx)) {}
    std::promise<std::string> result;

    void on_stream_open(const xml::StreamHeader& h) override { log_ += "open:" + std::string(h.attr("from")) + ";"; }
    void on_stanza(xml::Element e) override {
        if (e.name() == "features" && !t_.secure()) {
            if (!e.child("starttls", std::string(xmpp::kNsTls))) return finish("no starttls offered");
            t_.send_raw("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>");
        } else if (e.name() == "proceed") {
            Status s = t_.start_tls_client(ctx_, net::TlsClientParams{"a.example", "", {}});
            if (!s) return finish("start_tls_client: " + s.to_string());
        } else if (e.name() == "features" && t_.secure()) {
            finish(log_ + (e.child("mechanisms", std::string(xmpp::kNsSasl)) ? "mechanisms over TLS" : "no mechanisms"));
        }
    }
    void on_stream_close() override { finish(log_ + "closed by the server"); }
    void on_tls_established() override {
        const auto v = t_.tls()->verification();
        log_ += v.ok() ? "verified;" : "not verified: " + v.text + ";";
        t_.send_stream_header({}, "a.example", {});
    }
    void on_deadline() override {}
    void on_transport_closed() override { finish(log_ + "transport closed"); }
    std::string_view default_ns() const override { return xmpp::kNsClient; }
    void finish(const std::string& what) {
        if (done_) return;
        done_ = true;
        result.set_value(what);
        t_.close_stream();
    }

private:
    net::StreamTransport& t_;
    std::shared_ptr<const net::TlsContext> ctx_;
    std::string log_;
    bool done_ = false;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(net_outbound)

BOOST_AUTO_TEST_CASE(an_outbound_stream_negotiates_starttls_as_a_verified_client) {
    test::TempDir dir;
    const std::string certs = dir.sub("certs");
    const std::string cmd = "sh '" + std::string(PARLEY_TEST_SRCDIR) + "/tests/support/certs.sh' '" + certs + "' a.example";
    BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "outbound: certs.sh failed");
    auto env = store::Env::open(dir.sub("state"), size_t{16} << 20);
    BOOST_REQUIRE(env);
    auto accounts = store::AccountStore::open(*env.value());
    BOOST_REQUIRE(accounts);
    BOOST_REQUIRE(sasl::init(accounts.value().get(), {"SCRAM-SHA-256", "PLAIN"}).is_ok());
    auto cfg = std::make_shared<config::Config>();
    cfg->workers = 1;
    cfg->data_dir = dir.path();
    cfg->c2s.address = "127.0.0.1";
    cfg->c2s.starttls_port = free_port();
    cfg->c2s.direct_tls_port = 0;
    cfg->hosts.push_back(config::VirtualHost{"a.example", certs + "/a.example.pem", certs + "/a.example.key"});
    auto server_tls = net::TlsContext::create({net::TlsCertificate{"a.example", certs + "/a.example.pem", certs + "/a.example.key"}});
    BOOST_REQUIRE_MESSAGE(server_tls, "outbound: " << server_tls.status().to_string());
    auto client_tls = net::TlsContext::create_client(net::TlsClientOptions{certs + "/ca.pem", {}});
    BOOST_REQUIRE_MESSAGE(client_tls, "outbound: " << client_tls.status().to_string());

    sessions::LocalRegistry registry;
    sasl::LoginThrottle throttle{1, 10};
    daemon::Shared shared;
    shared.set_config(cfg);
    shared.set_tls(server_tls.value());
    shared.accounts = accounts.value().get();
    shared.registry = &registry;
    shared.throttle = &throttle;
    loop::Worker w(0, shared);
    shared.workers.push_back(&w);
    BOOST_REQUIRE(w.start({}).is_ok());

    std::shared_ptr<std::promise<std::string>> outcome;
    Peer* peer = nullptr;
    std::promise<void> started;
    BOOST_REQUIRE(w.post([&](loop::Worker& worker) {
        auto* t = new net::StreamTransport(worker, xml::StreamLimits::for_stanza_bytes(65536, 64));
        peer = new Peer(*t, client_tls.value());
        t->set_user(peer);
        sockaddr_storage ss{};
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(cfg->c2s.starttls_port);
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        Status s = t->connect(ss, [t](Status st) {
            if (st) t->send_stream_header({}, "a.example", {});
        });
        BOOST_TEST(s.is_ok());
        started.set_value();
    }));
    started.get_future().get();
    auto fut = peer->result.get_future();
    BOOST_REQUIRE((fut.wait_for(std::chrono::seconds(15)) == std::future_status::ready));
    const std::string got = fut.get();
    BOOST_TEST(got.find("verified;") != std::string::npos, "outbound: " << got);
    BOOST_TEST(got.find("not verified") == std::string::npos, "outbound: " << got);
    BOOST_TEST(got.find("mechanisms over TLS") != std::string::npos, "outbound: " << got);
    BOOST_TEST(got.find("open:a.example;") != std::string::npos, "outbound: the server answered for a.example: " << got);
    w.request_shutdown();
    w.join();
    delete peer;
}

BOOST_AUTO_TEST_CASE(a_refused_connection_is_reported_and_closes) {
    daemon::Shared shared;
    auto cfg = std::make_shared<config::Config>();
    cfg->workers = 1;
    cfg->c2s.starttls_port = 0;
    cfg->c2s.direct_tls_port = 0;
    shared.set_config(cfg);
    loop::Worker w(0, shared);
    shared.workers.push_back(&w);
    BOOST_REQUIRE(w.start({}).is_ok());
    std::promise<std::string> outcome;
    BOOST_REQUIRE(w.post([&](loop::Worker& worker) {
        auto* t = new net::StreamTransport(worker, xml::StreamLimits::for_stanza_bytes(65536, 64));
        sockaddr_storage ss{};
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(free_port());  // nothing listens there
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        Status s = t->connect(ss, [&](Status st) { outcome.set_value(st.code()); });
        if (!s) outcome.set_value("sync:" + s.code());
    }));
    auto fut = outcome.get_future();
    BOOST_REQUIRE((fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
    BOOST_TEST(fut.get() == "connect");
    w.request_shutdown();
    w.join();  // the refused transport closed itself: the loop ends
}

BOOST_AUTO_TEST_SUITE_END()

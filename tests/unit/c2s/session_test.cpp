// c2s::Session driven over an in-memory transport, without sockets: login
// (SASL PLAIN on the worker's thread pool), bind, routing both ways, and the
// end of the stream unbinding the session.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <thread>

#include "c2s/session.hpp"
#include "sasl/sasl_server.hpp"
#include "support/memory_transport.hpp"
#include "support/seams_fixture.hpp"
#include "xmpp/base64.hpp"

using namespace parley;
using parley::test::jid;
using parley::test::message;

namespace {

struct SessionFixture : test::SeamsFixture {
    test::MemoryTransport* transport = nullptr;  // worker 0; deleted by itself when closed

    SessionFixture() {
        BOOST_REQUIRE(sasl::init(accounts.get(), {"SCRAM-SHA-256", "PLAIN"}).is_ok());
        on(0, [&](loop::Worker& w) {
            transport = new test::MemoryTransport(w, true);
            new c2s::Session(w, *transport, net::TlsSession::Mode::starttls);
        });
    }

    ~SessionFixture() {
        if (!closed_) {
            peer([](test::MemoryTransport& t) { t.close_now(); });
            settle();
        }
    }

    // What the client received so far, in one string (read on worker 0).
    std::string received() {
        std::string all;
        on(0, [&](loop::Worker&) {
            if (!closed())
                for (const auto& s : transport->out) all += s;
        });
        return all;
    }
    bool closed() { return closed_; }
    // Waits (bounded) until the client received `what`.
    bool wait_for(const std::string& what) {
        for (int i = 0; i < 500; ++i) {
            if (received().find(what) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    void peer(std::function<void(test::MemoryTransport&)> fn) {
        on(0, [&](loop::Worker&) { fn(*transport); });
    }
    bool closed_ = false;
};

xml::Element auth_plain(const std::string& node, const std::string& password) {
    xml::Element a("auth", std::string(xmpp::kNsSasl));
    a.set_attr("mechanism", "PLAIN");
    a.add_text(xmpp::base64_encode(std::string(1, '\0') + node + std::string(1, '\0') + password));
    return a;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(c2s_session)

BOOST_FIXTURE_TEST_CASE(a_session_logs_in_binds_and_routes_without_a_socket, SessionFixture) {
    auto& bob = bind(1, "bob@example.org/b");
    peer([](test::MemoryTransport& t) { t.open("example.org"); });
    BOOST_TEST_REQUIRE(wait_for("<mechanism>PLAIN</mechanism>"), "c2s: features offer PLAIN: " << received());
    peer([](test::MemoryTransport& t) { t.stanza(auth_plain("alice", "secret-password")); });
    BOOST_TEST_REQUIRE(wait_for("<success"), "c2s: PLAIN succeeded: " << received());
    peer([](test::MemoryTransport& t) {
        BOOST_TEST(t.restarted, "c2s: the stream restarts after SASL");
        t.out.clear();
        t.open("example.org");
    });
    BOOST_TEST_REQUIRE(wait_for("urn:ietf:params:xml:ns:xmpp-bind"), "c2s: bind offered: " << received());
    peer([](test::MemoryTransport& t) {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "set");
        iq.set_attr("id", "b1");
        iq.add_child("bind", std::string(xmpp::kNsBind)).add_child("resource", std::string(xmpp::kNsBind)).add_text("mem");
        t.stanza(std::move(iq));
    });
    BOOST_TEST_REQUIRE(wait_for("alice@example.org/mem</jid>"), "c2s: bound: " << received());
    BOOST_TEST(registry.find(jid("alice@example.org/mem")).has_value());

    // Routed to it from the other worker, and from it to bob.
    send(1, message("bob@example.org/b", "alice@example.org/mem", "to-alice"));
    settle();
    BOOST_TEST(wait_for("to-alice"));
    peer([](test::MemoryTransport& t) {
        xml::Element m = message("alice@example.org/mem", "bob@example.org/b", "to-bob");
        m.remove_attr("from");  // the session stamps it
        t.stanza(std::move(m));
    });
    settle();
    auto got = ids(1, bob);
    BOOST_TEST((got == std::vector<std::string>{"to-bob"}));
    std::string from;
    on(1, [&](loop::Worker&) { from = std::string(bob.received.at(0).attr_or("from")); });
    BOOST_TEST(from == "alice@example.org/mem", "c2s: the session stamps its full JID");

    // A spoofed 'from' ends the stream.
    std::vector<std::string> errors;
    bool closing = false;
    peer([&](test::MemoryTransport& t) {
        t.stanza(message("bob@example.org/b", "bob@example.org", "spoof"));
        // Read in the same turn: the closed transport goes on the next one.
        errors = t.errors;
        closing = t.closing();
    });
    closed_ = true;
    BOOST_TEST((errors == std::vector<std::string>{"invalid-from"}));
    BOOST_TEST(closing);
    settle();
    BOOST_TEST(!registry.find(jid("alice@example.org/mem")).has_value(), "c2s: the ended session is unbound");
}

BOOST_FIXTURE_TEST_CASE(a_wrong_password_is_refused, SessionFixture) {
    peer([](test::MemoryTransport& t) { t.open("example.org"); });
    BOOST_TEST_REQUIRE(wait_for("<mechanism>PLAIN</mechanism>"));
    peer([](test::MemoryTransport& t) { t.stanza(auth_plain("alice", "wrong")); });
    BOOST_TEST(wait_for("<not-authorized/>"), "c2s: " << received());
    BOOST_TEST(received().find("<success") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

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

namespace {

// A client on worker w over an in-memory transport, logged in with PLAIN.
struct MemClient {
    test::SeamsFixture& f;
    unsigned w;
    test::MemoryTransport* t = nullptr;
    c2s::Session* s = nullptr;
    MemClient(test::SeamsFixture& fx, unsigned worker) : f(fx), w(worker) {
        f.on(w, [&](loop::Worker& wk) {
            t = new test::MemoryTransport(wk, true);
            s = new c2s::Session(wk, *t, net::TlsSession::Mode::starttls);
        });
    }
    std::string out() {
        std::string all;
        f.on(w, [&](loop::Worker&) {
            for (const auto& x : t->out) all += x;
        });
        return all;
    }
    bool wait_for(const std::string& what) {
        for (int i = 0; i < 500; ++i) {
            if (out().find(what) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    void peer(std::function<void(test::MemoryTransport&)> fn) {
        f.on(w, [&](loop::Worker&) { fn(*t); });
    }
    // Logged in and restarted: ready to bind or resume.
    void login() {
        peer([](test::MemoryTransport& m) { m.open("example.org"); });
        BOOST_REQUIRE(wait_for("<mechanism>PLAIN</mechanism>"));
        peer([](test::MemoryTransport& m) { m.stanza(auth_plain("alice", "secret-password")); });
        BOOST_REQUIRE(wait_for("<success"));
        peer([](test::MemoryTransport& m) {
            m.out.clear();
            m.open("example.org");
        });
        BOOST_REQUIRE(wait_for("urn:ietf:params:xml:ns:xmpp-bind"));
    }
    void bind(const std::string& resource) {
        peer([&](test::MemoryTransport& m) {
            xml::Element iq("iq", std::string(xmpp::kNsClient));
            iq.set_attr("type", "set");
            iq.set_attr("id", "b1");
            iq.add_child("bind", std::string(xmpp::kNsBind)).add_child("resource", std::string(xmpp::kNsBind)).add_text(resource);
            m.stanza(std::move(iq));
        });
        BOOST_REQUIRE(wait_for("</jid>"));
    }
};

struct Mark final : module::SessionSlot {
    int value = 0;
};

// The ids of the messages in a client's output, in order.
std::vector<std::string> message_ids(const std::string& out) {
    std::vector<std::string> ids;
    size_t pos = 0;
    while ((pos = out.find("<message", pos)) != std::string::npos) {
        auto id = out.find(" id='", pos);
        auto end = out.find('>', pos);
        if (id != std::string::npos && id < end) ids.push_back(out.substr(id + 5, out.find('\'', id + 5) - id - 5));
        pos = end;
    }
    return ids;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(a_kept_session_is_resumed_on_the_other_worker_with_its_queue_in_order, test::SeamsFixture) {
    BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
    bind(1, "bob@example.org/b");
    MemClient first(*this, 0);
    first.login();
    first.bind("phone");
    auto entry = registry.find(jid("alice@example.org/phone"));
    BOOST_REQUIRE(entry.has_value());
    const uint64_t id = entry->ref.session_id;
    on(0, [&](loop::Worker&) {
        BOOST_TEST(hosts[0]->keep_session(id, 60000, 100));
        auto mark = std::make_unique<Mark>();
        mark->value = 42;
        BOOST_TEST(hosts[0]->set_slot(id, std::move(mark)));
    });
    send(1, message("bob@example.org/b", "alice@example.org/phone", "m1"));
    settle();
    BOOST_TEST(first.wait_for("m1"));
    // The connection drops: the session stays, and queues.
    first.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    BOOST_TEST(registry.find(jid("alice@example.org/phone")).has_value(), "c2s: a kept session stays bound");
    for (const char* m : {"m2", "m3", "m4"}) send(1, message("bob@example.org/b", "alice@example.org/phone", m));
    settle();

    // A new connection on worker 1 resumes it.
    MemClient second(*this, 1);
    second.login();
    std::promise<std::string> resumed;
    on(1, [&](loop::Worker&) {
        second.s->request_resume(*entry, [&](Status st, const sessions::SessionEntry* now) {
            resumed.set_value(st ? now->full_jid.str() + " on " + std::to_string(now->ref.worker) : st.to_string());
        });
    });
    auto fut = resumed.get_future();
    BOOST_REQUIRE((fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
    BOOST_TEST(fut.get() == "alice@example.org/phone on 1");
    BOOST_TEST(second.wait_for("m4"));
    BOOST_TEST((message_ids(second.out()) == std::vector<std::string>{"m2", "m3", "m4"}),
               "c2s: the queued stanzas come first, in order: " << second.out());
    auto now = registry.find(jid("alice@example.org/phone"));
    BOOST_REQUIRE(now.has_value());
    BOOST_TEST(now->ref.worker == 1u);
    BOOST_TEST(now->ref.session_id == id, "c2s: the session keeps its id");
    on(1, [&](loop::Worker&) {
        auto* mark = dynamic_cast<Mark*>(hosts[1]->slot(id));
        BOOST_REQUIRE_MESSAGE(mark, "c2s: the module's slot moved with the session");
        BOOST_TEST(mark->value == 42);
    });
    // Routed to its new place.
    send(0, message("example.org", "alice@example.org/phone", "m5", "headline"), module::Origin::server);
    settle();
    BOOST_TEST(second.wait_for("m5"));
    // Its keep setting moved too: losing this connection keeps it again
    // (until the workers shut down, which ends it).
    second.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    auto kept = registry.find(jid("alice@example.org/phone"));
    BOOST_REQUIRE(kept.has_value());
    BOOST_TEST(kept->ref.worker == 1u);
}

BOOST_FIXTURE_TEST_CASE(another_account_cannot_resume_a_session, test::SeamsFixture) {
    BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
    bind(1, "bob@example.org/b");
    MemClient alice(*this, 0);
    alice.login();
    std::promise<std::string> answer;
    auto bob = registry.find(jid("bob@example.org/b"));
    BOOST_REQUIRE(bob.has_value());
    on(0, [&](loop::Worker&) {
        alice.s->request_resume(*bob, [&](Status st, const sessions::SessionEntry*) { answer.set_value(st.code()); });
    });
    auto fut = answer.get_future();
    BOOST_REQUIRE((fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
    BOOST_TEST(fut.get() == "not-authorized");
    BOOST_TEST(registry.find(jid("bob@example.org/b"))->ref.worker == 1u, "c2s: bob's session did not move");
    alice.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
}

BOOST_FIXTURE_TEST_CASE(a_session_that_is_not_kept_ends_with_its_connection, test::SeamsFixture) {
    BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
    MemClient c(*this, 0);
    c.login();
    c.bind("laptop");
    BOOST_REQUIRE(registry.find(jid("alice@example.org/laptop")).has_value());
    c.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    BOOST_TEST(!registry.find(jid("alice@example.org/laptop")).has_value());
}

BOOST_FIXTURE_TEST_CASE(presence_changes_fire_available_and_unavailable_once_each, test::SeamsFixture) {
    BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
    std::vector<std::string> events;  // read and written on worker 0
    on(0, [&](loop::Worker&) {
        hosts[0]->on_session(module::SessionEvent::available, [&](const module::SessionInfo& s) {
            events.push_back("available " + s.full_jid.str() + " " + std::to_string(s.priority) +
                             (registry.find(s.full_jid)->available ? " marked" : " unmarked"));
        });
        hosts[0]->on_session(module::SessionEvent::unavailable, [&](const module::SessionInfo& s) {
            events.push_back("unavailable " + s.full_jid.str());
        });
        hosts[0]->on_session(module::SessionEvent::closed, [&](const module::SessionInfo& s) {
            auto* mark = dynamic_cast<Mark*>(hosts[0]->slot(s.ref.session_id));
            events.push_back(std::string("closed ") + (s.available ? "available" : "unavailable") +
                             (mark && mark->value == 7 ? " with its slot" : " without its slot"));
        });
    });
    MemClient c(*this, 0);
    c.login();
    c.bind("desk");
    auto presence = [&](const char* type, const char* prio) {
        c.peer([&](test::MemoryTransport& m) {
            xml::Element p("presence", std::string(xmpp::kNsClient));
            if (*type) p.set_attr("type", type);
            if (*prio) p.add_child("priority", std::string(xmpp::kNsClient)).add_text(prio);
            m.stanza(std::move(p));
        });
        settle();
    };
    presence("", "5");
    on(0, [&](loop::Worker&) {
        auto mark = std::make_unique<Mark>();
        mark->value = 7;
        BOOST_TEST(hosts[0]->set_slot(registry.find(jid("alice@example.org/desk"))->ref.session_id, std::move(mark)));
    });
    presence("", "7");  // an update: not a second "available"
    presence("unavailable", "");
    presence("unavailable", "");  // already unavailable
    presence("", "");
    c.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    std::vector<std::string> got;
    on(0, [&](loop::Worker&) { got = events; });
    const std::vector<std::string> want{"available alice@example.org/desk 5 marked", "unavailable alice@example.org/desk",
                                        "available alice@example.org/desk 0 marked",
                                        "closed available with its slot"};
    BOOST_TEST(got == want, "c2s: session events");
}

BOOST_AUTO_TEST_SUITE_END()

// c2s::Session driven over an in-memory transport, without sockets: login
// (SASL PLAIN on the worker's thread pool), bind, routing both ways, and the
// end of the stream unbinding the session.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <chrono>
#include <future>
#include <thread>

#include "c2s/session.hpp"
#include "sasl/sasl_server.hpp"
#include "support/mem_client.hpp"
#include "support/memory_transport.hpp"
#include "support/seams_fixture.hpp"
#include "xmpp/base64.hpp"

using namespace parley;
using parley::test::jid;
using parley::test::message;
using parley::test::MemClient;
using parley::test::auth_plain;

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
        second.s->request_resume(*entry, [&](Status st, const sessions::SessionEntry* now, module::StreamControl&) {
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
        alice.s->request_resume(*bob, [&](Status st, const sessions::SessionEntry*, module::StreamControl&) { answer.set_value(st.code()); });
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

namespace {

xml::Element iq(const std::string& type, const std::string& id, xml::Element payload) {
    xml::Element e("iq", std::string(xmpp::kNsClient));
    e.set_attr("type", type);
    e.set_attr("id", id);
    e.add_child(std::move(payload));
    return e;
}

// The names (or ids) in a client's output, in order: "<resumed" style for
// nonzas, ids for stanzas.
std::vector<std::string> elements(const std::string& out) {
    std::vector<std::string> v;
    size_t pos = 0;
    while ((pos = out.find('<', pos)) != std::string::npos) {
        size_t end = out.find_first_of(" />", pos + 1);
        std::string name = out.substr(pos + 1, end - pos - 1);
        size_t close = out.find('>', pos);
        if (name == "message" || name == "iq" || name == "presence") {
            auto id = out.find(" id='", pos);
            v.push_back(id != std::string::npos && id < close ? out.substr(id + 5, out.find('\'', id + 5) - id - 5) : name);
            // Skip the stanza's children.
            const std::string end_tag = "</" + name + ">";
            size_t e = out.find(end_tag, pos);
            pos = (out[close - 1] == '/' || e == std::string::npos) ? close : e + end_tag.size();
            continue;
        }
        if (name[0] != '/') v.push_back("<" + name);
        pos = close;
    }
    return v;
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(observers_see_every_stanza_written_and_a_kept_queue_before_the_end, test::SeamsFixture) {
    BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
    bind(1, "bob@example.org/b");
    std::vector<std::string> seen;    // worker 0 only
    std::vector<std::string> routed;  // worker 0 only
    on(0, [&](loop::Worker&) {
        hosts[0]->on_session_output([&](uint64_t id, const xml::Element& st) {
            seen.push_back(std::to_string(id) + " " + std::string(st.attr_or("id")));
        });
        hosts[0]->on_routed(0, [&](module::RoutedContext& c) {
            if (c.origin == module::Origin::local_client)
                routed.push_back(std::to_string(c.session_id) + " " + module::to_string(c.outcome.kind) + " " +
                                 c.stanza.name());
        });
        hosts[0]->hook(module::HookPoint::stanza_out, 0, [&](module::StanzaContext& c) {
            routed.push_back("out to " + std::to_string(c.session_id) + " " + std::string(c.stanza.attr_or("id")));
            return module::HookResult::pass();
        });
        hosts[0]->on_session(module::SessionEvent::closed, [&](const module::SessionInfo& s) {
            auto* mark = dynamic_cast<Mark*>(hosts[0]->slot(s.ref.session_id));
            seen.push_back("closed " + (mark ? std::to_string(mark->value) : std::string("no slot")));
        });
    });
    MemClient c(*this, 0);
    c.login();
    c.bind("phone");
    const uint64_t id = registry.find(jid("alice@example.org/phone"))->ref.session_id;
    const std::string sid = std::to_string(id);
    on(0, [&](loop::Worker&) {
        auto mark = std::make_unique<Mark>();
        mark->value = 42;
        BOOST_TEST(hosts[0]->set_slot(id, std::move(mark)));
        BOOST_TEST(hosts[0]->keep_session(id, 60000, 10));
    });
    // The server's own answer on the stream, a routed message, a bounce, a
    // presence that means nothing: each client stanza routed once with its
    // session, each stanza written observed once, in order.
    c.peer([](test::MemoryTransport& m) {
        m.stanza(iq("set", "s1", xml::Element("session", std::string(xmpp::kNsSession))));
        xml::Element bad("iq", std::string(xmpp::kNsClient));
        bad.set_attr("type", "nonsense");
        bad.set_attr("id", "bad1");
        m.stanza(std::move(bad));
        xml::Element p("presence", std::string(xmpp::kNsClient));
        p.set_attr("type", "subscribed");
        m.stanza(std::move(p));
    });
    send(1, message("bob@example.org/b", "alice@example.org/phone", "m1"));
    settle();
    on(0, [&](loop::Worker&) {
        // A nonza is written but not observed.
        hosts[0]->send_to_session(module::SessionInfo{jid("alice@example.org/phone"), sessions::SessionRef{0, id}, false, 0},
                                  xml::Element("r", "urn:xmpp:sm:3"), module::Delivery::direct);
    });
    BOOST_TEST(c.wait_for("<r xmlns='urn:xmpp:sm:3'/>"));
    // The connection is lost: kept; what is routed to it now waits unseen.
    c.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    for (const char* m : {"m2", "m3"}) send(1, message("bob@example.org/b", "alice@example.org/phone", m));
    settle();
    std::vector<std::string> before_end;
    on(0, [&](loop::Worker&) {
        before_end = seen;
        BOOST_TEST(hosts[0]->end_session(id, xmpp::StreamErrorCondition::system_shutdown, "test"));
    });
    settle();
    BOOST_TEST((before_end == std::vector<std::string>{sid + " s1", sid + " bad1", sid + " m1"}),
               "c2s: " << fmt::format("{}", fmt::join(before_end, ", ")));
    std::vector<std::string> all, r;
    on(0, [&](loop::Worker&) {
        all = seen;
        r = routed;
    });
    const std::vector<std::string> want{sid + " s1", sid + " bad1", sid + " m1", sid + " m2", sid + " m3", "closed 42"};
    BOOST_TEST(all == want, "c2s: " << fmt::format("{}", fmt::join(all, ", ")));
    const std::vector<std::string> want_routed{sid + " server iq",       sid + " bounced iq",    "out to " + sid + " bad1",
                                               sid + " dropped presence", "out to " + sid + " m1", "out to " + sid + " m2",
                                               "out to " + sid + " m3"};
    BOOST_TEST(r == want_routed, "c2s: " << fmt::format("{}", fmt::join(r, ", ")));
    BOOST_TEST(!registry.find(jid("alice@example.org/phone")).has_value());
}

BOOST_FIXTURE_TEST_CASE(a_stream_either_side_ended_is_not_kept, test::SeamsFixture) {
    BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
    MemClient c(*this, 0);
    c.login();
    c.bind("phone");
    const uint64_t id = registry.find(jid("alice@example.org/phone"))->ref.session_id;
    on(0, [&](loop::Worker&) { BOOST_TEST(hosts[0]->keep_session(id, 60000, 10)); });
    c.peer([](test::MemoryTransport& m) { m.end(); });  // </stream:stream>
    settle();
    BOOST_TEST(!registry.find(jid("alice@example.org/phone")).has_value(), "c2s: a clean close ends the session");

    MemClient d(*this, 1);
    d.login();
    d.bind("laptop");
    const uint64_t id2 = registry.find(jid("alice@example.org/laptop"))->ref.session_id;
    on(1, [&](loop::Worker&) {
        BOOST_TEST(hosts[1]->keep_session(id2, 60000, 10));
        BOOST_TEST(hosts[1]->end_session(id2, xmpp::StreamErrorCondition::policy_violation, "test"));
    });
    settle();
    BOOST_TEST(!registry.find(jid("alice@example.org/laptop")).has_value(), "c2s: a stream error ends it too");
}

BOOST_FIXTURE_TEST_CASE(a_resumption_answers_first_then_writes_the_queue_then_fires_resumed, test::SeamsFixture) {
    BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
    bind(0, "bob@example.org/b");
    MemClient first(*this, 0);
    first.login();
    first.bind("phone");
    auto entry = registry.find(jid("alice@example.org/phone"));
    const uint64_t id = entry->ref.session_id;
    on(0, [&](loop::Worker&) { BOOST_TEST(hosts[0]->keep_session(id, 60000, 10)); });
    first.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    for (const char* m : {"q1", "q2"}) send(0, message("bob@example.org/b", "alice@example.org/phone", m));
    settle();
    MemClient second(*this, 1);
    second.login();
    std::vector<std::string> events;  // worker 1
    on(1, [&](loop::Worker&) {
        hosts[1]->on_session(module::SessionEvent::resumed, [&](const module::SessionInfo& s) {
            // What the new stream was written by then, from the module's answer on.
            std::string all;
            for (auto& x : second.t->out) all += x;
            const size_t answer = all.find("<answer");
            const std::string written = answer == std::string::npos ? "" : all.substr(answer);
            events.push_back("resumed " + s.full_jid.str() + " after " + fmt::format("{}", fmt::join(elements(written), ",")));
        });
        second.s->request_resume(*entry, [&](Status st, const sessions::SessionEntry*, module::StreamControl& stream) {
            events.push_back(st ? "done" : st.to_string());
            stream.send(xml::Element("answer", "urn:test"));
        });
    });
    settle();
    std::vector<std::string> got;
    on(1, [&](loop::Worker&) { got = events; });
    BOOST_TEST((got == std::vector<std::string>{"done", "resumed alice@example.org/phone after <answer,q1,q2"}),
               "c2s: " << fmt::format("{}", fmt::join(got, " | ")));
    second.peer([](test::MemoryTransport& m) { m.close_now(); });  // kept; the workers' shutdown ends it
    settle();
}

BOOST_FIXTURE_TEST_CASE(a_session_whose_resuming_stream_closes_on_the_way_stays_kept, test::SeamsFixture) {
    BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
    bind(0, "bob@example.org/b");
    MemClient first(*this, 0);
    first.login();
    first.bind("phone");
    auto entry = registry.find(jid("alice@example.org/phone"));
    const uint64_t id = entry->ref.session_id;
    on(0, [&](loop::Worker&) {
        BOOST_TEST(hosts[0]->keep_session(id, 60000, 10));
        auto mark = std::make_unique<Mark>();
        mark->value = 7;
        hosts[0]->set_slot(id, std::move(mark));
    });
    first.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    send(0, message("bob@example.org/b", "alice@example.org/phone", "k1"));
    settle();
    // A stream on worker 1 asks, and is gone before the session arrives (its
    // close is posted to worker 1 ahead of the session).
    MemClient second(*this, 1);
    second.login();
    int called = 0;
    on(1, [&](loop::Worker&) {
        second.s->request_resume(*entry, [&](Status, const sessions::SessionEntry*, module::StreamControl&) { ++called; });
        second.t->close_now();
    });
    settle();
    on(1, [&](loop::Worker&) { BOOST_TEST(called == 0, "c2s: no answer for a stream that is gone"); });
    auto kept = registry.find(jid("alice@example.org/phone"));
    BOOST_REQUIRE_MESSAGE(kept.has_value(), "c2s: the session still exists");
    BOOST_TEST(kept->ref.worker == 1u, "c2s: it moved to the worker that asked");
    send(0, message("bob@example.org/b", "alice@example.org/phone", "k2"));
    settle();
    // A third stream, back on worker 0, resumes it with everything.
    MemClient third(*this, 0);
    third.login();
    std::promise<std::string> resumed;
    on(0, [&](loop::Worker&) {
        third.s->request_resume(*kept, [&](Status st, const sessions::SessionEntry* now, module::StreamControl&) {
            resumed.set_value(st ? "ok on " + std::to_string(now->ref.worker) : st.to_string());
        });
    });
    auto fut = resumed.get_future();
    BOOST_REQUIRE((fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
    BOOST_TEST(fut.get() == "ok on 0");
    BOOST_TEST(third.wait_for("k2"));
    BOOST_TEST((message_ids(third.out()) == std::vector<std::string>{"k1", "k2"}), third.out());
    on(0, [&](loop::Worker&) {
        auto* mark = dynamic_cast<Mark*>(hosts[0]->slot(id));
        BOOST_TEST((mark && mark->value == 7), "c2s: the slot came along both moves");
    });
    third.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
}

BOOST_AUTO_TEST_SUITE_END()

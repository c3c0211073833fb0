// mod_sm on two real workers with real c2s sessions over in-memory
// transports: counters and the unacknowledged queue across a lost
// connection and a resumption on the other worker, then a session that ends
// unresumed handing its messages to the account's other resource.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>


#include "../modules/sm/stream_management.hpp"
#include "sasl/sasl_server.hpp"
#include "support/mem_client.hpp"

using namespace parley;
using parley::test::jid;
using parley::test::message;

namespace {

// The seams fixture with mod_sm running on both workers, under its own name
// (slots move between workers by module name).
struct SmWorkers : test::SeamsFixture {
    mod_sm::ResumptionDirectory directory;
    std::unique_ptr<mod_sm::StreamManagement> sm[2];
    std::unique_ptr<loop::WorkerHost> sm_hosts[2];

    SmWorkers() {
        BOOST_REQUIRE(sasl::init(accounts.get(), {"PLAIN"}).is_ok());
        for (unsigned i = 0; i < 2; ++i)
            on(i, [this, i](loop::Worker& w) {
                sm[i] = std::make_unique<mod_sm::StreamManagement>(&directory);
                sm_hosts[i] = std::make_unique<loop::WorkerHost>(w, "sm", config::Section{});
                sm_hosts[i]->set_instance(sm[i].get());
                BOOST_REQUIRE(sm[i]->start(*sm_hosts[i]).is_ok());
            });
    }
    ~SmWorkers() {
        for (unsigned i = 0; i < 2; ++i)
            on(i, [this, i](loop::Worker&) {
                sm[i]->stop();
                sm_hosts[i].reset();
            });
    }
    mod_sm::SmSlot* slot(unsigned w, uint64_t id) { return dynamic_cast<mod_sm::SmSlot*>(sm_hosts[w]->slot(id)); }
};

xml::Element sm_el(const char* name, std::vector<std::pair<std::string, std::string>> attrs = {}) {
    xml::Element e(name, mod_sm::kNsSm);
    for (auto& [k, v] : attrs) e.set_attr(k, v);
    return e;
}

// The value of attribute `name` in the start tag at `pos` of `out`, or "".
std::string attr_at(const std::string& out, size_t pos, const std::string& name) {
    const size_t end = out.find('>', pos);
    const size_t at = out.find(" " + name + "='", pos);
    if (at == std::string::npos || at > end) return "";
    const size_t v = at + name.size() + 3;
    return out.substr(v, out.find('\'', v) - v);
}

// The message ids of `out` from `from` on, in order.
std::vector<std::string> ids_after(const std::string& out, const std::string& from) {
    std::vector<std::string> ids;
    size_t pos = out.find(from);
    while (pos != std::string::npos && (pos = out.find("<message", pos)) != std::string::npos) {
        ids.push_back(attr_at(out, pos, "id"));
        ++pos;
    }
    return ids;
}

std::vector<std::string> numbered(int from, int to) {
    std::vector<std::string> v;
    for (int i = from; i <= to; ++i) v.push_back("m" + std::to_string(i));
    return v;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_sm_sessions)

BOOST_FIXTURE_TEST_CASE(counters_survive_a_resumption_on_the_other_worker_and_a_timeout_loses_nothing, SmWorkers) {
    bind(1, "bob@example.org/b");
    auto& desk = bind(0, "alice@example.org/desk");
    test::MemClient phone(*this, 0);
    phone.login();
    phone.bind("phone");
    const uint64_t id = registry.find(jid("alice@example.org/phone"))->ref.session_id;
    phone.peer([](test::MemoryTransport& m) { m.stanza(sm_el("enable", {{"resume", "true"}})); });
    BOOST_REQUIRE(phone.wait_for("<enabled"));
    const std::string enabled = phone.out();
    const std::string previd = attr_at(enabled, enabled.find("<enabled"), "id");
    BOOST_REQUIRE_EQUAL(previd.size(), 32u);
    BOOST_TEST(previd.find_first_not_of("0123456789abcdef") == std::string::npos);

    // Ten messages; the client acknowledges four, and sends one of its own.
    for (int i = 1; i <= 10; ++i) send(1, message("bob@example.org/b", "alice@example.org/phone", "m" + std::to_string(i)));
    settle();
    BOOST_REQUIRE(phone.wait_for("id='m10'"));
    BOOST_TEST(phone.wait_for("<r xmlns='urn:xmpp:sm:3'/>"), "sm: the server asks for an acknowledgement");
    phone.peer([](test::MemoryTransport& m) {
        m.stanza(sm_el("a", {{"h", "4"}}));
        xml::Element out = message("alice@example.org/phone", "bob@example.org/b", "from-alice");
        out.remove_attr("from");
        m.stanza(std::move(out));
        m.stanza(sm_el("r"));
    });
    BOOST_TEST(phone.wait_for("<a xmlns='urn:xmpp:sm:3' h='1'/>"), "sm: one client stanza handled: " << phone.out());
    on(0, [&](loop::Worker&) {
        auto* s = slot(0, id);
        BOOST_REQUIRE(s);
        BOOST_TEST(s->h_out == 10u);
        BOOST_TEST(s->unacked.size() == 6u);
    });

    // The connection is lost; three more arrive meanwhile.
    phone.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    for (int i = 11; i <= 13; ++i) send(1, message("bob@example.org/b", "alice@example.org/phone", "m" + std::to_string(i)));
    settle();

    // It resumes on worker 1, having seen up to m6 before the cut.
    test::MemClient phone2(*this, 1);
    phone2.login();
    phone2.peer([&](test::MemoryTransport& m) { m.stanza(sm_el("resume", {{"previd", previd}, {"h", "6"}})); });
    BOOST_REQUIRE(phone2.wait_for("id='m13'"));
    const std::string out = phone2.out();
    BOOST_TEST(out.find("<resumed xmlns='urn:xmpp:sm:3' h='1' previd='" + previd + "'/>") != std::string::npos, out);
    BOOST_TEST(out.find("<resumed") < out.find("id='m7'"), "sm: <resumed/> comes first");
    BOOST_TEST(ids_after(out, "<resumed") == numbered(7, 13), "sm: exactly what was not acknowledged, in order: " << out);
    BOOST_TEST(registry.find(jid("alice@example.org/phone"))->ref.worker == 1u);
    on(1, [&](loop::Worker&) {
        auto* s = slot(1, id);
        BOOST_REQUIRE_MESSAGE(s, "sm: the slot moved with the session");
        BOOST_TEST(s->h_in == 1u);
        BOOST_TEST(s->h_out == 13u, "sm: the queued three counted once written");
        BOOST_TEST(s->acked == 6u);
        BOOST_TEST(s->unacked.size() == 7u);
    });
    BOOST_TEST(phone2.wait_for("<r xmlns='urn:xmpp:sm:3'/>"));
    // Acknowledging within the new stream continues the same count.
    phone2.peer([](test::MemoryTransport& m) { m.stanza(sm_el("a", {{"h", "8"}})); });
    settle();
    on(1, [&](loop::Worker&) { BOOST_TEST(slot(1, id)->unacked.size() == 5u); });

    // Lost again, one more arrives, and it is never resumed (the timeout
    // takes the same path): the five unacknowledged and the one queued go to
    // the account's other resource, in order, marked as delayed.
    phone2.peer([](test::MemoryTransport& m) { m.close_now(); });
    settle();
    send(1, message("bob@example.org/b", "alice@example.org/phone", "m14"));
    settle();
    on(1, [&](loop::Worker&) { BOOST_TEST(sm_hosts[1]->end_session(id, xmpp::StreamErrorCondition::connection_timeout, "t")); });
    settle();
    BOOST_TEST(ids(0, desk) == numbered(9, 14), "sm: re-routed to the other resource");
    on(0, [&](loop::Worker&) {
        for (const auto& m : desk.received) {
            const xml::Element* d = m.child("delay", mod_sm::kNsDelay);
            BOOST_TEST((d && !d->attr_or("stamp").empty()), "sm: a delay with the original time");
            BOOST_TEST(m.attr_or("to") == "alice@example.org/phone", "sm: addressed to the resource that is gone");
        }
    });
    BOOST_TEST((directory.ended_h(previd, "alice@example.org") == std::optional<uint32_t>(1)));
    BOOST_TEST(!directory.find(previd, "alice@example.org").has_value());
}

BOOST_FIXTURE_TEST_CASE(a_client_that_closes_cleanly_is_not_kept_and_loses_nothing, SmWorkers) {
    bind(1, "bob@example.org/b");
    auto& desk = bind(0, "alice@example.org/desk");
    test::MemClient phone(*this, 0);
    phone.login();
    phone.bind("phone");
    phone.peer([](test::MemoryTransport& m) { m.stanza(sm_el("enable", {{"resume", "true"}})); });
    BOOST_REQUIRE(phone.wait_for("<enabled"));
    send(1, message("bob@example.org/b", "alice@example.org/phone", "m1"));
    settle();
    BOOST_REQUIRE(phone.wait_for("id='m1'"));
    phone.peer([](test::MemoryTransport& m) { m.end(); });
    settle();
    BOOST_TEST(!registry.find(jid("alice@example.org/phone")).has_value(), "sm: </stream:stream> ends the session");
    BOOST_TEST((ids(0, desk) == std::vector<std::string>{"m1"}), "sm: the unacknowledged message went on");
}

BOOST_AUTO_TEST_SUITE_END()

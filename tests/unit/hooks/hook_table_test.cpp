#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "hooks/hook_table.hpp"

using namespace parley;
using module::HookPoint;
using module::HookResult;

BOOST_AUTO_TEST_SUITE(hooks_hook_table)

BOOST_AUTO_TEST_CASE(higher_priority_runs_first_and_handled_stops) {
    hooks::HookTable t;
    std::vector<std::string> order;
    t.add_hook("low", HookPoint::stanza_in, 1, [&](module::StanzaContext&) {
        order.push_back("low");
        return HookResult::pass();
    });
    t.add_hook("high", HookPoint::stanza_in, 10, [&](module::StanzaContext&) {
        order.push_back("high");
        return HookResult::pass();
    });
    t.add_hook("out", HookPoint::stanza_out, 100, [&](module::StanzaContext&) {
        order.push_back("out");
        return HookResult::handled();
    });
    xml::Element s("message", "jabber:client");
    xmpp::Jid from, to;
    module::StanzaContext ctx{s, from, to, true};
    BOOST_TEST((t.run(HookPoint::stanza_in, ctx).verdict == HookResult::Verdict::pass));
    BOOST_REQUIRE_EQUAL(order.size(), 2u);
    BOOST_TEST(order[0] == "high");
    BOOST_TEST(order[1] == "low");
    t.add_hook("mid", HookPoint::stanza_in, 5, [&](module::StanzaContext&) {
        return HookResult::reject(StanzaError::cancel("policy-violation", "no"));
    });
    order.clear();
    auto r = t.run(HookPoint::stanza_in, ctx);
    BOOST_TEST((r.verdict == HookResult::Verdict::reject));
    BOOST_TEST(r.error.condition == "policy-violation");
    BOOST_TEST(order.size() == 1u, "hooks: a reject must stop lower-priority hooks");
}

BOOST_AUTO_TEST_CASE(throwing_hook_becomes_internal_server_error) {
    hooks::HookTable t;
    t.add_hook("bad", HookPoint::stanza_in, 0, [](module::StanzaContext&) -> HookResult { throw std::runtime_error("boom"); });
    xml::Element s("message", "jabber:client");
    xmpp::Jid from, to;
    module::StanzaContext ctx{s, from, to, true};
    auto r = t.run(HookPoint::stanza_in, ctx);
    BOOST_TEST((r.verdict == HookResult::Verdict::reject));
    BOOST_TEST(r.error.condition == "internal-server-error");
}

BOOST_AUTO_TEST_CASE(iq_keys_are_unique_and_dropped_with_their_owner) {
    hooks::HookTable t;
    auto h = [](const module::IqRequest&, std::shared_ptr<module::IqResponder>) {};
    BOOST_TEST(t.add_iq("ping", module::IqTarget::server, "get", "urn:xmpp:ping", "ping", h).is_ok());
    Status dup = t.add_iq("other", module::IqTarget::server, "get", "urn:xmpp:ping", "ping", h);
    BOOST_TEST(!dup.is_ok(), "hooks: a second handler for the same iq key must be refused");
    BOOST_TEST(dup.message().find("ping") != std::string::npos);
    BOOST_TEST(!t.add_iq("ping", module::IqTarget::server, "result", "urn:xmpp:ping", "ping", h).is_ok());
    BOOST_TEST(t.find_iq(module::IqTarget::server, "get", "urn:xmpp:ping", "ping") != nullptr);
    BOOST_TEST(t.find_iq(module::IqTarget::account, "get", "urn:xmpp:ping", "ping") == nullptr);
    BOOST_TEST(t.find_iq(module::IqTarget::server, "set", "urn:xmpp:ping", "ping") == nullptr);
    t.add_feature("ping", "urn:xmpp:ping");
    t.add_feature("version", "jabber:iq:version");
    t.add_feature("ping2", "urn:xmpp:ping");
    BOOST_TEST(t.features().size() == 2u, "hooks: features are listed once");
    t.drop("ping");
    BOOST_TEST(t.find_iq(module::IqTarget::server, "get", "urn:xmpp:ping", "ping") == nullptr);
    BOOST_TEST(t.features().size() == 2u, "ping2 still registers urn:xmpp:ping");
    t.drop("ping2");
    auto f = t.features();
    BOOST_REQUIRE_EQUAL(f.size(), 1u);
    BOOST_TEST(f[0] == "jabber:iq:version");
}

BOOST_AUTO_TEST_CASE(session_events_reach_handlers) {
    hooks::HookTable t;
    int bound = 0, closed = 0;
    t.add_session_handler("m", module::SessionEvent::bound, [&](const module::SessionInfo&) { ++bound; });
    t.add_session_handler("m", module::SessionEvent::closed, [&](const module::SessionInfo&) { ++closed; });
    t.fire(module::SessionEvent::bound, module::SessionInfo{});
    t.fire(module::SessionEvent::bound, module::SessionInfo{});
    t.fire(module::SessionEvent::closed, module::SessionInfo{});
    BOOST_TEST(bound == 2);
    BOOST_TEST(closed == 1);
    t.drop("m");
    t.fire(module::SessionEvent::bound, module::SessionInfo{});
    BOOST_TEST(bound == 2);
}

BOOST_AUTO_TEST_CASE(control_commands_and_account_disco_belong_to_their_module) {
    hooks::HookTable t;
    int called = 0;
    BOOST_TEST(t.add_control("m", "roster", [&](const std::vector<std::string>&, module::ControlReply) { ++called; }).is_ok());
    auto second = t.add_control("n", "roster", [](const std::vector<std::string>&, module::ControlReply) {});
    BOOST_TEST(second.code() == "exists", "hooks: one module per command name");
    BOOST_REQUIRE(t.find_control("roster"));
    (*t.find_control("roster"))({}, [](Result<std::string>) {});
    BOOST_TEST(called == 1);
    BOOST_TEST(!t.find_control("other"));
    t.add_account_feature("m", "urn:b");
    t.add_account_feature("n", "urn:a");
    t.add_account_feature("m", "urn:b");
    BOOST_TEST((t.account_features() == std::vector<std::string>{"urn:a", "urn:b"}));
    t.add_account_items("m", [](const xmpp::Jid& a, const xmpp::Jid&) {
        return std::vector<module::DiscoItem>{{a.bare_str(), "n1", ""}};
    });
    auto account = xmpp::Jid::parse("u@example.org").value();
    BOOST_TEST(t.account_items(account, account).size() == 1u);
    t.drop("m");
    BOOST_TEST(!t.find_control("roster"), "hooks: a stopped module's commands go with it");
    BOOST_TEST((t.account_features() == std::vector<std::string>{"urn:a"}));
    BOOST_TEST(t.account_items(account, account).empty());
}

BOOST_AUTO_TEST_CASE(output_observers_all_run_in_order_and_go_with_their_module) {
    hooks::HookTable t;
    BOOST_TEST(!t.has_output_observers());
    std::vector<std::string> seen;
    t.add_output_observer("a", [&](uint64_t id, const xml::Element& s) { seen.push_back("a" + std::to_string(id) + s.name()); });
    t.add_output_observer("b", [&](uint64_t, const xml::Element&) { throw std::runtime_error("broken"); });
    t.add_output_observer("c", [&](uint64_t id, const xml::Element&) { seen.push_back("c" + std::to_string(id)); });
    BOOST_TEST(t.has_output_observers());
    t.observe_output(3, xml::Element("message", "jabber:client"));
    BOOST_TEST((seen == std::vector<std::string>{"a3message", "c3"}), "hooks: one that throws stops no other");
    t.drop("a");
    t.drop("b");
    t.drop("c");
    BOOST_TEST(!t.has_output_observers());
}

BOOST_AUTO_TEST_SUITE_END()

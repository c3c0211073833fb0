#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "../modules/disco/service_discovery.hpp"
#include "../modules/ping/ping.hpp"
#include "support/fake_host.hpp"

using namespace parley;

BOOST_AUTO_TEST_SUITE(modules_disco)

BOOST_AUTO_TEST_CASE(info_lists_identity_and_the_features_of_loaded_modules) {
    test::FakeHost host;
    mod_disco::ServiceDiscovery disco;
    mod_ping::Ping ping;
    BOOST_REQUIRE(disco.configure(config::Section{}).is_ok());
    BOOST_REQUIRE(disco.start(host).is_ok());
    BOOST_REQUIRE(ping.start(host).is_ok());
    auto r = host.ask(module::IqTarget::server, "get", xml::Element("query", mod_disco::kNsInfo));
    BOOST_REQUIRE(r->answers == 1 && r->ok && r->payload);
    const xml::Element* id = r->payload->child("identity", mod_disco::kNsInfo);
    BOOST_REQUIRE(id);
    BOOST_TEST(id->attr_or("category") == "server");
    BOOST_TEST(id->attr_or("type") == "im");
    std::vector<std::string> vars;
    for (const auto& c : r->payload->children())
        if (c.name() == "feature") vars.emplace_back(c.attr_or("var"));
    std::vector<std::string> want{mod_disco::kNsInfo, mod_disco::kNsItems, "urn:xmpp:ping"};
    std::sort(want.begin(), want.end());
    BOOST_TEST(vars == want, "mod_disco: features must be exactly those registered");
}

BOOST_AUTO_TEST_CASE(items_are_empty_and_unknown_nodes_are_item_not_found) {
    test::FakeHost host;
    mod_disco::ServiceDiscovery disco;
    BOOST_REQUIRE(disco.start(host).is_ok());
    auto items = host.ask(module::IqTarget::server, "get", xml::Element("query", mod_disco::kNsItems));
    BOOST_REQUIRE(items->ok && items->payload);
    BOOST_TEST(items->payload->child_count() == 0u);
    xml::Element q("query", mod_disco::kNsInfo);
    q.set_attr("node", "http://example.org/nothing");
    auto r = host.ask(module::IqTarget::server, "get", q);
    BOOST_REQUIRE(r->answers == 1);
    BOOST_TEST(!r->ok);
    BOOST_TEST(r->err.condition == "item-not-found");
}

BOOST_AUTO_TEST_CASE(items_list_the_domains_modules_own) {
    test::FakeHost host;
    mod_disco::ServiceDiscovery disco;
    BOOST_REQUIRE(disco.start(host).is_ok());
    BOOST_REQUIRE(host.domain_handler("example.org", "conference.example.org", [](module::DomainStanza&) {}).is_ok());
    auto items = host.ask(module::IqTarget::server, "get", xml::Element("query", mod_disco::kNsItems));
    BOOST_REQUIRE(items->ok && items->payload);
    BOOST_REQUIRE(items->payload->child_count() == 1u);
    BOOST_TEST(items->payload->first_child()->attr_or("jid") == "conference.example.org");
}

BOOST_AUTO_TEST_CASE(accounts_answer_for_themselves_and_hide_from_strangers) {
    test::FakeHost host;
    mod_disco::ServiceDiscovery disco;
    BOOST_REQUIRE(disco.start(host).is_ok());
    host.account_disco_feature("urn:example:account-thing");
    host.account_disco_identity(module::DiscoIdentity{"pubsub", "pep", ""});
    host.account_disco_items([](const xmpp::Jid& account, const xmpp::Jid& requester) {
        return std::vector<module::DiscoItem>{{account.bare_str(), "node-for-" + requester.node(), ""}};
    });
    // juliet asks about herself: everything.
    auto r = host.ask(module::IqTarget::account, "get", xml::Element("query", mod_disco::kNsInfo), "juliet@example.org");
    BOOST_REQUIRE(r->answers == 1 && r->ok && r->payload);
    std::vector<std::string> ids, vars;
    for (const auto& c : r->payload->children()) {
        if (c.name() == "identity") ids.push_back(std::string(c.attr_or("category")) + "/" + std::string(c.attr_or("type")));
        if (c.name() == "feature") vars.emplace_back(c.attr_or("var"));
    }
    BOOST_TEST((ids == std::vector<std::string>{"account/registered", "pubsub/pep"}));
    std::vector<std::string> want{mod_disco::kNsInfo, mod_disco::kNsItems, "urn:example:account-thing"};
    std::sort(want.begin(), want.end());
    BOOST_TEST(vars == want, "mod_disco: an account's features are the account features modules registered");
    BOOST_TEST((std::find(vars.begin(), vars.end(), "urn:xmpp:ping") == vars.end()));
    auto items = host.ask(module::IqTarget::account, "get", xml::Element("query", mod_disco::kNsItems), "juliet@example.org");
    BOOST_REQUIRE(items->ok && items->payload && items->payload->child_count() == 1u);
    BOOST_TEST(items->payload->first_child()->attr_or("node") == "node-for-juliet");
    // About romeo, with no roster service loaded: juliet is nobody to him,
    // and gets what an account that does not exist gets.
    auto other = host.ask(module::IqTarget::account, "get", xml::Element("query", mod_disco::kNsInfo), "romeo@example.org");
    BOOST_REQUIRE(other->answers == 1);
    BOOST_TEST(!other->ok);
    BOOST_TEST(other->err.condition == "service-unavailable");
    BOOST_TEST(other->err.text == recipient_unavailable().text);
}

BOOST_AUTO_TEST_SUITE_END()

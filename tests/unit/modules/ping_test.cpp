#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "../modules/ping/ping.hpp"
#include "support/fake_host.hpp"

using namespace parley;

BOOST_AUTO_TEST_SUITE(modules_ping)

BOOST_AUTO_TEST_CASE(answers_a_ping_to_the_server_with_an_empty_result) {
    test::FakeHost host;
    mod_ping::Ping m;
    BOOST_REQUIRE(m.start(host).is_ok());
    auto r = host.ask(module::IqTarget::server, "get", xml::Element("ping", mod_ping::kNsPing));
    BOOST_TEST(r->answers == 1, "mod_ping: a ping must be answered exactly once");
    BOOST_TEST(r->ok, "mod_ping: a ping gets a result, not an error");
    BOOST_TEST(!r->payload.has_value(), "mod_ping: the result is empty");
    BOOST_TEST(host.disco_features() == std::vector<std::string>{"urn:xmpp:ping"});
}

BOOST_AUTO_TEST_CASE(does_not_claim_ping_set_or_other_namespaces) {
    test::FakeHost host;
    mod_ping::Ping m;
    BOOST_REQUIRE(m.start(host).is_ok());
    BOOST_TEST(host.ask(module::IqTarget::server, "set", xml::Element("ping", mod_ping::kNsPing))->answers == 0);
    BOOST_TEST(host.ask(module::IqTarget::account, "get", xml::Element("ping", mod_ping::kNsPing))->answers == 0);
    BOOST_TEST(host.ask(module::IqTarget::server, "get", xml::Element("ping", "urn:xmpp:other"))->answers == 0);
}

BOOST_AUTO_TEST_SUITE_END()

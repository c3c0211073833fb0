#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <regex>

#include "../modules/time/entity_time.hpp"
#include "support/fake_host.hpp"

using namespace parley;

BOOST_AUTO_TEST_SUITE(modules_time)

BOOST_AUTO_TEST_CASE(formats_offsets_and_utc_per_xep_0082) {
    BOOST_TEST(mod_time::format_tzo(0) == "+00:00");
    BOOST_TEST(mod_time::format_tzo(3600) == "+01:00");
    BOOST_TEST(mod_time::format_tzo(-(5 * 3600 + 30 * 60)) == "-05:30");
    BOOST_TEST(mod_time::format_utc(0) == "1970-01-01T00:00:00Z");
    BOOST_TEST(mod_time::format_utc(1796188284) == "2026-12-02T05:11:24Z");
}

BOOST_AUTO_TEST_CASE(answers_with_tzo_and_utc) {
    test::FakeHost host;
    mod_time::EntityTime m;
    BOOST_REQUIRE(m.start(host).is_ok());
    auto r = host.ask(module::IqTarget::server, "get", xml::Element("time", mod_time::kNsTime));
    BOOST_REQUIRE(r->answers == 1);
    BOOST_REQUIRE(r->ok && r->payload.has_value());
    const xml::Element* tzo = r->payload->child("tzo", mod_time::kNsTime);
    const xml::Element* utc = r->payload->child("utc", mod_time::kNsTime);
    BOOST_REQUIRE(tzo && utc);
    BOOST_TEST(std::regex_match(tzo->text(), std::regex("[+-][0-9]{2}:[0-9]{2}")), "mod_time: tzo " << tzo->text());
    BOOST_TEST(std::regex_match(utc->text(), std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")),
               "mod_time: utc " << utc->text());
    BOOST_TEST(host.disco_features() == std::vector<std::string>{"urn:xmpp:time"});
}

BOOST_AUTO_TEST_SUITE_END()

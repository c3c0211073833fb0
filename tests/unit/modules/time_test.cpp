#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <cctype>

#include "../modules/time/entity_time.hpp"
#include "support/fake_host.hpp"

using namespace parley;

namespace {
// True when `text` matches `pattern`, where '9' stands for any digit and
// every other character for itself.
bool shaped(const std::string& text, const std::string& pattern) {
    if (text.size() != pattern.size()) return false;
    for (size_t i = 0; i < text.size(); ++i) {
        if (pattern[i] == '9' ? !std::isdigit(static_cast<unsigned char>(text[i])) : text[i] != pattern[i]) return false;
    }
    return true;
}
}  // namespace

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
    BOOST_TEST((shaped(tzo->text(), "+99:99") || shaped(tzo->text(), "-99:99")), "mod_time: tzo " << tzo->text());
    BOOST_TEST(shaped(utc->text(), "9999-99-99T99:99:99Z"),
               "mod_time: utc " << utc->text());
    BOOST_TEST(host.disco_features() == std::vector<std::string>{"urn:xmpp:time"});
}

BOOST_AUTO_TEST_SUITE_END()

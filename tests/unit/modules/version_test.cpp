#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "../modules/version/software_version.hpp"
#include "support/fake_host.hpp"

using namespace parley;

namespace {
config::Section section(std::map<std::string, config::OptionValue> values) {
    config::Section s;
    s.file = "t.toml";
    s.name = "version";
    s.line = 1;
    s.values = std::move(values);
    return s;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(modules_version)

BOOST_AUTO_TEST_CASE(reports_name_and_version_but_no_os_by_default) {
    test::FakeHost host;
    mod_version::SoftwareVersion m;
    BOOST_REQUIRE(m.configure(section({})).is_ok());
    BOOST_REQUIRE(m.start(host).is_ok());
    auto r = host.ask(module::IqTarget::server, "get", xml::Element("query", mod_version::kNsVersion));
    BOOST_REQUIRE(r->answers == 1 && r->ok && r->payload);
    BOOST_TEST(r->payload->child("name", mod_version::kNsVersion)->text() == "Parley");
    BOOST_TEST(r->payload->child("version", mod_version::kNsVersion)->text() == "0.1.0-test");
    BOOST_TEST(r->payload->child("os", mod_version::kNsVersion) == nullptr, "mod_version: the OS is hidden by default");
}

BOOST_AUTO_TEST_CASE(options_follow_the_schema) {
    BOOST_TEST(config::validate_section(section({{"show_os", {true, 2}}}), mod_version::kOptions,
                                        mod_version::kOptionCount)
                   .is_ok());
    BOOST_TEST(!config::validate_section(section({{"show_os", {std::string("yes"), 2}}}), mod_version::kOptions,
                                         mod_version::kOptionCount)
                    .is_ok(),
               "mod_version: show_os must be a boolean");
    test::FakeHost host;
    mod_version::SoftwareVersion m;
    BOOST_REQUIRE(m.configure(section({{"name", {std::string("Corp IM"), 2}}, {"show_os", {true, 3}}})).is_ok());
    BOOST_REQUIRE(m.start(host).is_ok());
    auto r = host.ask(module::IqTarget::server, "get", xml::Element("query", mod_version::kNsVersion));
    BOOST_REQUIRE(r->payload);
    BOOST_TEST(r->payload->child("name", mod_version::kNsVersion)->text() == "Corp IM");
    BOOST_TEST(r->payload->child("os", mod_version::kNsVersion) != nullptr);
    BOOST_TEST(!m.configure(section({{"name", {std::string(""), 2}}})).is_ok(), "mod_version: empty name refused");
}

BOOST_AUTO_TEST_SUITE_END()

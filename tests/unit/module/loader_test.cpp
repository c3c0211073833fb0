#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "module/loader.hpp"

using namespace parley;

namespace {
const std::string kDir = PARLEY_TEST_BUILDDIR "/tests/support/modules/.libs";

config::Section section(std::map<std::string, config::OptionValue> values) {
    config::Section s;
    s.file = "test.toml";
    s.name = "testgood";
    s.line = 3;
    s.values = std::move(values);
    return s;
}
}  // namespace

BOOST_AUTO_TEST_SUITE(module_loader)

BOOST_AUTO_TEST_CASE(loads_a_good_module) {
    auto m = module::LoadedModule::load(kDir, "testgood");
    BOOST_REQUIRE_MESSAGE(m.is_ok(), (m.is_ok() ? std::string() : m.status().message()));
    BOOST_TEST(m.value()->descriptor().abi_version == module::kAbiVersion);
    BOOST_TEST(std::string(m.value()->descriptor().name) == "testgood");
    auto inst = m.value()->create_instance();
    BOOST_TEST(inst != nullptr);
}

BOOST_AUTO_TEST_CASE(refuses_another_abi_naming_both_versions) {
    auto m = module::LoadedModule::load(kDir, "testbadabi");
    BOOST_REQUIRE(!m.is_ok());
    const std::string& msg = m.status().message();
    BOOST_TEST(msg.find(std::to_string(module::kAbiVersion + 998)) != std::string::npos, msg);
    BOOST_TEST(msg.find("ABI version " + std::to_string(module::kAbiVersion)) != std::string::npos, msg);
    BOOST_TEST(msg.find("mod_testbadabi.so") != std::string::npos, msg);
}

BOOST_AUTO_TEST_CASE(refuses_missing_file_and_non_module) {
    auto missing = module::LoadedModule::load(kDir, "doesnotexist");
    BOOST_REQUIRE(!missing.is_ok());
    BOOST_TEST(missing.status().message().find("doesnotexist") != std::string::npos);
    auto nosym = module::LoadedModule::load(kDir, "testnosym");
    BOOST_REQUIRE(!nosym.is_ok());
    BOOST_TEST(nosym.status().message().find("parley_module_descriptor") != std::string::npos);
    auto badname = module::LoadedModule::load(kDir, "../evil");
    BOOST_TEST(!badname.is_ok());
}

BOOST_AUTO_TEST_CASE(validates_the_module_section) {
    auto m = module::LoadedModule::load(kDir, "testgood");
    BOOST_REQUIRE(m.is_ok());
    BOOST_TEST(module::validate_module_config(*m.value(), section({})).is_ok());
    BOOST_TEST(module::validate_module_config(*m.value(), section({{"greeting", {std::string("hi"), 4}}})).is_ok());
    Status unknown = module::validate_module_config(*m.value(), section({{"colour", {std::string("red"), 5}}}));
    BOOST_TEST(!unknown.is_ok(), "loader: an unknown key must be refused");
    BOOST_TEST(unknown.message().find("colour") != std::string::npos, unknown.message());
    Status wrong_type = module::validate_module_config(*m.value(), section({{"greeting", {int64_t{3}, 6}}}));
    BOOST_TEST(!wrong_type.is_ok(), "loader: a wrong type must be refused");
    BOOST_TEST(wrong_type.message().find("6") != std::string::npos, wrong_type.message());
    Status refused = module::validate_module_config(*m.value(), section({{"greeting", {std::string("forbidden"), 4}}}));
    BOOST_TEST(!refused.is_ok(), "loader: the module's own configure() must be asked");
}

BOOST_AUTO_TEST_CASE(nested_options_are_checked_and_defaulted_before_configure) {
    auto m = module::LoadedModule::load(kDir, "testgood");
    BOOST_REQUIRE(m.is_ok());
    config::Section rule;
    rule.line = 7;
    std::vector<config::Section> rules{rule};
    Status ok = module::validate_module_config(*m.value(), section({{"rule", {rules, 6}}}));
    BOOST_TEST(ok.is_ok(), "loader: configure() must see the nested default: " << ok.message());
    rules[0].values["action"] = {std::string("maybe"), 8};
    Status bad = module::validate_module_config(*m.value(), section({{"rule", {rules, 6}}}));
    BOOST_TEST(bad.message() == "test.toml:8: modules.testgood.rule[0].action: expected one of allow, deny, got 'maybe'");
}

BOOST_AUTO_TEST_CASE(the_config_modules_run_has_their_defaults) {
    auto m = module::LoadedModule::load(kDir, "testgood");
    BOOST_REQUIRE(m.is_ok());
    config::Config cfg;
    cfg.path = "test.toml";
    cfg.modules = {"testgood"};
    auto filled = module::with_option_defaults(cfg, {m.value()});
    BOOST_TEST(cfg.module_sections.empty(), "loader: the config read from the file is left as it was");
    const config::Section s = module::section_for(*filled, "testgood");
    BOOST_TEST(s.get_string("greeting", "?") == "hello");
    BOOST_TEST(s.values.at("greeting").line == 0);
    BOOST_TEST(s.has("rule"));
    BOOST_TEST(s.tables("rule").empty());
}

BOOST_AUTO_TEST_SUITE_END()

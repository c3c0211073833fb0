#define BOOST_TEST_DYN_LINK
#include "config/schema.hpp"

#include <boost/test/unit_test.hpp>

using namespace parley;

namespace {

const config::OptionSpec kSpecs[] = {
    {"greeting", config::OptionType::string, "hello", "what to say"},
    {"count", config::OptionType::integer, "3", "how often", 1, 10},
    {"loud", config::OptionType::boolean, "false", "shout"},
    {"names", config::OptionType::string_list, "[]", "who"},
};
constexpr size_t kCount = sizeof(kSpecs) / sizeof(kSpecs[0]);

config::Section section(std::map<std::string, config::OptionValue> values) {
    config::Section s;
    s.file = "parley.toml";
    s.name = "greeter";
    s.line = 10;
    s.values = std::move(values);
    return s;
}

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(config_schema)

BOOST_AUTO_TEST_CASE(valid_values_pass) {
    BOOST_TEST(config::validate_section(section({}), kSpecs, kCount).is_ok());
    Status s = config::validate_section(section({{"greeting", {std::string("hi"), 11}},
                                                 {"count", {int64_t{10}, 12}},
                                                 {"loud", {true, 13}},
                                                 {"names", {std::vector<std::string>{"a"}, 14}}}),
                                        kSpecs, kCount);
    BOOST_TEST(s.is_ok(), s.to_string());
}

BOOST_AUTO_TEST_CASE(every_error_in_one_status) {
    Status s = config::validate_section(section({{"greting", {std::string("hi"), 11}},
                                                 {"count", {int64_t{11}, 12}},
                                                 {"loud", {std::string("yes"), 13}},
                                                 {"names", {int64_t{3}, 14}}}),
                                        kSpecs, kCount);
    BOOST_REQUIRE(!s.is_ok());
    BOOST_TEST(s.code() == "config");
    const std::string& m = s.message();
    BOOST_TEST(
        has(m,
            "parley.toml:11: modules.greeter.greting: unknown option (did you mean 'greeting'?)"),
        m);
    BOOST_TEST(has(m,
                   "parley.toml:12: modules.greeter.count: 11 is out of range: must be between 1 "
                   "and 10"),
               m);
    BOOST_TEST(has(m, "parley.toml:13: modules.greeter.loud: expected a boolean, got a string"),
               m);
    BOOST_TEST(
        has(m,
            "parley.toml:14: modules.greeter.names: expected a list of strings, got an integer"),
        m);
}

BOOST_AUTO_TEST_CASE(unknown_option_lists_the_known_ones) {
    Status s =
        config::validate_section(section({{"colour", {std::string("red"), 5}}}), kSpecs, kCount);
    BOOST_REQUIRE(!s.is_ok());
    BOOST_TEST(has(s.message(),
                   "parley.toml:5: modules.greeter.colour: unknown option (known: greeting, "
                   "count, loud, names)"),
               s.message());
    Status none = config::validate_section(section({{"x", {true, 2}}}), nullptr, 0);
    BOOST_TEST(has(none.message(), "has no options"), none.message());
}

BOOST_AUTO_TEST_CASE(one_sided_ranges) {
    const config::OptionSpec at_least[] = {{"n", config::OptionType::integer, "1", "n", 1}};
    Status s = config::validate_section(section({{"n", {int64_t{0}, 3}}}), at_least, 1);
    BOOST_TEST(has(s.message(), "must be at least 1"), s.message());
}

BOOST_AUTO_TEST_SUITE_END()

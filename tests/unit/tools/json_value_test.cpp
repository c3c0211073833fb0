#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "module/control_json.hpp"

#include "../tools/parleyctl/json_value.hpp"

using parley::ctl::JsonValue;
using Kind = JsonValue::Kind;

BOOST_AUTO_TEST_SUITE(tools_json_value)

BOOST_AUTO_TEST_CASE(reads_what_parleyd_answers) {
    auto v = JsonValue::parse(
        R"({"ok":true,"total":2,"truncated":false,"sessions":[{"jid":"a@b/r \"x\", y","worker":1,"id":17,)"
        R"("available":true,"priority":-1,"address":"127.0.0.1","since":1700000000},{"jid":"c@b/\u00e9\ud83d\ude00"}]})");
    BOOST_REQUIRE(v.has_value());
    BOOST_TEST(v->flag("ok"));
    BOOST_TEST(v->str("total") == "2");
    const JsonValue* s = v->get("sessions");
    BOOST_REQUIRE(s);
    BOOST_REQUIRE(s->items().size() == 2u);
    BOOST_TEST(s->items()[0].str("jid") == "a@b/r \"x\", y", "json: quotes and commas inside a string");
    BOOST_TEST(s->items()[0].str("priority") == "-1");
    BOOST_TEST(s->items()[0].get("worker")->number() == 1.0);
    BOOST_TEST(s->items()[1].str("jid") == "c@b/\xc3\xa9\xf0\x9f\x98\x80", "json: \\u escapes and pairs to UTF-8");
    BOOST_TEST(!s->items()[1].flag("available"));
    BOOST_TEST(v->get("absent") == nullptr);
}

BOOST_AUTO_TEST_CASE(refuses_what_is_not_json) {
    for (const char* bad : {"", "{", "{\"a\":}", "[1,]", "{\"a\":1}x", "\"\\ud800\"", "\"\\x\"", "01", "tru",
                            "{\"a\" 1}", "\"a\nb\""})
        BOOST_TEST(!JsonValue::parse(bad).has_value(), "json: must refuse " << bad);
    std::string deep(100, '[');
    deep += std::string(100, ']');
    BOOST_TEST(!JsonValue::parse(deep).has_value(), "json: nesting is bounded");
    BOOST_TEST(JsonValue::parse(" [ ] ").has_value());
}

BOOST_AUTO_TEST_CASE(escapes_what_it_writes) {
    BOOST_TEST(parley::module::json_escape("a\"b\\c\nd\x01") == "a\\\"b\\\\c\\nd\\u0001");
    auto back = JsonValue::parse("\"" + parley::module::json_escape("x\"\\\n\t\x02y") + "\"");
    BOOST_REQUIRE(back.has_value());
    BOOST_TEST(back->text() == "x\"\\\n\t\x02y");
}

BOOST_AUTO_TEST_SUITE_END()

// xml::parse_element: what a module stored with xml::serialize() comes back
// as the same tree; anything else (damage, more or less than one element,
// restricted XML, too deep) is an error with a code the caller can tell
// apart, never a crash.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>
#include <utility>
#include <vector>

#include "xml/parse_element.hpp"
#include "xml/serializer.hpp"

using namespace parley;
using xml::Element;

namespace {

constexpr std::string_view kClient = "jabber:client";

Element message() {
    Element m("message", std::string(kClient));
    m.set_attr("to", "juliet@example.org");
    m.set_attr("type", "chat");
    m.add_child("body", std::string(kClient)).add_text("a < b & 'c' \"d\"\r\n");
    auto& d = m.add_child("delay", "urn:xmpp:delay");
    d.set_attr("stamp", "2024-01-01T00:00:00.000Z");
    d.set_attr(xml::xml_lang(), "en");
    d.add_child("x", "urn:example:other").add_child("y", "urn:example:other").add_text("deep");
    return m;
}

Element nested(size_t depth) {
    Element root("a", "urn:example:n");
    Element* at = &root;
    for (size_t i = 1; i < depth; ++i) at = &at->add_child("a", "urn:example:n");
    return root;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(xml_parse_element)

BOOST_AUTO_TEST_CASE(what_serialize_wrote_parses_back_to_the_same_tree) {
    const Element m = message();
    auto back = xml::parse_element(xml::to_string(m, kClient), kClient, 32);
    BOOST_REQUIRE_MESSAGE(back, "xml: parse_element: " << back.status().to_string());
    BOOST_TEST((back.value() == m), "xml: the round trip keeps the tree");
    BOOST_TEST(back->ns() == kClient, "xml: the default namespace comes from the caller");
    // Written for another default namespace, read with that one.
    Element v("vCard", "vcard-temp");
    v.add_child("FN", "vcard-temp").add_text("Juliet");
    auto vb = xml::parse_element(xml::to_string(v, kClient), kClient, 64);
    BOOST_REQUIRE(vb);
    BOOST_TEST((vb.value() == v));
}

BOOST_AUTO_TEST_CASE(not_exactly_one_element_is_its_own_error) {
    const std::string one = xml::to_string(message(), kClient);
    for (const std::string& text : {std::string(), std::string("  \n"), one + one}) {
        auto r = xml::parse_element(text, kClient, 32);
        BOOST_REQUIRE(!r);
        BOOST_TEST(r.status().code() == "not-one-element", "xml: '" << text.substr(0, 20) << "': " << r.status().to_string());
        BOOST_TEST(r.status().message() == "not one element");
    }
}

BOOST_AUTO_TEST_CASE(damaged_or_restricted_text_is_a_parse_error) {
    const std::string one = xml::to_string(message(), kClient);
    for (const std::string& text :
         {one.substr(0, one.size() / 2) + "<", std::string("<a xmlns='urn:x'><!-- c --></a>"),
          std::string("<a xmlns='urn:x'>&ent;</a>"), std::string("<p:a/>"), std::string("<a xmlns='urn:x'></b>")}) {
        auto r = xml::parse_element(text, kClient, 32);
        BOOST_REQUIRE_MESSAGE(!r, "xml: accepted '" << text << "'");
        BOOST_TEST(r.status().code() == "parse", "xml: '" << text << "': " << r.status().to_string());
        BOOST_TEST(!r.status().message().empty(), "xml: the parser says why");
    }
}

BOOST_AUTO_TEST_CASE(depth_is_bounded_by_the_caller) {
    const std::string deep = xml::to_string(nested(40), kClient);
    BOOST_TEST(xml::parse_element(deep, kClient, 40).is_ok(), "xml: 40 levels within a limit of 40");
    auto r = xml::parse_element(deep, kClient, 39);
    BOOST_REQUIRE(!r);
    BOOST_TEST(r.status().code() == "parse");
}

BOOST_AUTO_TEST_CASE(what_a_call_left_behind_does_not_reach_the_next) {
    // parse_element keeps one stream per thread open between calls: a call
    // that leaves it anywhere but between two elements must not show in the
    // next, which must read as a fresh parser would.
    const Element m = message();
    const std::string one = xml::to_string(m, kClient);
    const std::vector<std::pair<std::string, std::string>> leftovers = {
        {one + "<a xmlns='urn:x'>", "not-one-element"},       // a second element begun
        {one + "<b", "not-one-element"},                       // a partial start tag
        {one + "<c x='>", "not-one-element"},                  // inside an attribute value
        {one + "text", "not-one-element"},                     // text after the element
        {"<d xmlns='urn:x'><e>", "not-one-element"},           // an element not closed
        {"</stream:stream>", "not-one-element"},               // the stream's own end
        {"<a xmlns='urn:x'></b>", "parse"},                    // an error
    };
    for (const auto& [text, code] : leftovers) {
        auto r = xml::parse_element(text, kClient, 32);
        BOOST_REQUIRE_MESSAGE(!r, "xml: accepted '" << text << "'");
        BOOST_TEST(r.status().code() == code, "xml: '" << text << "': " << r.status().to_string());
        auto next = xml::parse_element(one, kClient, 32);
        BOOST_REQUIRE_MESSAGE(next, "xml: after '" << text << "': " << next.status().to_string());
        BOOST_TEST((next.value() == m), "xml: after '" << text << "' the next element reads the same");
    }
    // Another default namespace in between, then back; and many in a row.
    Element v("vCard", "vcard-temp");
    auto vb = xml::parse_element(xml::to_string(v, "jabber:server"), "jabber:server", 8);
    BOOST_REQUIRE(vb);
    BOOST_TEST((vb.value() == v));
    for (int i = 0; i < 1000; ++i) {
        auto r = xml::parse_element(one + "\n", kClient, 32);
        BOOST_REQUIRE(r);
        BOOST_REQUIRE((r.value() == m));
    }
}

BOOST_AUTO_TEST_SUITE_END()

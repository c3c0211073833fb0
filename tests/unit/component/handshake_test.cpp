#define BOOST_TEST_DYN_LINK
#include "component/handshake.hpp"

#include <boost/test/unit_test.hpp>

#include "component/directory.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;

BOOST_AUTO_TEST_SUITE(component_handshake)

// Computed independently: python3 -c "import hashlib;
// print(hashlib.sha1(b'3BF96D32Ilovemypony').hexdigest())"
const std::string kDigest = "a8ac6bf2e7607c92e257cbd9f1145dab98e2685c";

BOOST_AUTO_TEST_CASE(digest_is_lowercase_hex_sha1_of_id_then_secret) {
    BOOST_TEST(component::handshake_digest("3BF96D32", "Ilovemypony") == kDigest);
    // The order matters: secret + id is another digest.
    BOOST_TEST(component::handshake_digest("Ilovemypony", "3BF96D32") != kDigest);
}

BOOST_AUTO_TEST_CASE(the_right_digest_matches_in_either_case_and_with_whitespace) {
    BOOST_TEST(component::handshake_matches("3BF96D32", "Ilovemypony", kDigest));
    std::string upper = kDigest;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    BOOST_TEST(component::handshake_matches("3BF96D32", "Ilovemypony", upper));
    BOOST_TEST(component::handshake_matches("3BF96D32", "Ilovemypony", "\n  " + kDigest + " \n"));
}

BOOST_AUTO_TEST_CASE(anything_else_does_not_match) {
    BOOST_TEST(!component::handshake_matches("3BF96D32", "Ilovemyhorse", kDigest),
               "component: wrong secret accepted");
    BOOST_TEST(!component::handshake_matches("3BF96D33", "Ilovemypony", kDigest),
               "component: another stream id accepted");
    BOOST_TEST(!component::handshake_matches("3BF96D32", "Ilovemypony", ""));
    BOOST_TEST(!component::handshake_matches("3BF96D32", "Ilovemypony", kDigest.substr(0, 39)));
    BOOST_TEST(!component::handshake_matches("3BF96D32", "Ilovemypony", kDigest + "0"));
    BOOST_TEST(!component::handshake_matches("3BF96D32", "Ilovemypony", "Ilovemypony"),
               "component: the secret itself accepted");
    std::string flipped = kDigest;
    flipped[20] = flipped[20] == '0' ? '1' : '0';
    BOOST_TEST(!component::handshake_matches("3BF96D32", "Ilovemypony", flipped));
}

BOOST_AUTO_TEST_CASE(translate_ns_moves_every_element_of_the_stream_namespace) {
    xml::Element m("message", std::string(component::kNsComponentAccept));
    m.set_attr("to", "alice@example.org");
    m.add_child("body", std::string(component::kNsComponentAccept)).add_text("hi <there>");
    auto& x = m.add_child("x", "urn:example");
    x.add_child("item", std::string(component::kNsComponentAccept));
    x.add_child("keep", "urn:example");
    xml::Element c = component::translate_ns(m, component::kNsComponentAccept, xmpp::kNsClient);
    BOOST_TEST(c.ns() == std::string(xmpp::kNsClient));
    BOOST_TEST(c.attr_or("to") == "alice@example.org");
    BOOST_REQUIRE(c.child("body", xmpp::kNsClient));
    BOOST_TEST(c.child("body", xmpp::kNsClient)->text() == "hi <there>");
    const xml::Element* cx = c.child("x", "urn:example");
    BOOST_REQUIRE(cx);
    BOOST_TEST(cx->child("item", xmpp::kNsClient) != nullptr,
               "component: nested elements must be translated too");
    BOOST_TEST(cx->child("keep", "urn:example") != nullptr);
    // And back again: the same tree.
    BOOST_TEST((component::translate_ns(c, xmpp::kNsClient, component::kNsComponentAccept) == m));
    // Serialized on the component's stream, it carries no jabber:client.
    std::string out =
        xml::to_string(component::translate_ns(c, xmpp::kNsClient, component::kNsComponentAccept),
                       component::kNsComponentAccept);
    BOOST_TEST(out.find("jabber:client") == std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(component_directory)

BOOST_AUTO_TEST_CASE(one_connection_per_domain_the_first_stays) {
    component::Directory d;
    BOOST_TEST(!d.find("bot.example.org"));
    BOOST_TEST(d.claim("bot.example.org", {1, 7, nullptr}));
    BOOST_TEST(!d.claim("bot.example.org", {0, 8, nullptr}),
               "component: a second connection must be refused");
    BOOST_REQUIRE(d.find("bot.example.org"));
    BOOST_TEST(d.find("bot.example.org")->connection == 7u);
    BOOST_TEST(d.find("bot.example.org")->worker == 1u);
    // The refused one going away does not remove the running one.
    d.release("bot.example.org", 8);
    BOOST_TEST(d.find("bot.example.org").has_value());
    d.release("bot.example.org", 7);
    BOOST_TEST(!d.find("bot.example.org"));
    BOOST_TEST(d.claim("bot.example.org", {0, 9, nullptr}), "component: the domain is free again");
    BOOST_TEST(d.claim("other.example.org", {0, 10, nullptr}));
    BOOST_TEST(d.size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

// s2s dialback keys (XEP-0185) and their check.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <set>

#include "s2s/dialback.hpp"

using namespace parley::s2s;

BOOST_AUTO_TEST_SUITE(s2s_dialback)

BOOST_AUTO_TEST_CASE(the_key_is_xep_0185s_example) {
    // XEP-0185 §4: secret, receiving server, originating server, stream id.
    const std::string key = dialback_key("s3cr3tf0rd14lb4ck", "xmpp.example.com", "example.org", "D60000229F");
    BOOST_TEST(key == "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643");
}

BOOST_AUTO_TEST_CASE(a_key_matches_only_its_own_names_stream_and_secret) {
    const std::string s = "secret";
    const std::string k = dialback_key(s, "recv.example", "orig.example", "id1");
    BOOST_TEST(dialback_key_matches(s, "recv.example", "orig.example", "id1", k));
    BOOST_TEST(dialback_key_matches(s, "recv.example", "orig.example", "id1", "\n  " + k + "\n"),
               "whitespace around the key (pretty-printing peers) is ignored");
    BOOST_TEST(!dialback_key_matches(s, "orig.example", "recv.example", "id1", k), "the roles swapped");
    BOOST_TEST(!dialback_key_matches(s, "recv.example", "orig.example", "id2", k), "another stream");
    BOOST_TEST(!dialback_key_matches("other", "recv.example", "orig.example", "id1", k), "another secret");
    BOOST_TEST(!dialback_key_matches(s, "recv.example", "orig.example", "id1", k.substr(0, 63)));
    BOOST_TEST(!dialback_key_matches(s, "recv.example", "orig.example", "id1", ""));
    std::string flipped = k;
    flipped[10] = flipped[10] == 'a' ? 'b' : 'a';
    BOOST_TEST(!dialback_key_matches(s, "recv.example", "orig.example", "id1", flipped));
    // The space separates names that would otherwise run together.
    BOOST_TEST(dialback_key(s, "example.in", "form.example.org", "x") !=
               dialback_key(s, "example.info", "rm.example.org", "x"));
}

BOOST_AUTO_TEST_CASE(secrets_and_stream_ids_are_fresh_hex) {
    std::set<std::string> seen;
    for (int i = 0; i < 50; ++i) {
        const std::string id = random_stream_id();
        BOOST_TEST(id.size() == 32u);
        BOOST_TEST(id.find_first_not_of("0123456789abcdef") == std::string::npos);
        BOOST_TEST(seen.insert(id).second);
    }
    const std::string a = make_dialback_secret(), b = make_dialback_secret();
    BOOST_TEST(a.size() == 64u);
    BOOST_TEST(a != b);
}

BOOST_AUTO_TEST_SUITE_END()

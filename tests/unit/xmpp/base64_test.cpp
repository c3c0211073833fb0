#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "xmpp/base64.hpp"

using parley::xmpp::base64_decode;
using parley::xmpp::base64_encode;

BOOST_AUTO_TEST_SUITE(xmpp_base64)

BOOST_AUTO_TEST_CASE(rfc4648_test_vectors) {
    const std::pair<const char*, const char*> v[] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                                     {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
                                                     {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, coded] : v) {
        BOOST_TEST(base64_encode(plain) == coded, "base64: encode " << plain);
        auto d = base64_decode(coded);
        BOOST_REQUIRE_MESSAGE(d.is_ok(), "base64: decode " << coded);
        BOOST_TEST(d.value() == plain);
    }
}

BOOST_AUTO_TEST_CASE(every_byte_round_trips) {
    std::string all;
    for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
    for (size_t n = 0; n <= all.size(); n += 37) {
        auto d = base64_decode(base64_encode(all.substr(0, n)));
        BOOST_REQUIRE(d.is_ok());
        BOOST_TEST(d.value() == all.substr(0, n), "base64: binary round trip of " << n << " bytes");
    }
    BOOST_TEST(base64_encode("\xFB\xFF") == "+/8=", "base64: the standard alphabet, not URL-safe");
}

BOOST_AUTO_TEST_CASE(decoding_is_strict) {
    for (const char* bad : {"Zg", "Zm9", "Zm9vY", "Zm9v\n", " Zm9v", "Zm9v Zm9v", "Zm\r\n9v", "Zm=v", "=Zm9",
                            "Zg==Zm9v", "Zm9v====", "Zg=", "Zm*v", "Zm9-", "Zm9_", "Zh==", "Zm9=", "=", "===="}) {
        auto d = base64_decode(bad);
        BOOST_TEST(!d.is_ok(), "base64: '" << bad << "' must be refused");
        if (!d) BOOST_TEST(d.status().code() == "incorrect-encoding");
    }
}

BOOST_AUTO_TEST_SUITE_END()

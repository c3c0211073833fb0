#define BOOST_TEST_DYN_LINK
#include "modules/content_policy/detectors.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace parley;
using namespace parley::mod_content_policy;

namespace {

std::shared_ptr<const Detector> builtin(const char* name) {
    auto d = Detector::builtin(name);
    BOOST_REQUIRE_MESSAGE(d, d.status().to_string());
    return *d;
}

// The matched texts.
std::vector<std::string> found(const Detector& d, std::string_view text) {
    std::vector<std::string> out;
    for (const Match& m : d.find(text)) out.emplace_back(text.substr(m.at, m.size));
    return out;
}

using Texts = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(content_policy_detectors)

BOOST_AUTO_TEST_CASE(luhn_and_card_numbers) {
    BOOST_TEST(luhn_valid("4111111111111111"));
    BOOST_TEST(luhn_valid("79927398713"));
    BOOST_TEST(!luhn_valid("4111111111111112"));
    BOOST_TEST(!luhn_valid("79927398710"));
    BOOST_TEST(!luhn_valid(""));
    auto card = builtin("card");
    BOOST_TEST(found(*card, "pay with 4111 1111 1111 1111 please") == (Texts{"4111 1111 1111 1111"}));
    BOOST_TEST(found(*card, "amex 3782-822463-10005, mc 5555555555554444.") ==
               (Texts{"3782-822463-10005", "5555555555554444"}));
    // The Luhn check fails, or no issuer starts so, or too short: not cards.
    BOOST_TEST(found(*card, "4111 1111 1111 1112").empty());
    BOOST_TEST(found(*card, "order 1234567812345670").empty(), "a valid checksum alone is not a card");
    BOOST_TEST(found(*card, "call 4111 1111 11").empty());
    // Inside a longer run of digits: not this number.
    BOOST_TEST(found(*card, "id 94111111111111111").empty());
    // Many digits do not make a check slow or wrong.
    BOOST_TEST(found(*card, std::string(100000, '7')).empty());
}

BOOST_AUTO_TEST_CASE(ibans_by_country_length_and_mod_97) {
    BOOST_TEST(iban_valid("DE89370400440532013000"));
    BOOST_TEST(iban_valid("GB82WEST12345698765432"));
    BOOST_TEST(iban_valid("NO9386011117947"));
    BOOST_TEST(!iban_valid("DE89370400440532013001"), "a wrong check digit");
    BOOST_TEST(!iban_valid("DE8937040044053201300"), "a length that is not Germany's");
    BOOST_TEST(!iban_valid("ZZ89370400440532013000"), "no such country");
    auto iban = builtin("iban");
    BOOST_TEST(found(*iban, "to DE89 3704 0044 0532 0130 00 by Friday") == (Texts{"DE89 3704 0044 0532 0130 00"}));
    BOOST_TEST(found(*iban, "iban gb82west12345698765432.") == (Texts{"gb82west12345698765432"}));
    BOOST_TEST(found(*iban, "DE89 3704 0044 0532 0130 01").empty());
    BOOST_TEST(found(*iban, "DE89370400440532013000123").empty(), "a longer code is not this IBAN");
}

BOOST_AUTO_TEST_CASE(us_social_security_numbers) {
    auto ssn = builtin("us_ssn");
    BOOST_TEST(found(*ssn, "SSN 123-45-6789.") == (Texts{"123-45-6789"}));
    for (const char* never : {"000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"})
        BOOST_TEST(found(*ssn, never).empty(), never);
    BOOST_TEST(found(*ssn, "1123-45-6789").empty());
    BOOST_TEST(found(*ssn, "123456789").empty(), "only the written form NNN-NN-NNNN");
}

BOOST_AUTO_TEST_CASE(private_keys_from_begin_to_end) {
    auto pk = builtin("private_key");
    const std::string key =
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIIrYSSNQFaA2Hwf1duRSxKtLYX5CB04fSeQ6tF1aY/PuoAoGCCqGSM49\n"
        "-----END EC PRIVATE KEY-----";
    BOOST_TEST(found(*pk, "here:\n" + key + "\nthanks") == (Texts{key}));
    BOOST_TEST(found(*pk, "-----BEGIN PRIVATE KEY-----\nabc").size() == 1u, "a key cut short is still a key");
    BOOST_TEST(found(*pk, "-----BEGIN PGP PRIVATE KEY BLOCK-----\nx\n-----END PGP PRIVATE KEY BLOCK-----").size() == 1u);
    BOOST_TEST(found(*pk, "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----").empty());
    BOOST_TEST(found(*pk, "-----BEGIN PUBLIC KEY-----\nabc\n-----END PUBLIC KEY-----").empty());
}

BOOST_AUTO_TEST_CASE(api_tokens_by_their_forms) {
    auto t = builtin("api_token");
    const std::string gh = "ghp_" + std::string(36, 'a');
    for (const std::string& token :
         {std::string("AKIAIOSFODNN7EXAMPLE"), gh, std::string("xoxb-123456789012-abcdefghij"),
          "AIza" + std::string(35, 'B'), "sk_live_" + std::string(24, '4'), "glpat-" + std::string(20, 'x'),
          std::string("https://hooks.slack.com/services/T000/B000/XXXX")})
        BOOST_TEST(found(*t, "token: " + token + " ok") == (Texts{token}), token);
    BOOST_TEST(found(*t, "AKIAIOSFODNN7EXAMPL").empty(), "one character short");
    BOOST_TEST(found(*t, "ghp_short").empty());
    BOOST_TEST(found(*t, "sk_test_" + std::string(24, '4')).empty(), "test keys are not live secrets");
}

BOOST_AUTO_TEST_CASE(json_web_tokens_need_a_json_header) {
    auto j = builtin("jwt");
    // {"alg":"HS256","typ":"JWT"} . {"sub":"1234567890"} . signature
    const std::string jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
                            "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
    BOOST_TEST(found(*j, "Bearer " + jwt) == (Texts{jwt}));
    BOOST_TEST(jwt_header_valid("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"));
    // {"typ":"JWT"}: no alg
    BOOST_TEST(!jwt_header_valid("eyJ0eXAiOiJKV1QifQ"));
    BOOST_TEST(found(*j, "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxMjM0NTY3ODkwIn0.abc").empty());
    BOOST_TEST(!jwt_header_valid("eyJ!!"));
}

BOOST_AUTO_TEST_CASE(custom_patterns_and_words) {
    auto d = Detector::custom("projects", {R"(\bPRJ-\d{4}\b)"}, {"Bluebird", "red dawn"});
    BOOST_REQUIRE(d);
    BOOST_TEST(found(**d, "about bluebird and PRJ-1234 (Red Dawn), not bluebirds") ==
               (Texts{"bluebird", "PRJ-1234", "Red Dawn"}));
    BOOST_TEST((*d)->name() == "projects");
    // Words are words, not patterns.
    auto dots = Detector::custom("dots", {}, {"a.b"});
    BOOST_REQUIRE(dots);
    BOOST_TEST(found(**dots, "axb a.b").size() == 1u);
    auto bad = Detector::custom("bad", {"(unclosed"}, {});
    BOOST_TEST(!bad);
    BOOST_TEST(bad.status().message().find("(unclosed") != std::string::npos);
    BOOST_TEST(!Detector::custom("empty", {}, {}));
    BOOST_TEST(!Detector::builtin("nonsense"));
    BOOST_TEST(Detector::builtin_names().size() == 6u);
}

BOOST_AUTO_TEST_CASE(words_in_any_script_and_with_symbols) {
    auto d = Detector::custom("w", {}, {"секрет", "café", "C++", "機密"});
    BOOST_REQUIRE(d);
    BOOST_TEST(found(**d, "это Секрет, a café, C++ code; 機密 です") == (Texts{"Секрет", "café", "C++", "機密"}));
    BOOST_TEST(found(**d, "секреты cafés xC++").empty(), "not inside longer words");
    BOOST_TEST(found(**d, "секрет секрет").size() == 2u, "two words sharing an edge");
}

BOOST_AUTO_TEST_CASE(long_hostile_texts_are_searched_in_one_pass) {
    // Runs of candidates that are never confirmed: each is read once (these
    // took seconds when a rejected candidate was searched again from its
    // next character).
    std::string jwtish = "eyJ";
    while (jwtish.size() < 200000) jwtish += "-eyJ";
    jwtish += ".eyJAAAAA.x";
    std::string ones;
    while (ones.size() < 200000) ones += "1 ";
    for (const auto& n : Detector::builtin_names()) {
        auto d = builtin(n.c_str());
        BOOST_TEST(d->find(jwtish).empty(), n);
        BOOST_TEST(d->find(ones).empty(), n);
    }
    // A run of numbers with two cards in it finds both.
    BOOST_TEST(found(*builtin("card"), "12 4111 1111 1111 1111 5555 5555 5555 4444 2027") ==
               (Texts{"4111 1111 1111 1111", "5555 5555 5555 4444"}));
}

BOOST_AUTO_TEST_CASE(matches_are_in_order_and_never_overlap) {
    // Property over random texts built from pieces: matches are sorted,
    // inside the text and apart; each built-in finds what was put in.
    std::mt19937 rng(18);
    const std::vector<std::string> pieces = {"4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "123-45-6789",
                                             "AKIAIOSFODNN7EXAMPLE", " ", "hello", "12", "-", "\n", "x"};
    std::vector<std::shared_ptr<const Detector>> all;
    for (const auto& n : Detector::builtin_names()) all.push_back(builtin(n.c_str()));
    for (int round = 0; round < 500; ++round) {
        std::string text;
        const int n = std::uniform_int_distribution<int>(0, 12)(rng);
        for (int i = 0; i < n; ++i) text += pieces[std::uniform_int_distribution<size_t>(0, pieces.size() - 1)(rng)] + " ";
        for (const auto& d : all) {
            size_t end = 0;
            for (const Match& m : d->find(text)) {
                BOOST_TEST(m.at >= end);
                BOOST_TEST(m.size > 0u);
                BOOST_TEST(m.at + m.size <= text.size());
                end = m.at + m.size;
            }
        }
        BOOST_TEST(all[0]->found(text) == (text.find("4111 1111 1111 1111") != std::string::npos), text);
        BOOST_TEST(all[2]->found(text) == (text.find(" 123-45-6789") != std::string::npos || text.rfind("123-45-6789", 0) == 0),
                   text);
    }
}

BOOST_AUTO_TEST_SUITE_END()

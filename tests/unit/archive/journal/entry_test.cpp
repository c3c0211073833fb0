#define BOOST_TEST_DYN_LINK
#include "archive/journal/entry.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

using namespace parley;
using namespace parley::archive;

namespace {

std::string random_text(std::mt19937& rng, size_t max) {
    std::uniform_int_distribution<size_t> len(0, max);
    std::uniform_int_distribution<int> byte(0, 255);
    std::string s(len(rng), '\0');
    for (char& c : s) c = static_cast<char>(byte(rng));
    return s;
}

Entry random_entry(std::mt19937& rng) {
    Entry e;
    e.from = random_text(rng, 40);
    e.to = random_text(rng, 40);
    e.type = random_text(rng, 10);
    e.origin = static_cast<Origin>(rng() % 3);
    e.outcome = random_text(rng, 12);
    size_t n = rng() % 4;
    for (size_t i = 0; i < n; ++i) e.views.push_back({random_text(rng, 30), random_text(rng, 30)});
    e.stanza = random_text(rng, rng() % 8 == 0 ? 5000 : 300);
    size_t w = rng() % 5;
    for (size_t i = 0; i < w; ++i) e.words.push_back(random_text(rng, 12));
    return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(archive_entry)

// Property: decode(encode(e)) == e for any entry, compressed or not.
BOOST_AUTO_TEST_CASE(round_trip_property) {
    std::mt19937 rng(20261203);
    for (int i = 0; i < 500; ++i) {
        Entry e = random_entry(rng);
        std::string bytes = encode_entry(e);
        auto back = decode_entry(bytes);
        BOOST_REQUIRE_MESSAGE(back, "iteration " << i << ": " << back.status().to_string());
        BOOST_REQUIRE(*back == e);
        std::string packed = compress(bytes);
        BOOST_REQUIRE(!packed.empty());
        auto unpacked = decompress(packed, bytes.size());
        BOOST_REQUIRE(unpacked);
        BOOST_REQUIRE(*unpacked == bytes);
    }
}

// Fuzz property: arbitrary bytes (and every truncation or single-byte change
// of a real encoding) either fail with "corrupt" or decode to an entry that
// encodes back to exactly those bytes (one encoding per entry).
BOOST_AUTO_TEST_CASE(decode_is_strict) {
    std::mt19937 rng(7);
    for (int i = 0; i < 2000; ++i) {
        std::string bytes = random_text(rng, 200);
        auto e = decode_entry(bytes);
        // One encoding per entry in the current version; a version 1 entry
        // (no words) decodes to the same entry again.
        if (e && bytes[0] == 2) BOOST_REQUIRE(encode_entry(*e) == bytes);
        else if (e) BOOST_REQUIRE((*decode_entry(encode_entry(*e)) == *e));
        else BOOST_REQUIRE(e.status().code() == "corrupt");
    }
    std::string good = encode_entry(random_entry(rng));
    for (size_t cut = 0; cut < good.size(); ++cut) BOOST_REQUIRE(!decode_entry(good.substr(0, cut)));
    for (int i = 0; i < 2000; ++i) {
        std::string b = good;
        b[rng() % b.size()] = static_cast<char>(rng());
        auto e = decode_entry(b);
        if (e && b[0] == 2) BOOST_REQUIRE(encode_entry(*e) == b);
    }
    BOOST_TEST(!decode_entry(good + "x"));
}

BOOST_AUTO_TEST_CASE(words) {
    auto w = words_of("Hello, hello WORLD! a b2 c3d Grüße x.y@z 1234");
    std::vector<std::string> want{"hello", "world", "b2", "c3d", "grüße", "1234"};
    BOOST_TEST(w == want, boost::test_tools::per_element());
    BOOST_TEST(words_of("").empty());
    BOOST_TEST(words_of(std::string(100, 'a')).empty());  // longer than a word
    // A version 1 entry (before words) still decodes.
    Entry e;
    e.from = "a@x";
    std::string v2 = encode_entry(e);
    std::string v1 = v2.substr(0, v2.size() - 2);  // no word count
    v1[0] = 1;
    auto back = decode_entry(v1);
    BOOST_REQUIRE(back);
    BOOST_TEST(back->from == "a@x");
}

BOOST_AUTO_TEST_CASE(decompress_refuses_damage_and_bombs) {
    std::string big(100000, 'a');
    std::string packed = compress(big);
    BOOST_TEST(packed.size() < 1000u);
    BOOST_TEST(decompress(packed, 1000).status().code() == "corrupt");  // past the limit
    BOOST_TEST(decompress("not zstd", 1000).status().code() == "corrupt");
    std::string damaged = packed;
    damaged[damaged.size() / 2] ^= 0x55;
    auto d = decompress(damaged, big.size());
    BOOST_TEST((!d || *d != big));
}

BOOST_AUTO_TEST_SUITE_END()

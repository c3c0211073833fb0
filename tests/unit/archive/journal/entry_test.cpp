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
        if (e) BOOST_REQUIRE(encode_entry(*e) == bytes);
        else BOOST_REQUIRE(e.status().code() == "corrupt");
    }
    std::string good = encode_entry(random_entry(rng));
    for (size_t cut = 0; cut < good.size(); ++cut) BOOST_REQUIRE(!decode_entry(good.substr(0, cut)));
    for (int i = 0; i < 2000; ++i) {
        std::string b = good;
        b[rng() % b.size()] = static_cast<char>(rng());
        auto e = decode_entry(b);
        if (e) BOOST_REQUIRE(encode_entry(*e) == b);
    }
    BOOST_TEST(!decode_entry(good + "x"));
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

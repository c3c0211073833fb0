#define BOOST_TEST_DYN_LINK
#include "archive/crypto/keys.hpp"

#include <boost/test/unit_test.hpp>
#include <sys/stat.h>

#include <cstring>
#include <fstream>

#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::archive;

BOOST_AUTO_TEST_SUITE(archive_keys)

BOOST_AUTO_TEST_CASE(key_file_round_trip_and_mode) {
    test::TempDir tmp;
    std::string path = tmp.path() + "/archive.key";
    auto made = create_key_file(path);
    BOOST_REQUIRE_MESSAGE(made, made.status().to_string());
    struct stat st {};
    BOOST_REQUIRE(stat(path.c_str(), &st) == 0);
    BOOST_TEST((st.st_mode & 0777) == 0600u);
    auto read = read_key_file(path);
    BOOST_REQUIRE_MESSAGE(read, read.status().to_string());
    BOOST_TEST(std::memcmp(read->data(), made->data(), kKeyBytes) == 0);
    BOOST_TEST(read->id() == made->id());
    BOOST_TEST(read->id().size() == 16u);
    BOOST_TEST(create_key_file(path).status().code() == "exists");

    chmod(path.c_str(), 0640);
    auto insecure = read_key_file(path);
    BOOST_TEST(insecure.status().code() == "insecure");
    BOOST_TEST(insecure.status().message().find("chmod 600") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(key_file_refusals) {
    test::TempDir tmp;
    BOOST_TEST(read_key_file(tmp.path() + "/none").status().code() == "not-found");
    std::string bad = tmp.path() + "/bad.key";
    {
        std::ofstream f(bad);
        f << "not hex at all but long enough to be sixty-four characters long!!\n";
    }
    chmod(bad.c_str(), 0600);
    auto r = read_key_file(bad);
    BOOST_TEST(r.status().code() == "invalid");
    // The message names the file but repeats nothing of its content.
    BOOST_TEST(r.status().message().find("sixty") == std::string::npos);
    std::string short_key = tmp.path() + "/short.key";
    {
        std::ofstream f(short_key);
        f << "abcd\n";
    }
    chmod(short_key.c_str(), 0600);
    BOOST_TEST(read_key_file(short_key).status().code() == "invalid");
}

BOOST_AUTO_TEST_CASE(seal_open_and_tampering) {
    auto key = random_key();
    BOOST_REQUIRE(key);
    uint8_t nonce[kNonceBytes] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    auto sealed = seal(*key, nonce, "aad", "hello archive");
    BOOST_REQUIRE(sealed);
    BOOST_TEST(sealed->size() == std::string("hello archive").size() + kTagBytes);
    BOOST_TEST(sealed->find("hello") == std::string::npos);
    auto opened = open(*key, nonce, "aad", *sealed);
    BOOST_REQUIRE(opened);
    BOOST_TEST(*opened == "hello archive");
    BOOST_TEST(open(*key, nonce, "aae", *sealed).status().code() == "corrupt");
    std::string flipped = *sealed;
    flipped[0] ^= 1;
    BOOST_TEST(open(*key, nonce, "aad", flipped).status().code() == "corrupt");
    auto other = random_key();
    BOOST_REQUIRE(other);
    BOOST_TEST(open(*other, nonce, "aad", *sealed).status().code() == "corrupt");
    BOOST_TEST(open(*key, nonce, "aad", "short").status().code() == "corrupt");
}

BOOST_AUTO_TEST_CASE(wrap_unwrap) {
    auto kek = random_key(), other = random_key(), d = random_key(), c = random_key();
    BOOST_REQUIRE(kek && other && d && c);
    ArchiveKeys keys{*d, *c};
    auto blob = wrap_keys(keys, *kek);
    BOOST_REQUIRE(blob);
    std::string_view raw_data(reinterpret_cast<const char*>(d->data()), kKeyBytes);
    BOOST_TEST(blob->find(raw_data) == std::string::npos);
    auto back = unwrap_keys(*blob, *kek);
    BOOST_REQUIRE(back);
    BOOST_TEST(std::memcmp(back->data.data(), d->data(), kKeyBytes) == 0);
    BOOST_TEST(std::memcmp(back->chain.data(), c->data(), kKeyBytes) == 0);

    auto wrong = unwrap_keys(*blob, *other);
    BOOST_TEST(wrong.status().code() == "wrong-key");
    BOOST_TEST(wrong.status().message().find(kek->id()) != std::string::npos);
    BOOST_TEST(wrong.status().message().find(other->id()) != std::string::npos);

    std::string damaged = *blob;
    damaged[damaged.size() - 1] ^= 0x40;
    BOOST_TEST(unwrap_keys(damaged, *kek).status().code() == "corrupt");
    BOOST_TEST(unwrap_keys(blob->substr(1), *kek).status().code() == "corrupt");
}

BOOST_AUTO_TEST_CASE(digests) {
    // SHA-256("abc"), FIPS 180-2 appendix B.1.
    BOOST_TEST(to_hex(as_view(sha256("abc"))) ==
               "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    BOOST_TEST(equal_constant_time("abc", "abc"));
    BOOST_TEST(!equal_constant_time("abc", "abd"));
    BOOST_TEST(!equal_constant_time("abc", "ab"));
}

BOOST_AUTO_TEST_SUITE_END()

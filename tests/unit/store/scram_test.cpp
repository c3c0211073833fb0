#define BOOST_TEST_DYN_LINK
#include "store/scram.hpp"

#include <gnutls/crypto.h>

#include <boost/test/unit_test.hpp>

using namespace parley::store;

namespace {

std::string b64d(std::string_view s) {
    std::string out;
    BOOST_REQUIRE_MESSAGE(scram::base64_decode(s, out), "store: test vector is not base64: " << s);
    return out;
}

// Plays the server side of the RFC's example exchange: the client's proof
// must verify against StoredKey, and the server signature must match.
void check_exchange(const std::string& mech, const std::string& salt_b64,
                    const std::string& auth_message, const std::string& proof_b64,
                    const std::string& server_signature_b64) {
    const bool sha256 = mech == "SCRAM-SHA-256";
    const auto mac = sha256 ? GNUTLS_MAC_SHA256 : GNUTLS_MAC_SHA1;
    const auto dig = sha256 ? GNUTLS_DIG_SHA256 : GNUTLS_DIG_SHA1;
    auto c = scram::derive(mech, "pencil", b64d(salt_b64), 4096);
    BOOST_REQUIRE_MESSAGE(c, "store: derive: " << c.status().to_string());
    const size_t n = scram::hash_size(mech);
    BOOST_REQUIRE(c->stored_key.size() == n && c->server_key.size() == n);
    std::string client_signature(n, '\0'), client_key(n, '\0'), stored(n, '\0'),
        server_signature(n, '\0');
    gnutls_hmac_fast(mac, c->stored_key.data(), n, auth_message.data(), auth_message.size(),
                     client_signature.data());
    const std::string proof = b64d(proof_b64);
    BOOST_REQUIRE(proof.size() == n);
    for (size_t i = 0; i < n; ++i)
        client_key[i] = static_cast<char>(proof[i] ^ client_signature[i]);
    gnutls_hash_fast(dig, client_key.data(), n, stored.data());
    BOOST_TEST(scram::constant_time_equal(stored, c->stored_key),
               "store: " << mech << " StoredKey differs from the RFC");
    gnutls_hmac_fast(mac, c->server_key.data(), n, auth_message.data(), auth_message.size(),
                     server_signature.data());
    BOOST_TEST(scram::base64_encode(server_signature) == server_signature_b64,
               "store: " << mech << " ServerKey differs from the RFC");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(store_scram)

BOOST_AUTO_TEST_CASE(rfc5802_sha1_vector) {
    check_exchange("SCRAM-SHA-1", "QSXCR+Q6sek8bf92",
                   "n=user,r=fyko+d2lbbFgONRv9qkxdawL,"
                   "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,"
                   "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j",
                   "v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=", "rmF9pqV8S7suAoZWja4dJRkFsKQ=");
}

BOOST_AUTO_TEST_CASE(rfc7677_sha256_vector) {
    check_exchange(
        "SCRAM-SHA-256", "W22ZaJ0SNY7soEsUEjb6gQ==",
        "n=user,r=rOprNGfwEbeRWgbNEkqO,"
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,"
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

BOOST_AUTO_TEST_CASE(derive_refuses_bad_input) {
    BOOST_TEST(scram::derive("SCRAM-MD5", "pw", "salt", 4096).status().code() == "invalid");
    BOOST_TEST(scram::derive("SCRAM-SHA-1", "pw", "", 4096).status().code() == "invalid");
    BOOST_TEST(scram::derive("SCRAM-SHA-1", "pw", "salt", 0).status().code() == "invalid");
    auto empty = scram::derive("SCRAM-SHA-256", "", "salt", 1);
    BOOST_TEST(empty.is_ok(), "store: an empty password still derives (policy is the caller's)");
}

BOOST_AUTO_TEST_CASE(rfc5803_round_trip) {
    auto salt = scram::random_salt();
    BOOST_REQUIRE(salt);
    BOOST_TEST(salt->size() == scram::kSaltBytes);
    auto other = scram::random_salt();
    BOOST_TEST(salt.value() != other.value(), "store: salts are random");
    for (const char* mech : {"SCRAM-SHA-1", "SCRAM-SHA-256"}) {
        auto c = scram::derive(mech, "secret", salt.value(), 4096);
        BOOST_REQUIRE(c);
        const std::string text = scram::to_rfc5803(c.value());
        BOOST_TEST(text.rfind(std::string(mech) + "$4096:", 0) == 0u, text);
        BOOST_TEST(text.find("secret") == std::string::npos);
        auto back = scram::from_rfc5803(text);
        BOOST_REQUIRE_MESSAGE(back, "store: " << back.status().to_string());
        BOOST_TEST(back->mechanism == mech);
        BOOST_TEST(back->iterations == 4096u);
        BOOST_TEST(back->salt == c->salt);
        BOOST_TEST(back->stored_key == c->stored_key);
        BOOST_TEST(back->server_key == c->server_key);
    }
    scram::ScramCredential known{"SCRAM-SHA-1", 4096, "salt", std::string(20, 'A'),
                                 std::string(20, 'B')};
    BOOST_TEST(
        scram::to_rfc5803(known) ==
        "SCRAM-SHA-1$4096:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=");
}

BOOST_AUTO_TEST_CASE(rfc5803_rejects_malformed_strings) {
    const std::string good =
        "SCRAM-SHA-1$4096:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=";
    BOOST_REQUIRE(scram::from_rfc5803(good));
    for (
        const char* bad : {
            "",
            "SCRAM-SHA-1",
            "SCRAM-SHA-1$4096:c2FsdA==",
            "SCRAM-MD5$4096:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$0:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$04096:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$-1:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$99999999999:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:"
            "QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$4096c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$4096:$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$4096:c2FsdA=$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$4096:c2Fsd*==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$4096:c2FsdB==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$4096:c2FsdA==$QUFBQUFB:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-256$4096:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$4096:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=QkJCQkJCQkJCQkJCQkJCQkJCQkI=",
            "SCRAM-SHA-1$4096:c2FsdA==$QUFBQUFBQUFBQUFBQUFBQUFBQUE=:QkJCQkJCQkJCQkJCQkJCQkJCQkI=$x",
        }) {
        auto r = scram::from_rfc5803(bad);
        BOOST_TEST(!r.is_ok(), "store: from_rfc5803 must refuse '" << bad << "'");
        if (!r.is_ok()) BOOST_TEST(r.status().code() == "invalid");
    }
}

BOOST_AUTO_TEST_CASE(base64_and_constant_time_equal) {
    for (std::string raw : {"", "f", "fo", "foo", "foob", "fooba", "foobar"}) {
        std::string back;
        BOOST_TEST(scram::base64_decode(scram::base64_encode(raw), back));
        BOOST_TEST(back == raw);
    }
    BOOST_TEST(scram::base64_encode("foobar") == "Zm9vYmFy");
    BOOST_TEST(scram::base64_encode("fo") == "Zm8=");
    std::string out;
    BOOST_TEST(!scram::base64_decode("Zm9=v", out));
    BOOST_TEST(!scram::base64_decode("Z===", out));
    BOOST_TEST(!scram::base64_decode("Zm8", out));
    BOOST_TEST(scram::constant_time_equal("abc", "abc"));
    BOOST_TEST(!scram::constant_time_equal("abc", "abd"));
    BOOST_TEST(!scram::constant_time_equal("abc", "abcd"));
    BOOST_TEST(scram::constant_time_equal("", ""));
}

BOOST_AUTO_TEST_SUITE_END()

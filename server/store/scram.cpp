#include "store/scram.hpp"

#include <fmt/core.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

namespace parley::store::scram {

namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

struct Algorithms {
    gnutls_mac_algorithm_t mac;
    gnutls_digest_algorithm_t digest;
    size_t size;
};

bool algorithms(std::string_view mechanism, Algorithms& out) {
    if (mechanism == "SCRAM-SHA-1") {
        out = {GNUTLS_MAC_SHA1, GNUTLS_DIG_SHA1, 20};
        return true;
    }
    if (mechanism == "SCRAM-SHA-256") {
        out = {GNUTLS_MAC_SHA256, GNUTLS_DIG_SHA256, 32};
        return true;
    }
    return false;
}

gnutls_datum_t datum(std::string_view s) {
    // GnuTLS does not write through these; the casts only satisfy its API.
    return gnutls_datum_t{reinterpret_cast<unsigned char*>(const_cast<char*>(s.data())),
                          static_cast<unsigned>(s.size())};
}

}  // namespace

size_t hash_size(std::string_view mechanism) {
    Algorithms a{};
    return algorithms(mechanism, a) ? a.size : 0;
}

std::string base64_encode(std::string_view raw) {
    std::string out;
    out.reserve((raw.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < raw.size(); i += 3) {
        uint32_t n = (uint32_t(uint8_t(raw[i])) << 16) | (uint32_t(uint8_t(raw[i + 1])) << 8) |
                     uint8_t(raw[i + 2]);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    if (i + 1 == raw.size()) {
        uint32_t n = uint32_t(uint8_t(raw[i])) << 16;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += "==";
    } else if (i + 2 == raw.size()) {
        uint32_t n = (uint32_t(uint8_t(raw[i])) << 16) | (uint32_t(uint8_t(raw[i + 1])) << 8);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += '=';
    }
    return out;
}

bool base64_decode(std::string_view text, std::string& out) {
    if (text.size() % 4 != 0) return false;
    std::string r;
    r.reserve(text.size() / 4 * 3);
    for (size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; ++j) {
            char c = text[i + j];
            if (c == '=' && last && j >= 2) {
                v[j] = 0;
                ++pad;
                continue;
            }
            if (pad > 0) return false;  // data after padding
            v[j] = b64_value(c);
            if (v[j] < 0) return false;
        }
        uint32_t n = (uint32_t(v[0]) << 18) | (uint32_t(v[1]) << 12) | (uint32_t(v[2]) << 6) |
                     uint32_t(v[3]);
        // Canonical form only: the bits dropped by padding must be zero.
        if ((pad == 1 && (n & 0xff)) || (pad == 2 && (n & 0xffff))) return false;
        r += static_cast<char>((n >> 16) & 0xff);
        if (pad < 2) r += static_cast<char>((n >> 8) & 0xff);
        if (pad < 1) r += static_cast<char>(n & 0xff);
    }
    out = std::move(r);
    return true;
}

Result<ScramCredential> derive(std::string_view mechanism, std::string_view password,
                               std::string_view salt, uint32_t iterations) {
    Algorithms a{};
    if (!algorithms(mechanism, a))
        return Status::error("invalid", fmt::format("unknown SCRAM mechanism '{}'", mechanism));
    if (salt.empty()) return Status::error("invalid", "SCRAM salt is empty");
    if (iterations == 0) return Status::error("invalid", "SCRAM iteration count is 0");
    std::string salted(a.size, '\0');
    std::string client_key(a.size, '\0');
    ScramCredential c{std::string(mechanism), iterations, std::string(salt),
                      std::string(a.size, '\0'), std::string(a.size, '\0')};
    gnutls_datum_t key = datum(password);
    gnutls_datum_t s = datum(salt);
    int rc = gnutls_pbkdf2(a.mac, &key, &s, iterations, salted.data(), salted.size());
    if (rc < 0)
        return Status::error("crypto", fmt::format("gnutls_pbkdf2: {}", gnutls_strerror(rc)));
    if ((rc = gnutls_hmac_fast(a.mac, salted.data(), salted.size(), "Client Key", 10,
                               client_key.data())) < 0 ||
        (rc = gnutls_hash_fast(a.digest, client_key.data(), client_key.size(),
                               c.stored_key.data())) < 0 ||
        (rc = gnutls_hmac_fast(a.mac, salted.data(), salted.size(), "Server Key", 10,
                               c.server_key.data())) < 0) {
        gnutls_memset(salted.data(), 0, salted.size());
        return Status::error("crypto",
                             fmt::format("SCRAM key derivation: {}", gnutls_strerror(rc)));
    }
    // The salted password and ClientKey are password equivalents: wipe them.
    gnutls_memset(salted.data(), 0, salted.size());
    gnutls_memset(client_key.data(), 0, client_key.size());
    return c;
}

Result<std::string> random_salt() {
    std::string salt(kSaltBytes, '\0');
    int rc = gnutls_rnd(GNUTLS_RND_RANDOM, salt.data(), salt.size());
    if (rc < 0) return Status::error("crypto", fmt::format("gnutls_rnd: {}", gnutls_strerror(rc)));
    return salt;
}

std::string to_rfc5803(const ScramCredential& c) {
    return c.mechanism + "$" + std::to_string(c.iterations) + ":" + base64_encode(c.salt) + "$" +
           base64_encode(c.stored_key) + ":" + base64_encode(c.server_key);
}

Result<ScramCredential> from_rfc5803(std::string_view text) {
    auto bad = [&](std::string_view why) {
        return Status::error("invalid", fmt::format("not an RFC 5803 SCRAM credential: {}", why));
    };
    const size_t d1 = text.find('$');
    if (d1 == std::string_view::npos) return bad("no '$' after the mechanism");
    const size_t d2 = text.find('$', d1 + 1);
    if (d2 == std::string_view::npos) return bad("no '$' before the keys");
    if (text.find('$', d2 + 1) != std::string_view::npos) return bad("more than two '$'");
    ScramCredential c;
    c.mechanism = std::string(text.substr(0, d1));
    const size_t size = hash_size(c.mechanism);
    if (size == 0) return bad("unknown mechanism");
    std::string_view info = text.substr(d1 + 1, d2 - d1 - 1);
    std::string_view keys = text.substr(d2 + 1);
    const size_t c1 = info.find(':');
    const size_t c2 = keys.find(':');
    if (c1 == std::string_view::npos || c2 == std::string_view::npos) return bad("missing ':'");
    std::string_view iter = info.substr(0, c1);
    if (iter.empty() || iter.size() > 10 || iter.front() == '0') return bad("bad iteration count");
    uint64_t n = 0;
    for (char ch : iter) {
        if (ch < '0' || ch > '9') return bad("bad iteration count");
        n = n * 10 + uint64_t(ch - '0');
    }
    if (n == 0 || n > UINT32_MAX) return bad("bad iteration count");
    c.iterations = static_cast<uint32_t>(n);
    if (!base64_decode(info.substr(c1 + 1), c.salt) || c.salt.empty()) return bad("bad salt");
    if (!base64_decode(keys.substr(0, c2), c.stored_key) || c.stored_key.size() != size)
        return bad("bad StoredKey");
    if (!base64_decode(keys.substr(c2 + 1), c.server_key) || c.server_key.size() != size)
        return bad("bad ServerKey");
    return c;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return gnutls_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace parley::store::scram

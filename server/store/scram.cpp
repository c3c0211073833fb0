#include "store/scram.hpp"

#include <fmt/core.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "xmpp/base64.hpp"

namespace parley::store::scram {

namespace {

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

std::string base64_encode(std::string_view raw) { return xmpp::base64_encode(raw); }

bool base64_decode(std::string_view text, std::string& out) {
    auto r = xmpp::base64_decode(text);
    if (!r) return false;
    out = std::move(r.value());
    return true;
}

namespace {
thread_local Pbkdf2Work t_work;
}  // namespace

Pbkdf2Work pbkdf2_work_on_this_thread() { return t_work; }

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
    ++t_work.calls;
    (a.size == 20 ? t_work.sha1_iterations : t_work.sha256_iterations) += iterations;
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

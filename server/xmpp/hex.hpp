// Lowercase hex, and random tokens in hex (stream ids, dialback secrets,
// upload slots). Pure but for GnuTLS's random generator; any thread.
#pragma once

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <cstddef>
#include <string>

namespace parley::xmpp {

inline std::string hex(const unsigned char* p, size_t n) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (size_t i = 0; i < n; ++i) {
        out.push_back(digits[p[i] >> 4]);
        out.push_back(digits[p[i] & 15]);
    }
    return out;
}

// `bytes` random bytes as hex (2 * bytes characters); GNUTLS_RND_NONCE for
// ids that must be unguessable, GNUTLS_RND_KEY for keys. Empty if the
// generator fails (callers compare, never accept, an empty token).
inline std::string random_hex(size_t bytes, gnutls_rnd_level_t level = GNUTLS_RND_NONCE) {
    std::string raw(bytes, '\0');
    if (gnutls_rnd(level, raw.data(), raw.size()) < 0) return {};
    return hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

}  // namespace parley::xmpp

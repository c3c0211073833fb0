#include "s2s/dialback.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "xmpp/hex.hpp"

namespace parley::s2s {

namespace {

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
        s.remove_suffix(1);
    return s;
}

}  // namespace

std::string dialback_key(std::string_view secret, std::string_view receiving, std::string_view originating,
                         std::string_view stream_id) {
    unsigned char digest[32];
    gnutls_hash_fast(GNUTLS_DIG_SHA256, secret.data(), secret.size(), digest);
    const std::string key = xmpp::hex(digest, sizeof digest);
    std::string text;
    text.reserve(receiving.size() + originating.size() + stream_id.size() + 2);
    text.append(receiving).push_back(' ');
    text.append(originating).push_back(' ');
    text.append(stream_id);
    unsigned char mac[32];
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.data(), key.size(), text.data(), text.size(), mac);
    return xmpp::hex(mac, sizeof mac);
}

bool dialback_key_matches(std::string_view secret, std::string_view receiving, std::string_view originating,
                          std::string_view stream_id, std::string_view offered) {
    offered = trim(offered);
    const std::string want = dialback_key(secret, receiving, originating, stream_id);
    if (offered.size() != want.size()) return false;
    return gnutls_memcmp(offered.data(), want.data(), want.size()) == 0;
}

std::string make_dialback_secret() { return xmpp::random_hex(32, GNUTLS_RND_KEY); }

std::string random_stream_id() { return xmpp::random_hex(16); }

}  // namespace parley::s2s

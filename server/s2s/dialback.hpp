// Server dialback (XEP-0220) pieces that need no connection: the key, its
// check, and the names of the protocol's elements.
//
// The key is XEP-0185's: hex(HMAC-SHA256(hex(SHA-256(secret)),
// receiving + ' ' + originating + ' ' + stream id)), lowercase. The secret is
// random, made once per parleyd start and shared by its workers, so a key
// any worker made is checked by any other; a restart makes keys handed out
// before it fail, and the peer simply dials back again. The check compares
// in time independent of where the keys differ. Pure functions: any thread.
#pragma once

#include <string>
#include <string_view>

namespace parley::s2s {

inline constexpr std::string_view kNsDialback = "jabber:server:dialback";
// RFC 6120 streams announce dialback among their features (XEP-0220 §2.4).
inline constexpr std::string_view kNsDialbackFeature = "urn:xmpp:features:dialback";
// XEP-0288 bidirectional server-to-server streams: the feature, and the request.
inline constexpr std::string_view kNsBidiFeature = "urn:xmpp:features:bidi";
inline constexpr std::string_view kNsBidi = "urn:xmpp:bidi";
// XEP-0198 stream management, on server streams too.
inline constexpr std::string_view kNsSm = "urn:xmpp:sm:3";

std::string dialback_key(std::string_view secret, std::string_view receiving, std::string_view originating,
                         std::string_view stream_id);

// Whether `offered` (surrounding whitespace ignored) is the key for these
// names and this stream id.
bool dialback_key_matches(std::string_view secret, std::string_view receiving, std::string_view originating,
                          std::string_view stream_id, std::string_view offered);

// A fresh random secret (32 bytes from GnuTLS's key generator, as hex).
std::string make_dialback_secret();

// A fresh stream id (16 random bytes as hex): unguessable, as dialback needs.
std::string random_stream_id();

}  // namespace parley::s2s

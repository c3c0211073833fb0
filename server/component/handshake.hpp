// XEP-0114 §3 pieces that need no connection: the handshake digest and its
// check, and the translation of a stanza between the component stream's
// content namespace (jabber:component:accept) and the one the router and
// modules use (jabber:client).
//
// The handshake: the server sends a stream header with an id; the
// component answers <handshake>HEX</handshake>, HEX being the lowercase
// hex SHA-1 of the id followed by the shared secret. The check compares in
// time independent of where the digests differ (gnutls_memcmp) and accepts
// uppercase hex too (the XEP's examples are lowercase; nothing forbids
// uppercase). Pure functions: any thread.
#pragma once

#include <string>
#include <string_view>

#include "xml/element.hpp"

namespace parley::component {

inline constexpr std::string_view kNsComponentAccept = "jabber:component:accept";

// hex(SHA-1(stream_id + secret)), lowercase, 40 characters.
std::string handshake_digest(std::string_view stream_id, std::string_view secret);

// Whether `offered` (the text of <handshake/>, surrounding whitespace
// ignored) is the digest for this id and secret.
bool handshake_matches(std::string_view stream_id, std::string_view secret,
                       std::string_view offered);

// A copy of `e` in which every element (at any depth) in namespace `from`
// is in namespace `to` instead; elements of other namespaces keep theirs.
xml::Element translate_ns(const xml::Element& e, std::string_view from, std::string_view to);

}  // namespace parley::component

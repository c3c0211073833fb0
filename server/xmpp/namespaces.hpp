// XMPP namespace names used by the server core and modules.
//
// std::string_view constants: they compare with std::string and
// std::string_view, pass to Element::child(name, ns), and convert with
// std::string(kNs...) where an owned string is needed. Any thread.
#pragma once

#include <string_view>

#include "xml/element.hpp"

namespace parley::xmpp {

// Stream content (RFC 6120 §4.8.3).
inline constexpr std::string_view kNsClient = "jabber:client";
inline constexpr std::string_view kNsServer = "jabber:server";
// The stream root, <stream:features/> and <stream:error/>.
inline constexpr std::string_view kNsStreams = xml::kStreamNs;
// Stream negotiation (RFC 6120 §5, §6, §7) and RFC 3921 §3 sessions.
inline constexpr std::string_view kNsTls = "urn:ietf:params:xml:ns:xmpp-tls";
inline constexpr std::string_view kNsSasl = "urn:ietf:params:xml:ns:xmpp-sasl";
inline constexpr std::string_view kNsBind = "urn:ietf:params:xml:ns:xmpp-bind";
inline constexpr std::string_view kNsSession = "urn:ietf:params:xml:ns:xmpp-session";
// Error conditions (RFC 6120 §4.9.3 and §8.3.3).
inline constexpr std::string_view kNsStreamErrors = "urn:ietf:params:xml:ns:xmpp-streams";
inline constexpr std::string_view kNsStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas";
// XEP-0030 service discovery.
inline constexpr std::string_view kNsDiscoInfo = "http://jabber.org/protocol/disco#info";
inline constexpr std::string_view kNsDiscoItems = "http://jabber.org/protocol/disco#items";
// XEP-0199 ping, XEP-0092 software version, XEP-0202 entity time.
inline constexpr std::string_view kNsPing = "urn:xmpp:ping";
inline constexpr std::string_view kNsVersion = "jabber:iq:version";
inline constexpr std::string_view kNsTime = "urn:xmpp:time";
// XEP-0440 SASL channel-binding type capability.
inline constexpr std::string_view kNsChannelBinding = "urn:xmpp:sasl-cb:0";

}  // namespace parley::xmpp

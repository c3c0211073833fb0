// The rules of XEP-0280 Message Carbons (1.0.1) as pure functions: which
// messages are copied (§6.1, with the XEP-0334 no-copy hint), how a copy is
// wrapped (§7, §8), and which messages look like carbons (§11), so that the
// module only decides whom to send them to. Any thread.
#pragma once

#include <string_view>

#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::mod_carbons {

inline constexpr std::string_view kNsCarbons = "urn:xmpp:carbons:2";
inline constexpr std::string_view kNsForward = "urn:xmpp:forward:0";
inline constexpr std::string_view kNsHints = "urn:xmpp:hints";
inline constexpr std::string_view kNsMucUser = "http://jabber.org/protocol/muc#user";

// A sent carbon copies what one of the user's resources sent; a received
// carbon copies what reached the user's account.
enum class Direction { sent, received };

// True when the message carries a carbon wrapper (<sent/> or <received/> in
// urn:xmpp:carbons:2): only the server makes these, from the user's bare JID.
bool is_carbon(const xml::Element& message);

// True when the sender asked that the message not be copied: XEP-0280's
// <private/> or XEP-0334's <no-copy/> (either alone is enough: both say the
// same thing to a server).
bool opted_out(const xml::Element& message);

// §6.1 "Recommended Rules", except the one for errors (it would need the
// server to remember which messages were copied: errors are not copied, so
// urn:xmpp:carbons:rules:0 is not advertised). `from_occupant`: the received
// message comes from a full JID at a service domain (a MUC occupant), whose
// private messages the MUC service already copies to every joined client.
bool eligible(const xml::Element& message, Direction direction, bool from_occupant);

// The copy for resource `to` of `user`: <message from=USER to=TO type=SAME>
// <sent|received xmlns=carbons:2><forwarded xmlns=forward:0>ORIGINAL
// </forwarded></...></message>. `original` is moved into it.
xml::Element wrap(Direction direction, const xmpp::Jid& user, const xmpp::Jid& to, xml::Element original);

}  // namespace parley::mod_carbons

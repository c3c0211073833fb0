#include "rules.hpp"

#include "xmpp/namespaces.hpp"

namespace parley::mod_carbons {

namespace {

constexpr std::string_view kNsReceipts = "urn:xmpp:receipts";
constexpr std::string_view kNsChatStates = "http://jabber.org/protocol/chatstates";
constexpr std::string_view kNsMarkers = "urn:xmpp:chat-markers:0";
constexpr std::string_view kNsDirectInvite = "jabber:x:conference";

// A XEP-0045 mediated invitation: <x xmlns=muc#user><invite/></x>.
bool mediated_invite(const xml::Element& m) {
    const xml::Element* x = m.child("x", kNsMucUser);
    return x && x->child("invite", kNsMucUser);
}

// Payloads "typically used in IM" (§6.1): receipts, chat states, markers,
// and the two kinds of MUC invitation the MUC rules ask to copy.
bool im_payload(const xml::Element& m) {
    for (const xml::Element& c : m.children()) {
        const std::string& ns = c.ns();
        if (ns == kNsReceipts || ns == kNsChatStates || ns == kNsMarkers) return true;
        if (ns == kNsDirectInvite && c.name() == "x") return true;
    }
    return mediated_invite(m);
}

}  // namespace

bool is_carbon(const xml::Element& message) {
    return message.child("sent", kNsCarbons) || message.child("received", kNsCarbons);
}

bool opted_out(const xml::Element& message) {
    return message.child("private", kNsCarbons) || message.child("no-copy", kNsHints);
}

bool eligible(const xml::Element& message, Direction direction, bool from_occupant) {
    if (message.name() != "message" || message.ns() != xmpp::kNsClient) return false;
    if (is_carbon(message) || opted_out(message)) return false;
    const std::string_view type = message.attr_or("type");
    if (type == "groupchat" || type == "error") return false;
    if (direction == Direction::received && !mediated_invite(message)) {
        // A private message from an occupant: the room already gave it to
        // every client of the user that joined (§6.1, the MUC rules). The
        // <x/> marks it when the service adds it; a full JID at a service
        // domain marks it when it does not.
        if (from_occupant || message.child("x", kNsMucUser)) return false;
    }
    if (type == "chat") return true;
    if ((type.empty() || type == "normal") && message.child("body", xmpp::kNsClient)) return true;
    return im_payload(message);
}

xml::Element wrap(Direction direction, const xmpp::Jid& user, const xmpp::Jid& to, xml::Element original) {
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", user.bare_str());
    m.set_attr("to", to.str());
    if (const std::string* type = original.attr("type")) m.set_attr("type", *type);
    xml::Element& w = m.add_child(direction == Direction::sent ? "sent" : "received", std::string(kNsCarbons));
    w.add_child("forwarded", std::string(kNsForward)).add_child(std::move(original));
    return m;
}

}  // namespace parley::mod_carbons

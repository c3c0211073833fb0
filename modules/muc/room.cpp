#include "room.hpp"

#include <algorithm>
#include <charconv>

#include "xml/serializer.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_muc {

namespace {

constexpr const char* kNsDelay = "urn:xmpp:delay";
constexpr const char* kNsData = "jabber:x:data";
constexpr const char* kNsDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr const char* kNsDiscoItems = "http://jabber.org/protocol/disco#items";
constexpr const char* kNsPing = "urn:xmpp:ping";
constexpr const char* kRoomConfig = "http://jabber.org/protocol/muc#roomconfig";

std::optional<size_t> read_count(std::string_view text) {
    size_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
    return v;
}

// The presence children that describe the occupant (show, status, priority,
// caps, ...): everything but the MUC join element.
std::vector<xml::Element> status_of(const xml::Element& presence) {
    std::vector<xml::Element> out;
    for (const xml::Element& c : presence.children())
        if (c.ns() != kNsMuc && c.ns() != kNsMucUser) out.push_back(c);
    return out;
}

xml::Element field(std::string var, std::string type, std::string label, std::string value) {
    xml::Element f("field", kNsData);
    f.set_attr("var", std::move(var));
    if (!type.empty()) f.set_attr("type", std::move(type));
    if (!label.empty()) f.set_attr("label", std::move(label));
    f.add_child("value", kNsData).add_text(std::move(value));
    return f;
}

// The value of a submitted form field, if it is there.
std::optional<std::string> value_of(const xml::Element& form, std::string_view var) {
    for (const xml::Element& f : form.children()) {
        if (f.name() != "field" || f.attr_or("var") != var) continue;
        const xml::Element* v = f.child("value", kNsData);
        return v ? v->text() : std::string();
    }
    return std::nullopt;
}

// What a sender may not claim in a message the room relays: the room's own
// annotations (status codes, real JIDs) and its stanza ids.
void strip_room_claims(xml::Element& m) {
    m.remove_children("x", kNsMucUser);
    m.remove_children("stanza-id", "urn:xmpp:sid:0");
}

}  // namespace

HistoryRequest read_history_request(const xml::Element* history, int64_t now_ms) {
    HistoryRequest r;
    if (!history) return r;
    if (auto v = read_count(history->attr_or("maxstanzas"))) r.maxstanzas = *v;
    if (auto v = read_count(history->attr_or("maxchars"))) r.maxchars = *v;
    if (auto v = read_count(history->attr_or("seconds")))
        r.since_ms = now_ms - static_cast<int64_t>(std::min<size_t>(*v, size_t{1} << 40)) * 1000;
    if (auto since = xmpp::parse_datetime(history->attr_or("since"))) {
        const auto s = static_cast<int64_t>(*since);
        r.since_ms = r.since_ms ? std::max(*r.since_ms, s) : s;
    }
    return r;
}

Room::Room(xmpp::Jid jid, xmpp::Jid creator, RoomLimits limits, Out out, Clock clock)
    : jid_(std::move(jid)), creator_(std::move(creator)), limits_(limits), out_(std::move(out)), clock_(std::move(clock)) {}

xmpp::Jid Room::occupant_jid(const std::string& nick) const {
    auto j = jid_.with_resource(nick);
    return j ? j.value() : jid_;
}

Room::Occupant* Room::by_nick(const std::string& nick) {
    for (auto& o : occupants_)
        if (o.nick == nick) return &o;
    return nullptr;
}

Room::Occupant* Room::by_session(const xmpp::Jid& full) {
    for (auto& o : occupants_)
        if (std::find(o.sessions.begin(), o.sessions.end(), full) != o.sessions.end()) return &o;
    return nullptr;
}

bool Room::sees_real_jids(const xmpp::Jid& to) const {
    // Semi-anonymous: the moderators (here, the owner) see real JIDs.
    for (const auto& o : occupants_)
        if (o.owner && o.bare == to.bare()) return true;
    return false;
}

void Room::error(const xml::Element& stanza, const xmpp::Jid& to, const StanzaError& e) {
    if (xmpp::is_error_or_result(stanza)) return;
    xml::Element reply = xmpp::make_error_reply(stanza, e);
    reply.set_attr("to", to.str());
    out_(std::move(reply));
}

void Room::result(const xml::Element& stanza, const xmpp::Jid& to, std::optional<xml::Element> payload) {
    xml::Element r("iq", std::string(xmpp::kNsClient));
    r.set_attr("type", "result");
    r.set_attr("id", std::string(stanza.attr_or("id")));
    r.set_attr("from", std::string(stanza.attr_or("to")));
    r.set_attr("to", to.str());
    if (payload) r.add_child(std::move(*payload));
    out_(std::move(r));
}

xml::Element Room::presence_of(const Occupant& o, const xmpp::Jid& to, bool unavailable, const std::vector<int>& codes,
                               const std::string& new_nick) const {
    xml::Element p("presence", std::string(xmpp::kNsClient));
    p.set_attr("from", occupant_jid(o.nick).str());
    p.set_attr("to", to.str());
    if (unavailable) p.set_attr("type", "unavailable");
    else
        for (const auto& c : o.status) p.add_child(c);
    xml::Element& x = p.add_child("x", kNsMucUser);
    xml::Element& item = x.add_child("item", kNsMucUser);
    item.set_attr("affiliation", o.owner ? "owner" : "none");
    item.set_attr("role", unavailable && new_nick.empty() ? "none" : (o.owner ? "moderator" : "participant"));
    if (!new_nick.empty()) item.set_attr("nick", new_nick);
    if (sees_real_jids(to) && !o.sessions.empty()) item.set_attr("jid", o.sessions.front().str());
    for (int code : codes) x.add_child("status", kNsMucUser).set_attr("code", std::to_string(code));
    return p;
}

void Room::to_all(const Occupant& o, bool unavailable, const std::vector<int>& codes_for_others,
                  const std::vector<int>& codes_for_self, const std::string& new_nick) {
    for (const auto& other : occupants_)
        for (const auto& s : other.sessions)
            out_(presence_of(o, s, unavailable, &other == &o ? codes_for_self : codes_for_others, new_nick));
}

void Room::presence(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick) {
    const std::string_view type = stanza.attr_or("type");
    if (type == "unavailable" || type == "error") {
        leave(from, type == "unavailable" ? &stanza : nullptr);
        return;
    }
    if (!type.empty()) return;  // subscriptions and probes mean nothing to a room
    if (nick.empty()) {
        error(stanza, from, StanzaError::modify("jid-malformed", "join a room as room@service/nickname"));
        return;
    }
    Occupant* me = by_session(from);
    if (!me) {
        join(stanza, from, nick);
        return;
    }
    if (me->nick != nick) {
        change_nick(*me, from, nick);
        return;
    }
    // A new status of an occupant: to everyone.
    me->status = status_of(stanza);
    to_all(*me, false, {}, {110});
}

void Room::join(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick) {
    if (destroyed_) {
        error(stanza, from, StanzaError::cancel("item-not-found", "the room was destroyed"));
        return;
    }
    const bool creating = occupants_.empty() && locked_ && from.bare() == creator_.bare();
    if (locked_ && !creating && !(by_nick(nick) && by_nick(nick)->owner && by_nick(nick)->bare == from.bare())) {
        // §10.1.1: a room being created admits nobody else until its owner
        // has configured it.
        error(stanza, from, StanzaError::cancel("item-not-found", "the room is being created; try again when its owner has configured it"));
        return;
    }
    const xml::Element* x = stanza.child("x", kNsMuc);
    if (Occupant* same = by_nick(nick)) {
        if (same->bare != from.bare()) {
            error(stanza, from, StanzaError::cancel("conflict", "that nickname is in use in this room"));
            return;
        }
        // Another client of the same person under the same nickname: it
        // shares the occupant (one presence in the room).
        same->sessions.push_back(from);
        send_join_sequence(*same, from, x ? x->child("history", kNsMuc) : nullptr, false);
        return;
    }
    if (occupants_.size() >= limits_.max_occupants) {
        error(stanza, from, StanzaError::wait("service-unavailable", "the room is full"));
        return;
    }
    Occupant o;
    o.nick = nick;
    o.bare = from.bare();
    o.sessions.push_back(from);
    o.status = status_of(stanza);
    o.owner = creating || (o.bare == creator_.bare());
    occupants_.push_back(std::move(o));
    Occupant& me = occupants_.back();
    // Everyone else learns of the newcomer; the newcomer gets the room.
    for (const auto& other : occupants_)
        if (&other != &me)
            for (const auto& s : other.sessions) out_(presence_of(me, s, false, {}));
    send_join_sequence(me, from, x ? x->child("history", kNsMuc) : nullptr, creating);
}

void Room::send_join_sequence(const Occupant& me, const xmpp::Jid& to, const xml::Element* history, bool created) {
    // §7.2.3: the other occupants' presence, then one's own (110; 201 when
    // this join made the room), then the history, then the subject.
    for (const auto& other : occupants_)
        if (&other != &me) out_(presence_of(other, to, false, {}));
    std::vector<int> codes{110};
    if (created) codes.push_back(201);
    out_(presence_of(me, to, false, codes));

    const HistoryRequest want = read_history_request(history, clock_());
    std::vector<const Said*> picked;
    size_t chars = 0;
    for (auto it = history_.rbegin(); it != history_.rend(); ++it) {
        if (want.maxstanzas && picked.size() >= *want.maxstanzas) break;
        if (want.since_ms && it->at_ms < *want.since_ms) break;
        if (want.maxchars && chars + it->chars > *want.maxchars) break;
        chars += it->chars;
        picked.push_back(&*it);
    }
    for (auto it = picked.rbegin(); it != picked.rend(); ++it) {
        xml::Element m = (*it)->stanza;
        m.set_attr("to", to.str());
        xml::Element& d = m.add_child("delay", kNsDelay);
        d.set_attr("from", jid_.str());
        d.set_attr("stamp", xmpp::format_datetime(static_cast<uint64_t>((*it)->at_ms)));
        out_(std::move(m));
    }
    xml::Element subject("message", std::string(xmpp::kNsClient));
    if (subject_) {
        subject = *subject_;
    } else {
        subject.set_attr("from", jid_.str());
        subject.set_attr("type", "groupchat");
        subject.add_child("subject", std::string(xmpp::kNsClient));
    }
    subject.set_attr("to", to.str());
    out_(std::move(subject));
}

void Room::change_nick(Occupant& o, const xmpp::Jid& from, const std::string& nick) {
    if (by_nick(nick)) {
        xml::Element p("presence", std::string(xmpp::kNsClient));
        p.set_attr("from", from.str());
        p.set_attr("to", occupant_jid(nick).str());
        error(p, from, StanzaError::cancel("conflict", "that nickname is in use in this room"));
        return;
    }
    // §7.6: unavailable under the old nickname with 303 and the new one,
    // then available under the new one.
    to_all(o, true, {303}, {303, 110}, nick);
    o.nick = nick;
    to_all(o, false, {}, {110});
}

void Room::leave(const xmpp::Jid& from, const xml::Element* stanza) {
    Occupant* o = by_session(from);
    if (!o) return;
    if (o->sessions.size() > 1) {
        // One of several clients under this nickname: the others stay.
        std::erase(o->sessions, from);
        xml::Element p = presence_of(*o, from, true, {110});
        out_(std::move(p));
        return;
    }
    if (stanza) {
        o->status.clear();
        if (const xml::Element* st = stanza->child("status", xmpp::kNsClient)) o->status.push_back(*st);
    }
    // Everyone, and the leaver itself (110), hears it go.
    for (const auto& other : occupants_)
        for (const auto& s : other.sessions) {
            xml::Element p = presence_of(*o, s, true, &other == o ? std::vector<int>{110} : std::vector<int>{});
            if (stanza)
                if (const xml::Element* st = stanza->child("status", xmpp::kNsClient)) p.add_child(*st);
            out_(std::move(p));
        }
    occupants_.erase(occupants_.begin() + (o - occupants_.data()));
}

void Room::message(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick) {
    const std::string_view type = stanza.attr_or("type");
    if (type == "error") {
        // What the room sent an occupant bounced: that client is gone
        // (its session ended without telling the room).
        if (by_session(from)) leave(from, nullptr);
        return;
    }
    Occupant* me = by_session(from);
    if (!nick.empty()) {
        // §7.5: a private message to another occupant, through the room.
        if (!me) {
            error(stanza, from, StanzaError::modify("not-acceptable", "only occupants may send private messages"));
            return;
        }
        Occupant* to = by_nick(nick);
        if (!to) {
            error(stanza, from, StanzaError::cancel("item-not-found", "nobody of that nickname is in the room"));
            return;
        }
        if (type == "groupchat") {
            error(stanza, from, StanzaError::modify("bad-request", "a groupchat message goes to the room's address"));
            return;
        }
        xml::Element m = stanza;
        strip_room_claims(m);
        m.add_child("x", kNsMucUser);
        m.set_attr("from", occupant_jid(me->nick).str());
        for (const auto& s : to->sessions) {
            xml::Element copy = m;
            copy.set_attr("to", s.str());
            out_(std::move(copy));
        }
        return;
    }
    if (const xml::Element* x = stanza.child("x", kNsMucUser); x && type != "groupchat") {
        if (const xml::Element* inv = x->child("invite", kNsMucUser)) {
            invite(stanza, *inv, from, me);
            return;
        }
        if (const xml::Element* dec = x->child("decline", kNsMucUser)) {
            decline(*dec, from);
            return;
        }
    }
    if (type != "groupchat") {
        // UNFINISHED (issue 17): voice requests and other requests to the room.
        error(stanza, from, StanzaError::cancel("feature-not-implemented",
                                                "this room takes groupchat messages and invitations only"));
        return;
    }
    if (!me) {
        error(stanza, from, StanzaError::modify("not-acceptable", "only occupants may send messages to the room"));
        return;
    }
    groupchat(stanza, *me);
}

void Room::invite(const xml::Element& stanza, const xml::Element& inv, const xmpp::Jid& from, const Occupant* me) {
    // §7.8.2: an occupant invites someone through the room; the room sends
    // the invitation on, saying who invited.
    if (!me) {
        error(stanza, from, StanzaError::modify("not-acceptable", "only occupants may invite others"));
        return;
    }
    auto to = xmpp::Jid::parse(inv.attr_or("to"));
    if (!to || to->empty()) {
        error(stanza, from, StanzaError::modify("jid-malformed", "an invitation names whom it is for in 'to'"));
        return;
    }
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", jid_.str());
    m.set_attr("to", to->str());
    xml::Element& x = m.add_child("x", kNsMucUser);
    xml::Element& i = x.add_child("invite", kNsMucUser);
    i.set_attr("from", from.bare_str());
    std::string reason;
    if (const xml::Element* r = inv.child("reason", kNsMucUser)) {
        reason = r->text();
        i.add_child("reason", kNsMucUser).add_text(reason);
    }
    m.add_child("body", std::string(xmpp::kNsClient))
        .add_text(from.bare_str() + " invites you to the room " + jid_.bare_str() + (reason.empty() ? "" : ": " + reason));
    out_(std::move(m));
    // Remembered (the latest kMaxInvitations) so that a decline goes back
    // to the inviter, and the room relays nothing else.
    std::erase_if(invited_, [&](const auto& p) { return p.first == to->bare_str(); });
    invited_.emplace_back(to->bare_str(), from.bare_str());
    if (invited_.size() > kMaxInvitations) invited_.pop_front();
}

void Room::decline(const xml::Element& dec, const xmpp::Jid& from) {
    // §7.8.2: the invitee declines; the room tells the inviter, if it
    // invited them (it relays nothing to anyone else).
    auto it = std::find_if(invited_.begin(), invited_.end(), [&](const auto& p) { return p.first == from.bare_str(); });
    if (it == invited_.end()) return;
    const std::string inviter = it->second;
    invited_.erase(it);
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", jid_.str());
    m.set_attr("to", inviter);
    xml::Element& d = m.add_child("x", kNsMucUser).add_child("decline", kNsMucUser);
    d.set_attr("from", from.bare_str());
    if (const xml::Element* r = dec.child("reason", kNsMucUser)) d.add_child("reason", kNsMucUser).add_text(r->text());
    out_(std::move(m));
}

void Room::groupchat(const xml::Element& stanza, Occupant& me) {
    const xml::Element* subject = stanza.child("subject", xmpp::kNsClient);
    const bool subject_only = subject && !stanza.child("body", xmpp::kNsClient);
    if (subject_only && !me.owner) {
        // §8.1: by default only moderators change the subject.
        error(stanza, me.sessions.front(), StanzaError::auth("forbidden", "only moderators may change the subject"));
        return;
    }
    xml::Element m("message", std::string(xmpp::kNsClient));
    for (const auto& a : stanza.attrs()) m.set_attr(a.name, a.value);
    for (const auto& n : stanza.nodes())
        if (n.is_element() && n.element().name() != "delay") m.add_child(n.element());
    strip_room_claims(m);
    m.set_attr("from", occupant_jid(me.nick).str());
    m.set_attr("type", "groupchat");
    m.remove_attr("to");
    if (subject_only) {
        subject_ = m;
    } else {
        Said said{m, clock_(), xml::to_string(m, xmpp::kNsClient).size()};
        history_bytes_ += said.chars;
        history_.push_back(std::move(said));
        while (!history_.empty() &&
               (history_.size() > limits_.history_length || history_bytes_ > limits_.history_bytes)) {
            history_bytes_ -= history_.front().chars;
            history_.pop_front();
        }
    }
    for (const auto& o : occupants_)
        for (const auto& s : o.sessions) {
            xml::Element copy = m;
            copy.set_attr("to", s.str());
            out_(std::move(copy));
        }
}

void Room::iq(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick) {
    const std::string_view type = stanza.attr_or("type");
    if (type != "get" && type != "set") return;
    const xml::Element* q = stanza.first_child();
    if (!q || stanza.child_count() != 1) {
        error(stanza, from, StanzaError::modify("bad-request", "an iq request has exactly one payload"));
        return;
    }
    if (!nick.empty()) {
        // XEP-0410: an occupant pings itself through the room to learn
        // whether it is still joined.
        Occupant* me = by_session(from);
        if (q->name() == "ping" && q->ns() == kNsPing && type == "get") {
            if (me && me->nick == nick) result(stanza, from, std::nullopt);
            else error(stanza, from, StanzaError::cancel("not-acceptable", "you are not joined under that nickname"));
            return;
        }
        // UNFINISHED (issue 17): iq requests to other occupants (vCards).
        error(stanza, from, StanzaError::cancel("feature-not-implemented", "iq requests to occupants are not relayed"));
        return;
    }
    if (locked_) {
        // A room being created is nobody's business but its owner's.
        const Occupant* me = by_session(from);
        if (!me || !me->owner) {
            error(stanza, from, StanzaError::cancel("item-not-found", "no such room"));
            return;
        }
    }
    if (type == "get" && q->name() == "query" && q->ns() == kNsDiscoInfo) {
        if (!q->attr_or("node").empty()) {
            error(stanza, from, StanzaError::cancel("item-not-found", "no such node"));
            return;
        }
        result(stanza, from, disco_info());
        return;
    }
    if (type == "get" && q->name() == "query" && q->ns() == kNsDiscoItems) {
        // §6.5: the occupants are not listed (semi-anonymous room).
        result(stanza, from, xml::Element("query", kNsDiscoItems));
        return;
    }
    if (q->name() == "query" && q->ns() == kNsMucOwner) {
        owner_iq(stanza, from, *q);
        return;
    }
    error(stanza, from, StanzaError::cancel("service-unavailable", "the room does not answer that request"));
}

void Room::owner_iq(const xml::Element& stanza, const xmpp::Jid& from, const xml::Element& query) {
    Occupant* me = by_session(from);
    if (!me || !me->owner) {
        error(stanza, from, StanzaError::auth("forbidden", "only the room's owner may configure or destroy it"));
        return;
    }
    const std::string_view type = stanza.attr_or("type");
    if (type == "get") {
        // §10.2: the configuration form, with what this version can change.
        xml::Element q("query", kNsMucOwner);
        xml::Element& x = q.add_child("x", kNsData);
        x.set_attr("type", "form");
        x.add_child("title", kNsData).add_text("Configuration of " + jid_.bare_str());
        x.add_child(field("FORM_TYPE", "hidden", "", kRoomConfig));
        x.add_child(field("muc#roomconfig_roomname", "text-single", "Name", name_));
        x.add_child(field("muc#roomconfig_roomdesc", "text-single", "Description", description_));
        result(stanza, from, std::move(q));
        return;
    }
    if (const xml::Element* d = query.child("destroy", kNsMucOwner)) {
        result(stanza, from, std::nullopt);
        destroy(d);
        return;
    }
    const xml::Element* x = query.child("x", kNsData);
    if (!x) {
        error(stanza, from, StanzaError::modify("bad-request", "expected a data form or <destroy/>"));
        return;
    }
    const std::string_view form_type = x->attr_or("type");
    if (form_type == "cancel") {
        result(stanza, from, std::nullopt);
        // §10.1.3: cancelling the configuration of a new room destroys it.
        if (locked_) destroy(nullptr);
        return;
    }
    if (form_type != "submit") {
        error(stanza, from, StanzaError::modify("bad-request", "a configuration is submitted with type 'submit'"));
        return;
    }
    if (auto v = value_of(*x, "muc#roomconfig_roomname")) name_ = *v;
    if (auto v = value_of(*x, "muc#roomconfig_roomdesc")) description_ = *v;
    locked_ = false;  // an instant room (an empty form) or a configured one
    result(stanza, from, std::nullopt);
}

void Room::destroy(const xml::Element* destroy_element) {
    // §10.9: every occupant leaves with role none, told why.
    for (const auto& o : occupants_)
        for (const auto& s : o.sessions) {
            xml::Element p = presence_of(o, s, true, {});
            p.child("x", kNsMucUser)->child("item", kNsMucUser)->set_attr("affiliation", "none");
            if (destroy_element) {
                xml::Element d("destroy", kNsMucUser);
                for (const auto& a : destroy_element->attrs()) d.set_attr(a.name, a.value);
                for (const xml::Element& c : destroy_element->children()) {
                    xml::Element& cc = d.add_child(c.name(), kNsMucUser);
                    cc.add_text(c.text());
                }
                p.child("x", kNsMucUser)->add_child(std::move(d));
            }
            out_(std::move(p));
        }
    occupants_.clear();
    history_.clear();
    destroyed_ = true;
}

xml::Element Room::disco_info() const {
    xml::Element q("query", kNsDiscoInfo);
    xml::Element& id = q.add_child("identity", kNsDiscoInfo);
    id.set_attr("category", "conference");
    id.set_attr("type", "text");
    id.set_attr("name", name_.empty() ? jid_.node() : name_);
    for (const char* f : {kNsMuc, "muc_public", "muc_open", "muc_unmoderated", "muc_semianonymous", "muc_unsecured",
                          "muc_temporary", kNsPing})
        q.add_child("feature", kNsDiscoInfo).set_attr("var", f);
    // §6.4: muc#roominfo.
    xml::Element& x = q.add_child("x", kNsData);
    x.set_attr("type", "result");
    x.add_child(field("FORM_TYPE", "hidden", "", "http://jabber.org/protocol/muc#roominfo"));
    x.add_child(field("muc#roominfo_description", "", "Description", description_));
    x.add_child(field("muc#roominfo_occupants", "", "Number of occupants", std::to_string(occupants_.size())));
    return q;
}

}  // namespace parley::mod_muc

// One multi-user chat room (XEP-0045): its occupants, their presence,
// groupchat messages and their recent history, the subject, private
// messages between occupants, and the owner's instant configuration.
//
// Pure logic: a Room is given the stanzas addressed to it (already known to
// be for this room) with the sender's real full JID, and writes what the
// service sends through an Out callback. It belongs to one worker (the
// room's owner worker, see muc.hpp) and is never shared.
//
// What this first version of the room does (doc: modules/muc/README.md):
// temporary rooms, created by the first occupant (owner, moderator; locked
// with status 201 until the owner submits the configuration form or an
// instant room, XEP-0045 §10.1), destroyed when the last occupant leaves or
// by the owner (§10.9); semi-anonymous (real JIDs shown to moderators only);
// everyone else joins as participant without affiliation. UNFINISHED (issue
// 17): persistent and reserved rooms, the full configuration form, members-only,
// passwords, moderation, affiliations and roles beyond the owner, room
// archives.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "errors/stanza_error.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::mod_muc {

inline constexpr const char* kNsMuc = "http://jabber.org/protocol/muc";
inline constexpr const char* kNsMucUser = "http://jabber.org/protocol/muc#user";
inline constexpr const char* kNsMucOwner = "http://jabber.org/protocol/muc#owner";

struct RoomLimits {
    size_t max_occupants = 200;
    size_t history_length = 20;  // groupchat messages kept for new occupants
    size_t history_bytes = 65536;  // and at most this much of them, as text
};

class Room {
public:
    using Out = std::function<void(xml::Element)>;
    using Clock = std::function<int64_t()>;  // Unix time in milliseconds

    // A new room made by `creator` (its first occupant, once join() is called).
    Room(xmpp::Jid jid, xmpp::Jid creator, RoomLimits limits, Out out, Clock clock);

    const xmpp::Jid& jid() const { return jid_; }
    const xmpp::Jid& creator() const { return creator_; }
    bool empty() const { return occupants_.empty(); }
    bool locked() const { return locked_; }
    bool destroyed() const { return destroyed_; }
    size_t occupant_count() const { return occupants_.size(); }
    const std::string& name() const { return name_; }

    // Presence from `from` (a real full JID) to room/nick.
    void presence(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);
    // A message from `from` to the room (nick empty) or to room/nick.
    void message(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);
    // An iq request to the room (nick empty) or to room/nick.
    void iq(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);

    // The room's disco#info <query/> (XEP-0045 §6.4).
    xml::Element disco_info() const;

private:
    struct Occupant {
        std::string nick;
        xmpp::Jid bare;                   // the real bare JID
        std::vector<xmpp::Jid> sessions;  // its full JIDs joined under this nick (multi-session nicks)
        std::vector<xml::Element> status; // <show/>, <status/>, <priority/> and extensions of its presence
        bool owner = false;               // affiliation owner, role moderator
    };
    struct Said {
        xml::Element stanza;  // as broadcast (from room/nick)
        int64_t at_ms = 0;
        size_t chars = 0;     // its size as text, for maxchars
    };

    Occupant* by_nick(const std::string& nick);
    Occupant* by_session(const xmpp::Jid& full);
    void join(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);
    void leave(const xmpp::Jid& from, const xml::Element* status);
    void change_nick(Occupant& o, const xmpp::Jid& from, const std::string& nick);
    void send_join_sequence(const Occupant& o, const xmpp::Jid& to, const xml::Element* history, bool created);
    void groupchat(const xml::Element& stanza, Occupant& o);
    void invite(const xml::Element& stanza, const xml::Element& invite, const xmpp::Jid& from, const Occupant* me);
    void decline(const xml::Element& decline, const xmpp::Jid& from);
    void owner_iq(const xml::Element& stanza, const xmpp::Jid& from, const xml::Element& query);
    void destroy(const xml::Element* destroy_element);

    // The presence of occupant `o` as `to` sees it (real JID to moderators).
    xml::Element presence_of(const Occupant& o, const xmpp::Jid& to, bool unavailable,
                             const std::vector<int>& codes, const std::string& new_nick = {}) const;
    bool sees_real_jids(const xmpp::Jid& to) const;
    void to_all(const Occupant& o, bool unavailable, const std::vector<int>& codes_for_others,
                const std::vector<int>& codes_for_self, const std::string& new_nick = {});
    void error(const xml::Element& stanza, const xmpp::Jid& to, const StanzaError& e);
    void result(const xml::Element& stanza, const xmpp::Jid& to, std::optional<xml::Element> payload);
    xmpp::Jid occupant_jid(const std::string& nick) const;

    xmpp::Jid jid_;
    xmpp::Jid creator_;
    RoomLimits limits_;
    Out out_;
    Clock clock_;
    std::vector<Occupant> occupants_;  // in order of arrival
    std::deque<Said> history_;
    size_t history_bytes_ = 0;
    std::optional<xml::Element> subject_;  // the last subject message as broadcast
    std::string name_, description_;
    static constexpr size_t kMaxInvitations = 100;
    std::deque<std::pair<std::string, std::string>> invited_;  // invitee bare JID, inviter bare JID
    bool locked_ = true;
    bool destroyed_ = false;
};

// XEP-0045 §7.2.14: how much history a joining occupant asked for, read
// from <history/> in its join presence; nullptr: the room's default.
struct HistoryRequest {
    std::optional<size_t> maxstanzas, maxchars;
    std::optional<int64_t> since_ms;  // from seconds or since
};
HistoryRequest read_history_request(const xml::Element* history, int64_t now_ms);

}  // namespace parley::mod_muc

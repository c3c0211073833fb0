// One multi-user chat room (XEP-0045): its configuration, affiliations,
// occupants and their roles, presence, groupchat messages and their recent
// history, the subject, private messages, invitations, and the owner's and
// moderators' requests (muc#owner, muc#admin).
//
// Pure logic: a Room is given the stanzas addressed to it (already known to
// be for this room) with the sender's real full JID, and writes what the
// service sends through an Out callback. It belongs to one worker (the
// room's owner worker, see muc.hpp) and is never shared. Whatever must be
// kept (configuration, affiliations, subject) sets changed(); the service
// then stores snapshot() if the room is persistent, and restore() brings it
// back after a restart.
//
// Access control (doc: modules/muc/README.md): affiliations owner, admin,
// member, outcast (by bare JID, or a whole domain) and roles moderator,
// participant, visitor with the transitions of XEP-0045 §§8-10 and their
// refusals; members-only rooms, passwords (kept as a salted PBKDF2 hash,
// never the password), moderated rooms, who sees real JIDs, who changes the
// subject, who invites, who sends private messages. Someone who loses their
// place (banned, or no longer a member of a members-only room) leaves with
// every one of their clients at once.
//
// Room archives: with a RoomArchive (the compliance journal, given by the
// service when the archive module runs), every message said in an archived
// room is journaled once, in the room's view, and carries its XEP-0359
// stanza-id (by the room's address) to every occupant and in the history;
// MAM queries to the room's address (XEP-0313) are answered for those who
// may see its history now. In compliance mode archiving cannot be turned
// off, and refused groupchat messages are journaled too (in no view).
//
// Moderation (XEP-0425 with XEP-0424 retraction, requests of version 0.3
// and 0.2): a moderator retracts a message by its stanza-id; occupants get
// the retraction, the history forgets the message, MAM answers a tombstone
// saying who moderated it, when and why; the journal keeps the original and
// the retraction as records of their own. Occupant ids (XEP-0421): a stable
// opaque id per real bare JID and room (HMAC-SHA-256 under a secret of the
// room), on every presence and message from an occupant.
//
// Internal-only rooms admit only users of the organisation's own domains
// (set_own_domains); a room that admits others tells every occupant, in a
// notice from the room, which other domains are present. A per-person
// message rate (RoomLimits) refuses with resource-constraint.
//
// Nicknames registered with the room (§7.10) are kept with the
// affiliations; nobody else joins under one, and §7.12 tells a person theirs.
// Voice requests (§7.13) go to the moderators as the approval form (§8.6);
// iq requests to an occupant's room JID are relayed to one of its clients
// and the answer back to the asker (bounded: the latest 1000 in flight).
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "errors/stanza_error.hpp"
#include "errors/status.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::mod_muc {

inline constexpr const char* kNsMuc = "http://jabber.org/protocol/muc";
inline constexpr const char* kNsMucUser = "http://jabber.org/protocol/muc#user";
inline constexpr const char* kNsMucOwner = "http://jabber.org/protocol/muc#owner";
inline constexpr const char* kNsMucAdmin = "http://jabber.org/protocol/muc#admin";
inline constexpr const char* kNsMam = "urn:xmpp:mam:2";
inline constexpr const char* kNsSid = "urn:xmpp:sid:0";
inline constexpr const char* kNsOccupantId = "urn:xmpp:occupant-id:0";
inline constexpr const char* kNsModerate = "urn:xmpp:message-moderate:1";
inline constexpr const char* kNsModerate0 = "urn:xmpp:message-moderate:0";
inline constexpr const char* kNsRetract = "urn:xmpp:message-retract:1";
inline constexpr const char* kNsRetract0 = "urn:xmpp:message-retract:0";
inline constexpr const char* kNsFasten = "urn:xmpp:fasten:0";
inline constexpr const char* kNsRoomRecord = "urn:parley:muc:room:1";  // a stored room (snapshot())

struct RoomLimits {
    size_t max_occupants = 200;
    size_t history_length = 20;    // groupchat messages kept for new occupants (a room may ask for fewer)
    size_t history_bytes = 65536;  // and at most this much of them, as text
    // Messages (groupchat and private) one person may send through a room:
    // `rate` a second on average, `burst` at once; rate 0: no limit.
    uint32_t rate = 0;
    uint32_t burst = 20;
    bool internal_only = false;    // every room admits only the organisation's own domains
};

// In order of rank.
enum class Affiliation : uint8_t { outcast, none, member, admin, owner };
enum class Role : uint8_t { none, visitor, participant, moderator };
const char* name_of(Affiliation a);
const char* name_of(Role r);
std::optional<Affiliation> affiliation_named(std::string_view name);
std::optional<Role> role_named(std::string_view name);

// Who may send private messages through the room (muc#roomconfig_allowpm).
enum class PmPolicy : uint8_t { anyone, participants, moderators, none };

class Room;

// The journal as a room uses it (mod_muc implements it over the archive
// service; unit tests with a fake).
class RoomArchive {
public:
    virtual ~RoomArchive() = default;
    // Whether there is a journal now (the archive module may come and go).
    virtual bool available() const = 0;
    // Compliance mode: every room is archived, whatever its configuration.
    virtual bool forced() const = 0;
    // Journals `said` (a message as the room broadcasts it, from room/nick,
    // without 'to'), sent by `sender` (a real full JID): in the room's view
    // when `in_view`, with the router's word for what became of it
    // ("delivered", "bounced"). Returns its id, or the error the sender gets
    // instead of the message going out.
    virtual std::variant<uint64_t, StanzaError> record(const Room& room, const xml::Element& said,
                                                       const xmpp::Jid& sender, bool in_view,
                                                       std::string_view outcome) = 0;
    // Whether message `id` is in the room's view of the journal.
    virtual bool contains(const Room& room, uint64_t id) = 0;
    // Keeps that message `id` of the room was retracted by a moderator
    // (`moderated`: the XEP-0425 <moderated/> with who, when and why): its
    // MAM results become tombstones. The journal keeps the original, unless
    // the service is set not to (moderation_keeps_original, outside
    // compliance mode): then it is removed. The room's output waits until
    // this is on disk.
    virtual void retracted(const Room& room, uint64_t id, const xml::Element& moderated) = 0;
    // Answers a MAM request `iq` (urn:xmpp:mam:2) to the room from `from`,
    // who may read its history; `sees_real_jids`: results name the senders'
    // real JIDs, and 'with' may filter by them.
    virtual void query(const Room& room, const xml::Element& iq, const xmpp::Jid& from, bool sees_real_jids) = 0;
};

struct RoomConfig {
    std::string name, description;
    bool persistent = false;
    bool public_room = true;     // listed in the service's disco#items
    bool members_only = false;
    bool moderated = false;      // those without voice (visitors) may not speak
    bool whois_anyone = false;   // everyone sees real JIDs (else moderators only)
    bool change_subject = false; // participants may change the subject (moderators always may)
    bool allow_invites = false;  // members may invite to a members-only room (admins always may)
    PmPolicy allow_pm = PmPolicy::anyone;
    size_t max_users = 0;        // 0: the service's max_occupants
    std::optional<size_t> history_length;  // unset: the service's
    std::string secret;          // the password's credential (password_credential()); empty: no password
    bool internal = false;       // admits only users of the organisation's own domains
    bool archived = true;        // journaled, with MAM on the room's address (when there is an archive)
};

class Room {
public:
    using Out = std::function<void(xml::Element)>;
    using Clock = std::function<int64_t()>;  // Unix time in milliseconds

    // A new room made by `creator` (its first occupant, once join() is called).
    Room(xmpp::Jid jid, xmpp::Jid creator, RoomLimits limits, Out out, Clock clock);
    // A stored room (snapshot()), unlocked and empty; code "invalid" for a
    // record this version cannot read.
    static Result<std::unique_ptr<Room>> restore(const xml::Element& record, RoomLimits limits, Out out, Clock clock);
    // What restore() needs: the configuration, affiliations and subject.
    xml::Element snapshot() const;

    const xmpp::Jid& jid() const { return jid_; }
    const xmpp::Jid& creator() const { return creator_; }
    const RoomConfig& config() const { return config_; }
    bool empty() const { return occupants_.empty(); }
    bool locked() const { return locked_; }
    bool destroyed() const { return destroyed_; }
    size_t occupant_count() const { return occupants_.size(); }
    const std::string& name() const { return config_.name; }
    // Something restore() needs changed since the last call.
    bool take_changed() { return std::exchange(changed_, false); }
    // The affiliation of a real JID: its own, else its domain's, else none.
    Affiliation affiliation_of(const xmpp::Jid& who) const;
    // New limits (a reload); a service made internal-only sends outsiders away.
    void set_limits(const RoomLimits& limits);
    // Which domains are the organisation's own (its virtual hosts); by
    // default every domain is.
    void set_own_domains(std::function<bool(std::string_view domain)> own) { own_ = std::move(own); }
    bool internal() const { return config_.internal || limits_.internal_only; }
    // Whether a client's session has ended (a bounce from it then means it
    // is gone); by default every bounce does.
    void set_session_gone(std::function<bool(const xmpp::Jid& full)> gone) { session_gone_ = std::move(gone); }
    // The journal, or nullptr (no archive module): then nothing is archived
    // and no archive is advertised.
    void set_archive(RoomArchive* archive) { archive_ = archive; }
    // Whether messages said now are journaled in the room's view.
    bool archiving() const { return archive_ && archive_->available() && (config_.archived || archive_->forced()); }
    // The room's archive is what was said since it was made (this time): a
    // room made again under the name of one that closed does not inherit
    // its history. A journal id below this is not the room's.
    uint64_t archive_floor() const { return archive_floor_; }
    // Raises the floor (a new room: above every id the journal gave so
    // far, should the clock have gone back).
    void raise_archive_floor(uint64_t floor) { archive_floor_ = std::max(archive_floor_, floor); }
    // Takes back a message whose record could not be written: it leaves the
    // history (its copies were never sent).
    void forget(uint64_t id);

    // Presence from `from` (a real full JID) to room/nick.
    void presence(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);
    // A message from `from` to the room (nick empty) or to room/nick.
    void message(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);
    // An iq request to the room (nick empty) or to room/nick.
    void iq(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);

    // The room's disco#info <query/> (XEP-0045 §6.4).
    xml::Element disco_info() const;
    // XEP-0421: the occupant id of a real JID in this room.
    std::string occupant_id(const xmpp::Jid& real) const;

    // Administration (`parleyctl room`, through the service): the server's
    // administrator acts with an owner's rights; a room still keeps an
    // owner. Each returns the refusal, or nullopt once done (occupants are
    // told as for the same change made in XMPP).
    std::optional<StanzaError> admin_affiliation(const std::string& jid, Affiliation a, const std::string& reason);
    // Short option names (name, description, persistent, public,
    // members-only, moderated, password, max-users, whois, change-subject,
    // allow-invites, allow-pm, history, archived, internal) and values.
    std::optional<StanzaError> admin_configure(const std::vector<std::pair<std::string, std::string>>& options);
    void admin_destroy(const std::string& reason);
    // The service stops (the module is removed or parleyd stops): every
    // occupant is told it left the room with status 332.
    void shutdown();
    // The room for an administrator: configuration, affiliations and
    // occupants, as a JSON object (module::json_string escaping) and as text.
    std::string json() const;
    std::string text() const;

private:
    // Sends m to every session of every occupant, each copy addressed to
    // it: m's children are serialized once and shared by the copies.
    void to_everyone(xml::Element m);

    struct Occupant {
        std::string nick;
        xmpp::Jid bare;                   // the real bare JID
        std::vector<xmpp::Jid> sessions;  // its full JIDs joined under this nick (multi-session nicks)
        std::vector<xml::Element> status; // <show/>, <status/>, <priority/> and extensions of its presence
        Role role = Role::participant;
        bool asked_for_voice = false;     // a voice request is with the moderators
    };
    // An iq request relayed from one occupant to another (§7.x): the id
    // the room gave it, to send the answer back under the asker's id.
    struct Relay {
        xmpp::Jid asker;        // real full JID
        std::string asker_id;   // the id it used
        xmpp::Jid answerer;     // the session the room asked
        std::string answerer_nick;
    };
    struct Said {
        xml::Element stanza;  // as broadcast (from room/nick)
        int64_t at_ms = 0;
        size_t chars = 0;     // its size as text, for maxchars
    };
    // Who did something to an occupant, and why (muc#user <actor/>, <reason/>).
    struct Because {
        std::string actor_nick;
        std::string reason;
    };

    Occupant* by_nick(const std::string& nick);
    Occupant* by_session(const xmpp::Jid& full);
    Affiliation affiliation_of(const Occupant& o) const { return affiliation_of(o.bare); }
    Role default_role(Affiliation a) const;
    void join(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);
    bool password_accepted(const xml::Element* muc_x) const;
    void leave(const xmpp::Jid& from, const xml::Element* status, int code = 0);
    void change_nick(Occupant& o, const xmpp::Jid& from, const std::string& nick);
    void send_join_sequence(const Occupant& o, const xmpp::Jid& to, const xml::Element* history, bool created);
    void groupchat(const xml::Element& stanza, Occupant& o, const xmpp::Jid& from);
    void private_message(const xml::Element& stanza, const xmpp::Jid& from, Occupant* me, const std::string& nick);
    void invite(const xml::Element& stanza, const xml::Element& invite, const xmpp::Jid& from, const Occupant* me);
    void decline(const xml::Element& decline, const xmpp::Jid& from);
    void owner_iq(const xml::Element& stanza, const xmpp::Jid& from, const xml::Element& query);
    xml::Element config_form() const;
    std::optional<StanzaError> apply_config(const xml::Element& form);
    void admin_iq(const xml::Element& stanza, const xmpp::Jid& from, const xml::Element& query);
    void admin_list(const xml::Element& stanza, const xmpp::Jid& from, const Occupant* me, const xml::Element& item);
    std::optional<StanzaError> may_set_role(const Occupant* me, const Occupant& target, Role role) const;
    std::optional<StanzaError> may_set_affiliation(const xmpp::Jid& actor, const std::string& target, Affiliation to,
                                                   const std::map<std::string, Affiliation>& affs) const;
    void set_role(Occupant& target, Role role, const Because& why);
    void set_affiliation(const std::string& target, Affiliation to, const Because& why);
    // Removes every occupant whose real bare JID is `bare`, with `code`.
    void remove_all_of(const std::string& bare, int code, Affiliation now, const Because& why);
    void remove_occupant(size_t index, int code, Affiliation now, const Because& why);
    void announce_config_change(bool whois_changed);
    void destroy(const xml::Element* destroy_element);
    void mam_iq(const xml::Element& stanza, const xmpp::Jid& from);
    // §7.10: registering a nickname with the room (it becomes the
    // registrant's, and the registrant a member).
    void register_iq(const xml::Element& stanza, const xmpp::Jid& from, const xml::Element& query);
    // Whose registered nickname `nick` is (a bare JID), or nullptr.
    const std::string* registered_to(const std::string& nick) const;
    // §7.13, §8.6: a visitor asks for voice; a moderator answers the form.
    void voice_request(const xml::Element& stanza, const xml::Element& form, const xmpp::Jid& from, Occupant* me);
    void relay_iq(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick);
    void moderate(const xml::Element& stanza, const xmpp::Jid& from, const std::string& target_id,
                  const std::string& reason);
    void add_occupant_id(xml::Element& stanza, const xmpp::Jid& real) const;
    // Takes one from the person's allowance (messages, presence changes,
    // invitations, relayed requests, password tries); false: too fast.
    bool within_rate(const xmpp::Jid& who);
    bool outsider(const xmpp::Jid& who) const { return own_ && !own_(who.domain()); }
    // XEP-0045 has no word for it: a room that admits outsiders tells its
    // occupants (`to`, or everyone) who from elsewhere is present.
    void outsider_notice(const xmpp::Jid* to);
    // In compliance mode, a groupchat message the room refused is journaled too.
    void record_refused(const xml::Element& stanza, const xmpp::Jid& from);

    // The presence of occupant `o` as `to` sees it (real JIDs to moderators,
    // or to everyone in a non-anonymous room).
    xml::Element presence_of(const Occupant& o, const xmpp::Jid& to, bool unavailable,
                             const std::vector<int>& codes, const std::string& new_nick = {}) const;
    bool sees_real_jids(const xmpp::Jid& to) const;
    void to_all(const Occupant& o, bool unavailable, const std::vector<int>& codes_for_others,
                const std::vector<int>& codes_for_self, const std::string& new_nick = {});
    void error(const xml::Element& stanza, const xmpp::Jid& to, const StanzaError& e);
    void result(const xml::Element& stanza, const xmpp::Jid& to, std::optional<xml::Element> payload);
    xmpp::Jid occupant_jid(const std::string& nick) const;
    size_t history_length() const;
    size_t max_users() const;

    xmpp::Jid jid_;
    xmpp::Jid creator_;
    RoomLimits limits_;
    Out out_;
    Clock clock_;
    RoomConfig config_;
    std::map<std::string, Affiliation> affiliations_;  // bare JID (or domain) -> affiliation other than none
    std::map<std::string, std::string> reasons_;       // why someone was banned, for the ban list
    std::map<std::string, std::string> nicks_;         // registered nicknames (§7.10): bare JID -> nick
    std::vector<Occupant> occupants_;  // in order of arrival
    std::deque<Said> history_;
    size_t history_bytes_ = 0;
    std::optional<xml::Element> subject_;  // the last subject message as broadcast
    static constexpr size_t kMaxInvitations = 100;
    std::deque<std::pair<std::string, std::string>> invited_;  // invitee bare JID, inviter bare JID
    bool locked_ = true;
    bool destroyed_ = false;
    bool changed_ = false;
    RoomArchive* archive_ = nullptr;
    std::string occupant_secret_;  // 32 random bytes: occupant ids (XEP-0421)
    uint64_t archive_floor_ = 0;
    std::function<bool(std::string_view)> own_;
    struct Bucket {
        double tokens = -1;  // what the person may still send now; <0: full
        int64_t at_ms = 0;
    };
    static constexpr size_t kMaxBuckets = 10000;
    std::map<std::string, Bucket> buckets_;  // by bare JID
    static constexpr size_t kMaxAffiliations = 10000;
    std::function<bool(const xmpp::Jid&)> session_gone_;
    static constexpr size_t kMaxRelays = 1000;
    std::deque<std::pair<std::string, Relay>> relays_;  // by the id the room gave, oldest first
    uint64_t next_relay_ = 0;
};

// XEP-0045 §7.2.14: how much history a joining occupant asked for, read
// from <history/> in its join presence; nullptr: the room's default.
struct HistoryRequest {
    std::optional<size_t> maxstanzas, maxchars;
    std::optional<int64_t> since_ms;  // from seconds or since
};
HistoryRequest read_history_request(const xml::Element* history, int64_t now_ms);

// A room password's credential (salted PBKDF2-SHA-256) and its check
// in constant time.
Result<std::string> password_credential(std::string_view password);
bool password_matches(std::string_view credential, std::string_view password);

}  // namespace parley::mod_muc

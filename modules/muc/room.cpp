#include "room.hpp"

#include <algorithm>
#include <charconv>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "../archive/journal_service.hpp"
#include "module/control_json.hpp"
#include "archive/crypto/keys.hpp"
#include "xml/serializer.hpp"
#include "xmpp/base64.hpp"
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
// A room password's PBKDF2 work: a join with a password costs the room's
// worker about a millisecond.
constexpr uint32_t kPasswordIterations = 4096;

std::optional<size_t> read_count(std::string_view text) {
    size_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
    return v;
}

std::optional<bool> read_bool(std::string_view v) {
    if (v == "1" || v == "true") return true;
    if (v == "0" || v == "false") return false;
    return std::nullopt;
}

// The presence children that describe the occupant (show, status, priority,
// caps, ...): everything but the MUC join element.
std::vector<xml::Element> status_of(const xml::Element& presence) {
    std::vector<xml::Element> out;
    for (const xml::Element& c : presence.children())
        if (c.ns() != kNsMuc && c.ns() != kNsMucUser && c.ns() != kNsOccupantId && c.ns() != "urn:xmpp:sid:0")
            out.push_back(c);
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

xml::Element list_field(std::string var, std::string label, std::string value,
                        const std::vector<std::pair<std::string, std::string>>& options) {
    xml::Element f = field(std::move(var), "list-single", std::move(label), std::move(value));
    for (const auto& [v, l] : options) {
        xml::Element& o = f.add_child("option", kNsData);
        o.set_attr("label", l);
        o.add_child("value", kNsData).add_text(v);
    }
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
    m.remove_children("occupant-id", kNsOccupantId);
}

std::string hex_of(std::string_view bytes) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += kDigits[c >> 4];
        out += kDigits[c & 15];
    }
    return out;
}

std::optional<std::string> bytes_of_hex(std::string_view hex) {
    if (hex.size() % 2) return std::nullopt;
    std::string out;
    for (size_t i = 0; i < hex.size(); i += 2) {
        unsigned v = 0;
        auto [p, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, v, 16);
        if (ec != std::errc() || p != hex.data() + i + 2) return std::nullopt;
        out += static_cast<char>(v);
    }
    return out;
}

std::string fresh_secret() {
    std::string s(32, '\0');
    if (gnutls_rnd(GNUTLS_RND_KEY, s.data(), s.size()) != 0) throw std::runtime_error("gnutls_rnd failed");
    return s;
}

const char* pm_name(PmPolicy p) {
    switch (p) {
        case PmPolicy::anyone: return "anyone";
        case PmPolicy::participants: return "participants";
        case PmPolicy::moderators: return "moderators";
        case PmPolicy::none: return "none";
    }
    return "anyone";
}

std::optional<PmPolicy> pm_named(std::string_view v) {
    for (PmPolicy p : {PmPolicy::anyone, PmPolicy::participants, PmPolicy::moderators, PmPolicy::none})
        if (v == pm_name(p)) return p;
    return std::nullopt;
}

// The key affiliations are kept under: a bare JID, or a domain for all of it.
std::optional<std::string> affiliation_key(std::string_view text) {
    auto j = xmpp::Jid::parse(text);
    if (!j || j->empty()) return std::nullopt;
    return j->has_node() ? j->bare_str() : j->domain();
}

}  // namespace

const char* name_of(Affiliation a) {
    switch (a) {
        case Affiliation::outcast: return "outcast";
        case Affiliation::none: return "none";
        case Affiliation::member: return "member";
        case Affiliation::admin: return "admin";
        case Affiliation::owner: return "owner";
    }
    return "none";
}

const char* name_of(Role r) {
    switch (r) {
        case Role::none: return "none";
        case Role::visitor: return "visitor";
        case Role::participant: return "participant";
        case Role::moderator: return "moderator";
    }
    return "none";
}

std::optional<Affiliation> affiliation_named(std::string_view name) {
    for (Affiliation a : {Affiliation::outcast, Affiliation::none, Affiliation::member, Affiliation::admin,
                          Affiliation::owner})
        if (name == name_of(a)) return a;
    return std::nullopt;
}

std::optional<Role> role_named(std::string_view name) {
    for (Role r : {Role::none, Role::visitor, Role::participant, Role::moderator})
        if (name == name_of(r)) return r;
    return std::nullopt;
}

// A room password's credential: "pbkdf2-sha256$ITERATIONS$SALT$HASH" (hex).
Result<std::string> password_credential(std::string_view password) {
    std::string salt(16, '\0');
    if (gnutls_rnd(GNUTLS_RND_RANDOM, salt.data(), salt.size()) != 0)
        return Status::error("crypto", "no random bytes for a salt");
    unsigned char hash[32];
    gnutls_datum_t key{reinterpret_cast<unsigned char*>(const_cast<char*>(password.data())),
                       static_cast<unsigned>(password.size())};
    gnutls_datum_t salt_datum{reinterpret_cast<unsigned char*>(salt.data()), static_cast<unsigned>(salt.size())};
    if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &salt_datum, kPasswordIterations, hash, sizeof hash) != 0)
        return Status::error("crypto", "PBKDF2 failed");
    return "pbkdf2-sha256$" + std::to_string(kPasswordIterations) + "$" + hex_of(salt) + "$" +
           hex_of(std::string_view(reinterpret_cast<const char*>(hash), sizeof hash));
}

bool password_matches(std::string_view credential, std::string_view password) {
    constexpr std::string_view kScheme = "pbkdf2-sha256$";
    if (credential.substr(0, kScheme.size()) != kScheme) return false;
    std::string_view rest = credential.substr(kScheme.size());
    const size_t a = rest.find('$'), b = a == std::string_view::npos ? a : rest.find('$', a + 1);
    if (b == std::string_view::npos) return false;
    auto iterations = read_count(rest.substr(0, a));
    auto salt = bytes_of_hex(rest.substr(a + 1, b - a - 1));
    auto expected = bytes_of_hex(rest.substr(b + 1));
    if (!iterations || *iterations == 0 || *iterations > 10'000'000 || !salt || !expected || expected->size() != 32)
        return false;
    unsigned char hash[32];
    gnutls_datum_t key{reinterpret_cast<unsigned char*>(const_cast<char*>(password.data())),
                       static_cast<unsigned>(password.size())};
    gnutls_datum_t salt_datum{reinterpret_cast<unsigned char*>(salt->data()), static_cast<unsigned>(salt->size())};
    if (gnutls_pbkdf2(GNUTLS_MAC_SHA256, &key, &salt_datum, static_cast<unsigned>(*iterations), hash, sizeof hash) != 0)
        return false;
    return archive::equal_constant_time(std::string_view(reinterpret_cast<const char*>(hash), sizeof hash), *expected);
}

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
    : jid_(std::move(jid)), creator_(std::move(creator)), limits_(limits), out_(std::move(out)), clock_(std::move(clock)),
      occupant_secret_(fresh_secret()), archive_floor_(archive::first_id_at(static_cast<uint64_t>(clock_()))) {
    // §10.1: the creator is the room's owner.
    affiliations_[creator_.bare_str()] = Affiliation::owner;
}

// --- Stored rooms ---

xml::Element Room::snapshot() const {
    xml::Element r("room", kNsRoomRecord);
    r.set_attr("jid", jid_.bare_str());
    r.set_attr("creator", creator_.bare_str());
    r.set_attr("occupant-secret", hex_of(occupant_secret_));
    r.set_attr("archive-floor", archive::stanza_id_text(archive_floor_));
    xml::Element& c = r.add_child("config", kNsRoomRecord);
    c.set_attr("name", config_.name);
    c.set_attr("description", config_.description);
    c.set_attr("persistent", config_.persistent ? "1" : "0");
    c.set_attr("public", config_.public_room ? "1" : "0");
    c.set_attr("members-only", config_.members_only ? "1" : "0");
    c.set_attr("moderated", config_.moderated ? "1" : "0");
    c.set_attr("whois", config_.whois_anyone ? "anyone" : "moderators");
    c.set_attr("change-subject", config_.change_subject ? "1" : "0");
    c.set_attr("allow-invites", config_.allow_invites ? "1" : "0");
    c.set_attr("archived", config_.archived ? "1" : "0");
    c.set_attr("internal", config_.internal ? "1" : "0");
    c.set_attr("allow-pm", pm_name(config_.allow_pm));
    c.set_attr("max-users", std::to_string(config_.max_users));
    if (config_.history_length) c.set_attr("history", std::to_string(*config_.history_length));
    if (!config_.secret.empty()) c.set_attr("secret", config_.secret);
    for (const auto& [who, a] : affiliations_) {
        xml::Element& e = r.add_child("affiliation", kNsRoomRecord);
        e.set_attr("jid", who);
        e.set_attr("affiliation", name_of(a));
        if (auto why = reasons_.find(who); why != reasons_.end()) e.set_attr("reason", why->second);
        if (auto n = nicks_.find(who); n != nicks_.end()) e.set_attr("nick", n->second);
    }
    if (subject_) r.add_child("subject", kNsRoomRecord).add_child(*subject_);
    return r;
}

Result<std::unique_ptr<Room>> Room::restore(const xml::Element& record, RoomLimits limits, Out out, Clock clock) {
    auto bad = [](const std::string& what) { return Status::error("invalid", "a stored room: " + what); };
    if (record.name() != "room" || record.ns() != kNsRoomRecord) return bad("not a room record of this version");
    auto jid = xmpp::Jid::parse(record.attr_or("jid"));
    auto creator = xmpp::Jid::parse(record.attr_or("creator"));
    if (!jid || !jid->has_node() || !jid->is_bare() || !creator) return bad("its address or creator");
    const xml::Element* c = record.child("config", kNsRoomRecord);
    if (!c) return bad("no configuration");
    RoomConfig cfg;
    cfg.name = c->attr_or("name");
    cfg.description = c->attr_or("description");
    auto flag = [&](std::string_view attr, bool& into) {
        auto v = read_bool(c->attr_or(attr));
        if (v) into = *v;
        return v.has_value();
    };
    if (!flag("persistent", cfg.persistent) || !flag("public", cfg.public_room) ||
        !flag("members-only", cfg.members_only) || !flag("moderated", cfg.moderated) ||
        !flag("change-subject", cfg.change_subject) || !flag("allow-invites", cfg.allow_invites) ||
        (c->attr("archived") && !flag("archived", cfg.archived)) ||
        (c->attr("internal") && !flag("internal", cfg.internal)))
        return bad("a flag of its configuration");
    cfg.whois_anyone = c->attr_or("whois") == "anyone";
    auto pm = pm_named(c->attr_or("allow-pm"));
    auto max_users = read_count(c->attr_or("max-users"));
    if (!pm || !max_users) return bad("allow-pm or max-users");
    cfg.allow_pm = *pm;
    cfg.max_users = *max_users;
    if (c->attr("history")) {
        auto h = read_count(c->attr_or("history"));
        if (!h) return bad("history");
        cfg.history_length = *h;
    }
    cfg.secret = c->attr_or("secret");
    auto room = std::make_unique<Room>(jid.value(), creator.value(), limits, std::move(out), std::move(clock));
    room->affiliations_.clear();
    for (const xml::Element& e : record.children()) {
        if (e.name() != "affiliation") continue;
        auto a = affiliation_named(e.attr_or("affiliation"));
        auto key = affiliation_key(e.attr_or("jid"));
        if (!a || !key || *a == Affiliation::none) return bad("an affiliation");
        room->affiliations_[*key] = *a;
        if (e.attr("reason")) room->reasons_[*key] = e.attr_or("reason");
        if (e.attr("nick")) room->nicks_[*key] = e.attr_or("nick");
    }
    if (const xml::Element* s = record.child("subject", kNsRoomRecord))
        if (const xml::Element* m = s->first_child()) room->subject_ = *m;
    room->config_ = std::move(cfg);
    room->locked_ = false;
    if (record.attr("archive-floor")) {
        auto floor = archive::parse_stanza_id(record.attr_or("archive-floor"));
        if (!floor) return bad("its archive floor");
        room->archive_floor_ = *floor;
    } else {
        room->archive_floor_ = 0;  // an older record: its whole history is its own
    }
    if (record.attr("occupant-secret")) {
        auto secret = bytes_of_hex(record.attr_or("occupant-secret"));
        if (!secret || secret->size() != 32) return bad("its occupant secret");
        room->occupant_secret_ = std::move(*secret);
    } else {
        room->changed_ = true;  // an older record: kept again with its new secret
    }
    return room;
}

// --- Who is who ---

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

Affiliation Room::affiliation_of(const xmpp::Jid& who) const {
    if (auto it = affiliations_.find(who.bare_str()); it != affiliations_.end()) return it->second;
    if (auto it = affiliations_.find(who.domain()); it != affiliations_.end()) return it->second;
    return Affiliation::none;
}

Role Room::default_role(Affiliation a) const {
    switch (a) {
        case Affiliation::owner:
        case Affiliation::admin: return Role::moderator;
        case Affiliation::member: return Role::participant;
        case Affiliation::none: return config_.moderated ? Role::visitor : Role::participant;
        case Affiliation::outcast: return Role::none;
    }
    return Role::none;
}

size_t Room::history_length() const {
    return config_.history_length ? std::min(*config_.history_length, limits_.history_length) : limits_.history_length;
}

size_t Room::max_users() const {
    return config_.max_users ? std::min(config_.max_users, limits_.max_occupants) : limits_.max_occupants;
}

bool Room::sees_real_jids(const xmpp::Jid& to) const {
    // Semi-anonymous rooms show real JIDs to moderators only.
    if (config_.whois_anyone) return true;
    for (const auto& o : occupants_)
        if (o.role == Role::moderator && o.bare == to.bare()) return true;
    return false;
}

std::string Room::occupant_id(const xmpp::Jid& real) const {
    const std::string bare = real.bare_str();
    unsigned char mac[32];
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, occupant_secret_.data(), occupant_secret_.size(), bare.data(), bare.size(), mac);
    return xmpp::base64_encode(std::string_view(reinterpret_cast<const char*>(mac), 18));
}

void Room::add_occupant_id(xml::Element& stanza, const xmpp::Jid& real) const {
    stanza.add_child("occupant-id", kNsOccupantId).set_attr("id", occupant_id(real));
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
    item.set_attr("affiliation", name_of(affiliation_of(o.bare)));
    item.set_attr("role", name_of(unavailable && new_nick.empty() ? Role::none : o.role));
    if (!new_nick.empty()) item.set_attr("nick", new_nick);
    if (sees_real_jids(to) && !o.sessions.empty()) item.set_attr("jid", o.sessions.front().str());
    for (int code : codes) x.add_child("status", kNsMucUser).set_attr("code", std::to_string(code));
    add_occupant_id(p, o.bare);
    return p;
}

void Room::to_all(const Occupant& o, bool unavailable, const std::vector<int>& codes_for_others,
                  const std::vector<int>& codes_for_self, const std::string& new_nick) {
    for (const auto& other : occupants_)
        for (const auto& s : other.sessions)
            out_(presence_of(o, s, unavailable, &other == &o ? codes_for_self : codes_for_others, new_nick));
}

// --- Presence: joining, changing, leaving ---

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
    if (!within_rate(from)) {
        // Each change goes to every occupant: at the same rate as messages.
        error(stanza, from, StanzaError::wait("resource-constraint", "you are changing faster than this room allows"));
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

bool Room::password_accepted(const xml::Element* muc_x) const {
    const xml::Element* pw = muc_x ? muc_x->child("password", kNsMuc) : nullptr;
    return pw && password_matches(config_.secret, pw->text());
}

void Room::join(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick) {
    if (destroyed_) {
        error(stanza, from, StanzaError::cancel("item-not-found", "the room was destroyed"));
        return;
    }
    const Affiliation aff = affiliation_of(from);
    const bool creating = occupants_.empty() && locked_ && from.bare() == creator_.bare();
    if (locked_ && !creating && !(aff == Affiliation::owner && by_nick(nick) && by_nick(nick)->bare == from.bare())) {
        // §10.1.1: a room being created admits nobody else until its owner
        // has configured it.
        error(stanza, from, StanzaError::cancel("item-not-found", "the room is being created; try again when its owner has configured it"));
        return;
    }
    if (internal() && outsider(from)) {
        error(stanza, from, StanzaError::cancel("not-allowed", "this room admits only users of the organisation's own domains"));
        return;
    }
    // §7.2: a ban, members-only, the password, then the nickname and the size.
    if (aff == Affiliation::outcast) {
        error(stanza, from, StanzaError::auth("forbidden", "you are banned from this room"));
        return;
    }
    if (config_.members_only && aff < Affiliation::member) {
        error(stanza, from, StanzaError::auth("registration-required", "this room admits its members only"));
        return;
    }
    const xml::Element* x = stanza.child("x", kNsMuc);
    if (!config_.secret.empty() && aff < Affiliation::admin) {
        // Each try costs the room's worker a PBKDF2: guesses are rate-limited
        // per person like messages.
        if (!within_rate(from)) {
            error(stanza, from, StanzaError::wait("resource-constraint", "too many tries; wait a little"));
            return;
        }
        if (!password_accepted(x)) {
            error(stanza, from, StanzaError::auth("not-authorized", "this room needs its password"));
            return;
        }
    }
    // After the checks above, so that those refused learn nothing of who is in.
    if (const std::string* owner = registered_to(nick); owner && *owner != from.bare_str()) {
        error(stanza, from, StanzaError::cancel("conflict", "that nickname is registered to someone else in this room"));
        return;
    }
    Occupant* same = by_nick(nick);
    if (same && same->bare != from.bare()) {
        error(stanza, from, StanzaError::cancel("conflict", "that nickname is in use in this room"));
        return;
    }
    const xml::Element* history = x ? x->child("history", kNsMuc) : nullptr;
    if (same) {
        // Another client of the same person under the same nickname: it
        // shares the occupant (one presence in the room).
        same->sessions.push_back(from);
        send_join_sequence(*same, from, history, false);
        return;
    }
    // Admins and owners are admitted beyond the room's own maximum, never
    // beyond the service's.
    if (occupants_.size() >= limits_.max_occupants ||
        (occupants_.size() >= max_users() && aff < Affiliation::admin)) {
        error(stanza, from, StanzaError::wait("service-unavailable", "the room is full"));
        return;
    }
    Occupant o;
    o.nick = nick;
    o.bare = from.bare();
    o.sessions.push_back(from);
    o.status = status_of(stanza);
    o.role = default_role(aff);
    occupants_.push_back(std::move(o));
    Occupant& me = occupants_.back();
    // Everyone else learns of the newcomer; the newcomer gets the room.
    for (const auto& other : occupants_)
        if (&other != &me)
            for (const auto& s : other.sessions) out_(presence_of(me, s, false, {}));
    send_join_sequence(me, from, history, creating);
    if (outsider(from)) outsider_notice(nullptr);  // everyone: someone from elsewhere is here
    else outsider_notice(&from);                   // the newcomer: who from elsewhere is here
}

void Room::set_limits(const RoomLimits& limits) {
    const bool now_internal = limits.internal_only && !internal();
    limits_ = limits;
    if (!now_internal) return;
    std::vector<std::string> gone;
    for (const auto& o : occupants_)
        if (outsider(o.bare)) gone.push_back(o.bare.bare_str());
    for (const auto& bare : gone)
        remove_all_of(bare, 307, Affiliation::none,
                      Because{{}, "the service now admits only users of the organisation's own domains"});
}

void Room::outsider_notice(const xmpp::Jid* to) {
    std::vector<std::string> domains;
    for (const auto& o : occupants_)
        if (outsider(o.bare) && std::find(domains.begin(), domains.end(), o.bare.domain()) == domains.end())
            domains.push_back(o.bare.domain());
    if (domains.empty()) return;
    std::string list;
    for (const auto& d : domains) list += (list.empty() ? "" : ", ") + d;
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", jid_.bare_str());
    m.set_attr("type", "groupchat");
    m.add_child("body", std::string(xmpp::kNsClient))
        .add_text("Notice: people from outside the organisation are in this room (" + list +
                  "). What is said here reaches them.");
    if (to) {
        m.set_attr("to", to->str());
        out_(std::move(m));
        return;
    }
    to_everyone(std::move(m));
}

void Room::to_everyone(xml::Element m) {
    xml::share_children(m, xmpp::kNsClient);
    for (const auto& o : occupants_)
        for (const auto& s : o.sessions) {
            xml::Element copy = m;
            copy.set_attr("to", s.str());
            out_(std::move(copy));
        }
}

bool Room::within_rate(const xmpp::Jid& who) {
    if (limits_.rate == 0) return true;
    // Per person (bare JID), kept when they leave and join again; bounded.
    if (buckets_.size() > kMaxBuckets) buckets_.clear();
    Bucket& b = buckets_[who.bare_str()];
    const int64_t now = clock_();
    const double burst = static_cast<double>(std::max<uint32_t>(limits_.burst, 1));
    if (b.tokens < 0) {
        b.tokens = burst;
    } else {
        const double refill = static_cast<double>(std::max<int64_t>(now - b.at_ms, 0)) * limits_.rate / 1000.0;
        b.tokens = std::min(burst, b.tokens + refill);
    }
    b.at_ms = now;
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
}

void Room::send_join_sequence(const Occupant& me, const xmpp::Jid& to, const xml::Element* history, bool created) {
    // §7.2.3: the other occupants' presence, then one's own (110; 100 in a
    // non-anonymous room; 201 when this join made the room), then the
    // history, then the subject.
    for (const auto& other : occupants_)
        if (&other != &me) out_(presence_of(other, to, false, {}));
    std::vector<int> codes;
    if (config_.whois_anyone) codes.push_back(100);
    codes.push_back(110);
    if (archiving()) codes.push_back(170);  // the room is archived
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
    const std::string* owner = registered_to(nick);
    if (by_nick(nick) || (owner && *owner != o.bare.bare_str())) {
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

void Room::leave(const xmpp::Jid& from, const xml::Element* stanza, int code) {
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
            std::vector<int> codes;
            if (code) codes.push_back(code);
            if (&other == o) codes.push_back(110);
            xml::Element p = presence_of(*o, s, true, codes);
            if (stanza)
                if (const xml::Element* st = stanza->child("status", xmpp::kNsClient)) p.add_child(*st);
            out_(std::move(p));
        }
    occupants_.erase(occupants_.begin() + (o - occupants_.data()));
}

namespace {

void annotate(xml::Element& presence, const std::string& actor_nick, const std::string& reason) {
    xml::Element* x = presence.child("x", kNsMucUser);
    xml::Element* item = x ? x->child("item", kNsMucUser) : nullptr;
    if (!item) return;
    if (!actor_nick.empty()) item->add_child("actor", kNsMucUser).set_attr("nick", actor_nick);
    if (!reason.empty()) item->add_child("reason", kNsMucUser).add_text(reason);
}

}  // namespace

void Room::remove_occupant(size_t index, int code, Affiliation now, const Because& why) {
    // §8.2, §9.2, §9.4, §9.7: the one removed (110) and everyone else hear
    // it, with the affiliation it now has, who did it and why.
    const Occupant& o = occupants_[index];
    for (const auto& other : occupants_)
        for (const auto& s : other.sessions) {
            std::vector<int> codes{code};
            if (&other == &o) codes.push_back(110);
            xml::Element p = presence_of(o, s, true, codes);
            p.child("x", kNsMucUser)->child("item", kNsMucUser)->set_attr("affiliation", name_of(now));
            annotate(p, why.actor_nick, why.reason);
            out_(std::move(p));
        }
    occupants_.erase(occupants_.begin() + static_cast<ptrdiff_t>(index));
}

void Room::remove_all_of(const std::string& bare, int code, Affiliation now, const Because& why) {
    // Every nickname and every client of that person, at once.
    for (size_t i = occupants_.size(); i-- > 0;)
        if (occupants_[i].bare.bare_str() == bare) remove_occupant(i, code, now, why);
}

// --- Messages ---

void Room::message(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick) {
    const std::string_view type = stanza.attr_or("type");
    if (type == "error") {
        // What the room sent an occupant bounced. Only a client that is gone
        // (its session ended without telling the room) leaves, with 333; a
        // refusal by a client still there (it blocks someone, a policy)
        // changes nothing.
        if (by_session(from) && (!session_gone_ || session_gone_(from))) leave(from, nullptr, 333);
        return;
    }
    Occupant* me = by_session(from);
    if (!nick.empty()) {
        private_message(stanza, from, me, nick);
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
        if (const xml::Element* form = stanza.child("x", kNsData)) {
            voice_request(stanza, *form, from, me);
            return;
        }
        error(stanza, from, StanzaError::cancel("feature-not-implemented",
                                                "this room takes groupchat messages, invitations and voice requests"));
        return;
    }
    if (!me) {
        record_refused(stanza, from);
        error(stanza, from, StanzaError::modify("not-acceptable", "only occupants may send messages to the room"));
        return;
    }
    groupchat(stanza, *me, from);
}

void Room::private_message(const xml::Element& stanza, const xmpp::Jid& from, Occupant* me, const std::string& nick) {
    // §7.5: a private message to another occupant, through the room.
    if (!me) {
        error(stanza, from, StanzaError::modify("not-acceptable", "only occupants may send private messages"));
        return;
    }
    const bool allowed = [&] {
        switch (config_.allow_pm) {
            case PmPolicy::anyone: return true;
            case PmPolicy::participants: return me->role >= Role::participant;
            case PmPolicy::moderators: return me->role == Role::moderator;
            case PmPolicy::none: return false;
        }
        return false;
    }();
    if (!allowed) {
        error(stanza, from, StanzaError::auth("forbidden", "this room does not let you send private messages"));
        return;
    }
    if (!within_rate(from)) {
        error(stanza, from, StanzaError::wait("resource-constraint", "you are sending faster than this room allows"));
        return;
    }
    Occupant* to = by_nick(nick);
    if (!to) {
        error(stanza, from, StanzaError::cancel("item-not-found", "nobody of that nickname is in the room"));
        return;
    }
    if (stanza.attr_or("type") == "groupchat") {
        record_refused(stanza, from);
        error(stanza, from, StanzaError::modify("bad-request", "a groupchat message goes to the room's address"));
        return;
    }
    xml::Element m = stanza;
    strip_room_claims(m);
    m.add_child("x", kNsMucUser);
    add_occupant_id(m, me->bare);
    m.set_attr("from", occupant_jid(me->nick).str());
    for (const auto& s : to->sessions) {
        xml::Element copy = m;
        copy.set_attr("to", s.str());
        out_(std::move(copy));
    }
}

void Room::invite(const xml::Element& stanza, const xml::Element& inv, const xmpp::Jid& from, const Occupant* me) {
    // §7.8.2: an occupant invites someone through the room; the room sends
    // the invitation on, saying who invited.
    if (!me) {
        error(stanza, from, StanzaError::modify("not-acceptable", "only occupants may invite others"));
        return;
    }
    if (!within_rate(from)) {
        error(stanza, from, StanzaError::wait("resource-constraint", "you are inviting faster than this room allows"));
        return;
    }
    const Affiliation mine = affiliation_of(from);
    if (config_.members_only && mine < Affiliation::admin && !(config_.allow_invites && mine >= Affiliation::member)) {
        error(stanza, from, StanzaError::auth("forbidden", "only the room's admins and owners may invite to it"));
        return;
    }
    auto to = xmpp::Jid::parse(inv.attr_or("to"));
    if (!to || to->empty() || !to->has_node()) {
        error(stanza, from, StanzaError::modify("jid-malformed", "an invitation names whom it is for in 'to'"));
        return;
    }
    if (affiliation_of(to.value()) == Affiliation::outcast) {
        error(stanza, from, StanzaError::cancel("not-allowed", "that person is banned from this room"));
        return;
    }
    if (internal() && outsider(to.value())) {
        error(stanza, from, StanzaError::cancel("not-allowed", "this room admits only users of the organisation's own domains"));
        return;
    }
    // §9.3: an invitation to a members-only room from one who may invite
    // makes the invitee a member.
    if (config_.members_only && affiliation_of(to.value()) == Affiliation::none) {
        if (affiliations_.size() >= kMaxAffiliations) {
            error(stanza, from, StanzaError::wait("resource-constraint", "this room has as many members as it may"));
            return;
        }
        set_affiliation(to->bare_str(), Affiliation::member, Because{me->nick, {}});
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

void Room::groupchat(const xml::Element& stanza, Occupant& me, const xmpp::Jid& from) {
    if (me.role < Role::participant) {
        // §7.4: without voice (a visitor in a moderated room) one may not speak.
        record_refused(stanza, from);
        error(stanza, from, StanzaError::auth("forbidden", "you have no voice in this room"));
        return;
    }
    if (!within_rate(from)) {
        record_refused(stanza, from);
        error(stanza, from, StanzaError::wait("resource-constraint", "you are sending faster than this room allows"));
        return;
    }
    const xml::Element* subject = stanza.child("subject", xmpp::kNsClient);
    const bool subject_only = subject && !stanza.child("body", xmpp::kNsClient);
    if (subject_only && me.role != Role::moderator && !config_.change_subject) {
        // §8.1: unless the room lets participants, only moderators change the subject.
        record_refused(stanza, from);
        error(stanza, from, StanzaError::auth("forbidden", "only moderators may change the subject"));
        return;
    }
    xml::Element m("message", std::string(xmpp::kNsClient));
    for (const auto& a : stanza.attrs()) m.set_attr(a.name, a.value);
    for (const auto& n : stanza.nodes())
        if (n.is_element() && n.element().name() != "delay") m.add_child(n.element());
    strip_room_claims(m);
    add_occupant_id(m, me.bare);
    m.set_attr("from", occupant_jid(me.nick).str());
    m.set_attr("type", "groupchat");
    m.remove_attr("to");
    // Journaled before anyone sees it; a message the journal cannot take is
    // refused, not sent unrecorded. A subject change alone is in no one's
    // archive, and kept only in compliance mode.
    if (archiving() && (!subject_only || archive_->forced())) {
        auto recorded = archive_->record(*this, m, from, !subject_only, "delivered");
        if (auto* refused = std::get_if<StanzaError>(&recorded)) {
            error(stanza, from, *refused);
            return;
        }
        // Subject changes too: a record that fails takes its copies back by this id.
        xml::Element& sid = m.add_child("stanza-id", kNsSid);
        sid.set_attr("id", archive::stanza_id_text(std::get<uint64_t>(recorded)));
        sid.set_attr("by", jid_.bare_str());
    }
    if (subject_only) {
        subject_ = m;
        changed_ = true;
    } else {
        // Shared before it is kept: history and every occupant's copy hold
        // the same children, serialized once.
        xml::share_children(m, xmpp::kNsClient);
        Said said{m, clock_(), xml::to_string(m, xmpp::kNsClient).size()};
        history_bytes_ += said.chars;
        history_.push_back(std::move(said));
        while (!history_.empty() && (history_.size() > history_length() || history_bytes_ > limits_.history_bytes)) {
            history_bytes_ -= history_.front().chars;
            history_.pop_front();
        }
    }
    to_everyone(std::move(m));
}

const std::string* Room::registered_to(const std::string& nick) const {
    for (const auto& [who, n] : nicks_)
        if (n == nick) return &who;
    return nullptr;
}

void Room::register_iq(const xml::Element& stanza, const xmpp::Jid& from, const xml::Element& query) {
    constexpr const char* kNsRegister = "jabber:iq:register";
    constexpr const char* kRegisterForm = "http://jabber.org/protocol/muc#register";
    const std::string bare = from.bare_str();
    const Affiliation aff = affiliation_of(from);
    if (aff == Affiliation::outcast) {
        error(stanza, from, StanzaError::auth("forbidden", "you are banned from this room"));
        return;
    }
    if (internal() && outsider(from)) {
        error(stanza, from, StanzaError::cancel("not-allowed", "this room admits only users of the organisation's own domains"));
        return;
    }
    if (config_.members_only && aff < Affiliation::member) {
        // A members-only room's admins grant membership; one does not register into it.
        error(stanza, from, StanzaError::auth("registration-required", "only the room's members register a nickname here"));
        return;
    }
    auto mine = nicks_.find(bare);
    if (stanza.attr_or("type") == "get") {
        xml::Element q("query", kNsRegister);
        if (mine != nicks_.end()) {
            q.add_child("registered", kNsRegister);
            q.add_child("username", kNsRegister).add_text(mine->second);
        } else {
            q.add_child("instructions", kNsRegister).add_text("Choose the nickname that is yours in this room.");
            xml::Element& x = q.add_child("x", kNsData);
            x.set_attr("type", "form");
            x.add_child("title", kNsData).add_text("Registration with " + jid_.bare_str());
            x.add_child(field("FORM_TYPE", "hidden", "", kRegisterForm));
            xml::Element& nick = x.add_child(field("muc#register_roomnick", "text-single", "Nickname", ""));
            nick.add_child("required", kNsData);
        }
        result(stanza, from, std::move(q));
        return;
    }
    if (query.child("remove", kNsRegister)) {
        // Cancelling: the nickname is free again (the affiliation stays).
        if (mine != nicks_.end()) {
            nicks_.erase(mine);
            changed_ = true;
        }
        result(stanza, from, std::nullopt);
        return;
    }
    const xml::Element* x = query.child("x", kNsData);
    const auto nick = x ? value_of(*x, "muc#register_roomnick") : std::nullopt;
    if (!nick || nick->empty() || !jid_.with_resource(*nick)) {
        error(stanza, from, StanzaError::modify("not-acceptable", "a registration names a nickname (muc#register_roomnick)"));
        return;
    }
    const std::string* owner = registered_to(*nick);
    const Occupant* using_it = by_nick(*nick);
    if ((owner && *owner != bare) || (using_it && using_it->bare.bare_str() != bare)) {
        error(stanza, from, StanzaError::cancel("conflict", "that nickname is someone else's in this room"));
        return;
    }
    if (aff == Affiliation::none) {
        if (affiliations_.size() >= kMaxAffiliations) {
            error(stanza, from, StanzaError::wait("resource-constraint", "this room has as many members as it may"));
            return;
        }
        set_affiliation(bare, Affiliation::member, Because{});
    }
    nicks_[bare] = *nick;
    changed_ = true;
    result(stanza, from, std::nullopt);
}

void Room::voice_request(const xml::Element& stanza, const xml::Element& form, const xmpp::Jid& from, Occupant* me) {
    constexpr const char* kRequest = "http://jabber.org/protocol/muc#request";
    if (value_of(form, "FORM_TYPE") != kRequest) {
        error(stanza, from, StanzaError::cancel("feature-not-implemented", "the room knows no such form"));
        return;
    }
    if (!me) {
        error(stanza, from, StanzaError::modify("not-acceptable", "only occupants ask for voice"));
        return;
    }
    if (me->role == Role::moderator && form.attr_or("type") == "submit" && value_of(form, "muc#request_allow")) {
        // §8.6: a moderator's answer.
        auto allow = read_bool(*value_of(form, "muc#request_allow"));
        Occupant* target = by_nick(value_of(form, "muc#roomnick").value_or(""));
        if (!allow || !target) {
            error(stanza, from, StanzaError::modify("bad-request", "the answer names an occupant (muc#roomnick) and muc#request_allow"));
            return;
        }
        target->asked_for_voice = false;
        if (!*allow || target->role != Role::visitor) return;  // declined, or granted meanwhile
        if (auto refused = may_set_role(me, *target, Role::participant)) {
            error(stanza, from, *refused);
            return;
        }
        set_role(*target, Role::participant, Because{me->nick, {}});
        return;
    }
    // §7.13: a visitor asks; every moderator gets the approval form (once
    // until it is answered).
    if (me->role != Role::visitor) {
        error(stanza, from, StanzaError::modify("not-acceptable", "you have voice already"));
        return;
    }
    if (me->asked_for_voice) return;
    me->asked_for_voice = true;
    xml::Element x("x", kNsData);
    x.set_attr("type", "form");
    x.add_child("title", kNsData).add_text("Voice request");
    x.add_child("instructions", kNsData)
        .add_text("To give this person voice, check \"Grant voice\" and submit; to skip the request, cancel.");
    x.add_child(field("FORM_TYPE", "hidden", "", kRequest));
    x.add_child(field("muc#role", "list-single", "Requested role", "participant"));
    x.add_child(field("muc#jid", "jid-single", "User ID", from.str()));
    x.add_child(field("muc#roomnick", "text-single", "Room nickname", me->nick));
    x.add_child(field("muc#request_allow", "boolean", "Grant voice?", "false"));
    for (const auto& o : occupants_) {
        if (o.role != Role::moderator) continue;
        for (const auto& s : o.sessions) {
            xml::Element m("message", std::string(xmpp::kNsClient));
            m.set_attr("from", jid_.bare_str());
            m.set_attr("to", s.str());
            m.set_attr("id", "voice-" + me->nick);
            m.add_child(x);
            out_(std::move(m));
        }
    }
}

void Room::relay_iq(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick) {
    const std::string_view type = stanza.attr_or("type");
    if (type == "result" || type == "error") {
        // An answer to a relayed request: back to the asker, under its id.
        const std::string id(stanza.attr_or("id"));
        auto it = std::find_if(relays_.begin(), relays_.end(), [&](const auto& r) { return r.first == id; });
        if (it == relays_.end() || it->second.answerer != from) return;
        xml::Element answer = stanza;
        answer.set_attr("from", occupant_jid(it->second.answerer_nick).str());
        answer.set_attr("to", it->second.asker.str());
        answer.set_attr("id", it->second.asker_id);
        relays_.erase(it);
        out_(std::move(answer));
        return;
    }
    const Occupant* me = by_session(from);
    if (!me) {
        error(stanza, from, StanzaError::modify("not-acceptable", "only occupants send requests to other occupants"));
        return;
    }
    const Occupant* to = by_nick(nick);
    if (!to || to->sessions.empty()) {
        error(stanza, from, StanzaError::cancel("item-not-found", "nobody of that nickname is in the room"));
        return;
    }
    if (!within_rate(from)) {
        error(stanza, from, StanzaError::wait("resource-constraint", "you are asking faster than this room allows"));
        return;
    }
    const std::string id = "muc-relay-" + std::to_string(++next_relay_);
    relays_.emplace_back(id, Relay{from, std::string(stanza.attr_or("id")), to->sessions.front(), to->nick});
    if (relays_.size() > kMaxRelays) relays_.pop_front();
    xml::Element request = stanza;
    request.set_attr("from", occupant_jid(me->nick).str());
    request.set_attr("to", to->sessions.front().str());
    request.set_attr("id", id);
    out_(std::move(request));
}

void Room::record_refused(const xml::Element& stanza, const xmpp::Jid& from) {
    if (!archive_ || !archive_->forced() || stanza.attr_or("type") != "groupchat") return;
    xml::Element m = stanza;
    m.set_attr("from", from.str());
    m.set_attr("to", jid_.bare_str());
    (void)archive_->record(*this, m, from, false, "bounced");
}

void Room::forget(uint64_t id) {
    const std::string text = archive::stanza_id_text(id);
    for (auto it = history_.begin(); it != history_.end(); ++it) {
        const xml::Element* sid = it->stanza.child("stanza-id", kNsSid);
        if (sid && sid->attr_or("id") == text) {
            history_bytes_ -= it->chars;
            history_.erase(it);
            return;
        }
    }
}

// --- Requests ---

void Room::iq(const xml::Element& stanza, const xmpp::Jid& from, const std::string& nick) {
    const std::string_view type = stanza.attr_or("type");
    if (type != "get" && type != "set") {
        if (!nick.empty()) relay_iq(stanza, from, nick);
        return;
    }
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
        relay_iq(stanza, from, nick);
        return;
    }
    if (locked_ && affiliation_of(from) != Affiliation::owner) {
        // A room being created is nobody's business but its owner's.
        error(stanza, from, StanzaError::cancel("item-not-found", "no such room"));
        return;
    }
    if (type == "get" && q->name() == "query" && q->ns() == kNsDiscoInfo) {
        if (q->attr_or("node") == "x-roomuser-item") {
            // §7.12: the nickname the asker registered, if any.
            xml::Element info("query", kNsDiscoInfo);
            info.set_attr("node", "x-roomuser-item");
            if (auto it = nicks_.find(from.bare_str()); it != nicks_.end()) {
                xml::Element& id = info.add_child("identity", kNsDiscoInfo);
                id.set_attr("category", "conference");
                id.set_attr("type", "text");
                id.set_attr("name", it->second);
            }
            result(stanza, from, std::move(info));
            return;
        }
        if (!q->attr_or("node").empty()) {
            error(stanza, from, StanzaError::cancel("item-not-found", "no such node"));
            return;
        }
        result(stanza, from, disco_info());
        return;
    }
    if (type == "get" && q->name() == "query" && q->ns() == kNsDiscoItems) {
        // §6.5: the occupants are not listed.
        result(stanza, from, xml::Element("query", kNsDiscoItems));
        return;
    }
    if (q->name() == "query" && q->ns() == kNsMucOwner) {
        owner_iq(stanza, from, *q);
        return;
    }
    if (q->name() == "query" && q->ns() == kNsMucAdmin) {
        admin_iq(stanza, from, *q);
        return;
    }
    if (q->ns() == kNsMam) {
        mam_iq(stanza, from);
        return;
    }
    if (q->name() == "query" && q->ns() == "jabber:iq:register") {
        register_iq(stanza, from, *q);
        return;
    }
    if (type == "set" && q->name() == "moderate" && q->ns() == kNsModerate) {
        // XEP-0425 0.3: <moderate id='stanza-id'><retract/><reason/></moderate>.
        if (!q->child("retract", kNsRetract)) {
            error(stanza, from, StanzaError::cancel("feature-not-implemented", "a moderation here is a retraction"));
            return;
        }
        const xml::Element* reason = q->child("reason", kNsModerate);
        moderate(stanza, from, std::string(q->attr_or("id")), reason ? reason->text() : std::string());
        return;
    }
    if (type == "set" && q->name() == "apply-to" && q->ns() == kNsFasten) {
        // XEP-0425 0.2: <apply-to id='stanza-id'><moderate><retract/><reason/></moderate></apply-to>.
        const xml::Element* m = q->child("moderate", kNsModerate0);
        if (!m || !m->child("retract", kNsRetract0)) {
            error(stanza, from, StanzaError::cancel("feature-not-implemented", "a moderation here is a retraction"));
            return;
        }
        const xml::Element* reason = m->child("reason", kNsModerate0);
        moderate(stanza, from, std::string(q->attr_or("id")), reason ? reason->text() : std::string());
        return;
    }
    error(stanza, from, StanzaError::cancel("service-unavailable", "the room does not answer that request"));
}

xml::Element Room::config_form() const {
    // §10.2: every option this room has.
    xml::Element x("x", kNsData);
    x.set_attr("type", "form");
    x.add_child("title", kNsData).add_text("Configuration of " + jid_.bare_str());
    x.add_child(field("FORM_TYPE", "hidden", "", kRoomConfig));
    x.add_child(field("muc#roomconfig_roomname", "text-single", "Name", config_.name));
    x.add_child(field("muc#roomconfig_roomdesc", "text-single", "Description", config_.description));
    x.add_child(field("muc#roomconfig_persistentroom", "boolean", "Keep the room when it is empty",
                      config_.persistent ? "1" : "0"));
    x.add_child(field("muc#roomconfig_publicroom", "boolean", "List the room in the directory",
                      config_.public_room ? "1" : "0"));
    x.add_child(field("muc#roomconfig_membersonly", "boolean", "Members only", config_.members_only ? "1" : "0"));
    x.add_child(field("muc#roomconfig_moderatedroom", "boolean", "Only those with voice may speak",
                      config_.moderated ? "1" : "0"));
    x.add_child(field("muc#roomconfig_passwordprotectedroom", "boolean", "Needs a password",
                      config_.secret.empty() ? "0" : "1"));
    // The password itself is not kept, so it is never shown: an empty value
    // submitted back keeps the current one.
    x.add_child(field("muc#roomconfig_roomsecret", "text-private", "Password", ""));
    x.add_child(field("muc#roomconfig_maxusers", "text-single",
                      "Most occupants (up to " + std::to_string(limits_.max_occupants) + ")",
                      std::to_string(max_users())));
    x.add_child(list_field("muc#roomconfig_whois", "Who may see real addresses",
                           config_.whois_anyone ? "anyone" : "moderators",
                           {{"moderators", "Moderators only"}, {"anyone", "Anyone"}}));
    x.add_child(field("muc#roomconfig_changesubject", "boolean", "Participants may change the subject",
                      config_.change_subject ? "1" : "0"));
    x.add_child(field("muc#roomconfig_allowinvites", "boolean", "Members may invite others",
                      config_.allow_invites ? "1" : "0"));
    x.add_child(list_field("muc#roomconfig_allowpm", "Who may send private messages", pm_name(config_.allow_pm),
                           {{"anyone", "Anyone"}, {"participants", "Participants"},
                            {"moderators", "Moderators"}, {"none", "Nobody"}}));
    x.add_child(field("parley#roomconfig_internal", "boolean",
                      limits_.internal_only ? "Only the organisation's own users (every room of this service)"
                                            : "Only the organisation's own users",
                      internal() ? "1" : "0"));
    if (archive_)
        x.add_child(field("muc#roomconfig_enablearchiving", "boolean",
                          archive_->forced() ? "Archive the room's messages (always, in compliance mode)"
                                             : "Archive the room's messages",
                          archiving() ? "1" : "0"));
    x.add_child(field("muc#maxhistoryfetch", "text-single",
                      "Messages of history for those who join (up to " + std::to_string(limits_.history_length) + ")",
                      std::to_string(history_length())));
    return x;
}

std::optional<StanzaError> Room::apply_config(const xml::Element& form) {
    // All or nothing: every field is checked before anything changes.
    RoomConfig next = config_;
    if (auto v = value_of(form, "muc#roomconfig_roomname")) next.name = *v;
    if (auto v = value_of(form, "muc#roomconfig_roomdesc")) next.description = *v;
    struct Flag {
        const char* var;
        bool RoomConfig::*into;
    };
    for (const Flag& f : {Flag{"muc#roomconfig_persistentroom", &RoomConfig::persistent},
                          Flag{"muc#roomconfig_publicroom", &RoomConfig::public_room},
                          Flag{"muc#roomconfig_membersonly", &RoomConfig::members_only},
                          Flag{"muc#roomconfig_moderatedroom", &RoomConfig::moderated},
                          Flag{"muc#roomconfig_changesubject", &RoomConfig::change_subject},
                          Flag{"muc#roomconfig_allowinvites", &RoomConfig::allow_invites},
                          Flag{"muc#roomconfig_enablearchiving", &RoomConfig::archived},
                          Flag{"parley#roomconfig_internal", &RoomConfig::internal}}) {
        auto v = value_of(form, f.var);
        if (!v) continue;
        auto b = read_bool(*v);
        if (!b) return StanzaError::modify("bad-request", std::string(f.var) + " is a boolean (0 or 1)");
        next.*f.into = *b;
    }
    if (auto v = value_of(form, "muc#roomconfig_whois")) {
        if (*v != "anyone" && *v != "moderators")
            return StanzaError::modify("bad-request", "muc#roomconfig_whois is 'moderators' or 'anyone'");
        next.whois_anyone = *v == "anyone";
    }
    if (auto v = value_of(form, "muc#roomconfig_allowpm")) {
        auto p = pm_named(*v);
        if (!p) return StanzaError::modify("bad-request", "muc#roomconfig_allowpm is anyone, participants, moderators or none");
        next.allow_pm = *p;
    }
    if (auto v = value_of(form, "muc#roomconfig_maxusers")) {
        auto n = read_count(*v);
        if (!n || *n == 0 || *n > limits_.max_occupants)
            return StanzaError::modify("not-acceptable", "muc#roomconfig_maxusers is a number from 1 to " +
                                                             std::to_string(limits_.max_occupants));
        next.max_users = *n;
    }
    if (auto v = value_of(form, "muc#maxhistoryfetch")) {
        auto n = read_count(*v);
        if (!n || *n > limits_.history_length)
            return StanzaError::modify("not-acceptable", "muc#maxhistoryfetch is a number from 0 to " +
                                                             std::to_string(limits_.history_length));
        next.history_length = *n;
    }
    const auto protect = value_of(form, "muc#roomconfig_passwordprotectedroom");
    const auto secret = value_of(form, "muc#roomconfig_roomsecret");
    std::optional<bool> wants_password;
    if (protect) {
        wants_password = read_bool(*protect);
        if (!wants_password)
            return StanzaError::modify("bad-request", "muc#roomconfig_passwordprotectedroom is a boolean (0 or 1)");
    }
    if (wants_password == false) {
        next.secret.clear();
    } else if (secret && !secret->empty()) {
        auto cred = password_credential(*secret);
        if (!cred) return StanzaError::wait("internal-server-error", "the password could not be kept: " + cred.status().message());
        next.secret = std::move(cred).value();
    } else if (wants_password == true && next.secret.empty()) {
        return StanzaError::modify("not-acceptable", "a room that needs a password needs muc#roomconfig_roomsecret");
    }
    if (!next.archived && archive_ && archive_->forced())
        return StanzaError::modify("not-acceptable", "this server archives every room (compliance mode)");
    if (!next.internal && limits_.internal_only)
        return StanzaError::modify("not-acceptable", "every room of this service admits only the organisation's own users");
    const bool whois_changed = next.whois_anyone != config_.whois_anyone;
    const bool now_members_only = next.members_only && !config_.members_only;
    const bool now_internal = next.internal && !config_.internal;
    config_ = std::move(next);
    changed_ = true;
    if (now_members_only) {
        // §9.5 (a room made members-only): those who are not members leave (322).
        std::vector<std::string> gone;
        for (const auto& o : occupants_)
            if (affiliation_of(o) < Affiliation::member) gone.push_back(o.bare.bare_str());
        for (const auto& bare : gone) remove_all_of(bare, 322, Affiliation::none, Because{});
    }
    if (now_internal) {
        // Made internal: those from elsewhere leave (kicked, with the reason).
        std::vector<std::string> gone;
        for (const auto& o : occupants_)
            if (outsider(o.bare)) gone.push_back(o.bare.bare_str());
        for (const auto& bare : gone)
            remove_all_of(bare, 307, Affiliation::none,
                          Because{{}, "the room now admits only users of the organisation's own domains"});
    }
    if (!locked_) announce_config_change(whois_changed);
    return std::nullopt;
}

void Room::announce_config_change(bool whois_changed) {
    // §10.2.1: occupants are told that the configuration changed (104), and
    // whether real JIDs are now shown to everyone (172) or not (173).
    std::vector<int> codes{104};
    if (whois_changed) codes.push_back(config_.whois_anyone ? 172 : 173);
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", jid_.str());
    m.set_attr("type", "groupchat");
    xml::Element& x = m.add_child("x", kNsMucUser);
    for (int c : codes) x.add_child("status", kNsMucUser).set_attr("code", std::to_string(c));
    to_everyone(std::move(m));
}

void Room::owner_iq(const xml::Element& stanza, const xmpp::Jid& from, const xml::Element& query) {
    if (affiliation_of(from) != Affiliation::owner) {
        error(stanza, from, StanzaError::auth("forbidden", "only the room's owners may configure or destroy it"));
        return;
    }
    const std::string_view type = stanza.attr_or("type");
    if (type == "get") {
        xml::Element q("query", kNsMucOwner);
        q.add_child(config_form());
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
    if (auto refused = apply_config(*x)) {
        error(stanza, from, *refused);
        return;
    }
    locked_ = false;  // an instant room (an empty form) or a configured one
    result(stanza, from, std::nullopt);
}

// --- muc#admin: roles and affiliations ---

std::optional<StanzaError> Room::may_set_role(const Occupant* me, const Occupant& target, Role role) const {
    if (!me || me->role != Role::moderator)
        return StanzaError::auth("forbidden", "only moderators change roles");
    const Affiliation theirs = affiliation_of(target);
    if (theirs >= Affiliation::admin && role != Role::moderator)
        // §8.2, §9.7: admins and owners are moderators, and stay so.
        return StanzaError::cancel("not-allowed", "the room's admins and owners cannot be kicked, muted or demoted");
    if ((role == Role::none || role == Role::visitor) && theirs > affiliation_of(*me))
        // §8.2, §8.4: nor those of a higher affiliation than the moderator's.
        return StanzaError::cancel("not-allowed", "a moderator cannot kick or mute someone of a higher affiliation");
    if ((role == Role::moderator || target.role == Role::moderator) && affiliation_of(*me) < Affiliation::admin)
        // §9.6, §9.7: only admins and owners grant or revoke moderation.
        return StanzaError::auth("forbidden", "only the room's admins and owners grant or revoke moderation");
    return std::nullopt;
}

std::optional<StanzaError> Room::may_set_affiliation(const xmpp::Jid& actor, const std::string& target, Affiliation to,
                                                     const std::map<std::string, Affiliation>& affs) const {
    auto lookup = [&](const std::string& key) {
        auto it = affs.find(key);
        return it == affs.end() ? Affiliation::none : it->second;
    };
    const Affiliation mine = [&] {
        Affiliation a = lookup(actor.bare_str());
        return a != Affiliation::none ? a : lookup(actor.domain());
    }();
    if (mine < Affiliation::admin)
        return StanzaError::auth("forbidden", "only the room's admins and owners change affiliations");
    // What the target has now: its own entry, else its domain's.
    Affiliation theirs = lookup(target);
    if (theirs == Affiliation::none && target.find('@') != std::string::npos)
        theirs = lookup(target.substr(target.find('@') + 1));
    if (mine == Affiliation::admin) {
        // §9: admins manage members and outcasts; owners manage admins and owners (§10).
        if (to >= Affiliation::admin)
            return StanzaError::auth("forbidden", "only the room's owners make admins and owners");
        if (theirs >= Affiliation::admin)
            return StanzaError::cancel("not-allowed", "only the room's owners change an admin's or owner's affiliation");
    }
    if (lookup(target) == Affiliation::owner && to != Affiliation::owner) {
        size_t owners = 0;
        for (const auto& [who, a] : affs)
            if (a == Affiliation::owner) ++owners;
        if (owners <= 1)
            // §10.6: a room always has an owner.
            return StanzaError::cancel("conflict", "the room's last owner stays owner; make someone else owner first");
    }
    if (to != Affiliation::none && lookup(target) == Affiliation::none && affs.size() >= kMaxAffiliations)
        return StanzaError::wait("resource-constraint", "this room has as many affiliations as it may");
    return std::nullopt;
}

void Room::set_role(Occupant& target, Role role, const Because& why) {
    if (role == Role::none) {
        // §8.2: kicked (307), every client under that nickname.
        remove_occupant(static_cast<size_t>(&target - occupants_.data()), 307, affiliation_of(target), why);
        return;
    }
    target.role = role;
    for (const auto& other : occupants_)
        for (const auto& s : other.sessions) {
            xml::Element p = presence_of(target, s, false, &other == &target ? std::vector<int>{110} : std::vector<int>{});
            annotate(p, why.actor_nick, why.reason);
            out_(std::move(p));
        }
}

void Room::set_affiliation(const std::string& target, Affiliation to, const Because& why) {
    if (to == Affiliation::none) affiliations_.erase(target);
    else affiliations_[target] = to;
    if (to == Affiliation::none || to == Affiliation::outcast) nicks_.erase(target);  // a registration goes with membership
    if (to == Affiliation::outcast && !why.reason.empty()) reasons_[target] = why.reason;
    else reasons_.erase(target);
    changed_ = true;
    // The occupants it concerns: that person, or everyone of that domain.
    std::vector<std::string> concerned;
    for (const auto& o : occupants_) {
        const std::string bare = o.bare.bare_str();
        if ((bare == target || o.bare.domain() == target) &&
            std::find(concerned.begin(), concerned.end(), bare) == concerned.end())
            concerned.push_back(bare);
    }
    for (const auto& bare : concerned) {
        const Affiliation now = affiliation_of(xmpp::Jid::parse(bare).value());
        if (now == Affiliation::outcast) {
            remove_all_of(bare, 301, now, why);  // §9.1: banned
            continue;
        }
        if (config_.members_only && now < Affiliation::member) {
            remove_all_of(bare, 321, now, why);  // §9.4: no longer a member
            continue;
        }
        // §9.3, §9.5, §10.3 ...: the new affiliation and the role it brings, to everyone.
        for (auto& o : occupants_) {
            if (o.bare.bare_str() != bare) continue;
            o.role = default_role(now);
            for (const auto& other : occupants_)
                for (const auto& s : other.sessions) {
                    xml::Element p = presence_of(o, s, false, &other == &o ? std::vector<int>{110} : std::vector<int>{});
                    annotate(p, why.actor_nick, why.reason);
                    out_(std::move(p));
                }
        }
    }
}

void Room::admin_iq(const xml::Element& stanza, const xmpp::Jid& from, const xml::Element& query) {
    Occupant* me = by_session(from);
    if (stanza.attr_or("type") == "get") {
        const xml::Element* item = query.child("item", kNsMucAdmin);
        if (!item) {
            error(stanza, from, StanzaError::modify("bad-request", "a list is asked for with one <item/>"));
            return;
        }
        admin_list(stanza, from, me, *item);
        return;
    }
    // A set: every item is checked before any is applied.
    struct Change {
        std::string nick;            // a role change, of this occupant
        Role role = Role::none;
        std::string jid;             // an affiliation change, of this bare JID or domain
        Affiliation affiliation = Affiliation::none;
        std::string reason;
    };
    std::vector<Change> changes;
    // Each item is checked against the affiliations as the items before it
    // leave them (two owners cannot demote each other in one request).
    std::map<std::string, Affiliation> working = affiliations_;
    for (const xml::Element& item : query.children()) {
        if (item.name() != "item" || item.ns() != kNsMucAdmin) continue;
        Change c;
        if (const xml::Element* r = item.child("reason", kNsMucAdmin)) c.reason = r->text();
        const bool has_role = item.attr("role") != nullptr, has_aff = item.attr("affiliation") != nullptr;
        if (has_role == has_aff) {
            error(stanza, from, StanzaError::modify("bad-request", "each item changes either a role or an affiliation"));
            return;
        }
        if (has_role) {
            auto role = role_named(item.attr_or("role"));
            if (!role) {
                error(stanza, from, StanzaError::modify("bad-request", "no such role"));
                return;
            }
            c.role = *role;
            const Occupant* target = by_nick(std::string(item.attr_or("nick")));
            if (!target) {
                error(stanza, from, StanzaError::cancel("item-not-found", "nobody of that nickname is in the room"));
                return;
            }
            c.nick = target->nick;
            if (auto refused = may_set_role(me, *target, c.role)) {
                error(stanza, from, *refused);
                return;
            }
        } else {
            auto aff = affiliation_named(item.attr_or("affiliation"));
            if (!aff) {
                error(stanza, from, StanzaError::modify("bad-request", "no such affiliation"));
                return;
            }
            c.affiliation = *aff;
            if (item.attr("jid")) {
                auto key = affiliation_key(item.attr_or("jid"));
                if (!key) {
                    error(stanza, from, StanzaError::modify("jid-malformed", "an item's jid is a bare JID or a domain"));
                    return;
                }
                c.jid = *key;
            } else if (const Occupant* o = by_nick(std::string(item.attr_or("nick")))) {
                c.jid = o->bare.bare_str();
            } else {
                error(stanza, from, StanzaError::cancel("item-not-found", "an item names a jid, or the nickname of an occupant"));
                return;
            }
            if (auto refused = may_set_affiliation(from, c.jid, c.affiliation, working)) {
                error(stanza, from, *refused);
                return;
            }
            if (c.affiliation == Affiliation::none) working.erase(c.jid);
            else working[c.jid] = c.affiliation;
        }
        changes.push_back(std::move(c));
    }
    if (changes.empty()) {
        error(stanza, from, StanzaError::modify("bad-request", "nothing to change: no <item/>"));
        return;
    }
    const std::string actor = me ? me->nick : std::string();
    for (const auto& c : changes) {
        if (!c.nick.empty()) {
            // Found again by nickname: an earlier change may have removed someone.
            if (Occupant* t = by_nick(c.nick)) set_role(*t, c.role, Because{actor, c.reason});
        } else {
            set_affiliation(c.jid, c.affiliation, Because{actor, c.reason});
        }
    }
    result(stanza, from, std::nullopt);
}

void Room::admin_list(const xml::Element& stanza, const xmpp::Jid& from, const Occupant* me, const xml::Element& item) {
    xml::Element q("query", kNsMucAdmin);
    if (item.attr("affiliation")) {
        auto aff = affiliation_named(item.attr_or("affiliation"));
        if (!aff || *aff == Affiliation::none) {
            error(stanza, from, StanzaError::modify("bad-request", "lists are of outcast, member, admin or owner"));
            return;
        }
        // §9.1, §9.5: admins see the ban and member lists; §10.5, §10.8:
        // owners see the owner and admin lists.
        const Affiliation mine = affiliation_of(from);
        const Affiliation needed = *aff >= Affiliation::admin ? Affiliation::owner : Affiliation::admin;
        if (mine < needed) {
            error(stanza, from, StanzaError::auth("forbidden", std::string("only the room's ") +
                                                                   (needed == Affiliation::owner ? "owners" : "admins and owners") +
                                                                   " see that list"));
            return;
        }
        for (const auto& [who, a] : affiliations_) {
            if (a != *aff) continue;
            xml::Element& i = q.add_child("item", kNsMucAdmin);
            i.set_attr("affiliation", name_of(a));
            i.set_attr("jid", who);
            if (auto n = nicks_.find(who); n != nicks_.end()) i.set_attr("nick", n->second);
            if (auto why = reasons_.find(who); why != reasons_.end())
                i.add_child("reason", kNsMucAdmin).add_text(why->second);
        }
    } else if (item.attr("role")) {
        auto role = role_named(item.attr_or("role"));
        if (!role || *role == Role::none) {
            error(stanza, from, StanzaError::modify("bad-request", "lists are of moderators, participants or visitors"));
            return;
        }
        // §8.5, §9.8: moderators see who has voice and who moderates.
        if (!me || me->role != Role::moderator) {
            error(stanza, from, StanzaError::auth("forbidden", "only moderators see that list"));
            return;
        }
        for (const auto& o : occupants_) {
            if (o.role != *role) continue;
            xml::Element& i = q.add_child("item", kNsMucAdmin);
            i.set_attr("affiliation", name_of(affiliation_of(o)));
            i.set_attr("role", name_of(o.role));
            i.set_attr("nick", o.nick);
            i.set_attr("jid", o.bare.bare_str());
        }
    } else {
        error(stanza, from, StanzaError::modify("bad-request", "a list is of an affiliation or a role"));
        return;
    }
    result(stanza, from, std::move(q));
}

void Room::mam_iq(const xml::Element& stanza, const xmpp::Jid& from) {
    if (!archiving()) {
        error(stanza, from, StanzaError::cancel("service-unavailable", "this room is not archived"));
        return;
    }
    // Only those who may see the room's history now: not the banned, only
    // members of a members-only room, only occupants (or its admins) of a
    // room with a password.
    const Affiliation aff = affiliation_of(from);
    const Occupant* me = by_session(from);
    if (aff == Affiliation::outcast) {
        error(stanza, from, StanzaError::auth("forbidden", "you are banned from this room"));
        return;
    }
    if (internal() && outsider(from)) {
        error(stanza, from, StanzaError::auth("forbidden", "this room's archive is for the organisation's own users"));
        return;
    }
    if (config_.members_only && aff < Affiliation::member) {
        error(stanza, from, StanzaError::auth("forbidden", "only the room's members read its archive"));
        return;
    }
    if (!config_.secret.empty() && !me && aff < Affiliation::admin) {
        error(stanza, from, StanzaError::auth("forbidden", "join the room with its password to read its archive"));
        return;
    }
    archive_->query(*this, stanza, from, aff >= Affiliation::admin || sees_real_jids(from));
}

void Room::moderate(const xml::Element& stanza, const xmpp::Jid& from, const std::string& target_id,
                    const std::string& reason) {
    const Occupant* me = by_session(from);
    if (!me || me->role != Role::moderator) {
        error(stanza, from, StanzaError::auth("forbidden", "only the room's moderators retract messages"));
        return;
    }
    if (!archiving()) {
        error(stanza, from, StanzaError::cancel("service-unavailable", "this room is not archived: its messages have no ids to retract"));
        return;
    }
    auto id = archive::parse_stanza_id(target_id);
    if (!id || !archive_->contains(*this, *id)) {
        error(stanza, from, StanzaError::cancel("item-not-found", "no message of this room has that id"));
        return;
    }
    const std::string by = occupant_jid(me->nick).str();
    const std::string stamp = xmpp::format_datetime(static_cast<uint64_t>(clock_()));
    // What every occupant gets: XEP-0425 0.3 (<retract/>), and 0.2
    // (<apply-to/>) for older clients.
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", jid_.bare_str());
    m.set_attr("type", "groupchat");
    m.set_attr("id", "moderation-" + target_id);
    xml::Element& retract = m.add_child("retract", kNsRetract);
    retract.set_attr("id", target_id);
    xml::Element& moderated = retract.add_child("moderated", kNsModerate);
    moderated.set_attr("by", by);
    add_occupant_id(moderated, me->bare);
    if (!reason.empty()) retract.add_child("reason", kNsRetract).add_text(reason);
    xml::Element& apply = m.add_child("apply-to", kNsFasten);
    apply.set_attr("id", target_id);
    xml::Element& old = apply.add_child("moderated", kNsModerate0);
    old.set_attr("by", by);
    old.add_child("retract", kNsRetract0);
    if (!reason.empty()) old.add_child("reason", kNsModerate0).add_text(reason);
    // The retraction is a record of its own (who, when, why); the original
    // stays in the journal unless the service removes it (retracted()).
    auto recorded = archive_->record(*this, m, from, true, "delivered");
    if (auto* refused = std::get_if<StanzaError>(&recorded)) {
        error(stanza, from, *refused);
        return;
    }
    xml::Element& sid = m.add_child("stanza-id", kNsSid);
    sid.set_attr("id", archive::stanza_id_text(std::get<uint64_t>(recorded)));
    sid.set_attr("by", jid_.bare_str());
    // MAM answers a tombstone from now on.
    xml::Element tomb("moderated", kNsModerate);
    tomb.set_attr("by", by);
    tomb.set_attr("stamp", stamp);
    add_occupant_id(tomb, me->bare);
    if (!reason.empty()) tomb.add_child("reason", kNsModerate).add_text(reason);
    archive_->retracted(*this, *id, tomb);
    forget(*id);
    to_everyone(std::move(m));
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
    changed_ = true;
}

// --- Administration ---

std::optional<StanzaError> Room::admin_affiliation(const std::string& jid, Affiliation a, const std::string& reason) {
    auto key = affiliation_key(jid);
    if (!key) return StanzaError::modify("jid-malformed", "'" + jid + "' is not a bare JID or a domain");
    auto it = affiliations_.find(*key);
    if (it != affiliations_.end() && it->second == Affiliation::owner && a != Affiliation::owner) {
        size_t owners = 0;
        for (const auto& [who, aff] : affiliations_)
            if (aff == Affiliation::owner) ++owners;
        if (owners <= 1) return StanzaError::cancel("conflict", "the room's last owner stays owner; make someone else owner first");
    }
    set_affiliation(*key, a, Because{{}, reason});
    return std::nullopt;
}

std::optional<StanzaError> Room::admin_configure(const std::vector<std::pair<std::string, std::string>>& options) {
    static const std::pair<const char*, const char*> kVars[] = {
        {"name", "muc#roomconfig_roomname"},
        {"description", "muc#roomconfig_roomdesc"},
        {"persistent", "muc#roomconfig_persistentroom"},
        {"public", "muc#roomconfig_publicroom"},
        {"members-only", "muc#roomconfig_membersonly"},
        {"moderated", "muc#roomconfig_moderatedroom"},
        {"password", "muc#roomconfig_roomsecret"},
        {"max-users", "muc#roomconfig_maxusers"},
        {"whois", "muc#roomconfig_whois"},
        {"change-subject", "muc#roomconfig_changesubject"},
        {"allow-invites", "muc#roomconfig_allowinvites"},
        {"allow-pm", "muc#roomconfig_allowpm"},
        {"history", "muc#maxhistoryfetch"},
        {"archived", "muc#roomconfig_enablearchiving"},
        {"internal", "parley#roomconfig_internal"},
    };
    xml::Element form("x", kNsData);
    form.set_attr("type", "submit");
    for (const auto& [name, value] : options) {
        const char* var = nullptr;
        for (const auto& [n, v] : kVars)
            if (name == n) var = v;
        if (!var) return StanzaError::modify("bad-request", "no room option '" + name + "'");
        if (name == "password")
            form.add_child(field("muc#roomconfig_passwordprotectedroom", "", "", value.empty() ? "0" : "1"));
        form.add_child(field(var, "", "", value));
    }
    auto refused = apply_config(form);
    if (!refused) locked_ = false;
    return refused;
}

void Room::shutdown() {
    for (const auto& o : occupants_)
        for (const auto& other : occupants_)
            for (const auto& s : other.sessions) {
                std::vector<int> codes{332};
                if (&other == &o) codes.push_back(110);
                out_(presence_of(o, s, true, codes));
            }
    occupants_.clear();
}

void Room::admin_destroy(const std::string& reason) {
    xml::Element d("destroy", kNsMucOwner);
    if (!reason.empty()) d.add_child("reason", kNsMucOwner).add_text(reason);
    destroy(&d);
}

std::string Room::json() const {
    std::string j = "{\"room\":" + module::json_string(jid_.bare_str()) + ",\"name\":" + module::json_string(config_.name) +
                    ",\"description\":" + module::json_string(config_.description);
    auto flag = [&](const char* key, bool v) { j += std::string(",\"") + key + "\":" + (v ? "true" : "false"); };
    flag("locked", locked_);
    flag("persistent", config_.persistent);
    flag("public", config_.public_room);
    flag("members_only", config_.members_only);
    flag("moderated", config_.moderated);
    flag("password", !config_.secret.empty());
    flag("non_anonymous", config_.whois_anyone);
    flag("internal", internal());
    flag("archived", archiving());
    j += ",\"max_users\":" + std::to_string(max_users()) + ",\"allow_pm\":\"" + pm_name(config_.allow_pm) + "\"";
    j += ",\"creator\":" + module::json_string(creator_.bare_str()) + ",\"affiliations\":[";
    bool first = true;
    for (const auto& [who, a] : affiliations_) {
        j += std::string(first ? "" : ",") + "{\"jid\":" + module::json_string(who) + ",\"affiliation\":\"" +
             name_of(a) + "\"}";
        first = false;
    }
    j += "],\"occupants\":[";
    first = true;
    for (const auto& o : occupants_) {
        j += std::string(first ? "" : ",") + "{\"nick\":" + module::json_string(o.nick) + ",\"jid\":" +
             module::json_string(o.bare.bare_str()) + ",\"role\":\"" + name_of(o.role) + "\",\"affiliation\":\"" +
             name_of(affiliation_of(o)) + "\",\"clients\":" + std::to_string(o.sessions.size()) + "}";
        first = false;
    }
    return j + "]}";
}

std::string Room::text() const {
    std::string t = jid_.bare_str() + (config_.name.empty() ? "" : " \"" + config_.name + "\"") + "\n";
    std::string flags;
    auto flag = [&](bool on, const char* word) {
        if (on) flags += std::string(flags.empty() ? "" : ", ") + word;
    };
    flag(locked_, "locked");
    flag(config_.persistent, "persistent");
    flag(!config_.public_room, "hidden");
    flag(config_.members_only, "members-only");
    flag(config_.moderated, "moderated");
    flag(!config_.secret.empty(), "password");
    flag(config_.whois_anyone, "non-anonymous");
    flag(internal(), "internal");
    flag(archiving(), "archived");
    t += "  " + (flags.empty() ? std::string("open") : flags) + "; at most " + std::to_string(max_users()) + " occupants\n";
    for (const auto& [who, a] : affiliations_) t += std::string("  ") + name_of(a) + " " + who + "\n";
    for (const auto& o : occupants_)
        t += "  occupant " + o.nick + " (" + o.bare.bare_str() + ", " + name_of(o.role) + ")\n";
    return t;
}

xml::Element Room::disco_info() const {
    xml::Element q("query", kNsDiscoInfo);
    xml::Element& id = q.add_child("identity", kNsDiscoInfo);
    id.set_attr("category", "conference");
    id.set_attr("type", "text");
    id.set_attr("name", config_.name.empty() ? jid_.node() : config_.name);
    // §6.4: the room's features, as configured.
    for (const char* f : {kNsMuc, config_.public_room ? "muc_public" : "muc_hidden",
                          config_.members_only ? "muc_membersonly" : "muc_open",
                          config_.moderated ? "muc_moderated" : "muc_unmoderated",
                          config_.whois_anyone ? "muc_nonanonymous" : "muc_semianonymous",
                          config_.secret.empty() ? "muc_unsecured" : "muc_passwordprotected",
                          config_.persistent ? "muc_persistent" : "muc_temporary", kNsPing})
        q.add_child("feature", kNsDiscoInfo).set_attr("var", f);
    q.add_child("feature", kNsDiscoInfo).set_attr("var", kNsOccupantId);
    q.add_child("feature", kNsDiscoInfo).set_attr("var", "jabber:iq:register");
    if (internal()) q.add_child("feature", kNsDiscoInfo).set_attr("var", "urn:xmpp:parley:muc:internal:0");
    if (archiving())
        for (const char* f : {kNsMam, "urn:xmpp:mam:2#extended", kNsSid, kNsModerate, kNsModerate0})
            q.add_child("feature", kNsDiscoInfo).set_attr("var", f);
    xml::Element& x = q.add_child("x", kNsData);
    x.set_attr("type", "result");
    x.add_child(field("FORM_TYPE", "hidden", "", "http://jabber.org/protocol/muc#roominfo"));
    x.add_child(field("muc#roominfo_description", "", "Description", config_.description));
    x.add_child(field("muc#roominfo_occupants", "", "Number of occupants", std::to_string(occupants_.size())));
    x.add_child(field("muc#roomconfig_changesubject", "", "Participants may change the subject",
                      config_.change_subject ? "1" : "0"));
    if (subject_)
        if (const xml::Element* s = subject_->child("subject", xmpp::kNsClient))
            x.add_child(field("muc#roominfo_subject", "", "Subject", s->text()));
    return q;
}

}  // namespace parley::mod_muc

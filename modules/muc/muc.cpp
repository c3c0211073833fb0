#include "muc.hpp"

#include <algorithm>
#include <chrono>
#include <functional>
#include <vector>

#include "../mam/page.hpp"
#include "log/log.hpp"
#include "module/control_json.hpp"
#include "xml/parse_element.hpp"
#include "xml/serializer.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_muc {

namespace {

constexpr const char* kNsDiscoInfo = "http://jabber.org/protocol/disco#info";
constexpr const char* kNsDiscoItems = "http://jabber.org/protocol/disco#items";

int64_t unix_now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Muc& on(module::Host& h) { return static_cast<Muc&>(h.instance()); }

}  // namespace

const char* const kCreate[] = {"anyone", "listed", nullptr};

const config::OptionSpec kOptions[] = {
    {.name = "domain", .type = config::OptionType::string, .default_value = nullptr,
     .help = "the service's domain, a subdomain of the virtual host whose accounts may create rooms", .required = true},
    {"name", config::OptionType::string, "Chatrooms", "the service's name in disco"},
    {"max_occupants", config::OptionType::integer, "200", "occupants a room admits", 1, 100000},
    {"history_length", config::OptionType::integer, "20", "groupchat messages a room keeps for those who join", 0,
     1000},
    {"max_rooms", config::OptionType::integer, "10000", "rooms at once, per worker", 1, 1000000},
    {"max_rooms_per_user", config::OptionType::integer, "10",
     "rooms one account may have made that still exist (counted per worker)", 1, 100000},
    {"history_bytes", config::OptionType::integer, "65536", "most bytes of history a room keeps", 0, 16777216},
    {.name = "create",
     .type = config::OptionType::string,
     .default_value = "anyone",
     .help = "who may create rooms: anyone (every account of the virtual host) or listed (the accounts in creators)",
     .choices = kCreate},
    {"creators", config::OptionType::string_list, "[]", "the accounts that may create rooms when create = \"listed\""},
    {"occupant_rate", config::OptionType::integer, "10",
     "messages a second one person may send through a room, on average (0: no limit)", 0, 100000},
    {"occupant_burst", config::OptionType::integer, "20", "and at once", 1, 100000},
    {"internal_only", config::OptionType::boolean, "false",
     "every room admits only users of the server's own virtual hosts (else each room's choice)"},
    {"moderation_keeps_original", config::OptionType::boolean, "true",
     "the journal keeps a moderated message beside its retraction; false: it is removed from the journal (a "
     "legal hold still keeps it; in compliance mode the journal always keeps it)"},
};
const size_t kOptionCount = std::size(kOptions);

const module::XepInfo kXeps[] = {
    {"0045", "1.35", "partial (not offered: the configuration fields presencebroadcast, getmemberlist, lang, pubsub, "
                     "roomadmins, roomowners, enablelogging): rooms temporary or persistent, instant or configured, members-only, "
                     "password, moderated, hidden; affiliations and roles with kick, ban, voice and lists; join with "
                     "history, nickname changes, groupchat, subject, private messages, mediated invitations, "
                     "multi-session nicknames, registered nicknames, voice requests, iq relayed to occupants, destroy, "
                     "room archives, status 332 when the service stops"},
    {"0410", "1.1.0", "complete: an occupant's self-ping through the room"},
    {"0421", "1.0.1", "complete: an occupant id per person and room on presence and messages"},
    {"0425", "0.3.0", "complete for retractions (0.3 and 0.2 requests); tombstones in the room's MAM"},
    {"0313", "1.1.1", "rooms: MAM on an archived room's address for those who may see its history"},
};

Result<Settings> read_settings(const config::Section& sec) {
    Settings s;
    auto where = config::service_domain(sec, "domain", "conference.example.org");
    if (!where) return where.status();
    s.domain = std::move(where->domain);
    s.vhost = std::move(where->parent);
    s.name = sec.get_string("name", "Chatrooms");
    s.limits.max_occupants = static_cast<size_t>(sec.get_int("max_occupants", 200));
    s.limits.history_length = static_cast<size_t>(sec.get_int("history_length", 20));
    s.max_rooms_per_worker = static_cast<size_t>(sec.get_int("max_rooms", 10000));
    s.max_rooms_per_user = static_cast<size_t>(sec.get_int("max_rooms_per_user", 10));
    s.limits.history_bytes = static_cast<size_t>(sec.get_int("history_bytes", 65536));
    s.limits.rate = static_cast<uint32_t>(sec.get_int("occupant_rate", 10));
    s.limits.burst = static_cast<uint32_t>(sec.get_int("occupant_burst", 20));
    s.limits.internal_only = sec.get_bool("internal_only", false);
    s.keep_moderated = sec.get_bool("moderation_keeps_original", true);
    s.anyone_creates = sec.get_string("create", "anyone") == "anyone";
    for (const std::string& c : sec.get_list("creators")) {
        auto j = xmpp::Jid::parse(c);
        if (!j || !j->has_node() || !j->is_bare())
            return Status::error("config", sec.where("creators") + ": '" + c + "' is not an account's bare JID");
        s.creators.push_back(j->bare_str());
    }
    return s;
}

unsigned owner_of(const std::string& room_bare, unsigned workers) {
    // FNV-1a: the same on every worker and across restarts.
    uint64_t h = 1469598103934665603ULL;
    for (unsigned char c : room_bare) h = (h ^ c) * 1099511628211ULL;
    return workers == 0 ? 0 : static_cast<unsigned>(h % workers);
}

Status Muc::configure(const config::Section& section) {
    auto s = read_settings(section);
    if (!s) return s.status();
    settings_ = std::move(s.value());
    return Status::ok();
}

Status Muc::start(module::Host& host) {
    host_ = &host;
    if (!host.virtual_host(settings_.vhost))
        return Status::error("config", "muc: the domain " + settings_.domain + " must be a subdomain of a virtual "
                                       "host, and " + settings_.vhost + " is not one");
    auto db = host.open_database(module::DatabaseSpec{"rooms", 1, {}, {}});
    if (!db) return db.status();
    db_ = std::move(db).value();
    auto retracted = host.open_database(module::DatabaseSpec{"retracted", 1, {}, {}});
    if (!retracted) return retracted.status();
    retracted_ = std::move(retracted).value();
    claim_room_journal();
    if (Status s = load_rooms(); !s) return s;
    if (host.worker_index() == 0) {
        Status s = host.control_command("room", [this](const std::vector<std::string>& args, module::ControlReply reply) {
            control(args, std::move(reply));
        });
        if (!s) return s;
    }
    return host.domain_handler(settings_.vhost, settings_.domain, [this](module::DomainStanza& d) { handle(d); });
}

Status Muc::reload(const config::Section& section) {
    auto next = read_settings(section);
    if (!next) return next.status();
    if (next->domain != settings_.domain)
        return Status::error("config", section.where("domain") + ": the domain changes only when the module restarts");
    settings_ = std::move(next.value());
    claim_room_journal();  // an archive module added (or made again) by this reload
    own_domains_.clear();
    for (auto& [key, room] : rooms_) room->set_limits(settings_.limits);
    return Status::ok();
}

void Muc::stop() {
    // Temporary rooms end with the module; persistent ones are on disk.
    // Output still held for a write is dropped: the write commits, but its
    // completion is not called once the module stops.
    *alive_ = false;
    held_.clear();
    outbox_.clear();
    // Occupants are told the service went away (status 332).
    for (auto& [key, room] : rooms_) room->shutdown();
    std::vector<xml::Element> goodbyes = std::move(outbox_);
    outbox_.clear();
    if (host_)
        for (auto& e : goodbyes) host_->send(std::move(e));
    if (auto* a = archive(); a && a == claimed_) a->set_room_journal(settings_.domain, false);
    claimed_ = nullptr;
    pending_.clear();
    held_.clear();
    outbox_.clear();
    rooms_.clear();
    db_.reset();
    retracted_.reset();
    host_ = nullptr;
}

void Muc::claim_room_journal() {
    // A service that went away with a reload is not touched: it is gone.
    auto* a = archive();
    if (a == claimed_) return;
    if (a) a->set_room_journal(settings_.domain, true);
    claimed_ = a;
}

uint64_t Muc::begin_write() {
    const uint64_t n = ++issued_;
    pending_.insert(n);
    return n;
}

void Muc::end_write(uint64_t n) {
    pending_.erase(n);
    release();
}

void Muc::release() {
    // Everything held behind writes that have all completed goes, in order.
    const uint64_t done = pending_.empty() ? issued_ : *pending_.begin() - 1;
    while (!held_.empty() && held_.front().after <= done) {
        Held h = std::move(held_.front());
        held_.pop_front();
        held_stanzas_ -= h.out.size();
        if (host_)
            for (auto& e : h.out) host_->send(std::move(e));
        if (h.then) h.then();
    }
}

void Muc::after_writes(std::function<void()> fn) {
    if (held_.empty() && pending_.empty()) {
        fn();
        return;
    }
    held_.push_back(Held{issued_, {}, std::move(fn), 0});
}

std::unique_ptr<Room> Muc::make_room(const xmpp::Jid& jid, const xmpp::Jid& creator) {
    auto room = std::make_unique<Room>(jid, creator, settings_.limits, room_output(), [] { return unix_now_ms(); });
    wire(*room);
    // A new room's archive starts above every record so far, even if the
    // clock went back since one of them (a room of this name that closed).
    if (auto* a = archive()) room->raise_archive_floor(a->last_id() + 1);
    return room;
}

Room::Out Muc::room_output() {
    return [this](xml::Element e) { outbox_.push_back(std::move(e)); };
}

void Muc::wire(Room& room) {
    room.set_archive(this);
    room.set_own_domains([this](std::string_view d) { return own_domain(d); });
    room.set_session_gone([this](const xmpp::Jid& full) { return session_gone(full); });
}

bool Muc::session_gone(const xmpp::Jid& full) {
    // A client of ours is gone when the registry no longer has its session.
    // One of another server is taken as gone when its copy bounced: its
    // server refused it or could not be reached.
    if (!host_ || !own_domain(full.domain())) return true;
    for (const auto& s : host_->sessions_of(full.bare()))
        if (s.full_jid == full) return false;
    return true;
}

bool Muc::own_domain(std::string_view domain) {
    if (auto it = own_domains_.find(domain); it != own_domains_.end()) return it->second;
    if (own_domains_.size() > 10000) own_domains_.clear();  // bounded: domains are remote input
    const bool own = host_ && host_->virtual_host(domain).has_value();
    own_domains_.emplace(std::string(domain), own);
    return own;
}

Status Muc::load_rooms() {
    // Every worker reads the stored rooms and keeps those it owns.
    const unsigned here = host_->worker_index(), workers = host_->worker_count();
    size_t bad = 0;
    Status s = db_->read([&](const store::Txn& txn, MDB_dbi d) {
        return txn.scan(d, "", [&](std::string_view key, std::string_view value) {
            if (owner_of(std::string(key), workers) != here) return true;
            auto record = xml::parse_element(value, kNsRoomRecord, 16);
            Result<std::unique_ptr<Room>> room =
                record ? Room::restore(record.value(), settings_.limits, room_output(), [] { return unix_now_ms(); })
                       : Result<std::unique_ptr<Room>>(record.status());
            if (!room || room.value()->jid().bare_str() != key) {
                // Left on disk as it is, for an admin to look at; nobody
                // makes a new room over it.
                unreadable_.insert(std::string(key));
                log::error("muc", "the stored room {} cannot be read and is not served: {}", key,
                           room ? std::string("its record names another room") : room.status().message());
                ++bad;
                return true;
            }
            stored_.insert(std::string(key));
            wire(*room.value());
            rooms_.emplace(std::string(key), std::move(room).value());
            return true;
        });
    });
    if (!s) return s;
    if (!rooms_.empty() || bad) log::info("muc", "worker {}: {} persistent rooms", here, rooms_.size());
    return Status::ok();
}

void Muc::save(const std::string& key, std::optional<std::string> record) {
    if (!record && !stored_.contains(key)) return;
    const uint64_t n = begin_write();
    saving_ = n;
    Status s = db_->write(
        [key, record](store::Txn& txn, MDB_dbi d) -> Status {
            if (record) return txn.put(d, key, *record);
            auto gone = txn.del(d, key);
            return gone ? Status::ok() : gone.status();
        },
        [this, key, alive = alive_, n, stored = record.has_value()](Status done) {
            if (!*alive) return;
            if (done) {
                if (stored) stored_.insert(key);
                else stored_.erase(key);
            } else {
                // Kept in memory and saved again at the room's next change.
                log::error("muc", "the room {} could not be saved: {}", key, done.message());
                resave_.insert(key);
                tell_unsaved(n);
            }
            end_write(n);
        });
    if (!s) {
        log::error("muc", "the room {} could not be saved: {}", key, s.message());
        resave_.insert(key);
        unsaved_now_ = true;
        end_write(n);
    }
}

namespace {

// An owner's or admin's result, turned into the truth: the change holds
// in memory but is not on disk.
void unsaved_error(xml::Element& e) {
    if (e.name() != "iq" || e.attr_or("type") != "result") return;
    xml::Element r("iq", std::string(xmpp::kNsClient));
    for (const char* a : {"id", "from", "to"})
        if (const std::string* v = e.attr(a)) r.set_attr(a, *v);
    r.set_attr("type", "error");
    xml::Element& err = r.add_child("error", std::string(xmpp::kNsClient));
    err.set_attr("type", "wait");
    err.add_child("internal-server-error", std::string(xmpp::kNsStanzas));
    err.add_child("text", std::string(xmpp::kNsStanzas))
        .add_text("the change applies now but could not be saved: it is saved again at the room's next change, "
                  "and lost if the server stops before");
    e = std::move(r);
}

}  // namespace

void Muc::tell_unsaved(uint64_t n) {
    if (n == 0) {
        for (auto& e : outbox_) unsaved_error(e);
        return;
    }
    for (Held& h : held_)
        if (h.for_write == n)
            for (auto& e : h.out) unsaved_error(e);
}

void Muc::reply_error(const xml::Element& stanza, const StanzaError& e) {
    if (xmpp::is_error_or_result(stanza)) return;
    host_->send(xmpp::make_error_reply(stanza, e));
}

void Muc::handle(module::DomainStanza& d) {
    if (!d.to.has_node()) {
        service_stanza(d);
        return;
    }
    const unsigned owner = owner_of(d.to.bare_str(), host_->worker_count());
    if (owner == host_->worker_index()) {
        at_room(d);
        return;
    }
    auto moved = std::make_shared<module::DomainStanza>(std::move(d));
    if (!host_->post(owner, [moved](module::Host& h) { on(h).at_room(*moved); }))
        reply_error(moved->stanza, StanzaError::wait("service-unavailable", "the room's worker is stopping"));
}

void Muc::at_room(const module::DomainStanza& d) {
    const xml::Element& st = d.stanza;
    const std::string key = d.to.bare_str();
    const std::string& nick = d.to.resource();
    auto it = rooms_.find(key);
    if (it == rooms_.end()) {
        if (st.name() != "presence" || !st.attr_or("type").empty()) {
            if (st.name() == "message" && st.attr_or("type") == "groupchat" && forced()) {
                // Compliance mode: a groupchat message crossed the server,
                // even to a room that is not there.
                current_origin_ = d.origin;
                (void)journal(key, st, d.from, false, "bounced");
            }
            if (st.name() == "iq" || st.name() == "message")
                reply_error(st, StanzaError::cancel("item-not-found", "no such room"));
            return;  // presence to a room that is gone: nothing to do
        }
        if (unreadable_.contains(key)) {
            reply_error(st, StanzaError::cancel("not-allowed", "this room's stored record cannot be read; ask the "
                                                               "administrator"));
            return;
        }
        if (nick.empty()) {
            reply_error(st, StanzaError::modify("jid-malformed", "join a room as room@service/nickname"));
            return;
        }
        // Rooms are made by joining them; only the virtual host's own
        // accounts make rooms.
        if (d.origin != module::Origin::local_client || !d.from.has_node() || d.from.domain() != settings_.vhost) {
            reply_error(st, StanzaError::cancel("not-allowed", "only accounts of " + settings_.vhost +
                                                                   " may create rooms here"));
            return;
        }
        if (!settings_.anyone_creates &&
            std::find(settings_.creators.begin(), settings_.creators.end(), d.from.bare_str()) == settings_.creators.end()) {
            reply_error(st, StanzaError::cancel("not-allowed", "only the accounts this service lists may create rooms"));
            return;
        }
        if (rooms_.size() >= settings_.max_rooms_per_worker) {
            reply_error(st, StanzaError::wait("resource-constraint", "this service holds as many rooms as it may"));
            return;
        }
        const size_t mine = static_cast<size_t>(std::count_if(rooms_.begin(), rooms_.end(), [&](const auto& r) {
            return r.second->creator().bare() == d.from.bare();
        }));
        if (mine >= settings_.max_rooms_per_user) {
            reply_error(st, StanzaError::wait("resource-constraint", "you have made as many rooms as you may"));
            return;
        }
        it = rooms_.emplace(key, make_room(d.to.bare(), d.from)).first;
        log::info("muc", "{} created by {}", key, d.from.bare_str());
    }
    Room& room = *it->second;
    current_origin_ = d.origin;
    if (st.name() == "presence") room.presence(st, d.from, nick);
    else if (st.name() == "message") room.message(st, d.from, nick);
    else if (st.name() == "iq") room.iq(st, d.from, nick);
    settle(key);
}

void Muc::settle(const std::string& key) {
    auto it = rooms_.find(key);
    if (it != rooms_.end()) {
        Room& room = *it->second;
        const bool changed = room.take_changed() || resave_.erase(key) > 0;
        const bool gone = room.destroyed() || (room.empty() && !room.config().persistent);
        if (gone || changed)
            save(key, gone || !room.config().persistent
                          ? std::nullopt
                          : std::optional(xml::to_string(room.snapshot(), kNsRoomRecord)));
        if (gone) {
            log::info("muc", "{} {}", key, room.destroyed() ? "destroyed" : "closed: its last occupant left");
            rooms_.erase(it);
        }
    }
    flush();
}

void Muc::flush() {
    if (std::exchange(unsaved_now_, false)) tell_unsaved(0);
    const uint64_t saving = std::exchange(saving_, 0);
    if (outbox_.empty()) return;
    std::vector<xml::Element> out = std::move(outbox_);
    outbox_.clear();
    if (!held_.empty() || !pending_.empty()) {
        // Behind the writes issued so far: in order, after them.
        held_stanzas_ += out.size();
        held_.push_back(Held{issued_, std::move(out), nullptr, saving});
        return;
    }
    // Taken out first: what is sent may come back here and add (and send) more.
    if (!host_) return;
    for (auto& e : out) host_->send(std::move(e));
}

xml::Element Muc::service_info() const {
    xml::Element q("query", kNsDiscoInfo);
    xml::Element& id = q.add_child("identity", kNsDiscoInfo);
    id.set_attr("category", "conference");
    id.set_attr("type", "text");
    id.set_attr("name", settings_.name);
    for (const char* f : {kNsDiscoInfo, kNsDiscoItems, kNsMuc})
        q.add_child("feature", kNsDiscoInfo).set_attr("var", f);
    return q;
}

void Muc::service_stanza(const module::DomainStanza& d) {
    const xml::Element& st = d.stanza;
    const std::string_view type = st.attr_or("type");
    if (xmpp::is_error_or_result(st) || st.name() == "presence") return;
    if (st.name() != "iq") {
        reply_error(st, StanzaError::cancel("service-unavailable", "the service takes no messages; rooms do"));
        return;
    }
    const xml::Element* q = st.first_child();
    if ((type != "get" && type != "set") || !q || st.child_count() != 1) {
        reply_error(st, StanzaError::modify("bad-request", "an iq request has exactly one payload"));
        return;
    }
    if (!d.to.is_bare()) {
        reply_error(st, StanzaError::cancel("service-unavailable", "only the service's domain answers"));
        return;
    }
    if (type == "get" && q->name() == "query" && q->ns() == kNsDiscoInfo && q->attr_or("node").empty()) {
        xml::Element r("iq", std::string(xmpp::kNsClient));
        r.set_attr("type", "result");
        r.set_attr("id", std::string(st.attr_or("id")));
        r.set_attr("from", d.to.str());
        r.set_attr("to", d.from.str());
        r.add_child(service_info());
        host_->send(std::move(r));
        return;
    }
    if (type == "get" && q->name() == "query" && q->ns() == kNsDiscoItems && q->attr_or("node").empty()) {
        list_rooms(st, d.from);
        return;
    }
    reply_error(st, StanzaError::cancel("service-unavailable", "the service does not answer that request"));
}

void Muc::list_rooms(const xml::Element& iq, const xmpp::Jid& from) {
    // Each worker lists its own rooms; the last to answer sends the reply
    // from the worker that asked.
    struct Gather {
        xml::Element reply{"iq", std::string(xmpp::kNsClient)};
        std::vector<std::pair<std::string, std::string>> rooms;  // jid, name
        unsigned waiting = 0;
    };
    auto g = std::make_shared<Gather>();
    g->reply.set_attr("type", "result");
    g->reply.set_attr("id", std::string(iq.attr_or("id")));
    g->reply.set_attr("from", settings_.domain);
    g->reply.set_attr("to", from.str());
    const unsigned workers = host_->worker_count();
    const unsigned here = host_->worker_index();
    g->waiting = workers;
    auto done = [](module::Host& h, const std::shared_ptr<Gather>& g) {
        (void)h;
        std::sort(g->rooms.begin(), g->rooms.end());
        xml::Element& q = g->reply.add_child("query", kNsDiscoItems);
        for (const auto& [jid, name] : g->rooms) {
            xml::Element& item = q.add_child("item", kNsDiscoItems);
            item.set_attr("jid", jid);
            if (!name.empty()) item.set_attr("name", name);
        }
        h.send(std::move(g->reply));
    };
    for (unsigned w = 0; w < workers; ++w) {
        const bool posted = host_->post(w, [g, here, done](module::Host& h) {
            std::vector<std::pair<std::string, std::string>> mine;
            for (const auto& [key, room] : on(h).rooms_)
                if (!room->locked() && room->config().public_room) mine.emplace_back(key, room->name());
            h.post(here, [g, mine = std::move(mine), done](module::Host& back) {
                g->rooms.insert(g->rooms.end(), mine.begin(), mine.end());
                if (--g->waiting == 0) done(back, g);
            });
        });
        if (!posted && --g->waiting == 0) done(*host_, g);
    }
}

}  // namespace parley::mod_muc

namespace parley::mod_muc {

std::variant<uint64_t, StanzaError> Muc::record(const Room& room, const xml::Element& said, const xmpp::Jid& sender,
                                                bool in_view, std::string_view outcome) {
    return journal(room.jid().bare_str(), said, sender, in_view, outcome);
}

std::variant<uint64_t, StanzaError> Muc::journal(const std::string& key, const xml::Element& said,
                                                 const xmpp::Jid& sender, bool in_view, std::string_view outcome) {
    auto* archive = this->archive();
    if (!archive) return StanzaError::wait("internal-server-error", "the archive is not running");
    if (held_stanzas_ > kMaxHeld)
        // The journal is behind: refuse rather than hold without bound.
        return StanzaError::wait("resource-constraint", "the archive cannot keep up; try again later");
    archive::Entry e;
    e.from = sender.str();
    e.to = key;
    e.type = "groupchat";
    e.origin = current_origin_ == module::Origin::local_client ? archive::Origin::local_client
               : current_origin_ == module::Origin::server     ? archive::Origin::server
                                                               : archive::Origin::remote;
    e.outcome = std::string(outcome);
    if (in_view) e.views.push_back({key, sender.bare_str()});
    e.stanza = xml::to_string(said, xmpp::kNsClient);
    std::string body;
    for (const xml::Element& b : said.children())
        if (b.name() == "body" && b.ns() == xmpp::kNsClient) body += b.text() + "\n";
    e.words = archive::words_of(body);
    const bool durable = archive->durable();
    auto id_of = std::make_shared<uint64_t>(0);
    const uint64_t n = durable ? begin_write() : 0;
    const std::string message_id(said.attr_or("id"));
    auto id = archive->append(*host_, std::move(e),
                              [this, alive = alive_, durable, key, sender, id_of, n, message_id](Status s) {
                                  if (!*alive) return;
                                  if (!s) {
                                      log::error("muc", "a message of {} was not archived: {}", key, s.to_string());
                                      if (durable) withdraw(key, *id_of, sender, message_id);
                                  }
                                  if (durable) end_write(n);
                              });
    if (!id) {
        if (durable) end_write(n);
        log::warn("muc", "cannot archive a message of {} now: {}", key, id.status().to_string());
        return StanzaError::wait("resource-constraint", "the archive cannot keep up; try again later");
    }
    *id_of = *id;
    return *id;
}

void Muc::withdraw(const std::string& room, uint64_t id, const xmpp::Jid& sender, const std::string& message_id) {
    const std::string text = archive::stanza_id_text(id);
    for (Held& h : held_) {
        const size_t before = h.out.size();
        std::erase_if(h.out, [&](const xml::Element& e) {
            const xml::Element* sid = e.child("stanza-id", kNsSid);
            return e.name() == "message" && sid && sid->attr_or("id") == text && sid->attr_or("by") == room;
        });
        held_stanzas_ -= before - h.out.size();
    }
    if (auto it = rooms_.find(room); it != rooms_.end()) it->second->forget(id);
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", sender.str());
    m.set_attr("to", room);
    m.set_attr("type", "groupchat");
    if (!message_id.empty()) m.set_attr("id", message_id);
    outbox_.push_back(xmpp::make_error_reply(
        m, StanzaError::wait("internal-server-error", "the message could not be archived, so it was not sent")));
    flush();
}

namespace {

std::string retracted_key(const std::string& room, uint64_t id) { return room + " " + archive::stanza_id_text(id); }

}  // namespace

bool Muc::contains(const Room& room, uint64_t id) {
    auto* archive = this->archive();
    auto db = archive ? archive->database(host_->worker_index()) : nullptr;
    if (!db || id == 0 || id == UINT64_MAX || id < room.archive_floor()) return false;
    bool found = false;
    const std::string owner = room.jid().bare_str();
    Status s = db->read([&](const store::Txn& t, MDB_dbi dbi) {
        return archive->journal().view(t.handle(), dbi, {owner, "", id - 1, id + 1, false}, [&](uint64_t got) {
            found = got == id;
            return false;
        });
    });
    return s && found;
}

void Muc::retracted(const Room& room, uint64_t id, const xml::Element& moderated) {
    const std::string key = retracted_key(room.jid().bare_str(), id);
    const std::string value = xml::to_string(moderated, kNsModerate);
    const uint64_t n = begin_write();
    Status s = retracted_->write([key, value](store::Txn& txn, MDB_dbi d) { return txn.put(d, key, value); },
                                 [this, alive = alive_, key, n](Status done) {
                                     if (!*alive) return;
                                     if (!done) log::error("muc", "the retraction {} was not kept: {}", key, done.message());
                                     end_write(n);
                                 });
    if (!s) {
        log::error("muc", "the retraction {} was not kept: {}", key, s.message());
        end_write(n);
    }
    // Outside compliance mode, when the service says so, the original goes
    // (the retraction stays a record of its own: who, when, why).
    archive::JournalService* svc = archive();
    if (settings_.keep_moderated || !svc || svc->compliance()) return;
    const std::string who = "moderator " + std::string(moderated.attr_or("by"));
    const xml::Element* r = moderated.child("reason", kNsModerate);
    const std::string why = "moderated in " + room.jid().bare_str() + (r ? ": " + r->text() : std::string());
    const uint64_t f = begin_write();
    Status fs = svc->forget(*host_, id, who, why, [this, alive = alive_, id, f](Status done, bool removed) {
        if (!*alive) return;
        if (!done) log::error("muc", "the moderated message {} was not removed: {}", id, done.message());
        else if (!removed) log::info("muc", "the moderated message {} stays in the journal (a legal hold, or gone)", id);
        end_write(f);
    });
    if (!fs) {
        log::error("muc", "the moderated message {} was not removed: {}", id, fs.message());
        end_write(f);
    }
}

void Muc::tombstone(const std::string& room, uint64_t id, xml::Element& m) const {
    std::optional<xml::Element> moderated;
    Status s = retracted_->read([&](const store::Txn& txn, MDB_dbi d) {
        auto v = txn.get(d, retracted_key(room, id));
        if (!v) return v.status();
        if (*v) {
            auto e = xml::parse_element(**v, kNsModerate, 8);
            if (e) moderated = std::move(e).value();
        }
        return Status::ok();
    });
    if (!s || !moderated) return;
    // XEP-0424/0425: the message's content gives way to who retracted it,
    // when and why; its sender's occupant id stays.
    xml::Element stone("message", std::string(xmpp::kNsClient));
    for (const auto& a : m.attrs()) stone.set_attr(a.name, a.value);
    if (const xml::Element* oid = m.child("occupant-id", kNsOccupantId)) stone.add_child(*oid);
    xml::Element& retracted = stone.add_child("retracted", kNsRetract);
    retracted.set_attr("stamp", std::string(moderated->attr_or("stamp")));
    xml::Element by("moderated", kNsModerate);
    by.set_attr("by", std::string(moderated->attr_or("by")));
    if (const xml::Element* oid = moderated->child("occupant-id", kNsOccupantId)) by.add_child(*oid);
    retracted.add_child(std::move(by));
    if (const xml::Element* r = moderated->child("reason", kNsModerate))
        retracted.add_child("reason", kNsRetract).add_text(r->text());
    m = std::move(stone);
}

void Muc::send_to(const xmpp::Jid& to, xml::Element stanza) {
    for (const auto& s : host_->sessions_of(to.bare()))
        if (s.full_jid == to) {
            host_->send_to_session(s, std::move(stanza), module::Delivery::direct);
            return;
        }
    host_->send(std::move(stanza));
}

void Muc::query(const Room& room, const xml::Element& iq, const xmpp::Jid& from, bool sees_real_jids) {
    const xml::Element* q = iq.first_child();
    const std::string_view type = iq.attr_or("type");
    const std::string owner = room.jid().bare_str();
    auto reply = [&](std::optional<xml::Element> payload) {
        xml::Element r("iq", std::string(xmpp::kNsClient));
        r.set_attr("type", "result");
        r.set_attr("id", std::string(iq.attr_or("id")));
        r.set_attr("from", owner);
        r.set_attr("to", from.str());
        if (payload) r.add_child(std::move(*payload));
        host_->send(std::move(r));
    };
    auto fail = [&](const StanzaError& e) {
        xml::Element err = xmpp::make_error_reply(iq, e);
        err.set_attr("from", owner);
        err.set_attr("to", from.str());
        host_->send(std::move(err));
    };
    auto* archive = this->archive();
    auto db = archive ? archive->database(host_->worker_index()) : nullptr;
    if (!db) {
        fail(StanzaError::wait("internal-server-error", "the archive is not open"));
        return;
    }
    if (type == "get" && q->name() == "query") {
        reply(mod_mam::query_form());
        return;
    }
    if (type == "get" && q->name() == "metadata") {
        auto meta = mod_mam::read_metadata(archive->journal(), *db, owner, room.archive_floor());
        if (auto* e = std::get_if<StanzaError>(&meta)) fail(*e);
        else reply(std::move(std::get<xml::Element>(meta)));
        return;
    }
    if (type != "set" || q->name() != "query") {
        fail(StanzaError::cancel("service-unavailable", "the room's archive does not answer that request"));
        return;
    }
    auto parsed = mod_mam::parse_query(*q);
    if (auto* e = std::get_if<StanzaError>(&parsed)) {
        fail(*e);
        return;
    }
    const mod_mam::Query& mq = std::get<mod_mam::Query>(parsed);
    if (mq.with && !sees_real_jids) {
        // The room's view is kept by each sender's real JID: filtering by it
        // would tell who said what in a room that hides real JIDs.
        fail(StanzaError::cancel("not-allowed", "in this room only moderators filter the archive by address"));
        return;
    }
    auto page = mod_mam::read_page(archive->journal(), *db, owner, mq, from, room.archive_floor(),
                                   [&](xml::Element& m, const archive::Record& rec) {
                                       tombstone(owner, rec.id, m);
                                       // XEP-0313 §6.1.2: the sender's real JID, for those who may see it.
                                       m.remove_children("x", kNsMucUser);
                                       m.remove_attr("to");
                                       if (!sees_real_jids) return;
                                       auto real = xmpp::Jid::parse(rec.entry.from);
                                       if (real)
                                           m.add_child("x", kNsMucUser).add_child("item", kNsMucUser)
                                               .set_attr("jid", real->bare_str());
                                   });
    if (auto* e = std::get_if<StanzaError>(&page)) {
        fail(*e);
        return;
    }
    auto& answer = std::get<mod_mam::PageAnswer>(page);
    for (auto& m : answer.results) send_to(from, std::move(m));
    reply(std::move(answer.fin));
}

}  // namespace parley::mod_muc

namespace parley::mod_muc {

namespace {

constexpr const char* kControlUsage =
    "usage: room list | room show ROOM | room create ROOM OWNER | room destroy ROOM [REASON...] | "
    "room affiliation set ROOM JID AFFILIATION [REASON...] | room config set ROOM OPTION VALUE";

std::string error_text(const StanzaError& e) { return e.text.empty() ? e.condition : e.condition + ": " + e.text; }

}  // namespace

void Muc::control(const std::vector<std::string>& args, module::ControlReply reply) {
    // On worker 0; the room's own worker does the work and posts the answer back.
    auto usage = [&] { reply(Status::error("usage", kControlUsage)); };
    if (args.empty()) return usage();
    const std::string& verb = args[0];
    if (verb == "list" && args.size() == 1) {
        struct Gather {
            std::vector<std::pair<std::string, std::string>> rooms;  // key, json
            std::vector<std::string> lines;
            unsigned waiting = 0;
            module::ControlReply reply;
        };
        auto g = std::make_shared<Gather>();
        g->reply = std::move(reply);
        g->waiting = host_->worker_count();
        auto done = [](const std::shared_ptr<Gather>& g) {
            std::sort(g->rooms.begin(), g->rooms.end());
            std::sort(g->lines.begin(), g->lines.end());
            std::string j = "{\"rooms\":[", text;
            for (size_t i = 0; i < g->rooms.size(); ++i) j += (i ? "," : "") + g->rooms[i].second;
            for (const auto& l : g->lines) text += l;
            if (g->rooms.empty()) text = "no rooms\n";
            g->reply(j + "],\"text\":" + module::json_string(text) + "}");
        };
        for (unsigned w = 0; w < host_->worker_count(); ++w) {
            const bool posted = host_->post(w, [g, done](module::Host& h) {
                std::vector<std::pair<std::string, std::string>> mine;
                std::vector<std::string> lines;
                for (const auto& [key, room] : on(h).rooms_) {
                    const RoomConfig& c = room->config();
                    mine.emplace_back(key, "{\"room\":" + module::json_string(key) + ",\"name\":" +
                                               module::json_string(c.name) + ",\"occupants\":" +
                                               std::to_string(room->occupant_count()) + ",\"persistent\":" +
                                               (c.persistent ? "true" : "false") + ",\"locked\":" +
                                               (room->locked() ? "true" : "false") + "}");
                    lines.push_back(key + "\t" + std::to_string(room->occupant_count()) + " occupants" +
                                    (c.persistent ? ", persistent" : "") + (room->locked() ? ", locked" : "") +
                                    (c.name.empty() ? "" : "\t" + c.name) + "\n");
                }
                h.post(0, [g, done, mine = std::move(mine), lines = std::move(lines)](module::Host&) {
                    g->rooms.insert(g->rooms.end(), mine.begin(), mine.end());
                    g->lines.insert(g->lines.end(), lines.begin(), lines.end());
                    if (--g->waiting == 0) done(g);
                });
            });
            if (!posted && --g->waiting == 0) done(g);
        }
        return;
    }
    // Every other request names a room of this service.
    size_t room_arg = verb == "affiliation" || verb == "config" ? 2 : 1;
    if (args.size() <= room_arg) return usage();
    if ((verb == "affiliation" || verb == "config") && args[1] != "set") return usage();
    auto jid = xmpp::Jid::parse(args[room_arg]);
    if (!jid || !jid->has_node() || !jid->is_bare() || jid->domain() != settings_.domain) {
        reply(Status::error("invalid", "'" + args[room_arg] + "' is not a room of " + settings_.domain));
        return;
    }
    std::vector<std::string> rest(args.begin() + static_cast<ptrdiff_t>(room_arg) + 1, args.end());
    auto join_rest = [](const std::vector<std::string>& words, size_t from) {
        std::string out;
        for (size_t i = from; i < words.size(); ++i) out += (i > from ? " " : "") + words[i];
        return out;
    };
    if ((verb == "show" && !rest.empty()) || (verb == "create" && rest.size() != 1) ||
        (verb == "affiliation" && rest.size() < 2) || (verb == "config" && rest.size() != 2) ||
        (verb != "show" && verb != "create" && verb != "destroy" && verb != "affiliation" && verb != "config"))
        return usage();
    const std::string key = jid->bare_str();
    auto shared_reply = std::make_shared<module::ControlReply>(std::move(reply));
    auto answer = [shared_reply](module::Host& h, std::variant<std::string, Status> outcome) {
        h.post(0, [shared_reply, outcome = std::move(outcome)](module::Host&) {
            if (auto* j = std::get_if<std::string>(&outcome)) (*shared_reply)(*j);
            else (*shared_reply)(std::get<Status>(outcome));
        });
    };
    const bool posted = host_->post(owner_of(key, host_->worker_count()), [=](module::Host& h) {
        Muc& m = on(h);
        auto it = m.rooms_.find(key);
        if (verb == "create") {
            auto owner = xmpp::Jid::parse(rest[0]);
            if (!owner || !owner->has_node() || !owner->is_bare())
                return answer(h, Status::error("invalid", "'" + rest[0] + "' is not an account's bare JID"));
            if (it != m.rooms_.end()) return answer(h, Status::error("exists", key + " exists already"));
            auto room = m.make_room(jid.value(), owner.value());
            if (auto refused = room->admin_configure({{"persistent", "1"}}))
                return answer(h, Status::error("refused", error_text(*refused)));
            m.rooms_.emplace(key, std::move(room));
            log::info("muc", "{} created by the administrator for {}", key, owner->bare_str());
            std::string j = m.rooms_[key]->json();
            m.settle(key);
            // Answered once the room's record is on disk.
            return m.after_writes([answer, hp = &h, j] { answer(*hp, j); });
        }
        if (it == m.rooms_.end()) return answer(h, Status::error("not-found", "no room " + key));
        Room& room = *it->second;
        std::optional<StanzaError> refused;
        if (verb == "show") return answer(h, room.json().insert(1, "\"text\":" + module::json_string(room.text()) + ","));
        if (verb == "destroy") {
            room.admin_destroy(join_rest(rest, 0));
        } else if (verb == "affiliation") {
            auto a = affiliation_named(rest[1]);
            if (!a) return answer(h, Status::error("invalid", "an affiliation is owner, admin, member, outcast or none"));
            refused = room.admin_affiliation(rest[0], *a, join_rest(rest, 2));
        } else {
            refused = room.admin_configure({{rest[0], rest[1]}});
        }
        if (refused) {
            m.settle(key);
            return answer(h, Status::error("refused", error_text(*refused)));
        }
        std::string j = verb == "destroy" ? "{\"room\":" + module::json_string(key) + ",\"destroyed\":true}" : room.json();
        m.settle(key);
        m.after_writes([answer, hp = &h, j] { answer(*hp, j); });
    });
    if (!posted) (*shared_reply)(Status::error("stopped", "the room's worker is stopping"));
}

}  // namespace parley::mod_muc

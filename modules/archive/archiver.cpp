#include "archiver.hpp"

#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <filesystem>

#include "archive/audit/audit.hpp"
#include "archive/hold/holds.hpp"
#include "archive/retention/purge.hpp"
#include "log/log.hpp"
#include "prefs.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_archive {

namespace {

const char* const kDurability[] = {"durable", "async", nullptr};
const char* const kDefaults[] = {"always", "never", "roster", nullptr};
constexpr std::string_view kNsCarbons = "urn:xmpp:carbons:2";
constexpr std::string_view kNsMam = "urn:xmpp:mam:2";

uint64_t now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count());
}

archive::Origin origin_of(module::Origin o) {
    switch (o) {
        case module::Origin::local_client: return archive::Origin::local_client;
        case module::Origin::server: return archive::Origin::server;
        case module::Origin::remote_server: return archive::Origin::remote;
    }
    return archive::Origin::server;
}

// XEP-0313 §5.1.1 (and XEP-0334): what a user's archive keeps.
bool archivable(const xml::Element& m) {
    std::string_view type = m.attr_or("type");
    if (!type.empty() && type != "chat" && type != "normal") return false;
    if (m.child("no-store", kNsHints) || m.child("no-permanent-store", kNsHints)) return false;
    return m.child("body", xmpp::kNsClient) != nullptr || m.child("store", kNsHints) != nullptr;
}

// The tail of a throttled log line (LogThrottle).
std::string left_out_text(uint64_t n) {
    return n == 0 ? std::string() : fmt::format(" ({} more like it since the last such line, not logged)", n);
}

// A copy the server makes of a message it journaled already.
bool server_copy(const xml::Element& m) {
    return m.child("sent", kNsCarbons) || m.child("received", kNsCarbons) || m.child("result", kNsMam);
}

}  // namespace

const module::XepInfo kXeps[] = {
    {"0359", "0.7.0", "partial: <stanza-id/> on delivered messages that a local account's archive keeps; forged ones "
                      "claiming our addresses are removed (origin-id is kept as the client sent it)"},
};
const size_t kXepCount = std::size(kXeps);

const char* const kScopes[] = {"default", "domain", "user", "room", nullptr};
const config::OptionSpec kRule[] = {
    {.name = "scope",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "what the rule is about: default, domain, user or room",
     .required = true,
     .choices = kScopes},
    {"target", config::OptionType::string, "\"\"", "the domain, the user's or the room's bare JID (empty for default)"},
    {"type", config::OptionType::string, "\"\"",
     "the message type the rule is for: chat, normal, groupchat, headline or error (empty: every type)"},
    {.name = "days",
     .type = config::OptionType::integer,
     .default_value = nullptr,
     .help = "days a message is kept (0: forever)",
     .min = 0,
     .max = 36500,
     .required = true},
};
const config::OptionSpec kRetention[] = {
    {"default_days", config::OptionType::integer, "0", "days a message is kept when no rule says otherwise (0: forever)",
     0, 36500},
    config::table_list_option("rule", "retention rules by domain, user or room and message type", kRule),
    {"purge_interval", config::OptionType::integer, "3600", "seconds between retention purges", 1, 86400},
    {"purge_batch", config::OptionType::integer, "1000", "records one purge step examines (one write transaction)", 10,
     100000},
};

const config::OptionSpec kOptions[] = {
    {.name = "key_file",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "the archive's key file (64 hex digits, mode 0600; parleyctl archive keygen makes one); relative to the "
             "config file",
     .required = true},
    {"compliance", config::OptionType::boolean, "false",
     "keep every message stanza in the journal whatever users ask (MAM preferences, no-store hints); disclosed in "
     "disco"},
    {.name = "durability",
     .type = config::OptionType::string,
     .default_value = "durable",
     .help = "durable: deliver a message only once its record is on disk; async: deliver at once and write behind "
             "(a crash may lose the last records)",
     .choices = kDurability},
    {.name = "default_prefs",
     .type = config::OptionType::string,
     .default_value = "always",
     .help = "which messages a user's own archive keeps until the user sets preferences: always, never, or roster "
             "(only with contacts in the roster)",
     .choices = kDefaults},
    config::table_option("retention", "how long messages are kept, and the background purge", kRetention),
};
const size_t kOptionCount = std::size(kOptions);

Result<Settings> read_settings(const config::Section& section) {
    Settings s;
    auto key_file = archive::key_file_of(section);
    if (!key_file) return key_file.status();
    s.key_file = *key_file;
    s.compliance = section.get_bool("compliance", false);
    s.durable = section.get_string("durability", "durable") == "durable";
    // Compliance mode promises that the journal holds every message; async
    // delivers before the record is written, and drops records when the
    // writer cannot keep up.
    if (s.compliance && !s.durable)
        return Status::error("config", section.where("durability") +
                                           ": compliance mode needs durability = \"durable\" (async delivers "
                                           "messages the journal may never hold)");
    s.default_prefs = archive::parse_default(section.get_string("default_prefs", "always"))
                          .value_or(archive::Prefs::Default::always);
    return s;
}

Plan plan(const PlanInput& in) {
    Plan p;
    if (in.stanza.name() != "message") return p;
    if (in.outcome == module::RouteOutcome::Kind::consumed) return p;
    if (in.origin == module::Origin::server && (in.journaled_before || server_copy(in.stanza))) return p;
    // A groupchat message to a room whose service journals it (mod_muc: once,
    // in the room's view, as said there or refused), and the room's copies of
    // it to each occupant.
    if (in.room_journals && in.stanza.attr_or("type") == "groupchat") return p;
    if (in.origin == module::Origin::server && in.stanza.attr_or("type") == "groupchat") return p;
    if (archivable(in.stanza)) {
        const xmpp::Jid from = in.from.bare(), to = in.to.bare();
        if (in.from_local_account && in.origin == module::Origin::local_client) {
            p.views.push_back({from.bare_str(), to.bare_str()});
            p.sender_view = true;
        }
        const bool reached = in.outcome == module::RouteOutcome::Kind::delivered ||
                             in.outcome == module::RouteOutcome::Kind::taken_over;
        if (in.to_local_account && reached && !(p.views.size() == 1 && from == to)) {
            p.views.push_back({to.bare_str(), from.bare_str()});
            p.recipient_view = true;
        } else if (in.to_local_account && reached) {
            p.recipient_view = true;  // to oneself: one view, and the copy still gets its id
        }
    }
    p.journal = in.compliance || !p.views.empty();
    return p;
}

void apply_prefs(Plan& p, bool compliance, const std::function<bool(const archive::View&)>& keeps) {
    // Views are the sender's, then the recipient's; one view when the
    // message goes to oneself.
    const bool self = p.sender_view && p.recipient_view && p.views.size() == 1;
    const std::string sender = p.sender_view ? p.views.front().owner : std::string();
    const std::string recipient = p.recipient_view && !p.views.empty() ? p.views.back().owner : std::string();
    std::vector<archive::View> kept;
    for (archive::View& v : p.views)
        if (keeps(v)) kept.push_back(std::move(v));
    auto kept_for = [&](const std::string& owner) {
        return std::any_of(kept.begin(), kept.end(), [&](const archive::View& k) { return k.owner == owner; });
    };
    if (self) {
        p.sender_view = p.recipient_view = !kept.empty();
    } else {
        if (p.sender_view) p.sender_view = kept_for(sender);
        if (p.recipient_view) p.recipient_view = kept_for(recipient);
    }
    p.views = std::move(kept);
    p.journal = compliance || !p.views.empty();
}

size_t strip_stanza_ids(xml::Element& stanza, const std::function<bool(std::string_view by)>& is_ours) {
    std::vector<xml::Element> keep;
    size_t found = 0, removed = 0;
    for (const xml::Element& c : stanza.children()) {
        if (c.name() != "stanza-id" || c.ns() != kNsSid) continue;
        ++found;
        if (is_ours(c.attr_or("by"))) ++removed;
        else keep.push_back(c);
    }
    if (removed == 0) return 0;
    stanza.remove_children("stanza-id", kNsSid);
    for (xml::Element& k : keep) stanza.add_child(std::move(k));
    (void)found;
    return removed;
}

// Service

Status Service::start(module::ServiceHost& host) {
    auto s = read_settings(host.config());
    if (!s) return s.status();
    settings_ = *s;
    auto key = archive::read_key_file(settings_.key_file);
    if (!key) return key.status();
    journal_.emplace(*key);
    dbs_.assign(host.worker_count(), nullptr);
    prefs_dbs_.assign(host.worker_count(), nullptr);
    return Status::ok();
}

std::shared_ptr<module::Database> Service::database(unsigned worker) const {
    return worker < dbs_.size() ? dbs_[worker] : nullptr;
}

void Service::attach(unsigned worker, std::shared_ptr<module::Database> journal,
                     std::shared_ptr<module::Database> prefs) {
    if (worker >= dbs_.size()) return;
    dbs_[worker] = std::move(journal);
    prefs_dbs_[worker] = std::move(prefs);
}

void Service::detach(unsigned worker) {
    if (worker >= dbs_.size()) return;
    dbs_[worker].reset();
    prefs_dbs_[worker].reset();
}

Result<archive::Prefs> Service::prefs(unsigned worker, const std::string& owner) const {
    archive::Prefs out;
    out.default_mode = settings_.default_prefs;
    auto db = worker < prefs_dbs_.size() ? prefs_dbs_[worker] : nullptr;
    if (!db) return out;
    Status s = db->read([&](const store::Txn& txn, MDB_dbi dbi) {
        auto p = load_prefs(txn, dbi, owner);
        if (!p) return p.status();
        if (*p) out = **p;
        return Status::ok();
    });
    if (!s) return s;
    return out;
}

Status Service::set_prefs(module::Host& host, const std::string& owner, archive::Prefs prefs,
                          std::function<void(Status)> done) {
    auto db = host.worker_index() < prefs_dbs_.size() ? prefs_dbs_[host.worker_index()] : nullptr;
    if (!db) return Status::error("stopped", "the archive is not open on this worker");
    return db->write([owner, prefs = std::move(prefs)](store::Txn& txn,
                                                       MDB_dbi dbi) { return store_prefs(txn, dbi, owner, prefs); },
                     std::move(done));
}

void Service::set_room_journal(const std::string& domain, bool on) {
    // Counted: each worker's instance says so, and the last one to stop
    // takes it back.
    std::lock_guard lock(rooms_lock_);
    int& n = room_domains_[domain];
    n = on ? n + 1 : std::max(n - 1, 0);
    if (n == 0) room_domains_.erase(domain);
}

bool Service::room_journal(std::string_view domain) const {
    std::lock_guard lock(rooms_lock_);
    return room_domains_.find(domain) != room_domains_.end();
}

uint64_t Service::last_id() const {
    std::lock_guard lock(order_);
    return last_;
}

void Service::observe_last(uint64_t id) {
    std::lock_guard lock(order_);
    last_ = std::max(last_, id);
}

Result<uint64_t> Service::append(module::Host& host, archive::Entry entry, std::function<void(Status)> done) {
    auto db = database(host.worker_index());
    if (!db) return Status::error("stopped", "the archive is not open on this worker");
    std::lock_guard lock(order_);
    const uint64_t id = archive::next_id(last_, now_ms());
    // The function may run more than once (the writer's retry when the map
    // grows): it only reads what it captured and touches the transaction.
    Status s = db->write(
        [journal = *journal_, id, entry = std::move(entry)](store::Txn& txn, MDB_dbi dbi) {
            auto r = journal.append_at(txn.handle(), dbi, id, entry);
            return r ? Status::ok() : r.status();
        },
        std::move(done));
    if (!s) return s;
    last_ = id;
    return id;
}

Status Service::audit(module::Host& host, std::string who, std::string action, std::string scope,
                      std::string result, std::function<void(Status)> done) {
    auto db = database(host.worker_index());
    if (!db) return Status::error("stopped", "the archive is not open on this worker");
    archive::AuditEvent e{0, now_ms(), std::move(who), std::move(action), std::move(scope), std::move(result)};
    return db->write(
        [journal = *journal_, e](store::Txn& txn, MDB_dbi dbi) {
            auto r = archive::append_audit(journal, txn.handle(), dbi, e);
            return r ? Status::ok() : r.status();
        },
        done ? std::move(done) : [](Status) {});
}

Status Service::forget(module::Host& host, uint64_t id, std::string who, std::string why,
                       std::function<void(Status, bool removed)> done) {
    if (compliance()) return Status::error("compliance", "the journal keeps every record in compliance mode");
    auto db = database(host.worker_index());
    if (!db) return Status::error("stopped", "the archive is not open on this worker");
    auto removed = std::make_shared<bool>(false);
    return db->write(
        [journal = *journal_, id, who = std::move(who), why = std::move(why), now = now_ms(),
         removed](store::Txn& txn, MDB_dbi dbi) -> Status {
            auto holds = archive::load_holds(txn.handle(), dbi);
            if (!holds) return holds.status();
            auto r = archive::forget_record(journal, txn.handle(), dbi, id, *holds, now);
            if (!r) return r.status();
            *removed = r->removed > 0;
            const std::string outcome = r->removed  ? "removed"
                                        : r->held   ? "kept: a legal hold covers it"
                                        : r->unreadable ? "kept: it does not decrypt"
                                                        : "already gone";
            auto a = archive::append_audit(journal, txn.handle(), dbi,
                                           {0, now, who, "journal.forget", "record " + archive::stanza_id_text(id),
                                            outcome + (why.empty() ? "" : "; " + why)});
            return a ? Status::ok() : a.status();
        },
        [done = std::move(done), removed](Status s) {
            if (done) done(s, s && *removed);
        });
}

// Archiver

Status Archiver::configure(const config::Section& section) {
    auto k = read_keeper_settings(section);
    if (!k) return k.status();
    keeper_settings_ = std::move(*k);
    return Status::ok();
}

Status Archiver::start(module::Host& host) {
    host_ = &host;
    service_ = dynamic_cast<Service*>(module::service<archive::JournalService>(host));
    if (!service_) return Status::error("config", "the archive service did not start");
    auto db = host.open_database({"journal", 1, {}, "archive"});
    if (!db) return db.status();
    db_ = db.value();
    Status checked = db_->read([this](const store::Txn& txn, MDB_dbi dbi) {
        if (Status k = service_->journal().check_key(txn.handle(), dbi); !k) return k;
        auto last = service_->journal().last_id(txn.handle(), dbi);
        if (!last) return last.status();
        service_->observe_last(*last);
        return Status::ok();
    });
    if (!checked) return Status::error(checked.code(), "archive (" + host.data_dir() + "): " + checked.message());
    auto prefs = host.open_database({kPrefsDatabase, kPrefsVersion, {}, ""});
    if (!prefs) return prefs.status();
    prefs_db_ = prefs.value();
    roster_ = module::service<roster::RosterService>(host);
    service_->attach(host.worker_index(), db_, prefs_db_);
    alive_ = std::make_shared<bool>(true);

    host.hook(module::HookPoint::stanza_in, kRoutedPriority, [this](module::StanzaContext& c) {
        if (c.stanza.name() == "message" && c.from_local_client)
            strip_stanza_ids(c.stanza, [this](std::string_view by) { return ours(by); });
        return module::HookResult::pass();
    });
    host.on_routed(kRoutedPriority, [this](module::RoutedContext& c) { on_routed(c); });
    host.hook(module::HookPoint::stanza_out, kRoutedPriority, [this](module::StanzaContext& c) { return on_out(c); });
    if (service_->compliance()) host.disco_feature("urn:xmpp:parley:compliance-archive:0");
    if (host.worker_index() == 0) {
        keeper_ = std::make_unique<Keeper>(host, db_, service_->journal(), keeper_settings_);
        if (Status k = keeper_->start(); !k) return k;
    }
    // Registered on every worker, called on worker 0 (where the keeper is).
    host.on_account_deleted([this](const xmpp::Jid& bare, std::function<void(Status)> done) {
        if (!keeper_) return done(Status::error("stopped", "the archive's keeper runs on worker 0"));
        keeper_->forget(bare.bare_str(), service_->compliance(), std::move(done));
    });
    return Status::ok();
}

void Archiver::stop() {
    keeper_.reset();
    alive_.reset();
    if (service_ && host_) service_->detach(host_->worker_index());
    db_.reset();
    prefs_db_.reset();
}

bool Archiver::ours(std::string_view jid) const {
    auto j = xmpp::Jid::parse(jid);
    return j && host_->is_local_domain(j->domain());
}

bool Archiver::local_account(const xmpp::Jid& jid) const {
    return jid.has_node() && host_->is_local_domain(jid.domain());
}

bool Archiver::view_keeps(const archive::View& v) const {
    auto p = service_->prefs(host_->worker_index(), v.owner);
    if (!p) {
        // Keeping too much is the safe side of a failed read.
        log::warn("archive", "cannot read the archiving preferences of {}: {}", v.owner, p.status().to_string());
        return true;
    }
    bool in_roster = false;
    if (p->default_mode == archive::Prefs::Default::roster && roster_) {
        auto owner = xmpp::Jid::parse(v.owner);
        auto peer = xmpp::Jid::parse(v.peer);
        if (owner && peer) {
            auto item = roster_->item(host_->worker_index(), *owner, *peer);
            in_roster = item && *item && (*item)->in_roster;
        }
    }
    return archive::keeps(*p, v.peer, in_roster);
}

module::HookResult Archiver::on_out(module::StanzaContext& c) {
    // A stanza-id for another of our accounts' archives stays out of what
    // this one receives (XEP-0313 §4.1.3); it was meant for carbon copies.
    if (c.stanza.name() != "message" || !c.stanza.child("stanza-id", kNsSid)) return module::HookResult::pass();
    const std::string me = c.to.bare_str();
    strip_stanza_ids(c.stanza, [&](std::string_view by) { return by != me && ours(by); });
    return module::HookResult::pass();
}

void Archiver::on_routed(module::RoutedContext& c) {
    if (c.stanza.name() != "message") return;
    // A room's copies of a groupchat message (one per occupant): the room
    // journaled the message once; nothing to look up for each copy.
    if (c.origin == module::Origin::server && c.stanza.attr_or("type") == "groupchat") return;
    const std::string by = c.to.bare_str();
    bool journaled_before = false;
    if (c.origin == module::Origin::server) {
        for (const xml::Element& e : c.stanza.children())
            if (e.name() == "stanza-id" && e.ns() == kNsSid && e.attr_or("by") == by) journaled_before = true;
    }
    const bool room_journals = c.outcome.kind == module::RouteOutcome::Kind::domain &&
                               c.stanza.attr_or("type") == "groupchat" && service_->room_journal(c.to.domain());
    Plan p = plan({c.stanza, c.from, c.to, c.origin, c.outcome.kind, local_account(c.from), local_account(c.to),
                   service_->compliance(), journaled_before, room_journals});
    if (!p.views.empty())
        apply_prefs(p, service_->compliance(), [this](const archive::View& v) { return view_keeps(v); });
    if (!p.journal) return;

    archive::Entry e;
    e.from = c.from.str();
    e.to = c.to.str();
    e.type = c.stanza.attr_or("type").empty() ? "normal" : std::string(c.stanza.attr_or("type"));
    e.origin = origin_of(c.origin);
    e.outcome = module::to_string(c.outcome.kind);
    e.views = std::move(p.views);
    e.stanza = xml::to_string(c.stanza, xmpp::kNsClient);
    std::string body;
    for (const xml::Element& b : c.stanza.children())
        if (b.name() == "body" && b.ns() == xmpp::kNsClient) body += b.text() + "\n";
    e.words = archive::words_of(body);

    const bool durable = service_->durable();
    auto hold = std::make_shared<std::shared_ptr<module::Hold>>();
    std::weak_ptr<bool> alive = alive_;
    auto id = service_->append(*host_, std::move(e), [this, alive, hold, durable](Status s) {
        if (alive.expired()) return;
        if (!s) {
            if (auto left_out = failed_log_.due(now_ms()))
                log::error("archive", "a journal record was not written: {}{}", s.to_string(), left_out_text(*left_out));
            if (durable) ++counters_.refused;
            else ++counters_.lost;
            if (*hold)
                (*hold)->reject(s.code() == "map-full"
                                    ? StanzaError::wait("resource-constraint", "the archive's storage is full")
                                    : StanzaError::wait("internal-server-error", "the message could not be archived"));
            return;
        }
        ++counters_.journaled;
        if (*hold) (*hold)->release();
    });
    if (!id) {
        if (auto left_out = busy_log_.due(now_ms()))
            log::warn("archive", "cannot archive a message now: {}{}", id.status().to_string(), left_out_text(*left_out));
        if (durable) {
            ++counters_.refused;
            c.hold()->reject(StanzaError::wait("resource-constraint", "the archive cannot keep up; try again later"));
        } else {
            ++counters_.lost;
        }
        return;
    }
    if (durable) *hold = c.hold();
    auto give = [&](const std::string& owner) {
        strip_stanza_ids(c.stanza, [&owner](std::string_view b) { return b == owner; });
        xml::Element& sid = c.stanza.add_child("stanza-id", std::string(kNsSid));
        sid.set_attr("id", archive::stanza_id_text(*id));
        sid.set_attr("by", owner);
    };
    if (p.recipient_view) give(by);
    if (p.sender_view && c.from.bare_str() != by) give(c.from.bare_str());
}

}  // namespace parley::mod_archive

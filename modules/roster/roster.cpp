#include "roster.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "log/log.hpp"
#include "module/control_json.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_roster {

using roster::Effect;
using roster::Item;
using roster::Subscription;

const module::XepInfo kXeps[] = {
    {"0237", "1.3", "complete: roster versioning as RFC 6121 §2.6 says it (the whole roster when versions differ)"}};

const config::OptionSpec kOptions[] = {
    {"max_items", config::OptionType::integer, "2000", "most contacts in one roster (pending requests included)", 1,
     100000},
    {"max_directed", config::OptionType::integer, "100",
     "most addresses one session's directed presence is remembered for (told when it goes offline)", 0, 10000},
};

namespace {

constexpr size_t kMaxName = 1023;
constexpr size_t kMaxGroup = 1023;
constexpr size_t kMaxGroups = 100;
constexpr size_t kMaxStatus = 1023;

// What the roster module keeps per session.
struct PresenceState final : module::SessionSlot {
    bool roster_requested = false;
    // The newest roster version this session was given (roster result or
    // push): pushes made on different workers may arrive out of order.
    uint64_t version_sent = 0;
    std::optional<xml::Element> last;       // its last available broadcast presence
    std::vector<xmpp::Jid> directed;        // directed presence sent while available
    size_t memory_bytes() const override {
        size_t n = sizeof(*this) + directed.capacity() * sizeof(xmpp::Jid);
        for (const auto& j : directed) n += j.node().capacity() + j.domain().capacity() + j.resource().capacity();
        if (last) n += 256;  // a typical presence tree; an estimate
        return n;
    }
};

bool has_from(const Item& i) { return i.subscription == Subscription::from || i.subscription == Subscription::both; }
bool has_to(const Item& i) { return i.subscription == Subscription::to || i.subscription == Subscription::both; }

uint64_t parse_version(std::string_view v) {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
    return (ec == std::errc() && p == v.data() + v.size()) ? n : 0;
}

xml::Element presence(std::string_view type, const xmpp::Jid& from, const xmpp::Jid& to) {
    xml::Element p("presence", std::string(xmpp::kNsClient));
    if (!type.empty()) p.set_attr("type", std::string(type));
    p.set_attr("from", from.str());
    p.set_attr("to", to.str());
    return p;
}

std::string status_of(const xml::Element& stanza) {
    const xml::Element* s = stanza.child("status", xmpp::kNsClient);
    if (!s) return {};
    std::string t = s->text();
    if (t.size() > kMaxStatus) t.resize(kMaxStatus);  // a request's note, kept bounded
    return t;
}

PresenceState* state_of(module::Host& host, uint64_t id) { return dynamic_cast<PresenceState*>(host.slot(id)); }

PresenceState* ensure_state(module::Host& host, uint64_t id) {
    if (auto* s = state_of(host, id)) return s;
    auto fresh = std::make_unique<PresenceState>();
    PresenceState* p = fresh.get();
    return host.set_slot(id, std::move(fresh)) ? p : nullptr;
}

}  // namespace

std::string user_prefix(const xmpp::Jid& user) { return user.bare_str() + std::string(1, '\0'); }
std::string item_key(const xmpp::Jid& user, const xmpp::Jid& contact) { return user_prefix(user) + contact.bare_str(); }

// --- Service ---

Status Service::start(module::ServiceHost& host) {
    dbs_.assign(host.worker_count(), nullptr);
    return Status::ok();
}

void Service::attach(unsigned worker, std::shared_ptr<module::Database> db) {
    if (worker < dbs_.size()) dbs_[worker] = std::move(db);
}

void Service::detach(unsigned worker) {
    if (worker < dbs_.size()) dbs_[worker] = nullptr;
}

Result<std::optional<Item>> Service::item(unsigned worker, const xmpp::Jid& user, const xmpp::Jid& contact) const {
    if (worker >= dbs_.size() || !dbs_[worker]) return Status::error("stopped", "the roster is not open on this worker");
    return load_item(*dbs_[worker], user, contact);
}

Result<std::vector<Item>> Service::items(unsigned worker, const xmpp::Jid& user) const {
    if (worker >= dbs_.size() || !dbs_[worker]) return Status::error("stopped", "the roster is not open on this worker");
    auto l = load_roster(*dbs_[worker], user);
    if (!l) return l.status();
    return std::move(l.value().items);
}

bool Service::presence_visible_to(unsigned worker, const xmpp::Jid& user, const xmpp::Jid& contact) const {
    if (user.bare() == contact.bare()) return true;
    auto it = item(worker, user.bare(), contact.bare());
    return it && it.value() && has_from(*it.value());
}

// --- Storage ---

Result<std::optional<Item>> load_item(const module::Database& db, const xmpp::Jid& user, const xmpp::Jid& contact,
                                      std::string* request_status) {
    std::optional<Item> out;
    const std::string key = item_key(user, contact);
    Status s = db.read([&](const store::Txn& txn, MDB_dbi dbi) -> Status {
        auto v = txn.get(dbi, key);
        if (!v) return v.status();
        if (!v.value()) return Status::ok();
        auto item = roster::decode(contact.bare_str(), *v.value(), request_status);
        if (!item) return item.status();
        out = std::move(item).value();
        return Status::ok();
    });
    if (!s) return s;
    return out;
}

Result<Listing> load_roster(const module::Database& db, const xmpp::Jid& user) {
    Listing l;
    const std::string prefix = user_prefix(user);
    Status s = db.read([&](const store::Txn& txn, MDB_dbi dbi) -> Status {
        Status bad = Status::ok();
        Status sc = txn.scan(dbi, prefix, [&](std::string_view key, std::string_view value) {
            std::string_view contact = key.substr(prefix.size());
            if (contact.empty()) {
                l.version = parse_version(value);
                return true;
            }
            std::string status;
            auto item = roster::decode(contact, value, &status);
            if (!item) {
                bad = item.status();
                return false;
            }
            l.items.push_back(std::move(item).value());
            l.request_status.push_back(std::move(status));
            return true;
        });
        return sc ? bad : sc;
    });
    if (!s) return s;
    return l;
}

xml::Element item_element(const Item& item) {
    xml::Element e("item", kNsRoster);
    e.set_attr("jid", item.jid.bare_str());
    if (!item.name.empty()) e.set_attr("name", item.name);
    e.set_attr("subscription", roster::to_string(item.subscription));
    if (item.ask) e.set_attr("ask", "subscribe");
    if (item.approved) e.set_attr("approved", "true");
    for (const auto& g : item.groups) e.add_child("group", kNsRoster).add_text(g);
    return e;
}

Status parse_set(const xml::Element& query, Item& out, bool& remove) {
    auto bad = [](std::string text) { return Status::error("bad-request", std::move(text)); };
    if (query.child_count() != 1) return bad("a roster set carries exactly one item");
    const xml::Element& e = *query.first_child();
    if (e.name() != "item" || e.ns() != kNsRoster) return bad("a roster set carries one <item/>");
    auto jid = xmpp::Jid::parse(e.attr_or("jid"));
    if (!jid) return bad("the item's jid is not a valid JID");
    if (!jid->is_bare()) return bad("a roster item is a bare JID");
    out.jid = std::move(jid).value();
    const std::string_view sub = e.attr_or("subscription");
    remove = sub == "remove";
    if (!sub.empty() && !remove && sub != "none" && sub != "to" && sub != "from" && sub != "both")
        return bad("unknown subscription value");
    // RFC 6121 §2.1.2.5: a client sets only "remove"; other values are ignored.
    if (e.attr("ask")) return bad("'ask' is the server's to set");  // §2.3.3
    out.name = std::string(e.attr_or("name"));
    if (out.name.size() > kMaxName) return Status::error("not-acceptable", "the item's name is too long");
    for (const auto& g : e.children()) {
        if (g.name() != "group" || g.ns() != kNsRoster) continue;
        std::string name = g.text();
        if (name.empty()) return Status::error("not-acceptable", "a group name must not be empty");
        if (name.size() > kMaxGroup) return Status::error("not-acceptable", "a group name is too long");
        if (std::find(out.groups.begin(), out.groups.end(), name) != out.groups.end())
            return bad("the same group twice in one item");
        if (out.groups.size() >= kMaxGroups) return Status::error("not-acceptable", "too many groups in one item");
        out.groups.push_back(std::move(name));
    }
    return Status::ok();
}

// --- The module ---

struct Roster::Update {
    Item item;
    Effect effect;
    bool existed = false;
    bool was_in_roster = false;
    bool removed = false;      // deleted (a roster remove, or nothing left to keep)
    uint64_t version = 0;
    std::string request_status;
    bool refused_full = false;  // a new item over max_items
};

Status Roster::configure(const config::Section& section) {
    max_items_ = static_cast<size_t>(section.get_int("max_items", 2000));
    max_directed_ = static_cast<size_t>(section.get_int("max_directed", 100));
    return Status::ok();
}

Status Roster::start(module::Host& host) {
    host_ = &host;
    (void)configure(host.config());
    auto db = host.open_database(module::DatabaseSpec{"items", 1, {}, {}});
    if (!db) return db.status();
    db_ = std::move(db).value();
    service_ = static_cast<Service*>(module::service<roster::RosterService>(host));
    if (service_) service_->attach(host.worker_index(), db_);

    Status s = host.iq_handler(module::IqTarget::account, "get", kNsRoster, "query",
                               [this](const module::IqRequest& q, std::shared_ptr<module::IqResponder> r) {
                                   roster_get(q, std::move(r));
                               });
    if (!s) return s;
    s = host.iq_handler(module::IqTarget::account, "set", kNsRoster, "query",
                        [this](const module::IqRequest& q, std::shared_ptr<module::IqResponder> r) {
                            roster_set(q, std::move(r));
                        });
    if (!s) return s;
    host.hook(module::HookPoint::stanza_in, 0, [this](module::StanzaContext& ctx) { return client_presence(ctx); });
    host.on_unavailable(0, [this](module::RoutedContext& ctx) { return decision_point(ctx); });
    host.on_session(module::SessionEvent::available, [this](const module::SessionInfo& s) { session_available(s); });
    host.on_session(module::SessionEvent::closed, [this](const module::SessionInfo& s) { session_closed(s); });
    host.on_account_deleted(
        [this](const xmpp::Jid& user, std::function<void(Status)> done) { account_deleted(user, std::move(done)); });
    if (host.worker_index() == 0) {
        s = host.control_command("roster", [this](const std::vector<std::string>& args, module::ControlReply reply) {
            control(args, std::move(reply));
        });
        if (!s) return s;
    }
    host.stream_feature(module::StreamStage::after_auth, [](const module::StreamInfo&) {
        return std::optional<xml::Element>(xml::Element("ver", kNsRosterVer));
    });
    host.stream_feature(module::StreamStage::after_auth, [](const module::StreamInfo&) {
        return std::optional<xml::Element>(xml::Element("sub", kNsPreApproval));
    });
    return Status::ok();
}

void Roster::stop() {
    if (service_ && host_) service_->detach(host_->worker_index());
}

std::optional<uint64_t> Roster::session_id_of(const xmpp::Jid& full) const {
    for (const auto& s : host_->sessions_of(full.bare()))
        if (s.full_jid == full && s.ref.worker == host_->worker_index()) return s.ref.session_id;
    return std::nullopt;
}

void Roster::update(const xmpp::Jid& user, const xmpp::Jid& contact, Change change,
                    std::function<void(Status, const Update&)> done) {
    auto result = std::make_shared<Update>();
    const std::string key = item_key(user, contact);
    const std::string vkey = user_prefix(user);
    const std::string contact_str = contact.bare_str();
    const xmpp::Jid contact_bare = contact.bare();
    const size_t max_items = max_items_;
    // Shared: the writer runs it once the change is on disk, or it runs here
    // when the writer refuses the write at once ("busy", "stopped").
    auto finish = std::make_shared<std::function<void(Status, const Update&)>>(std::move(done));
    Status s = db_->write(
        [result, key, vkey, contact_str, contact_bare, max_items, change](store::Txn& txn, MDB_dbi dbi) -> Status {
            Update u;  // from scratch: this may run more than once
            auto v = txn.get(dbi, key);
            if (!v) return v.status();
            if (v.value()) {
                auto item = roster::decode(contact_str, *v.value(), &u.request_status);
                if (!item) return item.status();
                u.item = std::move(item).value();
                u.existed = true;
                u.was_in_roster = u.item.in_roster;
            } else {
                u.item.jid = contact_bare;
                u.item.in_roster = false;
            }
            bool remove = false;
            u.effect = change(u.item, u.request_status, remove);
            if (!u.existed && u.effect.changed && !remove) {
                // A new record: the roster is bounded.
                size_t count = 0;
                Status sc = txn.scan(dbi, vkey, [&](std::string_view k, std::string_view) {
                    if (k.size() > vkey.size()) ++count;
                    return count < max_items;
                });
                if (!sc) return sc;
                if (count >= max_items) {
                    u.refused_full = true;
                    *result = std::move(u);
                    return Status::ok();
                }
            }
            if (u.effect.changed || remove) {
                u.removed = remove || !roster::worth_keeping(u.item);
                if (u.removed) {
                    if (u.existed) {
                        auto d = txn.del(dbi, key);
                        if (!d) return d.status();
                    }
                } else {
                    Status p = txn.put(dbi, key, roster::encode(u.item, u.request_status));
                    if (!p) return p;
                }
                auto ver = txn.get(dbi, vkey);
                if (!ver) return ver.status();
                u.version = (ver.value() ? parse_version(*ver.value()) : 0) + 1;
                Status p = txn.put(dbi, vkey, std::to_string(u.version));
                if (!p) return p;
            }
            *result = std::move(u);
            return Status::ok();
        },
        [result, finish](Status st) { (*finish)(st, *result); });
    if (!s) (*finish)(s, *result);
}

void Roster::account_deleted(const xmpp::Jid& user, std::function<void(Status)> done) {
    auto listing = load_roster(*db_, user);
    if (!listing) {
        done(listing.status());
        return;
    }
    std::vector<xml::Element> notices;
    for (const auto& item : listing.value().items) {
        if (has_to(item) || item.ask) notices.push_back(presence("unsubscribe", user, item.jid));
        if (has_from(item) || item.pending_in) notices.push_back(presence("unsubscribed", user, item.jid));
    }
    const std::string prefix = user_prefix(user);
    auto finish = std::make_shared<std::function<void(Status)>>(
        [this, notices = std::move(notices), done = std::move(done)](Status st) mutable {
            // Only once nothing of the roster is left: a contact told now
            // cannot be re-added by a stale record.
            if (st)
                for (auto& n : notices) host_->send(std::move(n));
            done(std::move(st));
        });
    Status s = db_->write(
        [prefix](store::Txn& txn, MDB_dbi dbi) -> Status {
            std::vector<std::string> keys;
            Status sc = txn.scan(dbi, prefix, [&](std::string_view key, std::string_view) {
                keys.emplace_back(key);
                return true;
            });
            if (!sc) return sc;
            for (const auto& k : keys) {
                auto d = txn.del(dbi, k);
                if (!d) return d.status();
            }
            return Status::ok();
        },
        [finish](Status st) { (*finish)(std::move(st)); });
    if (!s) (*finish)(std::move(s));
}

void Roster::push(const xmpp::Jid& user, const Item& item, bool removed, uint64_t version) {
    xml::Element iq("iq", std::string(xmpp::kNsClient));
    iq.set_attr("type", "set");
    iq.set_attr("from", user.bare_str());
    auto& q = iq.add_child("query", kNsRoster);
    q.set_attr("ver", std::to_string(version));
    if (removed) {
        auto& e = q.add_child("item", kNsRoster);
        e.set_attr("jid", item.jid.bare_str());
        e.set_attr("subscription", "remove");
    } else {
        q.add_child(item_element(item));
    }
    const std::string id = fmt::format("roster-push-{}-{}", host_->worker_index(), ++next_push_);
    Service* service = service_;
    for (const auto& s : host_->sessions_of(user.bare())) {
        xml::Element copy = iq;
        copy.set_attr("id", id);
        copy.set_attr("to", s.full_jid.str());
        host_->post(s.ref.worker, [s, copy = std::move(copy), version, service, user = user.bare(),
                                   contact = item.jid](module::Host& h) mutable {
            // Only to the sessions that asked for the roster (RFC 6121 §2.1.6).
            auto* st = state_of(h, s.ref.session_id);
            if (!st || !st->roster_requested) return;
            if (version <= st->version_sent) {
                // Overtaken by a newer push (made on another worker): what it
                // says may be stale, so the item as stored now goes, under
                // the version the session already has. The newest state
                // therefore always arrives last.
                auto now = service ? service->item(h.worker_index(), user, contact)
                                   : Result<std::optional<Item>>(Status::error("unavailable", "no roster service"));
                if (!now) return;  // the next push or login brings it
                auto* q = copy.child("query", kNsRoster);
                q->set_attr("ver", std::to_string(st->version_sent));
                q->remove_children("item", kNsRoster);
                if (now.value() && now.value()->in_roster) {
                    q->add_child(item_element(*now.value()));
                } else {
                    auto& e = q->add_child("item", kNsRoster);
                    e.set_attr("jid", contact.bare_str());
                    e.set_attr("subscription", "remove");
                }
            } else {
                st->version_sent = version;
            }
            h.send_to_session(s, std::move(copy), module::Delivery::with_hooks);
        });
    }
}

void Roster::roster_get(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (req.from.bare() != req.to.bare()) {
        r->error(StanzaError::auth("forbidden", "only the account itself reads its roster"));
        return;
    }
    if (req.payload.child_count() != 0) {
        r->error(StanzaError::modify("bad-request", "a roster get carries an empty query"));
        return;
    }
    auto listing = load_roster(*db_, req.from.bare());
    if (!listing) {
        log::error("roster", "reading the roster of {}: {}", req.from.bare_str(), listing.status().to_string());
        r->error(StanzaError::wait("internal-server-error", "the roster cannot be read now"));
        return;
    }
    if (auto id = session_id_of(req.from))
        if (auto* st = ensure_state(*host_, *id)) {
            st->roster_requested = true;
            st->version_sent = std::max(st->version_sent, listing->version);
        }
    const std::string ver = std::to_string(listing->version);
    if (const std::string* asked = req.payload.attr("ver"); asked && *asked == ver) {
        r->result(std::nullopt);  // RFC 6121 §2.6.3: unchanged; pushes bring what changes next
        return;
    }
    xml::Element q("query", kNsRoster);
    q.set_attr("ver", ver);
    for (const auto& item : listing->items)
        if (item.in_roster) q.add_child(item_element(item));
    r->result(std::move(q));
}

void Roster::roster_set(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (req.from.bare() != req.to.bare()) {
        r->error(StanzaError::auth("forbidden", "only the account itself changes its roster"));
        return;
    }
    Item wanted;
    bool remove = false;
    if (Status s = parse_set(req.payload, wanted, remove); !s) {
        r->error(StanzaError::modify(s.code(), s.message()));
        return;
    }
    const xmpp::Jid user = req.from.bare();
    if (wanted.jid == user) {
        r->error(StanzaError::cancel("not-allowed", "an account is not its own contact"));
        return;
    }
    set_item(user, wanted, remove, [r](std::optional<StanzaError> e) {
        if (e)
            r->error(*e);
        else
            r->result(std::nullopt);
    });
}

void Roster::set_item(const xmpp::Jid& user, const Item& wanted, bool remove,
                      std::function<void(std::optional<StanzaError>)> done) {
    auto missing = std::make_shared<bool>(false);
    update(
        user, wanted.jid,
        [wanted, remove, missing](Item& item, std::string& request_status, bool& del) -> Effect {
            Effect e;
            *missing = false;
            if (remove) {
                if (!item.in_roster) {
                    *missing = true;
                    return e;
                }
                // RFC 6121 §2.5.2: both directions are cancelled (the done
                // callback sends what the item, left as it was, calls for).
                request_status.clear();
                del = true;
                e.changed = true;
                return e;
            }
            item.name = wanted.name;
            item.groups = wanted.groups;
            item.in_roster = true;
            e.changed = true;
            return e;
        },
        [this, done, user, remove, missing](Status st, const Update& u) {
            if (!st) {
                log::error("roster", "storing a roster item of {}: {}", user.bare_str(), st.to_string());
                done(st.code() == "busy" ? StanzaError::wait("resource-constraint", "the server is busy; try again")
                                         : StanzaError::wait("internal-server-error", "the roster cannot be changed now"));
                return;
            }
            if (*missing) {
                done(StanzaError::cancel("item-not-found", "no such contact in the roster"));
                return;
            }
            if (u.refused_full) {
                done(StanzaError::wait("resource-constraint", "the roster is full"));
                return;
            }
            done(std::nullopt);
            push(user, u.item, u.removed, u.version);
            if (remove) {
                // The item as it was before the removal.
                if (has_to(u.item) || u.item.ask) host_->send(presence("unsubscribe", user, u.item.jid));
                if (has_from(u.item)) send_unavailable_of(user, u.item.jid);
                if (has_from(u.item) || u.item.pending_in) host_->send(presence("unsubscribed", user, u.item.jid));
            }
        });
}

void Roster::control(const std::vector<std::string>& args, module::ControlReply reply) {
    auto usage = [&reply] {
        reply(Status::error("usage", "usage: roster show USER | roster add USER CONTACT [--name NAME] [--group GROUP]... | "
                                     "roster del USER CONTACT"));
    };
    if (args.size() < 2) return usage();
    auto user = xmpp::Jid::parse(args[1]);
    if (!user || !user->has_node() || !user->is_bare() || !host_->is_local_domain(user->domain())) {
        reply(Status::error("invalid", "'" + args[1] + "' is not an account of this server"));
        return;
    }
    const std::string& verb = args[0];
    if (verb == "show" && args.size() == 2) {
        auto listing = load_roster(*db_, user.value());
        if (!listing) {
            reply(listing.status());
            return;
        }
        std::string json = fmt::format("{{\"user\":{},\"version\":{},\"items\":[", module::json_string(user->bare_str()),
                                       listing->version);
        bool first = true;
        std::string text;  // for people: one line per contact
        for (const auto& i : listing->items) {
            text += fmt::format("{} {}{}{}{}", i.jid.bare_str(), roster::to_string(i.subscription),
                                i.ask ? " ask=subscribe" : "", i.approved ? " pre-approved" : "",
                                i.pending_in ? " request-pending" : "");
            if (!i.in_roster) text += " (not in the roster)";
            if (!i.name.empty()) text += " name=\"" + i.name + "\"";
            for (const auto& g : i.groups) text += " group=\"" + g + "\"";
            text += "\n";
            if (!first) json += ",";
            first = false;
            json += fmt::format("{{\"jid\":{},\"name\":{},\"subscription\":\"{}\",\"ask\":{},\"approved\":{},"
                                "\"pending_in\":{},\"in_roster\":{},\"groups\":[",
                                module::json_string(i.jid.bare_str()), module::json_string(i.name),
                                roster::to_string(i.subscription), i.ask, i.approved, i.pending_in, i.in_roster);
            for (size_t g = 0; g < i.groups.size(); ++g) json += (g ? "," : "") + module::json_string(i.groups[g]);
            json += "]}";
        }
        json += "],\"text\":" + module::json_string(text) + "}";
        reply(std::move(json));
        return;
    }
    if ((verb != "add" && verb != "del") || args.size() < 3) return usage();
    Item wanted;
    auto contact = xmpp::Jid::parse(args[2]);
    if (!contact || !contact->is_bare() || contact.value() == user.value()) {
        reply(Status::error("invalid", "'" + args[2] + "' is not a contact's bare JID"));
        return;
    }
    wanted.jid = contact.value();
    const bool remove = verb == "del";
    for (size_t i = 3; i < args.size(); ++i) {
        if (remove || i + 1 >= args.size()) return usage();
        if (args[i] == "--name") wanted.name = args[++i];
        else if (args[i] == "--group") {
            const std::string& g = args[++i];
            if (g.empty() || std::find(wanted.groups.begin(), wanted.groups.end(), g) != wanted.groups.end())
                return usage();
            wanted.groups.push_back(g);
        } else
            return usage();
    }
    log::info("roster", "control: roster {} {} {}", verb, user->bare_str(), contact->bare_str());
    set_item(user.value(), wanted, remove, [reply](std::optional<StanzaError> e) {
        if (e)
            reply(Status::error(e->condition, e->text));
        else
            reply(std::string("{}"));
    });
}

module::HookResult Roster::client_presence(module::StanzaContext& ctx) {
    const xml::Element& st = ctx.stanza;
    if (st.name() != "presence" || !ctx.from_local_client) return module::HookResult::pass();
    const std::string_view type = st.attr_or("type");
    if (ctx.to.empty()) {
        // The session's broadcast (RFC 6121 §4.2, §4.4, §4.5); the core
        // tells the account's own resources and marks it available.
        if (!type.empty() && type != "unavailable") return module::HookResult::pass();
        auto id = session_id_of(ctx.from);
        if (!id) return module::HookResult::pass();
        std::vector<xmpp::Jid> directed;
        if (type.empty()) {
            if (auto* s = ensure_state(*host_, *id)) {
                xml::Element copy = st;
                copy.remove_attr("to");
                s->last = std::move(copy);
            }
        } else if (auto* s = state_of(*host_, *id)) {
            if (!s->last) return module::HookResult::pass();  // not available: nobody to tell
            s->last.reset();
            directed.swap(s->directed);
        } else {
            return module::HookResult::pass();
        }
        broadcast(st, ctx.from, directed);
        return module::HookResult::pass();
    }
    if (roster::is_subscription_type(type)) {
        const xmpp::Jid contact = ctx.to.bare();
        if (contact == ctx.from.bare()) return module::HookResult::handled();  // nothing to subscribe to
        outbound_subscription(st, ctx.from.bare(), contact);
        return module::HookResult::handled();
    }
    if (type.empty() || type == "unavailable") {
        // Directed presence (RFC 6121 §4.6): remembered while available, so
        // that the addressee hears when this session goes away.
        if (auto id = session_id_of(ctx.from))
            if (auto* s = state_of(*host_, *id); s && s->last) {
                auto it = std::find(s->directed.begin(), s->directed.end(), ctx.to);
                if (type.empty() && it == s->directed.end() && s->directed.size() < max_directed_)
                    s->directed.push_back(ctx.to);
                else if (type == "unavailable" && it != s->directed.end())
                    s->directed.erase(it);
            }
    }
    return module::HookResult::pass();
}

void Roster::broadcast(const xml::Element& p, const xmpp::Jid& from, const std::vector<xmpp::Jid>& extra) {
    auto listing = load_roster(*db_, from.bare());
    if (!listing) {
        log::error("roster", "reading the roster of {}: {}", from.bare_str(), listing.status().to_string());
        return;
    }
    std::vector<xmpp::Jid> told;
    // The domains modules serve for this account's virtual host (a MUC
    // service's rooms hear that an occupant went away).
    const std::vector<std::string> services = host_->domains_of(from.domain());
    auto send_to = [&](const xmpp::Jid& to) {
        // UNFINISHED: s2s. Remote contacts hear nothing until federation.
        if (!host_->is_local_domain(to.domain()) &&
            std::find(services.begin(), services.end(), to.domain()) == services.end())
            return;
        xml::Element copy = p;
        copy.set_attr("from", from.str());
        copy.set_attr("to", to.str());
        host_->send(std::move(copy));
    };
    for (const auto& item : listing->items)
        if (has_from(item)) {
            send_to(item.jid);
            told.push_back(item.jid);
        }
    for (const auto& to : extra)
        if (std::find(told.begin(), told.end(), to.bare()) == told.end() && to.bare() != from.bare()) send_to(to);
}

void Roster::outbound_subscription(const xml::Element& stanza, const xmpp::Jid& user, const xmpp::Jid& contact) {
    const std::string type(stanza.attr_or("type"));
    const std::string status = status_of(stanza);
    update(
        user, contact,
        [type](Item& item, std::string&, bool&) { return roster::outbound(item, type); },
        [this, user, contact, type, status](Status st, const Update& u) {
            if (!st) {
                log::error("roster", "storing {}'s {} to {}: {}", user.bare_str(), type, contact.bare_str(),
                           st.to_string());
                return;
            }
            if (u.refused_full) {
                log::info("roster", "{}'s roster is full; {} to {} not processed", user.bare_str(), type,
                          contact.bare_str());
                return;
            }
            if (u.effect.changed && (u.item.in_roster || u.was_in_roster)) push(user, u.item, u.removed, u.version);
            if (u.effect.send_unavailable) send_unavailable_of(user, contact);
            if (u.effect.forward) {
                xml::Element p = presence(type, user, contact);
                if (!status.empty()) p.add_child("status", std::string(xmpp::kNsClient)).add_text(status);
                host_->send(std::move(p));
            }
            if (u.effect.send_presence) send_presence_of(user, contact, false);
        });
}

module::HookResult Roster::decision_point(module::RoutedContext& ctx) {
    if (ctx.stanza.name() != "presence") return module::HookResult::pass();
    const std::string_view type = ctx.stanza.attr_or("type");
    if (type == "probe") {
        answer_probe(ctx.from, ctx.to.bare());
        return module::HookResult::handled();
    }
    if (roster::is_subscription_type(type)) {
        inbound_subscription(ctx.stanza, ctx.from, ctx.to.bare());
        return module::HookResult::handled();
    }
    return module::HookResult::pass();
}

void Roster::inbound_subscription(const xml::Element& stanza, const xmpp::Jid& from, const xmpp::Jid& user) {
    const std::string type(stanza.attr_or("type"));
    const xmpp::Jid contact = from.bare();
    if (contact == user) return;
    const std::string status = status_of(stanza);
    update(
        user, contact,
        [type, status](Item& item, std::string& request_status, bool&) {
            Effect e = roster::inbound(item, type);
            if (e.remember_request) request_status = status;
            if (!item.pending_in) request_status.clear();
            return e;
        },
        [this, user, contact, type, status](Status st, const Update& u) {
            if (!st) {
                log::error("roster", "storing {} from {} to {}: {}", type, contact.bare_str(), user.bare_str(),
                           st.to_string());
                return;
            }
            if (u.refused_full) {
                log::info("roster", "{}'s roster is full; {} from {} dropped", user.bare_str(), type, contact.bare_str());
                return;
            }
            if (u.effect.changed && (u.item.in_roster || u.was_in_roster)) push(user, u.item, u.removed, u.version);
            if (u.effect.forward) {
                xml::Element p = presence(type, contact, user);
                if (!status.empty()) p.add_child("status", std::string(xmpp::kNsClient)).add_text(status);
                for (const auto& s : host_->sessions_of(user))
                    if (s.available) host_->send_to_session(s, p, module::Delivery::with_hooks);
            }
            if (u.effect.reply_subscribed) host_->send(presence("subscribed", user, contact));
            if (u.effect.send_presence) send_presence_of(user, contact, false);
        });
}

void Roster::answer_probe(const xmpp::Jid& prober, const xmpp::Jid& user) {
    if (prober.bare() != user) {
        auto item = load_item(*db_, user, prober.bare());
        if (!item) {
            log::error("roster", "reading {}'s roster for a probe: {}", user.bare_str(), item.status().to_string());
            return;
        }
        // Not a subscriber: no answer at all, the same silence a probe to an
        // account that does not exist gets (RFC 6121 §4.3.2 suggests
        // "unsubscribed", which would tell who exists).
        if (!item.value() || !has_from(*item.value())) return;
    }
    send_presence_of(user, prober, true);
}

void Roster::send_presence_of(const xmpp::Jid& user, const xmpp::Jid& to, bool unavailable_when_none) {
    bool any = false;
    for (const auto& s : host_->sessions_of(user)) {
        if (!s.available || s.full_jid == to) continue;
        any = true;
        host_->post(s.ref.worker, [s, to](module::Host& h) {
            xml::Element p("presence", std::string(xmpp::kNsClient));
            if (auto* st = state_of(h, s.ref.session_id); st && st->last) p = *st->last;
            p.set_attr("from", s.full_jid.str());
            p.set_attr("to", to.str());
            h.send(std::move(p));
        });
    }
    if (!any && unavailable_when_none && to.bare() != user) host_->send(presence("unavailable", user, to));
}

void Roster::send_unavailable_of(const xmpp::Jid& user, const xmpp::Jid& to) {
    for (const auto& s : host_->sessions_of(user))
        if (s.available) host_->send(presence("unavailable", s.full_jid, to));
}

void Roster::session_available(const module::SessionInfo& s) {
    auto listing = load_roster(*db_, s.full_jid.bare());
    if (!listing) {
        log::error("roster", "reading the roster of {}: {}", s.full_jid.bare_str(), listing.status().to_string());
        return;
    }
    // The account's other resources (RFC 6121 §4.2.2 asks that the new one hears them).
    send_presence_of(s.full_jid.bare(), s.full_jid, false);
    for (size_t i = 0; i < listing->items.size(); ++i) {
        const Item& item = listing->items[i];
        if (has_to(item) && host_->is_local_domain(item.jid.domain()))  // UNFINISHED: s2s probes
            host_->send(presence("probe", s.full_jid, item.jid));
        if (item.pending_in) {
            // An unanswered request, again at each login until answered (§3.1.3).
            xml::Element p = presence("subscribe", item.jid, s.full_jid.bare());
            if (!listing->request_status[i].empty())
                p.add_child("status", std::string(xmpp::kNsClient)).add_text(listing->request_status[i]);
            host_->send_to_session(s, std::move(p), module::Delivery::with_hooks);
        }
    }
}

void Roster::session_closed(const module::SessionInfo& s) {
    if (!s.available) return;
    auto* st = state_of(*host_, s.ref.session_id);
    std::vector<xmpp::Jid> directed;
    if (st) directed.swap(st->directed);
    xml::Element p("presence", std::string(xmpp::kNsClient));
    p.set_attr("type", "unavailable");
    broadcast(p, s.full_jid, directed);
}

}  // namespace parley::mod_roster

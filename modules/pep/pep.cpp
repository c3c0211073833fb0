#include "pep.hpp"

#include <gnutls/crypto.h>

#include <algorithm>
#include <chrono>

#include "../roster/roster_service.hpp"
#include "element_codec.hpp"
#include "log/log.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_pep {

const config::OptionSpec kOptions[] = {
    {"max_nodes", config::OptionType::integer, "100", "nodes one account may have", 1, 100000},
    {"max_items", config::OptionType::integer, "1000", "items one node keeps at most (what max_items = max means)", 1,
     100000},
    {"default_max_items", config::OptionType::integer, "1", "items a new node keeps unless configured otherwise", 1,
     100000},
    {"max_payload_bytes", config::OptionType::integer, "65536", "largest item payload, serialized", 256, 262144},
    {"max_account_bytes", config::OptionType::integer, "10485760",
     "stored items and private XML of one account, in bytes", 4096, int64_t{1} << 40},
    {"max_members", config::OptionType::integer, "100", "whitelisted JIDs (member affiliations) per node", 0, 10000},
    {"caps_cache_size", config::OptionType::integer, "1000", "verified entity capabilities kept per worker", 0,
     1000000},
    {"caps_timeout_ms", config::OptionType::integer, "10000", "how long to wait for a client's disco#info answer",
     100, 120000},
    {"private_storage", config::OptionType::boolean, "true",
     "serve XEP-0049 private XML storage (with the XEP-0048 bookmarks view)"},
};
const size_t kOptionCount = std::size(kOptions);

const module::XepInfo kXeps[] = {
    {"0163", "1.2.2",
     "partial: auto-create, +notify filtering, last item on presence, access models presence, open and whitelist; "
     "no explicit subscriptions, no roster access model"},
    {"0060", "1.30.0", "partial: the PEP subset (see README)"},
    {"0115", "1.6.0", "complete for a server: caps read from presence, verified before caching"},
    {"0223", "1.1.1", "complete"},
    {"0222", "1.0", "complete"},
    {"0402", "1.2.0", "complete, with #compat to XEP-0048 in private storage; not #compat-pep"},
    {"0048", "1.2", "partial: through private XML storage (XEP-0049) only"},
    {"0049", "1.2", "complete"},
    {"0292", "0.12.0", "server side: the urn:xmpp:vcard4 node (open by default) and the vcard-4.0 feature"},
};
const size_t kXepCount = std::size(kXeps);

Result<Options> read_options(const config::Section& s) {
    Options o;
    o.limits.max_nodes = static_cast<uint32_t>(s.get_int("max_nodes", 100));
    o.limits.max_items = static_cast<uint32_t>(s.get_int("max_items", 1000));
    o.limits.max_account_bytes = static_cast<uint64_t>(s.get_int("max_account_bytes", 10485760));
    o.limits.max_members = static_cast<uint32_t>(s.get_int("max_members", 100));
    o.default_max_items = static_cast<uint32_t>(s.get_int("default_max_items", 1));
    o.max_payload_bytes = static_cast<size_t>(s.get_int("max_payload_bytes", 65536));
    o.caps_cache_size = static_cast<size_t>(s.get_int("caps_cache_size", 1000));
    o.caps_timeout_ms = static_cast<uint64_t>(s.get_int("caps_timeout_ms", 10000));
    o.private_storage = s.get_bool("private_storage", true);
    if (o.default_max_items > o.limits.max_items)
        return Status::error("config", s.where("default_max_items") + ": default_max_items (" +
                                           std::to_string(o.default_max_items) + ") is more than max_items (" +
                                           std::to_string(o.limits.max_items) + ")");
    return o;
}

Status Pep::configure(const config::Section& section) {
    auto o = read_options(section);
    if (!o) return o.status();
    opt_ = o.value();
    caps_.set_capacity(opt_.caps_cache_size);
    return Status::ok();
}

Status Pep::reload(const config::Section& section) {
    // private_storage decides registrations, which are made at start: it
    // takes effect at the next start; the limits apply at once.
    const bool private_storage = opt_.private_storage;
    Status s = configure(section);
    opt_.private_storage = private_storage;
    return s;
}

void Pep::stop() {
    alive_.reset();
    pending_.clear();
    db_.reset();
    host_ = nullptr;
}

std::vector<std::string> Pep::account_features() const {
    std::vector<std::string> f = {
        "http://jabber.org/protocol/pubsub",
        "http://jabber.org/protocol/pubsub#access-open",
        "http://jabber.org/protocol/pubsub#access-presence",
        "http://jabber.org/protocol/pubsub#access-whitelist",
        "http://jabber.org/protocol/pubsub#auto-create",
        "http://jabber.org/protocol/pubsub#auto-subscribe",
        "http://jabber.org/protocol/pubsub#config-node",
        "http://jabber.org/protocol/pubsub#config-node-max",
        "http://jabber.org/protocol/pubsub#create-and-configure",
        "http://jabber.org/protocol/pubsub#create-nodes",
        "http://jabber.org/protocol/pubsub#delete-items",
        "http://jabber.org/protocol/pubsub#delete-nodes",
        "http://jabber.org/protocol/pubsub#filtered-notifications",
        "http://jabber.org/protocol/pubsub#item-ids",
        "http://jabber.org/protocol/pubsub#last-published",
        "http://jabber.org/protocol/pubsub#member-affiliation",
        "http://jabber.org/protocol/pubsub#meta-data",
        "http://jabber.org/protocol/pubsub#modify-affiliations",
        "http://jabber.org/protocol/pubsub#multi-items",
        "http://jabber.org/protocol/pubsub#persistent-items",
        "http://jabber.org/protocol/pubsub#presence-notifications",
        "http://jabber.org/protocol/pubsub#presence-subscribe",
        "http://jabber.org/protocol/pubsub#publish",
        "http://jabber.org/protocol/pubsub#publish-options",
        "http://jabber.org/protocol/pubsub#purge-nodes",
        "http://jabber.org/protocol/pubsub#retract-items",
        "http://jabber.org/protocol/pubsub#retrieve-affiliations",
        "http://jabber.org/protocol/pubsub#retrieve-default",
        "http://jabber.org/protocol/pubsub#retrieve-items",
        std::string(xmpp::kNsDiscoInfo),
        std::string(xmpp::kNsDiscoItems),
        std::string(kNsVcard4),
    };
    if (opt_.private_storage) f.push_back(std::string(kNsBookmarks) + "#compat");
    std::sort(f.begin(), f.end());
    return f;
}

Status Pep::start(module::Host& host) {
    host_ = &host;
    alive_ = std::make_shared<char>(0);
    roster_ = module::service<roster::RosterService>(host);
    if (!roster_)
        log::info("pep", "no roster service (module roster): only owners see their PEP nodes, contacts get nothing");
    auto db = host.open_database(module::DatabaseSpec{"data", kStoreVersion, {}, ""});
    if (!db) return db.status();
    db_ = db.value();
    char rnd[4];
    if (gnutls_rnd(GNUTLS_RND_NONCE, rnd, sizeof rnd) < 0) std::fill(std::begin(rnd), std::end(rnd), 0);
    id_prefix_ = "pep" + std::to_string(host.worker_index()) + "-";
    for (unsigned char c : rnd) id_prefix_ += "0123456789abcdef"[c >> 4], id_prefix_ += "0123456789abcdef"[c & 15];
    id_prefix_ += '-';

    using module::IqTarget;
    auto pubsub = [this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) { on_pubsub(req, r); };
    auto owner = [this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) { on_owner(req, r); };
    for (const char* type : {"get", "set"}) {
        if (Status s = host.iq_handler(IqTarget::account, type, kNsPubsub, "pubsub", pubsub); !s) return s;
        if (Status s = host.iq_handler(IqTarget::account, type, kNsPubsubOwner, "pubsub", owner); !s) return s;
    }
    // The account's disco is the disco module's (it decides who may see it);
    // PEP adds its identity, features and nodes, and answers node queries.
    host.account_disco_identity(module::DiscoIdentity{"pubsub", "pep", ""});
    for (const auto& f : account_features()) host.account_disco_feature(f);
    host.account_disco_items([this](const xmpp::Jid& account, const xmpp::Jid& requester) {
        return visible_nodes(account, requester);
    });
    host.account_disco_nodes([this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
        if (req.payload.ns() == xmpp::kNsDiscoInfo)
            disco_info(req, std::move(r));
        else
            disco_items(req, std::move(r));
        return true;
    });
    if (opt_.private_storage) {
        auto priv = [this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) { on_private(req, r); };
        for (const char* type : {"get", "set"})
            if (Status s = host.iq_handler(IqTarget::account, type, kNsPrivate, "query", priv); !s) return s;
        host.disco_feature(std::string(kNsPrivate));
        host.disco_feature(std::string(kNsBookmarks) + "#compat");
    }
    // Early, so that the caps are known before other modules act on the presence.
    host.hook(module::HookPoint::stanza_in, 100, [this](module::StanzaContext& c) { return on_presence(c); });
    host.hook(module::HookPoint::stanza_out, 0, [this](module::StanzaContext& c) { return on_roster_push(c); });
    host.on_account_deleted(
        [this](const xmpp::Jid& user, std::function<void(Status)> done) { purge(user, std::move(done)); });
    return Status::ok();
}

void Pep::purge(const xmpp::Jid& user, std::function<void(Status)> done) {
    if (!db_) {
        done(Status::error("stopped", "pep: the module is stopping"));
        return;
    }
    // In one transaction: the account's own records, and its JID on other
    // accounts' whitelists (a new account of the name must not inherit that
    // access). Nothing in memory is per account: the caps cache is keyed by
    // 'ver', and the session slots went with the sessions.
    struct Counts {
        uint64_t records = 0, whitelists = 0;
    };
    auto counts = std::make_shared<Counts>();
    Status s = db_->write(
        [owner = user.bare_str(), counts](store::Txn& txn, MDB_dbi db) -> Status {
            if (Status st = remove_owner(txn, db, owner, counts->records); !st) return st;
            return forget_member(txn, db, owner, counts->whitelists);
        },
        [user, counts, done](Status st) {
            if (st && (counts->records > 0 || counts->whitelists > 0))
                log::info("pep", "removed {} record(s) of deleted account {} and it from {} whitelist(s)",
                          counts->records, user.bare_str(), counts->whitelists);
            done(std::move(st));
        });
    if (!s) done(std::move(s));
}

std::string Pep::next_id() { return id_prefix_ + std::to_string(++ids_); }

Status Pep::read(const std::function<Status(const store::Txn&, MDB_dbi)>& fn) const { return db_->read(fn); }

bool Pep::ready(const std::shared_ptr<module::IqResponder>& r) const {
    if (db_) return true;
    r->error(StanzaError::wait("internal-server-error", "the PEP store is not open"));
    return false;
}

StanzaError Pep::store_error(const Status& s) const {
    if (s.code() == "busy") return StanzaError::wait("resource-constraint", "the store is busy; try again");
    log::error("pep", "store: {}", s.to_string());
    return StanzaError::wait("internal-server-error", "the PEP store failed");
}

std::optional<StanzaError> Pep::may_read(const xmpp::Jid& owner, const xmpp::Jid& requester, const NodeConfig& config,
                                         const std::vector<std::string>& members) const {
    if (requester.bare() == owner.bare()) return std::nullopt;
    switch (config.access) {
        case AccessModel::open:
            return std::nullopt;
        case AccessModel::presence:
            if (roster_ && roster_->presence_visible_to(host_->worker_index(), owner.bare(), requester.bare()))
                return std::nullopt;
            return pubsub_error(StanzaError::auth("not-authorized", "only contacts who see the owner's presence may"),
                                "presence-subscription-required");
        case AccessModel::whitelist:
            if (std::binary_search(members.begin(), members.end(), requester.bare_str())) return std::nullopt;
            return pubsub_error(StanzaError::cancel("not-allowed", "the node is open only to its whitelist"),
                                "closed-node");
    }
    return StanzaError::cancel("not-allowed");
}

xml::Element Pep::event_message(const xmpp::Jid& owner, const xmpp::Jid& to, std::vector<xml::Element> events) {
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", owner.bare_str());
    m.set_attr("to", to.str());
    m.set_attr("type", "headline");
    m.set_attr("id", next_id());
    auto& ev = m.add_child("event", std::string(kNsPubsubEvent));
    for (auto& e : events) ev.add_child(std::move(e));
    return m;
}

void Pep::notify(const xmpp::Jid& owner, const std::string& node, const NodeConfig& config,
                 const std::vector<std::string>& members, std::vector<xml::Element> events) {
    if (!config.deliver_notifications || events.empty() || !host_) return;
    std::vector<xmpp::Jid> readers{owner.bare()};
    if (roster_ && config.access != AccessModel::whitelist) {
        auto items = roster_->items(host_->worker_index(), owner.bare());
        if (items) {
            for (const auto& it : *items)
                if (it.in_roster &&
                    (it.subscription == roster::Subscription::from || it.subscription == roster::Subscription::both))
                    readers.push_back(it.jid.bare());
        } else {
            log::warn("pep", "roster of {}: {}", owner.bare_str(), items.status().to_string());
        }
    } else if (roster_) {
        // Whitelisted members who share presence with the owner.
        for (const auto& m : members) {
            auto j = xmpp::Jid::parse(m);
            if (j && roster_->presence_visible_to(host_->worker_index(), owner.bare(), *j)) readers.push_back(*j);
        }
    }
    // Per worker: the sessions there, each checked against its slot there.
    std::map<unsigned, std::vector<std::pair<uint64_t, xmpp::Jid>>> by_worker;
    for (const auto& reader : readers)
        for (const auto& s : host_->sessions_of(reader)) by_worker[s.ref.worker].emplace_back(s.ref.session_id, s.full_jid);
    auto shared_events = std::make_shared<const std::vector<xml::Element>>(std::move(events));
    for (auto& [worker, targets] : by_worker) {
        host_->post(worker, [owner = owner.bare(), node, targets = std::move(targets), shared_events](module::Host& h) {
            auto& self = static_cast<Pep&>(h.instance());
            for (const auto& [id, full] : targets) {
                auto* slot = static_cast<PepSlot*>(h.slot(id));
                if (!slot || !slot->available || !slot->notify || !wants(*slot->notify, node)) continue;
                h.send(self.event_message(owner, full, *shared_events));
            }
        });
    }
}

void Pep::send_last_items(const xmpp::Jid& full, const NotifySet& nodes, const xmpp::Jid* owner_only) {
    if (nodes.empty() || !db_) return;
    const xmpp::Jid user = full.bare();
    std::vector<xmpp::Jid> owners{user};
    if (owner_only) {
        owners = {owner_only->bare()};
    } else if (roster_) {
        auto items = roster_->items(host_->worker_index(), user);
        if (items) {
            for (const auto& it : *items)
                if (it.in_roster && host_->is_local_domain(it.jid.domain()) &&
                    (it.subscription == roster::Subscription::to || it.subscription == roster::Subscription::both) &&
                    roster_->presence_visible_to(host_->worker_index(), it.jid.bare(), user))
                    owners.push_back(it.jid.bare());
        }
    }
    std::vector<xml::Element> out;
    Status s = read([&](const store::Txn& txn, MDB_dbi db) {
        for (const auto& owner : owners) {
            const std::string o = owner.bare_str();
            for (const auto& node : nodes) {
                auto n = read_node(txn, db, o, node);
                if (!n) return n.status();
                if (!*n || !(*n)->config.deliver_notifications || (*n)->config.send_last == SendLast::never ||
                    (!owner_only && (*n)->config.send_last != SendLast::on_sub_and_presence))
                    continue;
                if (may_read(owner, user, (*n)->config, (*n)->members)) continue;
                std::vector<StoredItem> last;
                if (Status r = read_items(txn, db, o, node, 1, last); !r) return r;
                if (last.empty()) continue;
                xml::Element items("items", std::string(kNsPubsubEvent));
                items.set_attr("node", node);
                auto& item = items.add_child("item", std::string(kNsPubsubEvent));
                item.set_attr("id", last.front().id);
                if ((*n)->config.deliver_payloads && !last.front().payload.empty()) {
                    auto payload = decode_element(last.front().payload);
                    if (payload) item.add_child(std::move(payload.value()));
                }
                std::vector<xml::Element> events;
                events.push_back(std::move(items));
                out.push_back(event_message(owner, full, std::move(events)));
            }
        }
        return Status::ok();
    });
    if (!s) log::warn("pep", "last items for {}: {}", full.str(), s.to_string());
    // Sent after the read transaction has ended: routing reads the same environment.
    for (auto& m : out) host_->send(std::move(m));
}

namespace {

// The nodes in `now` that are not in `before`.
NotifySet newly(const NotifySet& now, const NotifySet* before) {
    if (!before) return now;
    NotifySet out;
    std::set_difference(now.begin(), now.end(), before->begin(), before->end(), std::back_inserter(out));
    return out;
}

}  // namespace

module::HookResult Pep::on_presence(module::StanzaContext& c) {
    if (c.stanza.name() != "presence" || !c.from_local_client || !c.to.empty() || !host_) return module::HookResult::pass();
    const std::string_view type = c.stanza.attr_or("type");
    if (!type.empty() && type != "unavailable") return module::HookResult::pass();
    uint64_t id = 0;
    for (const auto& s : host_->sessions_of(c.from.bare()))
        if (s.full_jid == c.from && s.ref.worker == host_->worker_index()) id = s.ref.session_id;
    if (id == 0) return module::HookResult::pass();
    auto* slot = static_cast<PepSlot*>(host_->slot(id));
    if (!slot) {
        auto fresh = std::make_unique<PepSlot>();
        slot = fresh.get();
        if (!host_->set_slot(id, std::move(fresh))) return module::HookResult::pass();
    }
    if (type == "unavailable") {
        slot->available = false;
        return module::HookResult::pass();
    }
    const bool initial = !slot->available;
    slot->available = true;
    auto caps = parse_caps(c.stanza);
    if (!caps) {
        slot->caps_key.clear();
        slot->notify = nullptr;
        return module::HookResult::pass();
    }
    const std::string key = caps->key();
    if (!initial && key == slot->caps_key) return module::HookResult::pass();  // XEP-0163 §4.3.3: nothing new
    std::shared_ptr<const NotifySet> old = initial ? nullptr : slot->notify;
    slot->caps_key = key;
    if (hash_supported(caps->hash)) {
        if (auto set = caps_.find(key)) {
            slot->notify = set;
            send_last_items(c.from, newly(*set, old.get()));
            return module::HookResult::pass();
        }
    }
    learn_caps(id, c.from, *caps, std::move(old));
    return module::HookResult::pass();
}

module::HookResult Pep::on_roster_push(module::StanzaContext& c) {
    // RFC 6121 §2.1.6: the server pushes a changed roster item to each of the
    // user's interested resources after the change is made; an item now
    // showing subscription to or both means this user may see the contact.
    if (c.stanza.name() != "iq" || c.stanza.attr_or("type") != "set" || !host_ || !roster_)
        return module::HookResult::pass();
    const xml::Element* q = c.stanza.child("query", "jabber:iq:roster");
    if (!q) return module::HookResult::pass();
    std::vector<xmpp::Jid> contacts;
    for (const xml::Element& item : q->children()) {
        const std::string_view sub = item.attr_or("subscription");
        if (item.name() != "item" || (sub != "to" && sub != "both")) continue;
        auto jid = xmpp::Jid::parse(item.attr_or("jid"));
        if (jid && jid->has_node() && host_->is_local_domain(jid->domain())) contacts.push_back(jid->bare());
    }
    if (contacts.empty()) return module::HookResult::pass();
    // After this push has been written: the items follow it.
    host_->post(host_->worker_index(), [to = c.to, contacts = std::move(contacts)](module::Host& h) {
        auto& self = static_cast<Pep&>(h.instance());
        for (const auto& s : h.sessions_of(to.bare())) {
            if (s.full_jid != to || s.ref.worker != h.worker_index()) continue;
            auto* slot = static_cast<PepSlot*>(h.slot(s.ref.session_id));
            if (!slot || !slot->available || !slot->notify) continue;
            for (const auto& contact : contacts) self.send_last_items(to, *slot->notify, &contact);
        }
    });
    return module::HookResult::pass();
}

void Pep::learn_caps(uint64_t session_id, const xmpp::Jid& full, const Caps& caps, std::shared_ptr<const NotifySet> old) {
    // A verifiable 'ver' is asked once for every session that shows it; any
    // other is asked of each session, and its answer is that session's alone.
    const std::string key = hash_supported(caps.hash) ? caps.key() : caps.key() + ' ' + full.str();
    auto it = pending_.find(key);
    if (it != pending_.end()) {
        if (it->second.waiters.size() < 1000) it->second.waiters.push_back(Waiter{session_id, full, std::move(old)});
        return;
    }
    if (pending_.size() >= 1000) {
        log::warn("pep", "too many caps queries pending; {} gets no notifications for now", full.str());
        return;
    }
    PendingCaps p;
    p.caps = caps;
    p.waiters.push_back(Waiter{session_id, full, std::move(old)});
    pending_.emplace(key, std::move(p));
    query_caps(key);
}

void Pep::query_caps(const std::string& key) {
    auto it = pending_.find(key);
    if (it == pending_.end() || !host_) return;
    PendingCaps& p = it->second;
    if (p.waiters.empty() || ++p.attempts > 3) {
        pending_.erase(it);
        return;
    }
    const Waiter& w = p.waiters.front();
    xml::Element iq("iq", std::string(xmpp::kNsClient));
    iq.set_attr("type", "get");
    iq.set_attr("from", w.full.domain());
    iq.set_attr("to", w.full.str());
    auto& q = iq.add_child("query", std::string(xmpp::kNsDiscoInfo));
    if (!p.caps.node.empty()) q.set_attr("node", p.caps.node + '#' + p.caps.ver);
    host_->send_iq(std::move(iq), opt_.caps_timeout_ms,
                   [this, key, alive = std::weak_ptr<char>(alive_)](const xml::Element* reply) {
                       if (alive.lock()) caps_answered(key, reply);
                   });
}

void Pep::caps_answered(const std::string& key, const xml::Element* reply) {
    auto it = pending_.find(key);
    if (it == pending_.end()) return;
    PendingCaps& p = it->second;
    const xml::Element* query = nullptr;
    if (reply && reply->attr_or("type") == "result") query = reply->child("query", xmpp::kNsDiscoInfo);
    if (!query) {
        // No answer from that client: ask the next session showing the same caps.
        p.waiters.erase(p.waiters.begin());
        query_caps(key);
        return;
    }
    auto set = std::make_shared<const NotifySet>(notify_set(*query));
    const std::string caps_key = p.caps.key();
    auto ver = verification_string(*query, p.caps.hash);
    if (ver && *ver == p.caps.ver) {
        // XEP-0115 §5.4: verified, so it holds for everyone showing this ver.
        caps_.insert(caps_key, set);
        for (unsigned w = 0; w < host_->worker_count(); ++w)
            if (w != host_->worker_index())
                host_->post(w, [caps_key, set](module::Host& h) {
                    static_cast<Pep&>(h.instance()).caps_.insert(caps_key, set);
                });
        std::vector<Waiter> waiters = std::move(p.waiters);
        pending_.erase(it);
        for (const auto& w : waiters) apply_notify(w, caps_key, set);
        return;
    }
    // Not verifiable or not matching: the answer holds only for the client
    // that gave it, and is not cached (XEP-0115 §5.4 step 3.8).
    if (hash_supported(p.caps.hash))
        log::info("pep", "caps of {} do not verify ({} {}); not cached", p.waiters.front().full.str(), p.caps.hash,
                  p.caps.ver);
    Waiter first = p.waiters.front();
    p.waiters.erase(p.waiters.begin());
    if (p.waiters.empty()) pending_.erase(it);
    else query_caps(key);
    apply_notify(first, caps_key, set);
}

void Pep::apply_notify(const Waiter& w, const std::string& caps_key, std::shared_ptr<const NotifySet> set) {
    // The session may be gone, or may have shown other caps since.
    auto* slot = static_cast<PepSlot*>(host_->slot(w.session_id));
    if (!slot || slot->caps_key != caps_key) return;
    slot->notify = set;
    if (slot->available) send_last_items(w.full, newly(*set, w.old.get()));
}

}  // namespace parley::mod_pep

#include "blocking.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "blocklist_store.hpp"
#include "log/log.hpp"
#include "matching.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_blocking {

const config::OptionSpec kOptions[] = {
    {"max_items", config::OptionType::integer, "1000", "most JIDs one user's blocklist may hold", 1, 100000},
};
const module::XepInfo kXeps[] = {
    {"0191", "1.3",
     "complete; the unavailable presence on block and the probes on unblock reach local contacts only until the "
     "server federates"},
};

namespace {

using Kind = module::RouteOutcome::Kind;

struct Slot final : module::SessionSlot {
    bool requested = false;  // the session asked for the blocklist: it gets pushes
    size_t memory_bytes() const override { return sizeof(*this); }
};

// What a user gets from anyone whose stanzas the user blocks, and what
// anyone gets for a request to another account's address: the same as for
// an account nobody is online for or that does not exist, so that a blocked
// contact learns nothing.
StanzaError unavailable() { return recipient_unavailable(); }

Blocking& on_worker(module::Host& h) { return static_cast<Blocking&>(h.instance()); }

bool is_error(const xml::Element& s) { return s.attr_or("type") == "error"; }

// The error the blocking user gets for a stanza to a JID they block
// (XEP-0191 §3.3), which the filters let through.
bool blocked_notice(const xml::Element& s) {
    if (!is_error(s)) return false;
    const xml::Element* e = s.child("error", xmpp::kNsClient);
    return e && e->child("blocked", kNsBlockingErrors);
}

xml::Element presence(const std::string& type, const std::string& from, const std::string& to) {
    xml::Element p("presence", std::string(xmpp::kNsClient));
    p.set_attr("type", type);
    p.set_attr("from", from);
    p.set_attr("to", to);
    return p;
}

}  // namespace

// A block or unblock between its request and its answer.
struct Blocking::Change {
    std::shared_ptr<module::IqResponder> responder;
    xmpp::Jid user;
    bool block = false;
    std::vector<std::string> items;  // as requested (none: unblock all)
    // Filled by the write on the writer thread, read here once it is done.
    std::shared_ptr<std::vector<std::string>> removed = std::make_shared<std::vector<std::string>>();
    size_t acks = 0;  // workers yet to drop their cached list
};

Blocking::Blocking(const roster::RosterService* roster) : roster_override_(roster) {}
Blocking::~Blocking() = default;

Status Blocking::configure(const config::Section& section) {
    max_items_ = static_cast<size_t>(section.get_int("max_items", 1000));
    return Status::ok();
}

Status Blocking::start(module::Host& host) {
    host_ = &host;
    auto db = host.open_database({"items", 1, {}, ""});
    if (!db) return db.status();
    db_ = db.value();
    Status s = host.iq_handler(module::IqTarget::account, "get", kNsBlocking, "blocklist",
                               [this](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
                                   get(req, std::move(r));
                               });
    if (!s) return s;
    for (bool block : {true, false}) {
        s = host.iq_handler(module::IqTarget::account, "set", kNsBlocking, block ? "block" : "unblock",
                            [this, block](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
                                change(req, std::move(r), block);
                            });
        if (!s) return s;
    }
    host.hook(module::HookPoint::stanza_in, kHookPriority, [this](module::StanzaContext& c) { return on_stanza_in(c); });
    host.hook(module::HookPoint::stanza_out, kHookPriority,
              [this](module::StanzaContext& c) { return on_stanza_out(c); });
    host.on_routed(kHookPriority, [this](module::RoutedContext& c) { on_routed(c); });
    host.on_unavailable(kUnavailablePriority, [this](module::RoutedContext& c) { return on_unavailable(c); });
    host.on_account_deleted(
        [this](const xmpp::Jid& user, std::function<void(Status)> done) { purge(user, std::move(done)); });
    host.disco_feature(std::string(kNsBlocking));
    return Status::ok();
}

void Blocking::stop() {
    // Writes still pending commit, but their completion no longer runs; the
    // requests waiting for them are answered internal-server-error here.
    db_.reset();
    changes_.clear();
    // A purge waiting for other workers is not answered: the host asks
    // again later.
    purges_.clear();
    cache_.clear();
}

const roster::RosterService* Blocking::roster() const {
    if (roster_override_) return roster_override_;
    return module::service<roster::RosterService>(*host_);
}

bool Blocking::local_account(const xmpp::Jid& jid) const {
    return jid.has_node() && host_->is_local_domain(jid.domain());
}

const Blocking::Items* Blocking::list_of(const xmpp::Jid& user) {
    std::string key = user.bare_str();
    if (auto it = cache_.find(key); it != cache_.end()) return &it->second;
    Items items;
    Status s = db_->read([&](const store::Txn& txn, MDB_dbi db) {
        auto r = read_items(txn, db, user);
        if (!r) return r.status();
        items.insert(r.value().begin(), r.value().end());
        return Status::ok();
    });
    if (!s) {
        // Not cached: the next stanza tries again.
        log::error("blocking", "cannot read the blocklist of {}: {}", key, s.to_string());
        return nullptr;
    }
    if (cache_.size() >= kMaxCachedUsers) cache_.erase(cache_.begin());
    return &cache_.emplace(std::move(key), std::move(items)).first->second;
}

bool Blocking::blocks(const xmpp::Jid& user, const xmpp::Jid& jid) {
    if (jid.empty() || exempt(user, jid)) return false;
    const Items* items = list_of(user);
    if (!items || items->empty()) return false;
    for (const auto& candidate : items_catching(jid))
        if (items->count(candidate)) return true;
    return false;
}

// --- Filtering ---

module::HookResult Blocking::on_stanza_in(module::StanzaContext& c) {
    if (c.to.empty()) return module::HookResult::pass();  // to the sender's own account
    const xmpp::Jid user = c.from.bare();
    if (blocks(user, c.to)) {
        // §3.3: not routed; the user is told why, unless it is an error or
        // an iq result (RFC 6120 §8.3.1: never answered).
        if (!xmpp::is_error_or_result(c.stanza)) {
            xml::Element reply = xmpp::make_error_reply(
                c.stanza, StanzaError::cancel("not-acceptable", "you have blocked this address; unblock it first"));
            if (xml::Element* e = reply.child("error", xmpp::kNsClient))
                e->add_child("blocked", std::string(kNsBlockingErrors));
            host_->send(std::move(reply));
        }
        return module::HookResult::handled();
    }
    // To a local user who blocks the sender: as if the user were offline,
    // messages and iq requests bounce the way they would (errors and results
    // silently). Presence goes on, so that the sender's own side is kept as
    // for anyone (the roster module records an outbound subscription
    // request here): it vanishes at the unavailable point or at stanza_out.
    if (c.stanza.name() != "presence" && local_account(c.to) && blocks(c.to.bare(), c.from))
        return module::HookResult::reject(unavailable());
    return module::HookResult::pass();
}

void Blocking::on_routed(module::RoutedContext& c) {
    // Clients' stanzas were filtered in stanza_in; presence is left to
    // stanza_out (a bounce would answer it, which §3.3 forbids).
    if (c.origin == module::Origin::local_client) return;
    const std::string& name = c.stanza.name();
    if (name != "message" && name != "iq") return;
    const Kind kind = c.outcome.kind;
    if (kind != Kind::delivered && !(kind == Kind::server && name == "iq")) return;
    if (!local_account(c.to) || c.from.empty()) return;
    if (c.origin == module::Origin::server && blocked_notice(c.stanza)) return;
    if (blocks(c.to.bare(), c.from)) c.hold()->reject(unavailable());
}

module::HookResult Blocking::on_unavailable(module::RoutedContext& c) {
    if (c.from.empty() || !local_account(c.to)) return module::HookResult::pass();
    const std::string& name = c.stanza.name();
    const bool inbound = blocks(c.to.bare(), c.from);
    if (name == "presence") {
        // Probes, subscription requests, presence to nobody: no answer, no
        // error, and no record kept for the user's next login.
        if (inbound || (local_account(c.from) && blocks(c.from.bare(), c.to))) return module::HookResult::handled();
        return module::HookResult::pass();
    }
    if (inbound && !(c.origin == module::Origin::server && blocked_notice(c.stanza)))
        return module::HookResult::reject(unavailable());  // not stored for later
    return module::HookResult::pass();
}

module::HookResult Blocking::on_stanza_out(module::StanzaContext& c) {
    if (c.from.empty()) return module::HookResult::pass();
    const xmpp::Jid user = c.to.bare();
    if (c.from.bare() == user) return module::HookResult::pass();
    if (blocks(user, c.from) && !blocked_notice(c.stanza)) return module::HookResult::handled();
    // What the server sends on a local user's behalf to someone the user
    // blocks (presence broadcasts, probe answers). Errors pass: they are the
    // bounces that make the user look offline to a blocked contact.
    if (!is_error(c.stanza) && local_account(c.from) && blocks(c.from.bare(), c.to))
        return module::HookResult::handled();
    return module::HookResult::pass();
}

// --- Requests ---

void Blocking::mark_requested(const xmpp::Jid& session) {
    for (const auto& s : host_->sessions_of(session.bare())) {
        if (s.full_jid != session) continue;
        const uint64_t id = s.ref.session_id;
        auto mark = [id](module::Host& h) {
            if (auto* slot = static_cast<Slot*>(h.slot(id))) {
                slot->requested = true;
                return;
            }
            auto slot = std::make_unique<Slot>();
            slot->requested = true;
            h.set_slot(id, std::move(slot));
        };
        if (s.ref.worker == host_->worker_index()) mark(*host_);
        else host_->post(s.ref.worker, mark);
    }
}

void Blocking::get(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    if (req.from.bare() != req.to) {
        r->error(unavailable());
        return;
    }
    std::vector<std::string> items;
    Status s = db_->read([&](const store::Txn& txn, MDB_dbi db) {
        auto got = read_items(txn, db, req.to);
        if (!got) return got.status();
        items = std::move(got.value());
        return Status::ok();
    });
    if (!s) {
        log::error("blocking", "cannot read the blocklist of {}: {}", req.to.str(), s.to_string());
        r->error(StanzaError::wait("internal-server-error", "the blocklist cannot be read now"));
        return;
    }
    mark_requested(req.from);
    xml::Element list("blocklist", std::string(kNsBlocking));
    for (const auto& item : items) list.add_child("item", std::string(kNsBlocking)).set_attr("jid", item);
    r->result(std::move(list));
}

void Blocking::change(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r, bool block) {
    if (req.from.bare() != req.to) {
        r->error(unavailable());
        return;
    }
    const xmpp::Jid user = req.to;
    std::vector<std::string> items;
    for (const xml::Element& c : req.payload.children()) {
        if (c.name() != "item" || c.ns() != kNsBlocking) {
            r->error(StanzaError::modify("bad-request", fmt::format("<{}/> has only <item/> children", req.payload.name())));
            return;
        }
        const std::string* text = c.attr("jid");
        if (!text) {
            r->error(StanzaError::modify("bad-request", "an <item/> needs a 'jid'"));
            return;
        }
        auto jid = xmpp::Jid::parse(*text);
        if (!jid) {
            r->error(StanzaError::modify("jid-malformed", fmt::format("'{}' is not a JID", *text)));
            return;
        }
        std::string item = jid->str();
        if (!storable(user, item)) {
            r->error(StanzaError::modify("not-acceptable", "that JID is too long to be blocked"));
            return;
        }
        if (std::find(items.begin(), items.end(), item) == items.end()) items.push_back(std::move(item));
    }
    if (block && items.empty()) {
        r->error(StanzaError::modify("bad-request", "<block/> needs at least one <item/>"));
        return;
    }
    if (items.size() > max_items_) {
        r->error(StanzaError::modify("policy-violation", fmt::format("a blocklist holds at most {} JIDs", max_items_)));
        return;
    }
    auto ch = std::make_unique<Change>();
    ch->responder = std::move(r);
    ch->user = user;
    ch->block = block;
    ch->items = items;
    const uint64_t op = ++next_op_;
    const size_t max = max_items_;
    Status s = db_->write(
        [user, items = std::move(items), block, max, removed = ch->removed](store::Txn& txn, MDB_dbi db) {
            if (block) return add_items(txn, db, user, items, max);
            if (items.empty()) return remove_all(txn, db, user, *removed);
            return remove_items(txn, db, user, items, *removed);
        },
        // Runs only while db_ lives, i.e. while this module runs.
        [this, op](Status done) { written(op, done); });
    if (!s) {
        if (s.code() == "busy")
            ch->responder->error(StanzaError::wait("resource-constraint", "the server is busy; try again"));
        else
            ch->responder->error(StanzaError::wait("internal-server-error", "the blocklist cannot be changed now"));
        return;
    }
    changes_.emplace(op, std::move(ch));
}

void Blocking::written(uint64_t op, const Status& s) {
    auto it = changes_.find(op);
    if (it == changes_.end()) return;
    Change& ch = *it->second;
    if (!s) {
        if (s.code() == "quota")
            ch.responder->error(StanzaError::modify("policy-violation", s.message()));
        else {
            log::error("blocking", "cannot change the blocklist of {}: {}", ch.user.str(), s.to_string());
            ch.responder->error(StanzaError::wait("internal-server-error", "the blocklist cannot be changed now"));
        }
        changes_.erase(it);
        return;
    }
    // Every worker drops its copy of the list before anyone is told: from
    // the answer on, every stanza is checked against the new list.
    const std::string user = ch.user.bare_str();
    const unsigned here = host_->worker_index();
    ch.acks = host_->worker_count();
    for (unsigned w = 0; w < host_->worker_count(); ++w) {
        if (w == here) {
            forget(user);
            --ch.acks;
            continue;
        }
        const bool posted = host_->post(w, [user, op, here](module::Host& h) {
            on_worker(h).forget(user);
            h.post(here, [op](module::Host& back) { on_worker(back).acked(op); });
        });
        if (!posted) --ch.acks;  // a worker that no longer runs keeps nothing
    }
    if (ch.acks == 0) finish(op);
}

void Blocking::purge(const xmpp::Jid& user, std::function<void(Status)> done) {
    if (!db_) {
        done(Status::error("stopped", "blocking: the module is stopping"));
        return;
    }
    // The account's own list only. Other users' lists that name it stay:
    // they are those users' choices (and keep a new account of the name
    // blocked, as before).
    const uint64_t op = ++next_op_;
    Status s = db_->write(
        [user](store::Txn& txn, MDB_dbi db) {
            std::vector<std::string> removed;
            return remove_all(txn, db, user, removed);
        },
        // Runs only while db_ lives, i.e. while this module runs.
        [this, op](Status st) { purge_written(op, st); });
    if (!s) {
        done(std::move(s));
        return;
    }
    purges_.emplace(op, Purge{user.bare_str(), 0, std::move(done)});
}

void Blocking::purge_written(uint64_t op, const Status& s) {
    auto it = purges_.find(op);
    if (it == purges_.end()) return;
    if (!s) {
        auto done = std::move(it->second.done);
        purges_.erase(it);
        done(s);
        return;
    }
    // As for a change: every worker drops its cached copy of the list, so
    // that none of them filters with the old list (a new account of the
    // name must start with an empty one).
    const std::string user = it->second.user;
    const unsigned here = host_->worker_index();
    it->second.acks = host_->worker_count();
    for (unsigned w = 0; w < host_->worker_count(); ++w) {
        if (w == here) {
            forget(user);
            --it->second.acks;
            continue;
        }
        const bool posted = host_->post(w, [user, op, here](module::Host& h) {
            on_worker(h).forget(user);
            h.post(here, [op](module::Host& back) { on_worker(back).purge_acked(op); });
        });
        if (!posted) --it->second.acks;  // a worker that no longer runs keeps nothing
    }
    if (it->second.acks == 0) purge_acked(op, false);
}

void Blocking::purge_acked(uint64_t op, bool count) {
    auto it = purges_.find(op);
    if (it == purges_.end()) return;
    if (count && --it->second.acks > 0) return;
    auto done = std::move(it->second.done);
    purges_.erase(it);
    done(Status::ok());
}

void Blocking::acked(uint64_t op) {
    auto it = changes_.find(op);
    if (it == changes_.end()) return;
    if (--it->second->acks == 0) finish(op);
}

void Blocking::finish(uint64_t op) {
    auto it = changes_.find(op);
    if (it == changes_.end()) return;
    std::unique_ptr<Change> ch = std::move(it->second);
    changes_.erase(it);
    ch->responder->result(std::nullopt);
    xml::Element payload(ch->block ? "block" : "unblock", std::string(kNsBlocking));
    for (const auto& item : ch->items) payload.add_child("item", std::string(kNsBlocking)).set_attr("jid", item);
    push(ch->user, payload);
    if (ch->block) announce_unavailable(ch->user, ch->items);
    else probe_again(ch->user, *ch->removed);
}

void Blocking::push(const xmpp::Jid& user, const xml::Element& payload) {
    std::map<unsigned, std::vector<module::SessionInfo>> by_worker;
    for (auto& s : host_->sessions_of(user)) by_worker[s.ref.worker].push_back(std::move(s));
    const std::string from = user.bare_str();
    const std::string id_prefix = fmt::format("block-push-{}-{}-", host_->worker_index(), ++next_push_);
    for (auto& [worker, sessions] : by_worker) {
        auto send = [sessions, payload, from, id_prefix](module::Host& h) {
            for (const auto& s : sessions) {
                const auto* slot = static_cast<const Slot*>(h.slot(s.ref.session_id));
                if (!slot || !slot->requested) continue;
                xml::Element iq("iq", std::string(xmpp::kNsClient));
                iq.set_attr("type", "set");
                iq.set_attr("id", id_prefix + std::to_string(s.ref.session_id));
                iq.set_attr("from", from);
                iq.set_attr("to", s.full_jid.str());
                iq.add_child(payload);
                h.send_to_session(s, std::move(iq), module::Delivery::with_hooks);
            }
        };
        if (worker == host_->worker_index()) send(*host_);
        else host_->post(worker, send);
    }
}

void Blocking::announce_unavailable(const xmpp::Jid& user, const std::vector<std::string>& items) {
    // §3.3: the blocked contact sees the user go offline, if it could see
    // the user at all (RFC 6121 subscriptions, from the roster module).
    const roster::RosterService* r = roster();
    if (!r) return;
    std::vector<module::SessionInfo> mine;
    for (auto& s : host_->sessions_of(user))
        if (s.available) mine.push_back(std::move(s));
    if (mine.empty()) return;
    std::vector<xmpp::Jid> blocked;
    for (const auto& item : items)
        if (auto j = xmpp::Jid::parse(item); j) blocked.push_back(std::move(j.value()));
    const unsigned w = host_->worker_index();
    auto contacts = r->items(w, user);
    if (!contacts) {
        log::error("blocking", "cannot read the roster of {}: {}", user.str(), contacts.status().to_string());
        return;
    }
    for (const auto& c : contacts.value()) {
        // UNFINISHED: a remote contact is told once the server federates.
        if (!local_account(c.jid) || !r->presence_visible_to(w, user, c.jid)) continue;
        for (const auto& s : host_->sessions_of(c.jid)) {
            if (!std::any_of(blocked.begin(), blocked.end(), [&](const xmpp::Jid& b) { return catches(b, s.full_jid); }))
                continue;
            // Direct: the filters would now stop presence from the user to
            // the contact, this last one included.
            for (const auto& m : mine)
                host_->send_to_session(s, presence("unavailable", m.full_jid.str(), s.full_jid.str()),
                                       module::Delivery::direct);
        }
    }
}

void Blocking::probe_again(const xmpp::Jid& user, const std::vector<std::string>& items) {
    // §3.4: the contact sees the user's presence again. The roster module
    // answers a probe from the contact's bare JID with the user's current
    // presence, if the contact's subscription allows it; a probe the other
    // way brings the contact's presence back to the user's clients, which
    // heard nothing from the contact while it was blocked.
    const roster::RosterService* r = roster();
    std::set<xmpp::Jid> contacts;
    std::vector<roster::Item> roster_items;
    bool roster_read = false;
    for (const auto& item : items) {
        auto j = xmpp::Jid::parse(item);
        if (!j) continue;
        if (j->has_node()) {
            contacts.insert(j->bare());
            continue;
        }
        // A domain (or domain/resource): the contacts at it.
        if (!r) continue;
        if (!roster_read) {
            roster_read = true;
            auto got = r->items(host_->worker_index(), user);
            if (got) roster_items = std::move(got.value());
        }
        for (const auto& c : roster_items)
            if (catches(j.value(), c.jid)) contacts.insert(c.jid.bare());
    }
    for (const auto& c : contacts) {
        // UNFINISHED: remote contacts once the server federates; still
        // blocked by another item: nothing to restore.
        if (!local_account(c) || blocks(user, c)) continue;
        host_->send(presence("probe", c.bare_str(), user.bare_str()));
        host_->send(presence("probe", user.bare_str(), c.bare_str()));
    }
}

}  // namespace parley::mod_blocking

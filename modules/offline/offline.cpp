#include "offline.hpp"

#include <fmt/core.h>

#include <charconv>
#include <optional>

#include "log/log.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_offline {

const config::OptionSpec kOptions[] = {
    {"max_messages_per_user", config::OptionType::integer, "1000",
     "messages stored for one account at most; past it a message bounces with resource-constraint", 1, 1000000},
    {"max_bytes_per_user", config::OptionType::integer, "10485760",
     "bytes of stored stanzas for one account at most; past it a message bounces with resource-constraint", 1024,
     int64_t{1} << 32},
    {"max_message_bytes", config::OptionType::integer, "65536",
     "largest stanza stored (as serialized, with its delay); a larger one bounces with policy-violation", 256,
     16777216},
};
const module::XepInfo kXeps[] = {
    {"0160", "1.0.1", "complete: stored, delivered at the next non-negative available presence, msgoffline in disco"},
    {"0203", "2.0", "complete: a stored message carries the server's <delay/>"},
};

namespace {

using Clock = std::chrono::steady_clock;

// A flush that has not ended after this long is taken to be lost (its
// worker stopped the module mid-way); the next request starts a new one.
constexpr auto kStuck = std::chrono::seconds(60);
// How often a flush follows a session that moved to another worker
// (XEP-0198 resumption) before it gives up until the next request.
constexpr int kMaxHops = 3;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Offline& on(module::Host& h) { return static_cast<Offline&>(h.instance()); }

// The available sessions that may receive messages to the bare JID (RFC
// 6121 §8.5.2.1.1): the one of highest non-negative priority, or none.
std::optional<module::SessionInfo> best_session(const std::vector<module::SessionInfo>& sessions) {
    std::optional<module::SessionInfo> best;
    for (const auto& s : sessions)
        if (s.available && s.priority >= 0 && (!best || s.priority > best->priority)) best = s;
    return best;
}

}  // namespace

bool chat_state_only(const xml::Element& message) {
    bool state = false;
    for (const xml::Element& c : message.children()) {
        if (c.ns() == kNsChatStates) {
            state = true;
            continue;
        }
        if ((c.ns() == xmpp::kNsClient && c.name() == "thread") || c.ns() == kNsHints ||
            c.ns() == "urn:xmpp:sid:0")
            continue;
        return false;  // a body, a receipt, an encrypted payload...: worth keeping
    }
    return state;
}

xml::Element with_delay(const xml::Element& message, const std::string& domain, int64_t unix_ms) {
    xml::Element copy(message.name(), message.ns());
    for (const auto& a : message.attrs()) copy.set_attr(a.name, a.value);
    for (const auto& n : message.nodes()) {
        if (n.is_text()) {
            copy.add_text(n.text());
            continue;
        }
        const xml::Element& c = n.element();
        if (c.name() == "delay" && c.ns() == kNsDelay && c.attr_or("from") == domain) continue;
        copy.add_child(c);
    }
    xml::Element& d = copy.add_child("delay", kNsDelay);
    d.set_attr("from", domain);
    d.set_attr("stamp", xep0082_stamp(unix_ms));
    d.add_text("Offline Storage");
    return copy;
}

Status Offline::configure(const config::Section& section) {
    Settings s;
    s.quota.max_messages = static_cast<uint64_t>(section.get_int("max_messages_per_user", 1000));
    s.quota.max_bytes = static_cast<uint64_t>(section.get_int("max_bytes_per_user", 10485760));
    s.max_message_bytes = static_cast<uint64_t>(section.get_int("max_message_bytes", 65536));
    if (s.max_message_bytes > s.quota.max_bytes)
        return Status::error("config", section.where("max_message_bytes") +
                                           ": must not be larger than max_bytes_per_user (no such message could "
                                           "ever be stored)");
    settings_ = s;
    return Status::ok();
}

Status Offline::start(module::Host& host) {
    host_ = &host;
    auto db = host.open_database({kDatabaseName, kSchemaVersion, {}, ""});
    if (!db) return db.status();
    db_ = db.value();
    host.on_unavailable(0, [this](module::RoutedContext& c) { return take(c); });
    host.on_routed(kStorePriority, [this](module::RoutedContext& c) { store(c); });
    host.on_session(module::SessionEvent::available, [this](const module::SessionInfo& s) {
        if (s.priority >= 0) request_flush(s.full_jid.bare(), s);
    });
    host.hook(module::HookPoint::stanza_in, 0, [this](module::StanzaContext& c) {
        presence_in(c);
        return module::HookResult::pass();
    });
    host.on_account_deleted(
        [this](const xmpp::Jid& user, std::function<void(Status)> done) { purge(user, std::move(done)); });
    host.disco_feature(kFeature);
    return Status::ok();
}

void Offline::purge(const xmpp::Jid& user, std::function<void(Status)> done) {
    if (!db_) {
        done(Status::error("stopped", "offline: the module is stopping"));
        return;
    }
    auto owner = owner_key(user);
    if (!owner) {
        done(Status::ok());  // a name too long for a key never had a queue
        return;
    }
    auto removed = std::make_shared<uint64_t>(0);
    Status s = db_->write(
        [owner = std::move(owner.value()), removed](store::Txn& txn, MDB_dbi db) {
            return remove_queue(txn, db, owner, *removed);
        },
        [user, removed, done](Status st) {
            if (st && *removed > 0)
                log::info("offline", "removed {} stored message(s) of deleted account {}", *removed, user.bare_str());
            done(std::move(st));
        });
    if (!s) done(std::move(s));
}

void Offline::stop() {
    // Pending writes still commit; their completions are not run once the
    // handle is gone, and a hold they kept rejects (nothing is lost that a
    // sender was told was stored).
    db_.reset();
    flushes_.clear();
}

module::HookResult Offline::take(module::RoutedContext& c) {
    if (c.stanza.name() != "message") return module::HookResult::pass();
    const std::string_view type = c.stanza.attr_or("type");
    // The router brings only these here (§8.5.2.1.1); be explicit anyway.
    if (!type.empty() && type != "normal" && type != "chat") return module::HookResult::pass();
    // XEP-0334: the sender asked that it not be stored: the default bounce.
    if (c.stanza.child("no-store", kNsHints)) return module::HookResult::pass();
    if (!c.stanza.child("store", kNsHints) && chat_state_only(c.stanza)) return module::HookResult::handled();

    // Taken: the routed hook below stores it, after the routed hooks of
    // higher priority (the archive's stanza-id) have annotated it.
    return module::HookResult::handled();
}

void Offline::store(module::RoutedContext& c) {
    if (c.outcome.kind != module::RouteOutcome::Kind::taken_over || c.outcome.owner != "offline") return;
    // take() also takes what it drops without a reply (XEP-0160 §3).
    if (!c.stanza.child("store", kNsHints) && chat_state_only(c.stanza)) return;
    const xmpp::Jid user = c.to.bare();
    auto owner = owner_key(user);
    if (!owner) {
        c.hold()->reject(StanzaError::cancel("internal-server-error", owner.status().message()));
        return;
    }
    const int64_t stamp = now_ms();
    std::string text = xml::to_string(with_delay(c.stanza, user.domain(), stamp), xmpp::kNsClient);
    if (text.size() > settings_.max_message_bytes) {
        c.hold()->reject(StanzaError::modify(
            "policy-violation", fmt::format("the recipient is offline, and a message over {} bytes is not stored for "
                                            "later delivery",
                                            settings_.max_message_bytes)));
        return;
    }
    // The hold is taken only once the write was accepted: a refused write
    // bounces with its own error, not with the dropped hold's.
    auto hold = std::make_shared<std::shared_ptr<module::Hold>>();
    Status s = db_->write(
        [owner = std::move(owner.value()), text = std::move(text), stamp, quota = settings_.quota](store::Txn& txn,
                                                                                                   MDB_dbi db) {
            return append(txn, db, owner, stamp, text, quota);
        },
        [this, user, hold](Status st) { stored(user, st, *hold); });
    if (!s) {
        log::warn("offline", "cannot store a message for {}: {}", user.bare_str(), s.to_string());
        c.hold()->reject(
            StanzaError::wait("resource-constraint", "the server cannot store messages for offline users now"));
        return;
    }
    *hold = c.hold();
}

void Offline::stored(const xmpp::Jid& user, const Status& s, const std::shared_ptr<module::Hold>& hold) {
    if (!hold) return;
    if (!s) {
        if (s.code() == "quota") {
            hold->reject(StanzaError::wait("resource-constraint",
                                           "the recipient is offline and their storage for offline messages is full"));
            return;
        }
        log::error("offline", "storing a message for {} failed: {}", user.bare_str(), s.to_string());
        hold->reject(s.code() == "map-full"
                         ? StanzaError::wait("resource-constraint", "the server's storage is full")
                         : StanzaError::wait("internal-server-error", "the server could not store the message"));
        return;
    }
    hold->release();
    // The router decided before the recipient's presence was recorded, and
    // a flush may already have read the queue: hand it over now.
    if (auto best = best_session(host_->sessions_of(user))) request_flush(user, *best);
}

void Offline::presence_in(const module::StanzaContext& c) {
    // A session's own presence broadcast that raises a negative priority to
    // a non-negative one: it may receive messages from now on (§8.5.2.1.1).
    if (!c.from_local_client || !c.to.empty() || c.stanza.name() != "presence" || !c.stanza.attr_or("type").empty())
        return;
    int prio = 0;
    if (const xml::Element* p = c.stanza.child("priority", xmpp::kNsClient)) {
        const std::string t = p->text();
        auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), prio);
        if (ec != std::errc() || ptr != t.data() + t.size()) prio = 0;
    }
    if (prio < 0) return;
    for (const auto& s : host_->sessions_of(c.from))
        if (s.full_jid == c.from && s.available && s.priority < 0) request_flush(c.from.bare(), s);
}

unsigned Offline::owner_of(const xmpp::Jid& user) const {
    return static_cast<unsigned>(std::hash<std::string>{}(user.bare_str()) % host_->worker_count());
}

void Offline::request_flush(const xmpp::Jid& user, const module::SessionInfo& to) {
    if (!host_->post(owner_of(user), [user, to](module::Host& h) { on(h).flush_requested(user, to); }))
        log::warn("offline", "the worker that serves {} is gone; its messages wait for the next login",
                  user.bare_str());
}

void Offline::flush_requested(const xmpp::Jid& user, const module::SessionInfo& to) {
    auto [it, fresh] = flushes_.try_emplace(user);
    Flush& f = it->second;
    if (!fresh) {
        if (Clock::now() - f.since < kStuck) {
            for (const auto& w : f.waiting)
                if (w.ref.session_id == to.ref.session_id) return;
            f.waiting.push_back(to);
            return;
        }
        log::warn("offline", "a delivery of stored messages to {} did not end; starting another", user.bare_str());
    }
    run_flush(user, f, to);
}

void Offline::run_flush(const xmpp::Jid& user, Flush& f, const module::SessionInfo& to) {
    const uint64_t gen = f.generation = ++next_generation_;
    f.since = Clock::now();
    const uint64_t id = to.ref.session_id;
    if (!host_->post(to.ref.worker,
                     [user, id, gen](module::Host& h) { on(h).deliver_batch(user, id, gen, 0); }))
        flush_finished(user, gen);
}

void Offline::flush_finished(const xmpp::Jid& user, uint64_t generation) {
    auto it = flushes_.find(user);
    if (it == flushes_.end() || it->second.generation != generation) return;  // a flush given up on
    Flush& f = it->second;
    if (f.waiting.empty()) {
        flushes_.erase(it);
    } else {
        module::SessionInfo next = f.waiting.front();
        f.waiting.pop_front();
        run_flush(user, f, next);
    }
    if (on_flush_done) on_flush_done(user);
}

void Offline::finish(const xmpp::Jid& user, uint64_t generation) {
    if (!host_->post(owner_of(user), [user, generation](module::Host& h) { on(h).flush_finished(user, generation); }))
        log::warn("offline", "the worker that serves {} is gone", user.bare_str());
}

void Offline::deliver_batch(const xmpp::Jid& user, uint64_t session_id, uint64_t generation, int hops) {
    std::optional<module::SessionInfo> target;
    for (auto& s : host_->sessions_of(user))
        if (s.ref.session_id == session_id) target = std::move(s);
    if (!target || !target->available || target->priority < 0 || !db_) {
        finish(user, generation);  // gone, or no longer one that takes messages
        return;
    }
    if (target->ref.worker != host_->worker_index()) {
        // Resumed on another worker meanwhile: follow it, a few times.
        if (hops < kMaxHops && host_->post(target->ref.worker, [user, session_id, generation, hops](module::Host& h) {
                on(h).deliver_batch(user, session_id, generation, hops + 1);
            }))
            return;
        finish(user, generation);
        return;
    }
    auto owner = owner_key(user);
    if (!owner) {
        finish(user, generation);
        return;
    }
    std::vector<StoredMessage> batch;
    Status s = db_->read([&](const store::Txn& txn, MDB_dbi db) {
        auto r = first_messages(txn, db, owner.value(), kBatch);
        if (!r) return r.status();
        batch = std::move(r.value());
        return Status::ok();
    });
    if (!s) log::error("offline", "reading the stored messages of {} failed: {}", user.bare_str(), s.to_string());
    if (!s || batch.empty()) {
        finish(user, generation);
        return;
    }
    std::vector<uint64_t> seqs;
    seqs.reserve(batch.size());
    for (const auto& m : batch) {
        seqs.push_back(m.seq);
        auto stanza = parse_stored(m.xml);
        if (!stanza) {
            // Never deliverable: removed with the batch rather than left to
            // block the queue.
            log::error("offline", "message {} stored for {} is damaged and is dropped: {}", m.seq, user.bare_str(),
                       stanza.status().to_string());
            continue;
        }
        // On this worker the session takes it now, through stanza_out.
        host_->send_to_session(*target, std::move(stanza.value()), module::Delivery::with_hooks);
    }
    const bool more = batch.size() == kBatch;
    // Deleted only now that the batch was handed over (at least once).
    Status w = db_->write(
        [owner = std::move(owner.value()), seqs](store::Txn& txn, MDB_dbi db) { return remove(txn, db, owner, seqs); },
        [this, user, session_id, generation, more, n = seqs.size()](Status st) {
            if (!st) {
                log::warn("offline", "{} delivered messages of {} could not be deleted ({}): they will be delivered "
                                     "again",
                          n, user.bare_str(), st.to_string());
                finish(user, generation);
                return;
            }
            if (more) deliver_batch(user, session_id, generation, 0);
            else finish(user, generation);
        });
    if (!w) {
        log::warn("offline", "{} delivered messages of {} could not be deleted ({}): they will be delivered again",
                  seqs.size(), user.bare_str(), w.to_string());
        finish(user, generation);
    }
}

}  // namespace parley::mod_offline

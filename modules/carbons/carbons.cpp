#include "carbons.hpp"

#include <algorithm>
#include <map>

#include "log/log.hpp"
#include "xmpp/errors.hpp"

namespace parley::mod_carbons {

const module::XepInfo kXeps[] = {
    {"0280", "1.0.1",
     "complete but for carbons of error messages (§6.1 would need the server to remember the messages it copied), "
     "so urn:xmpp:carbons:rules:0 is not advertised"},
    {"0334", "1.0.0", "partial: no-copy (a server has nothing to do for no-permanent-store, no-store and store here)"},
};

namespace {

using Kind = module::RouteOutcome::Kind;

struct Slot final : module::SessionSlot {
    bool enabled = false;
    size_t memory_bytes() const override { return sizeof(*this); }
};

// The refusal a request to another account's address gets: the same as for
// an account with nothing that answers, so that nobody learns which
// accounts exist.
StanzaError not_for_you() { return recipient_unavailable(); }

Carbons& on_worker(module::Host& h) { return static_cast<Carbons&>(h.instance()); }

}  // namespace

Status Carbons::start(module::Host& host) {
    host_ = &host;
    alive_ = std::make_shared<bool>(true);
    for (bool on : {true, false}) {
        Status s = host.iq_handler(module::IqTarget::account, "set", kNsCarbons, on ? "enable" : "disable",
                                   [this, on](const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
                                       toggle(req, std::move(r), on);
                                   });
        if (!s) return s;
    }
    // §11: only the server makes carbons. A client that sends a wrapper is
    // refused, whoever it is addressed to. The error does not carry the
    // wrapper back (the router's bounce would copy it, and the filter below
    // would then drop the error as a forgery of its own).
    host.hook(module::HookPoint::stanza_in, 0, [this](module::StanzaContext& c) {
        if (c.stanza.name() != "message" || !is_carbon(c.stanza)) return module::HookResult::pass();
        if (!xmpp::is_error_or_result(c.stanza)) {
            xml::Element original = c.stanza;
            original.remove_children("sent", kNsCarbons);
            original.remove_children("received", kNsCarbons);
            host_->send(xmpp::make_error_reply(
                original, StanzaError::auth("forbidden", "only the server sends message carbons (XEP-0280 §11)")));
        }
        return module::HookResult::handled();
    });
    // And whatever the origin (a module, a remote server), a message that
    // looks like a carbon reaches a session only from that session's own
    // bare JID: a client trusting it would take words put in its user's or
    // a contact's mouth for real.
    host.hook(module::HookPoint::stanza_out, 0, [](module::StanzaContext& c) {
        if (c.stanza.name() != "message" || !is_carbon(c.stanza)) return module::HookResult::pass();
        if (c.from.is_bare() && !c.from.empty() && c.from == c.to.bare()) return module::HookResult::pass();
        log::info("carbons", "dropped a message to {} that looks like a carbon but comes from {}", c.to.str(),
                  c.from.str());
        return module::HookResult::handled();
    });
    host.on_routed(kRoutedPriority, [this](module::RoutedContext& c) { on_routed(c); });
    host.disco_feature(std::string(kNsCarbons));
    return Status::ok();
}

void Carbons::stop() {
    alive_.reset();
    waiting_.clear();  // each unanswered responder answers internal-server-error
}

bool Carbons::enabled(uint64_t session_id) const {
    const auto* s = static_cast<const Slot*>(host_->slot(session_id));
    return s && s->enabled;
}

bool Carbons::set(uint64_t session_id, bool on) {
    if (auto* s = static_cast<Slot*>(host_->slot(session_id))) {
        s->enabled = on;
        return true;
    }
    auto s = std::make_unique<Slot>();
    s->enabled = on;
    return host_->set_slot(session_id, std::move(s));
}

void Carbons::toggle(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r, bool on) {
    if (req.from.bare() != req.to) {
        r->error(not_for_you());
        return;
    }
    // §4.1, §5.1: a session enables carbons for itself only.
    const module::SessionInfo* mine = nullptr;
    const auto sessions = host_->sessions_of(req.from.bare());
    for (const auto& s : sessions)
        if (s.full_jid == req.from) mine = &s;
    if (!mine || !req.from.has_resource()) {
        r->error(StanzaError::cancel("not-allowed", "only a session of this account can change its own carbons"));
        return;
    }
    const uint64_t id = mine->ref.session_id;
    if (mine->ref.worker == host_->worker_index()) {
        if (set(id, on)) r->result(std::nullopt);
        else r->error(StanzaError::cancel("item-not-found", "the session has ended"));
        return;
    }
    // The session runs on another worker (it was resumed there while this
    // request waited): its slot is set there; the responder stays here.
    const uint64_t op = ++next_op_;
    waiting_.emplace(op, std::move(r));
    const unsigned back = host_->worker_index();
    const bool posted = host_->post(mine->ref.worker, [id, on, op, back](module::Host& h) {
        const bool ok = on_worker(h).set(id, on);
        h.post(back, [op, ok](module::Host& h2) { on_worker(h2).answer(op, ok); });
    });
    if (!posted) answer(op, false);
}

void Carbons::answer(uint64_t op, bool ok) {
    auto it = waiting_.find(op);
    if (it == waiting_.end()) return;
    auto r = std::move(it->second);
    waiting_.erase(it);
    if (ok) r->result(std::nullopt);
    else r->error(StanzaError::cancel("item-not-found", "the session has ended"));
}

void Carbons::on_routed(module::RoutedContext& c) {
    if (c.stanza.name() != "message") return;
    const Kind kind = c.outcome.kind;
    // Sent: the message left one of our clients for somewhere (a session, an
    // offline store, a service). Received: it reached a local account.
    const bool sent = c.origin == module::Origin::local_client &&
                      (kind == Kind::delivered || kind == Kind::taken_over || kind == Kind::domain);
    const bool received = (kind == Kind::delivered || kind == Kind::taken_over) && c.to.has_node();
    if (!sent && !received) return;
    const auto& recipients = c.outcome.recipients;
    auto got_it = [&recipients](uint64_t id) {
        return std::any_of(recipients.begin(), recipients.end(),
                           [id](const module::SessionInfo& r) { return r.ref.session_id == id; });
    };

    std::vector<module::SessionInfo> sent_to, received_to;
    if (sent && eligible(c.stanza, Direction::sent, false)) {
        for (auto& s : host_->sessions_of(c.from.bare()))
            if (s.full_jid != c.from && !got_it(s.ref.session_id)) sent_to.push_back(std::move(s));
    }
    // A message to one's own account: the other resources have their sent
    // copy already, and none gets two.
    if (received && !(sent && c.from.bare() == c.to.bare())) {
        bool occupant = false;
        if (c.from.has_resource() && c.from.domain() != c.to.domain()) {
            const auto services = host_->domains_of(c.to.domain());
            occupant = std::binary_search(services.begin(), services.end(), c.from.domain());
        }
        if (eligible(c.stanza, Direction::received, occupant)) {
            for (auto& s : host_->sessions_of(c.to.bare()))
                if (!got_it(s.ref.session_id)) received_to.push_back(std::move(s));
        }
    }
    if (sent_to.empty() && received_to.empty()) return;

    // Copied now (the hook sees the stanza as every hook before it left it),
    // sent once the router has carried the message out.
    c.when_done([this, alive = std::weak_ptr<bool>(alive_), sent_to = std::move(sent_to),
                 received_to = std::move(received_to), original = c.stanza, from = c.from,
                 to = c.to](const StanzaError* refused) mutable {
        if (refused || alive.expired()) return;
        if (!sent_to.empty()) {
            xml::Element copy = received_to.empty() ? std::move(original) : original;
            deliver(Direction::sent, from.bare(), std::move(sent_to), std::move(copy));
        }
        if (!received_to.empty()) deliver(Direction::received, to.bare(), std::move(received_to), std::move(original));
    });
}

void Carbons::deliver(Direction d, const xmpp::Jid& user, std::vector<module::SessionInfo> targets,
                      xml::Element original) {
    std::map<unsigned, std::vector<module::SessionInfo>> by_worker;
    for (auto& t : targets) by_worker[t.ref.worker].push_back(std::move(t));
    size_t left = by_worker.size();
    for (auto& [worker, group] : by_worker) {
        xml::Element copy = --left == 0 ? std::move(original) : original;
        if (worker == host_->worker_index()) {
            deliver_here(d, user, group, std::move(copy));
            continue;
        }
        host_->post(worker, [d, user, group = std::move(group), copy = std::move(copy)](module::Host& h) mutable {
            on_worker(h).deliver_here(d, user, group, std::move(copy));
        });
    }
}

void Carbons::deliver_here(Direction d, const xmpp::Jid& user, const std::vector<module::SessionInfo>& targets,
                           xml::Element original) {
    std::vector<const module::SessionInfo*> on;
    for (const auto& t : targets)
        if (enabled(t.ref.session_id)) on.push_back(&t);
    for (size_t i = 0; i < on.size(); ++i) {
        xml::Element copy = i + 1 == on.size() ? std::move(original) : original;
        host_->send_to_session(*on[i], wrap(d, user, on[i]->full_jid, std::move(copy)), module::Delivery::with_hooks);
    }
}

}  // namespace parley::mod_carbons

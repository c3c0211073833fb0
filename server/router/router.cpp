#include "router/router.hpp"

#include <charconv>

#include "log/log.hpp"
#include "loop/delay.hpp"
#include "loop/worker.hpp"
#include "s2s/links.hpp"
#include "sessions/local_session.hpp"
#include "xmpp/errors.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::module {

const char* to_string(RouteOutcome::Kind kind) {
    switch (kind) {
        case RouteOutcome::Kind::delivered: return "delivered";
        case RouteOutcome::Kind::unavailable: return "unavailable";
        case RouteOutcome::Kind::taken_over: return "taken_over";
        case RouteOutcome::Kind::no_account: return "no_account";
        case RouteOutcome::Kind::server: return "server";
        case RouteOutcome::Kind::domain: return "domain";
        case RouteOutcome::Kind::remote: return "remote";
        case RouteOutcome::Kind::bounced: return "bounced";
        case RouteOutcome::Kind::dropped: return "dropped";
        case RouteOutcome::Kind::consumed: return "consumed";
    }
    return "?";
}

}  // namespace parley::module

namespace parley::router {

using Kind = module::RouteOutcome::Kind;

namespace {

// Answers an iq on the worker that received it. An unanswered request gets
// internal-server-error when the last reference goes.
class Responder final : public module::IqResponder {
public:
    Responder(loop::Worker& w, xml::Element request) : worker_(w), request_(std::move(request)) {}
    ~Responder() override {
        if (!answered_) error(StanzaError::cancel("internal-server-error", "the request was not answered"));
    }
    void result(std::optional<xml::Element> payload) override {
        if (answered_) return;
        answered_ = true;
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "result");
        iq.set_attr("id", std::string(request_.attr_or("id")));
        if (const std::string* to = request_.attr("to")) iq.set_attr("from", *to);
        iq.set_attr("to", std::string(request_.attr_or("from")));
        if (payload) iq.add_child(std::move(*payload));
        worker_.router().route_from_server(std::move(iq));
    }
    void error(const StanzaError& e) override {
        if (answered_) return;
        answered_ = true;
        // Without the request's payload: make_error_reply() drops an iq's.
        worker_.router().bounce(request_, e);
    }

private:
    loop::Worker& worker_;
    xml::Element request_;
    bool answered_ = false;
};

constexpr std::string_view kIqIdPrefix = "parley-iq-";

// "parley-iq-W-SEQ" -> (W, SEQ)
bool parse_iq_id(std::string_view id, unsigned& worker, uint64_t& seq) {
    if (id.substr(0, kIqIdPrefix.size()) != kIqIdPrefix) return false;
    id.remove_prefix(kIqIdPrefix.size());
    auto dash = id.find('-');
    if (dash == std::string_view::npos) return false;
    auto [p1, e1] = std::from_chars(id.data(), id.data() + dash, worker);
    auto [p2, e2] = std::from_chars(id.data() + dash + 1, id.data() + id.size(), seq);
    return e1 == std::errc() && p1 == id.data() + dash && e2 == std::errc() && p2 == id.data() + id.size();
}

}  // namespace

// One stanza on its way: the decision, then (after the routed hooks and any
// holds) what to do with it.
struct Router::Flight {
    enum class Then { nothing, deliver, bounce, iq_server, iq_account, domain, iq_reply, remote };
    explicit Flight(xml::Element s) : stanza(std::move(s)) {}
    xml::Element stanza;
    xmpp::Jid from;
    xmpp::Jid to;
    module::Origin origin = module::Origin::server;
    module::RouteOutcome outcome;
    Then then = Then::nothing;
    bool stamp_to = false;  // presence broadcast: 'to' is each recipient's full JID
    std::shared_ptr<HoldState> hold;
    std::string sender;     // set once the flight waits
    uint64_t session_id = 0;  // the local client session that sent it
    // A session it was handed to that had ended (worker 0, id 0: none):
    // never chosen again. Its routed hooks ran when it was first decided.
    sessions::SessionRef gone;
    std::vector<std::function<void(const StanzaError*)>> done;  // RoutedContext::when_done
};

struct Router::HoldState {
    int outstanding = 0;
    bool rejected = false;
    StanzaError error;
    bool queued = false;  // the flight waits in waiting_by_sender_[sender]
    std::string sender;
    std::weak_ptr<Router*> router;
};

class Router::HoldImpl final : public module::Hold {
public:
    explicit HoldImpl(std::shared_ptr<HoldState> s) : state_(std::move(s)) {}
    ~HoldImpl() override {
        if (!done_) reject(StanzaError::cancel("internal-server-error", "a server module did not finish with this stanza"));
    }
    void release() override { finish(nullptr); }
    void reject(const StanzaError& e) override { finish(&e); }

private:
    void finish(const StanzaError* e) {
        if (done_) return;
        done_ = true;
        if (e && !state_->rejected) {
            state_->rejected = true;
            state_->error = *e;
        }
        if (--state_->outstanding > 0 || !state_->queued) return;
        // pump() may destroy the flight, and with it the last other owner of
        // this state: it gets its own copy of the key.
        if (auto r = state_->router.lock()) (*r)->pump(std::string(state_->sender));
    }
    std::shared_ptr<HoldState> state_;
    bool done_ = false;
};

class Router::Context final : public module::RoutedContext {
public:
    Context(Router& r, Flight& f)
        : module::RoutedContext(f.stanza, f.from, f.to, f.origin, f.outcome), router_(r), flight_(f) {
        session_id = f.session_id;
    }
    std::shared_ptr<module::Hold> hold() override {
        if (!flight_.hold) {
            flight_.hold = std::make_shared<HoldState>();
            flight_.hold->router = router_.self_;
        }
        ++flight_.hold->outstanding;
        return std::make_shared<HoldImpl>(flight_.hold);
    }
    void when_done(std::function<void(const StanzaError*)> fn) override { flight_.done.push_back(std::move(fn)); }

private:
    Router& router_;
    Flight& flight_;
};

struct Router::PendingIq {
    module::IqReplyHandler fn;
    xmpp::Jid to;
    std::string from;  // the request's 'from': the reply must be addressed there
    loop::Delay* timer = nullptr;
};

Router::Router(loop::Worker& worker) : worker_(worker), self_(std::make_shared<Router*>(this)) {}

Router::~Router() { stop(); }

void Router::stop() {
    self_.reset();  // holds released from now on do nothing
    if (waiting_ > 0) log::warn("router", "worker {}: {} held stanza(s) dropped at shutdown", worker_.index(), waiting_);
    waiting_by_sender_.clear();
    waiting_ = 0;
    auto pending = std::move(pending_iqs_);
    pending_iqs_.clear();
    for (auto& [seq, p] : pending) {
        if (p->timer) p->timer->cancel();
        if (p->fn) p->fn(nullptr);
    }
}

bool Router::account_exists(const xmpp::Jid& jid) const {
    auto r = worker_.shared().accounts->exists(jid.node(), jid.domain());
    if (!r) {
        log::error("router", "account lookup failed: {}", r.status().to_string());
        return false;
    }
    return r.value();
}

void Router::route_from_server(xml::Element stanza) {
    xmpp::Jid from, to;
    if (auto f = xmpp::Jid::parse(stanza.attr_or("from")); f) from = f.value();
    auto t = xmpp::Jid::parse(stanza.attr_or("to"));
    if (!t || t->empty()) {
        log::warn("router", "dropping a server stanza without a valid 'to'");
        return;
    }
    to = std::move(t.value());
    route(std::move(stanza), std::move(from), std::move(to), module::Origin::server);
}

void Router::route(xml::Element stanza, xmpp::Jid from, xmpp::Jid to, module::Origin origin, uint64_t session) {
    Flight f(std::move(stanza));
    // RFC 6120 §10.3: no 'to' means the sender's own account (bare JID).
    f.to = to.empty() ? from.bare() : std::move(to);
    f.from = std::move(from);
    f.origin = origin;
    f.session_id = session;
    if (waiting_ > 0) {
        // Bounded waiting: checked before any hook sees the stanza, so no
        // module starts work for a stanza that is then refused.
        auto it = waiting_by_sender_.find(f.from.str());
        const size_t mine = it == waiting_by_sender_.end() ? 0 : it->second.size();
        if (mine >= limits_.per_sender || waiting_ >= limits_.per_worker) {
            refuse(std::move(f.stanza), f.from, f.to, origin,
                   StanzaError::wait("resource-constraint", "too many stanzas are waiting to be stored; slow down"),
                   session);
            return;
        }
    }
    decide(f);
    dispatch(std::move(f));
}

void Router::refuse(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to, module::Origin origin,
                    const StanzaError& error, uint64_t session) {
    Flight f(std::move(stanza));
    f.from = from;
    f.to = to.empty() ? from.bare() : to;
    f.origin = origin;
    f.session_id = session;
    f.outcome.kind = Kind::bounced;
    f.outcome.error = error;
    f.then = Flight::Then::bounce;
    dispatch(std::move(f));
}

void Router::consumed(xml::Element& stanza, const xmpp::Jid& from, const xmpp::Jid& to, module::Origin origin,
                      const std::string& owner, uint64_t session) {
    if (!worker_.hooks().has_routed()) return;
    Flight f(stanza);
    f.from = from;
    f.to = to.empty() ? from.bare() : to;
    f.origin = origin;
    f.session_id = session;
    f.outcome.kind = Kind::consumed;
    f.outcome.owner = owner;
    dispatch(std::move(f));
}

void Router::handled_by_session(const xml::Element& stanza, const xmpp::Jid& from, Kind kind, uint64_t session) {
    if (!worker_.hooks().has_routed()) return;
    Flight f(stanza);
    f.from = from;
    f.to = from.bare();
    if (auto t = xmpp::Jid::parse(stanza.attr_or("to")); t && !t->empty()) f.to = std::move(t.value());
    f.origin = module::Origin::local_client;
    f.session_id = session;
    f.outcome.kind = kind;
    dispatch(std::move(f));
}

void Router::decide(Flight& f) {
    const std::string& name = f.stanza.name();
    const std::string_view type = f.stanza.attr_or("type");
    auto& hooks = worker_.hooks();
    if (name == "iq" && (type == "result" || type == "error") && reply_to_server_iq(f.stanza, f.to)) {
        f.outcome.kind = Kind::server;
        f.then = Flight::Then::iq_reply;
        return;
    }
    if (hooks.has_domains()) {
        std::string owner;
        if (hooks.find_domain(f.to.domain(), &owner)) {
            f.outcome.kind = Kind::domain;
            f.outcome.owner = f.to.domain();
            f.then = Flight::Then::domain;
            return;
        }
    }
    // The worker's own config snapshot: no lock on the stanza path.
    if (worker_.config().find_host(f.to.domain()) == nullptr) {
        // Another server's domain. A stanza that came from a remote server is
        // never relayed on to a third (an s2s stream accepts only stanzas
        // for domains served here; this guards every other path).
        if (!worker_.config().s2s.enabled || f.origin == module::Origin::remote_server) {
            f.outcome.kind = Kind::bounced;
            f.outcome.error = StanzaError::cancel(
                "remote-server-not-found", worker_.config().s2s.enabled
                                               ? "this server does not relay stanzas between other servers"
                                               : "this server does not federate with other domains");
            f.then = Flight::Then::bounce;
            return;
        }
        f.outcome.kind = Kind::remote;
        f.then = Flight::Then::remote;
        return;
    }
    if (!f.to.has_node()) {
        to_server(f);
        return;
    }
    decide_account(f);
}

void Router::to_server(Flight& f) {
    const std::string& name = f.stanza.name();
    const std::string_view type = f.stanza.attr_or("type");
    f.outcome.kind = Kind::server;
    if (name == "iq") {
        if (type == "get" || type == "set") f.then = Flight::Then::iq_server;
        return;  // results and errors addressed to the server end here
    }
    if (name == "message") {
        if (type != "error" && type != "headline" && type != "groupchat") {
            f.outcome.kind = Kind::bounced;
            f.outcome.error = StanzaError::cancel("service-unavailable", "the server does not accept messages");
            f.then = Flight::Then::bounce;
        } else {
            f.outcome.kind = Kind::dropped;
        }
    }
    // Presence to the server: nothing to do (yet).
}

void Router::decide_account(Flight& f) {
    const std::string& kind = f.stanza.name();
    const std::string_view type = f.stanza.attr_or("type");
    auto& registry = *worker_.shared().registry;
    Decision d;
    bool exists_known = false, exists = false;
    if (f.to.has_resource()) {
        auto found = registry.find(f.to);
        if (found && unreachable(found->ref, f.gone)) found.reset();
        d = decide_full(kind, type, found ? &*found : nullptr);
    } else {
        d.action = Decision::Action::to_bare;
    }
    if (d.action == Decision::Action::to_bare) {
        const xmpp::Jid bare = f.to.bare();
        auto sessions = registry.sessions_of(bare);
        // Online sessions imply the account exists (deleting it ends them).
        exists = !sessions.empty() || account_exists(bare);
        std::erase_if(sessions, [&](const sessions::SessionEntry& e) { return unreachable(e.ref, f.gone); });
        exists_known = true;
        d = decide_bare(kind, type, sessions, exists);
    }
    switch (d.action) {
        case Decision::Action::deliver:
            f.outcome.kind = Kind::delivered;
            f.outcome.recipients = std::move(d.targets);
            f.then = Flight::Then::deliver;
            return;
        case Decision::Action::bounce:
            // The one refusal for an account's address: whether the account
            // exists decides only what modules are told, not what the sender gets.
            if (!exists_known) exists = account_exists(f.to.bare());
            f.outcome.kind = exists ? Kind::unavailable : Kind::no_account;
            f.outcome.error = d.error;
            f.then = Flight::Then::bounce;
            return;
        case Decision::Action::handle_iq:
            f.outcome.kind = Kind::server;
            f.then = Flight::Then::iq_account;
            return;
        case Decision::Action::unavailable:
            f.outcome.kind = Kind::unavailable;
            f.outcome.error = d.error;
            f.then = d.error.condition.empty() ? Flight::Then::nothing : Flight::Then::bounce;
            run_unavailable(f);
            return;
        case Decision::Action::to_bare:
        case Decision::Action::drop:
            f.outcome.kind = Kind::dropped;
            return;
    }
}

void Router::run_unavailable(Flight& f) {
    auto& hooks = worker_.hooks();
    if (!hooks.has_unavailable()) return;
    Context ctx(*this, f);
    std::string owner;
    module::HookResult r = hooks.run_unavailable(ctx, &owner);
    if (r.verdict == module::HookResult::Verdict::handled) {
        f.outcome.kind = Kind::taken_over;
        f.outcome.owner = owner;
        f.outcome.error = {};
        f.then = Flight::Then::nothing;
    } else if (r.verdict == module::HookResult::Verdict::reject) {
        f.outcome.kind = Kind::bounced;
        f.outcome.owner = owner;
        f.outcome.error = r.error;
        f.then = Flight::Then::bounce;
    }
}

void Router::dispatch(Flight&& f) {
    auto& hooks = worker_.hooks();
    // A stanza decided again for a session that had ended was seen by the
    // routed hooks when it was first decided (archived, copied to carbons):
    // not twice.
    if (hooks.has_routed() && f.gone.session_id == 0) {
        Context ctx(*this, f);
        hooks.run_routed(ctx);
    }
    const bool ready = !f.hold || f.hold->outstanding == 0;
    if (ready && waiting_ == 0) {
        apply(f);  // the common case: nothing waits, nothing held
        return;
    }
    std::string sender = f.from.str();
    auto it = waiting_by_sender_.find(sender);
    if (ready && it == waiting_by_sender_.end()) {
        apply(f);
        return;
    }
    auto flight = std::make_shared<Flight>(std::move(f));
    flight->sender = sender;
    if (flight->hold) {
        flight->hold->queued = true;
        flight->hold->sender = sender;
    }
    waiting_by_sender_[sender].push_back(std::move(flight));
    ++waiting_;
    // Something ahead of it may have finished meanwhile (released in a hook).
    pump(sender);
}

void Router::pump(std::string sender) {
    // Re-found on every turn: applying one flight may route others (bounces)
    // and change the map.
    for (;;) {
        auto it = waiting_by_sender_.find(sender);
        if (it == waiting_by_sender_.end()) return;
        auto& queue = it->second;
        if (queue.empty()) {
            waiting_by_sender_.erase(it);
            return;
        }
        std::shared_ptr<Flight> head = queue.front();
        if (head->hold && head->hold->outstanding > 0) return;
        queue.pop_front();
        --waiting_;
        if (queue.empty()) waiting_by_sender_.erase(it);
        apply(*head);
    }
}

void Router::apply(Flight& f) {
    const bool rejected = f.hold && f.hold->rejected;
    if (rejected) bounce(f.stanza, f.hold->error);
    else carry_out(f);
    for (auto& fn : f.done) {
        try {
            fn(rejected ? &f.hold->error : nullptr);
        } catch (const std::exception& e) {
            log::error("router", "a when_done callback failed: {}", e.what());
        }
    }
    if (waiting_ == 0 && on_idle_) on_idle_();
}

void Router::carry_out(Flight& f) {
    switch (f.then) {
        case Flight::Then::nothing:
            return;
        case Flight::Then::bounce:
            bounce(f.stanza, f.outcome.error);
            return;
        case Flight::Then::deliver: {
            auto& targets = f.outcome.recipients;
            // A stanza for one session only is decided again if that session
            // is gone when it arrives; a copy of a stanza that others got
            // as well is not (they have it).
            const bool reroute = targets.size() == 1 && !f.stamp_to;
            for (size_t i = 0; i < targets.size(); ++i) {
                xml::Element copy = i + 1 < targets.size() ? f.stanza : std::move(f.stanza);
                if (f.stamp_to) copy.set_attr("to", targets[i].full_jid.str());
                deliver(targets[i], std::move(copy), module::Delivery::with_hooks, reroute);
            }
            return;
        }
        case Flight::Then::iq_server:
            handle_iq(std::move(f.stanza), f.from, f.to, false);
            return;
        case Flight::Then::iq_account:
            handle_iq(std::move(f.stanza), f.from, f.to, true);
            return;
        case Flight::Then::domain: {
            // Looked up again: the module may have stopped while the stanza was held.
            const module::DomainHandler* h = worker_.hooks().find_domain(f.to.domain());
            if (!h) {
                bounce(f.stanza, StanzaError::cancel("service-unavailable", "no service runs at that address now"));
                return;
            }
            module::DomainStanza ds{std::move(f.stanza), f.from, f.to, f.origin};
            try {
                (*h)(ds);
            } catch (const std::exception& e) {
                log::error("router", "domain handler for {} failed: {}", f.to.domain(), e.what());
            }
            return;
        }
        case Flight::Then::remote: {
            std::string local = f.from.domain();
            std::string remote = f.to.domain();
            s2s::Links::send(worker_, std::move(f.stanza), std::move(local), std::move(remote));
            return;
        }
        case Flight::Then::iq_reply: {
            unsigned w = 0;
            uint64_t seq = 0;
            parse_iq_id(f.stanza.attr_or("id"), w, seq);
            if (w == worker_.index()) {
                finish_iq(seq, &f.stanza, &f.from);
                return;
            }
            if (w < worker_.shared().workers.size()) {
                worker_.shared().workers[w]->post(
                    [seq, stanza = std::move(f.stanza), from = f.from](loop::Worker& other) {
                        other.router().finish_iq(seq, &stanza, &from);
                    });
            }
            return;
        }
    }
}

void Router::handle_iq(xml::Element stanza, const xmpp::Jid& from, const xmpp::Jid& to, bool account) {
    const xml::Element* payload = stanza.first_child();
    // On behalf of an account, a request that nothing serves gets the bounce
    // a missing account gets (recipient_unavailable()): a different one would tell the
    // sender that the account exists.
    if (!payload) {
        bounce(stanza, account ? recipient_unavailable()
                               : StanzaError::modify("bad-request", "an iq request carries exactly one child"));
        return;
    }
    const std::string type(stanza.attr_or("type"));
    const module::IqHandler* handler = worker_.hooks().find_iq(
        account ? module::IqTarget::account : module::IqTarget::server, type, payload->ns(), payload->name());
    if (!handler) {
        bounce(stanza, account ? recipient_unavailable()
                               : StanzaError::cancel("service-unavailable", "no service here handles that request"));
        return;
    }
    // The request is kept by the responder; the handler sees a reference.
    auto responder = std::make_shared<Responder>(worker_, stanza);
    module::IqRequest req{stanza, *payload, from, to};
    try {
        (*handler)(req, responder);
    } catch (const std::exception& e) {
        log::error("router", "iq handler for {{{}}}{} failed: {}", payload->ns(), payload->name(), e.what());
        responder->error(StanzaError::cancel("internal-server-error", "a server module failed"));
    }
}

bool Router::unreachable(const sessions::SessionRef& ref, const sessions::SessionRef& gone) const {
    if (gone.session_id != 0 && ref == gone) return true;
    if (ref.worker != worker_.index()) return false;  // its own worker knows (deliver)
    const sessions::LocalSession* s = worker_.find_session(ref.session_id);
    return !s || s->ending();
}

void Router::reroute_gone(xml::Element stanza, sessions::SessionRef session) {
    // Decided for a session that ended before it arrived: decided again as
    // if that session had been gone then (RFC 6121 §8.5.3.2: a message goes
    // to the account's other resources or to offline storage; an iq request
    // gets its error), never dropped without a word.
    Flight f(std::move(stanza));
    if (auto fr = xmpp::Jid::parse(f.stanza.attr_or("from")); fr) f.from = std::move(fr.value());
    auto t = xmpp::Jid::parse(f.stanza.attr_or("to"));
    if (!t || t->empty()) return;
    f.to = std::move(t.value());
    f.origin = module::Origin::server;
    f.gone = session;
    decide(f);
    dispatch(std::move(f));
}

void Router::deliver(const sessions::SessionEntry& to, xml::Element stanza, module::Delivery how, bool reroute) {
    const uint64_t id = to.ref.session_id;
    auto hand_over = [id, how, reroute](loop::Worker& w, xml::Element s) {
        sessions::LocalSession* session = w.find_session(id);
        if (!session || session->ending()) {
            if (reroute) w.router().reroute_gone(std::move(s), sessions::SessionRef{w.index(), id});
            return;
        }
        auto& hooks = w.hooks();
        if (how == module::Delivery::with_hooks && hooks.has_hooks(module::HookPoint::stanza_out)) {
            xmpp::Jid from;
            if (auto f = xmpp::Jid::parse(s.attr_or("from")); f) from = f.value();
            module::StanzaContext ctx{s, from, session->full_jid(), false, id};
            module::HookResult r = hooks.run(module::HookPoint::stanza_out, ctx);
            if (r.verdict == module::HookResult::Verdict::handled) return;
            if (r.verdict == module::HookResult::Verdict::reject) {
                w.router().bounce(s, r.error);
                return;
            }
        }
        session->send_stanza(s);
    };
    if (to.ref.worker == worker_.index()) {
        hand_over(worker_, std::move(stanza));
        return;
    }
    loop::Worker* target = worker_.shared().workers[to.ref.worker];
    target->post([hand_over, stanza = std::move(stanza)](loop::Worker& w) mutable { hand_over(w, std::move(stanza)); });
}

void Router::bounce(const xml::Element& stanza, const StanzaError& error) {
    if (error.condition.empty()) return;
    if (xmpp::is_error_or_result(stanza)) return;
    const std::string* from = stanza.attr("from");
    if (!from || from->empty()) return;
    xml::Element reply = xmpp::make_error_reply(stanza, error);
    if (!reply.attr("from")) {
        // The original had no 'to': the reply comes from the sender's server.
        if (auto f = xmpp::Jid::parse(*from); f) reply.set_attr("from", f->domain());
    }
    route_from_server(std::move(reply));
}

void Router::to_own_resources(xml::Element presence, const xmpp::Jid& sender, uint64_t also) {
    Flight f(std::move(presence));
    f.from = sender;
    f.to = sender.bare();
    f.origin = module::Origin::local_client;
    f.outcome.kind = Kind::delivered;
    f.then = Flight::Then::deliver;
    f.stamp_to = true;
    f.session_id = also;  // the sender's own broadcast; 0 for the goodbye the server sends for it
    for (auto& s : worker_.shared().registry->sessions_of(f.to))
        if ((s.available && !unreachable(s.ref, {})) || s.ref.session_id == also)
            f.outcome.recipients.push_back(std::move(s));
    dispatch(std::move(f));
}

void Router::broadcast_own_presence(const xmpp::Jid& sender, uint64_t sender_id, const xml::Element& presence) {
    // Unavailable presence also reaches the sender's now-unavailable resource.
    to_own_resources(presence, sender, sender_id);
}

void Router::session_ended(const xmpp::Jid& jid, uint64_t id, bool was_available) {
    if (!was_available) return;
    // Replaced by a newer session of the same full JID (resource conflict):
    // that address is still online, so nobody is told it went away.
    if (auto now = worker_.shared().registry->find(jid); now && now->ref.session_id != id) return;
    xml::Element p("presence", std::string(xmpp::kNsClient));
    p.set_attr("type", "unavailable");
    p.set_attr("from", jid.str());
    to_own_resources(std::move(p), jid, 0);  // session ids start at 1: no one else
}

void Router::send_iq(xml::Element iq, uint64_t timeout_ms, module::IqReplyHandler fn) {
    const uint64_t seq = ++next_iq_;
    iq.set_attr("id", fmt::format("{}{}-{}", kIqIdPrefix, worker_.index(), seq));
    auto p = std::make_unique<PendingIq>();
    p->fn = std::move(fn);
    if (auto t = xmpp::Jid::parse(iq.attr_or("to")); t) p->to = t.value();
    p->from = std::string(iq.attr_or("from"));
    p->timer = loop::Delay::start(worker_.loop(), timeout_ms, [this, seq] {
        auto it = pending_iqs_.find(seq);
        if (it != pending_iqs_.end()) it->second->timer = nullptr;  // it has fired: not to be cancelled
        finish_iq(seq, nullptr, nullptr);
    });
    pending_iqs_.emplace(seq, std::move(p));
    route_from_server(std::move(iq));
}

bool Router::reply_to_server_iq(const xml::Element& stanza, const xmpp::Jid& to) {
    // Only replies addressed to us (a served domain or an account the server
    // spoke for); the owning worker checks the rest (finish_iq).
    unsigned w = 0;
    uint64_t seq = 0;
    return parse_iq_id(stanza.attr_or("id"), w, seq) && w < worker_.shared().workers.size() &&
           worker_.config().find_host(to.domain()) != nullptr;
}

void Router::finish_iq(uint64_t seq, const xml::Element* reply, const xmpp::Jid* from) {
    auto it = pending_iqs_.find(seq);
    if (it == pending_iqs_.end()) return;  // answered already, timed out, or not ours
    PendingIq& p = *it->second;
    if (reply && from) {
        // RFC 6120 §8.1.2.1: only the addressee answers (a full JID may
        // answer for the bare JID it was sent to).
        const bool from_addressee = *from == p.to || (p.to.is_bare() && from->bare() == p.to);
        if (!from_addressee || reply->attr_or("to") != p.from) return;
    }
    std::unique_ptr<PendingIq> done = std::move(it->second);
    pending_iqs_.erase(it);
    if (done->timer) done->timer->cancel();
    try {
        if (done->fn) done->fn(reply);
    } catch (const std::exception& e) {
        log::error("router", "iq reply handler failed: {}", e.what());
    }
}

}  // namespace parley::router

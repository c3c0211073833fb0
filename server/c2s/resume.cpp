// c2s::Session kept after its connection dropped, and resumed by another
// connection on any worker (the seam XEP-0198 stream management stands on).
//
// Kept: a module asked (Host::keep_session); when the connection is lost
// (not when either side ended the stream), the session stays bound and
// queues what is routed to it, up to max_queued, for keep_ms. Resumed: a
// new stream of the same account, authenticated and not bound, asks for the
// session by its id; the session's worker packs it (state, module slots by
// module name, queued stanzas), moves its registry entry to the new worker
// under the same session id, leaves a forwarder for stanzas already on
// their way to it, and posts it over; the new stream becomes the session,
// lets the module that asked answer first (XEP-0198 <resumed/> and its
// retransmissions), then writes the queued stanzas, in order, and fires
// SessionEvent::resumed. Stanzas routed to the session while it moves are
// queued on the new worker behind those; stanzas still in flight to the old
// worker arrive through the forwarder, after them (best effort across the
// move, as on other servers). If the resuming stream closes while the
// session is on its way, a stand-in without a connection takes it, so it
// stays kept as it was. A kept session that ends unresumed shows its queued
// stanzas to the output observers before its `closed` event, so nothing
// routed to it goes unseen (stream management re-routes them).
#include "c2s/session.hpp"
#include "log/log.hpp"
#include "loop/delay.hpp"
#include "loop/worker.hpp"
#include "loop/worker_host.hpp"
#include "router/router.hpp"

namespace parley::c2s {

struct Session::Moved {
    SessionState state;
    std::string domain;
    std::vector<xml::Element> queued;
    std::vector<std::pair<std::string, std::unique_ptr<module::SessionSlot>>> slots;  // by module name
    uint64_t keep_ms = 0;
    size_t max_queued = 0;
};

namespace {

// How long the old worker forwards stanzas already on their way there.
constexpr uint64_t kForwardMs = 2000;

// Stands for a session that moved to another worker, for a little while.
class Forwarder final : public sessions::LocalSession {
public:
    Forwarder(loop::Worker& w, uint64_t id, xmpp::Jid jid, unsigned to) : worker_(w), id_(id), jid_(std::move(jid)), to_(to) {}
    uint64_t session_id() const override { return id_; }
    const xmpp::Jid& full_jid() const override { return jid_; }
    void send_stanza(const xml::Element& stanza) override {
        const uint64_t id = id_;
        worker_.shared().workers[to_]->post([id, stanza](loop::Worker& w) {
            if (sessions::LocalSession* s = w.find_session(id)) s->send_stanza(stanza);
        });
    }
    void end_with(xmpp::StreamErrorCondition, std::string_view) override { retire(); }
    void start() {
        timer_ = loop::Delay::start(worker_.loop(), kForwardMs, [this] {
            timer_ = nullptr;
            retire();
        });
    }

private:
    void retire() {
        if (timer_) timer_->cancel();
        timer_ = nullptr;
        if (worker_.find_session(id_) == this) worker_.remove_session(id_);
        delete this;
    }
    loop::Worker& worker_;
    uint64_t id_;
    xmpp::Jid jid_;
    unsigned to_;
    loop::Delay* timer_ = nullptr;
};

}  // namespace

bool Session::keep(uint64_t keep_ms, size_t max_queued) {
    if (phase_ != Phase::bound) return false;
    r().keep_ms = keep_ms;
    r().max_queued = max_queued;
    return true;
}

void Session::detach() {
    log::info("c2s", "{}: connection lost; the session is kept for {} ms", state_.jid.str(), keep_ms());
    r().keep_timer = loop::Delay::start(worker().loop(), keep_ms(), [this] {
        r_->keep_timer = nullptr;
        log::info("c2s", "{}: not resumed in time", state_.jid.str());
        finish();
    });
}

void Session::finish() {
    std::unique_ptr<Session> self(this);
    if (transport_) {
        // Still connected (a queue over its limit): the stream goes too.
        transport_->set_user(nullptr);
        transport_->close_now();
        transport_ = nullptr;
    }
    if (r_ && phase_ == Phase::bound) {
        // Written to no connection: observed as stanzas lost with one.
        std::vector<xml::Element> queued = std::move(r_->queued);
        r_->queued.clear();
        for (const auto& st : queued) observe(st);
    }
    on_closed();
}

void Session::request_resume(const sessions::SessionEntry& old, module::ResumeDone done) {
    Control control(*this);
    if (phase_ != Phase::authenticated || resuming() || old.full_jid.bare() != state_.jid.bare() ||
        old.ref.worker >= worker().shared().workers.size()) {
        done(Status::error("not-authorized", "no such session of this account to resume"), nullptr, control);
        return;
    }
    const uint64_t id = old.ref.session_id;
    // A forwarder here is what a session that moved away left behind: the
    // session may come back (it is taken over below).
    const sessions::LocalSession* here_already = worker().find_session(id);
    if (here_already && !dynamic_cast<const Forwarder*>(here_already) && old.ref.worker != worker().index()) {
        done(Status::error("conflict", "that session is being resumed already"), nullptr, control);
        return;
    }
    r().resuming = true;
    r().resume_id = id;
    r().done = std::move(done);
    const unsigned here = worker().index();
    const xmpp::Jid bare = state_.jid.bare();
    auto ask = [id, bare, here](loop::Worker& w) { Session::hand_over(w, id, bare, here, nullptr); };
    if (old.ref.worker == here) {
        Session::hand_over(worker(), id, bare, here, this);
    } else {
        // Stanzas routed to the session once it has moved land here meanwhile.
        worker().add_session(id, this);
        if (!worker().shared().workers[old.ref.worker]->post(ask))
            resume_failed(Status::error("item-not-found", "that session's worker has stopped"));
    }
}

void Session::hand_over(loop::Worker& w, uint64_t id, const xmpp::Jid& bare, unsigned to_worker, Session* requester) {
    auto* old = dynamic_cast<Session*>(w.find_session(id));
    loop::Worker* to = w.shared().workers[to_worker];
    auto fail = [&](const char* why) {
        const Status st = Status::error("item-not-found", why);
        if (requester) {
            requester->resume_failed(st);
            return;
        }
        to->post([id, st](loop::Worker& t) {
            if (auto* s = dynamic_cast<Session*>(t.find_session(id)); s && s->resuming()) s->resume_failed(st);
        });
    };
    if (!old || old->resuming() || old->phase_ != Phase::bound || old->state_.jid.bare() != bare) {
        fail("no such session of this account to resume");
        return;
    }
    auto m = std::make_unique<Moved>();
    m->state = old->state_;
    m->domain = old->domain_;
    if (old->r_) {
        m->queued = std::move(old->r_->queued);
        m->keep_ms = old->r_->keep_ms;
        m->max_queued = old->r_->max_queued;
    }
    for (auto& [owner, slot] : old->take_slots()) {
        const auto* host = static_cast<const loop::WorkerHost*>(owner);
        m->slots.emplace_back(host->name(), std::move(slot));
    }
    const sessions::SessionRef from{w.index(), id};
    const sessions::SessionRef dest{to_worker, id};
    w.shared().registry->move(m->state.jid, from, dest);
    w.remove_session(id);
    // The old session object goes without a goodbye: it lives on elsewhere.
    if (old->r_ && old->r_->keep_timer) old->r_->keep_timer->cancel();
    if (old->r_) old->r_->keep_timer = nullptr;
    if (old->transport_) {
        old->transport_->set_user(nullptr);
        old->transport_->stream_error(xmpp::StreamErrorCondition::conflict, "this session was resumed elsewhere");
        old->transport_ = nullptr;
    }
    old->alive_.reset();
    log::info("c2s", "{}: session handed over from worker {} to worker {}", m->state.jid.str(), w.index(), to_worker);
    delete old;
    if (requester) {
        // Resumed on the same worker: no move, no forwarder.
        requester->adopt(std::move(m));
        return;
    }
    auto* fwd = new Forwarder(w, id, m->state.jid, to_worker);
    w.add_session(id, fwd);
    fwd->start();
    std::shared_ptr<Moved> carried(std::move(m));
    auto deliver = [id, carried](loop::Worker& t) {
        std::unique_ptr<Moved> mv(new Moved(std::move(*carried)));
        auto* s = dynamic_cast<Session*>(t.find_session(id));
        if (!s) {
            // Nobody waits for it here (the worker stops): it ends here,
            // properly, through a stand-in that has its slots and queue.
            s = new Session(t);
            s->placeholder_ = true;
            s->r().resuming = true;
            s->r().resume_id = id;
        }
        s->adopt(std::move(mv));
    };
    to->post(deliver);
}

void Session::adopt(std::unique_ptr<Moved> m) {
    Resumption& r = this->r();
    r.resuming = false;
    std::vector<xml::Element> arrived = std::move(r.queued);  // routed here during the move
    r.queued.clear();
    state_ = m->state;
    domain_ = m->domain;
    r.keep_ms = m->keep_ms;
    r.max_queued = m->max_queued;
    phase_ = Phase::bound;
    worker().add_session(state_.id, this);
    for (auto& [name, slot] : m->slots)
        if (loop::WorkerHost* h = worker().module_host(name)) set_slot(h, std::move(slot));
    if (!transport_) {
        // A stand-in: the stream that asked is gone. The session stays kept
        // as it was, with everything queued for it, in order.
        r.queued = std::move(m->queued);
        for (auto& st : arrived) r.queued.push_back(std::move(st));
        log::info("c2s", "{}: its resuming stream closed; kept again on worker {}", state_.jid.str(), worker().index());
        if (worker().shutting_down() || keep_ms() == 0) finish();
        else detach();
        return;
    }
    set_deadline(0);
    log::info("c2s", "{} resumed on worker {}", state_.jid.str(), worker().index());
    auto done = std::move(r.done);
    r.done = nullptr;
    const sessions::SessionEntry now{state_.jid, sessions::SessionRef{worker().index(), state_.id}, state_.available,
                                     state_.priority};
    if (done) {
        // The module answers first (<resumed/>, retransmissions) ...
        Control control(*this);
        done(Status::ok(), &now, control);
    }
    if (phase_ != Phase::bound) return;
    // ... then what was queued while the session had no connection, and
    // what reached it during the move, in order.
    for (const auto& st : m->queued) write_stanza(st);
    for (const auto& st : arrived) write_stanza(st);
    worker().hooks().fire(module::SessionEvent::resumed, now);
}

void Session::resume_failed(const Status& why) {
    Resumption& r = this->r();
    r.resuming = false;
    if (worker().find_session(r.resume_id) == this) worker().remove_session(r.resume_id);
    r.queued.clear();
    auto done = std::move(r.done);
    r.done = nullptr;
    if (!transport_) {
        // A stand-in with nothing to stand in for.
        delete this;
        return;
    }
    Control control(*this);
    if (done) done(why, nullptr, control);
}

}  // namespace parley::c2s

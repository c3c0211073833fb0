#include "s2s/links.hpp"

#include <optional>

#include "log/log.hpp"
#include "loop/worker.hpp"
#include "net/resolver.hpp"
#include "router/router.hpp"
#include "s2s/inbound.hpp"
#include "s2s/outbound.hpp"

namespace parley::s2s {

struct Links::Link {
    std::string local, remote;
    struct Queued {
        xml::Element stanza;
        uint64_t since_ms;
        bool retried = false;  // sent once on a link that broke before the peer acknowledged it
    };
    std::deque<Queued> queue;             // waiting for the link to be up
    std::deque<VerifyRequest> verifies;   // waiting for the stream to carry them
    Outbound* conn = nullptr;
    bool up = false;
    // An incoming stream that carries this pair's stanzas too (XEP-0288).
    struct Bidi {
        unsigned worker;
        uint64_t stream;
    };
    std::optional<Bidi> bidi;
};

namespace {

std::string key_of(const std::string& local, const std::string& remote) { return local + ' ' + remote; }

}  // namespace

Links::Links(loop::Worker& worker) : worker_(worker) {
    uv_timer_init(worker_.loop(), &tick_);
    tick_.data = this;
}

Links::~Links() {
    if (resolver_) resolver_->close();
}

net::Resolver* Links::resolver() {
    if (resolver_ || resolver_failed_ || stopped_) return resolver_;
    const auto& s = worker_.config().s2s;
    auto r = net::Resolver::create(worker_.loop(), net::Resolver::Options{s.dns_servers, s.dns_timeout_ms, s.dns_tries});
    if (!r) {
        resolver_failed_ = true;
        log::error("s2s", "DNS lookups are not possible on worker {}: {}", worker_.index(), r.status().message());
        return nullptr;
    }
    resolver_ = r.value();
    return resolver_;
}

unsigned Links::owner(const loop::Worker& any, const std::string& local, const std::string& remote) {
    const size_t n = const_cast<loop::Worker&>(any).shared().workers.size();
    if (n == 0) return any.index();
    return static_cast<unsigned>(std::hash<std::string>{}(key_of(local, remote)) % n);
}

void Links::send(loop::Worker& here, xml::Element stanza, std::string local, std::string remote) {
    const unsigned o = owner(here, local, remote);
    if (o == here.index()) {
        here.s2s().enqueue(std::move(stanza), local, remote);
        return;
    }
    here.shared().workers[o]->post(
        [stanza = std::move(stanza), local = std::move(local), remote = std::move(remote)](loop::Worker& w) mutable {
            w.s2s().enqueue(std::move(stanza), local, remote);
        });
}

namespace {

// Runs `f` on the owner worker of the pair: here, or posted there.
template <typename F>
void at_owner(loop::Worker& here, const std::string& local, const std::string& remote, F f) {
    const unsigned o = Links::owner(here, local, remote);
    if (o == here.index() || here.shared().workers.empty()) {
        f(here);
        return;
    }
    here.shared().workers[o]->post(std::move(f));
}

}  // namespace

void Links::offer_bidi(loop::Worker& here, std::string local, std::string remote, uint64_t stream) {
    const unsigned w = here.index();
    at_owner(here, local, remote, [local, remote, w, stream](loop::Worker& o) { o.s2s().add_bidi(local, remote, w, stream); });
}

void Links::withdraw_bidi(loop::Worker& here, std::string local, std::string remote, uint64_t stream) {
    const unsigned w = here.index();
    at_owner(here, local, remote,
             [local, remote, w, stream](loop::Worker& o) { o.s2s().remove_bidi(local, remote, w, stream); });
}

void Links::add_bidi(const std::string& local, const std::string& remote, unsigned worker, uint64_t stream) {
    if (stopped_) return;
    Link& l = link(local, remote);
    l.bidi = Link::Bidi{worker, stream};
    log::info("s2s", "{} -> {}: the peer's stream carries this server's stanzas too (XEP-0288)", local, remote);
    if (l.up && l.conn) return;
    auto waiting = std::exchange(l.queue, {});
    for (auto& q : waiting) forward_bidi(l, std::move(q.stanza));
}

void Links::remove_bidi(const std::string& local, const std::string& remote, unsigned worker, uint64_t stream) {
    auto it = links_.find(key_of(local, remote));
    if (it == links_.end()) return;
    Link& l = *it->second;
    if (!l.bidi || l.bidi->worker != worker || l.bidi->stream != stream) return;
    l.bidi.reset();
    log::debug("s2s", "{} -> {}: the peer's bidirectional stream ended", local, remote);
    if (l.queue.empty() && l.verifies.empty() && !l.conn) links_.erase(it);
}

void Links::forward_bidi(const Link& l, xml::Element stanza) {
    const Link::Bidi path = *l.bidi;
    auto deliver = [path, local = l.local, remote = l.remote](loop::Worker& w, xml::Element st) {
        if (Inbound* s = w.s2s().find_inbound(path.stream); s && s->send_stanza(st)) return;
        // Gone: its withdrawal reached the owner first; there it connects.
        Links::send(w, std::move(st), local, remote);
    };
    if (path.worker == worker_.index() || path.worker >= worker_.shared().workers.size()) {
        deliver(worker_, std::move(stanza));
        return;
    }
    worker_.shared().workers[path.worker]->post(
        [deliver, st = std::move(stanza)](loop::Worker& w) mutable { deliver(w, std::move(st)); });
}

void Links::verify(loop::Worker& here, std::string local, std::string remote, VerifyRequest request) {
    // The answer goes back to the asking worker, whichever worker sends the check.
    daemon::Shared& shared = here.shared();
    const unsigned back = here.index();
    auto done = std::move(request.done);
    request.done = [&shared, back, done = std::move(done)](bool valid) {
        if (back < shared.workers.size())
            shared.workers[back]->post([done, valid](loop::Worker&) { done(valid); });
    };
    const unsigned o = owner(here, local, remote);
    if (o == here.index() || shared.workers.empty()) {
        here.s2s().add_verify(local, remote, std::move(request));
        return;
    }
    shared.workers[o]->post([local = std::move(local), remote = std::move(remote),
                             request = std::move(request)](loop::Worker& w) mutable {
        w.s2s().add_verify(local, remote, std::move(request));
    });
}

Inbound* Links::find_inbound(uint64_t id) const {
    auto it = inbound_.find(id);
    return it == inbound_.end() ? nullptr : it->second;
}

Links::Link& Links::link(const std::string& local, const std::string& remote) {
    auto& slot = links_[key_of(local, remote)];
    if (!slot) {
        slot = std::make_unique<Link>();
        slot->local = local;
        slot->remote = remote;
    }
    return *slot;
}

void Links::enqueue(xml::Element stanza, const std::string& local, const std::string& remote) {
    if (stopped_) {
        log::debug("s2s", "{} -> {}: a stanza dropped at shutdown", local, remote);
        return;
    }
    Link& l = link(local, remote);
    if (l.up && l.conn && l.conn->send_stanza(stanza)) return;
    if (l.bidi) {
        forward_bidi(l, std::move(stanza));
        return;
    }
    if (l.queue.size() >= worker_.config().s2s.queue_max_stanzas) {
        worker_.router().bounce(stanza, StanzaError::wait("resource-constraint",
                                                          "too many stanzas are waiting for the connection to " + remote));
        return;
    }
    l.queue.push_back(Link::Queued{std::move(stanza), uv_now(worker_.loop()), false});
    start_tick();
    if (!l.conn) connect(l);  // may fail at once and bounce what waits; l is not used after
}

void Links::add_verify(const std::string& local, const std::string& remote, VerifyRequest request) {
    if (stopped_) {
        request.done(false);
        return;
    }
    Link& l = link(local, remote);
    l.verifies.push_back(std::move(request));
    if (l.conn) l.conn->send_verifies();
    else connect(l);
}

std::deque<VerifyRequest> Links::take_verifies(const std::string& local, const std::string& remote) {
    auto it = links_.find(key_of(local, remote));
    if (it == links_.end()) return {};
    return std::exchange(it->second->verifies, {});
}

void Links::connect(Link& l) {
    l.conn = Outbound::create(worker_, *this, l.local, l.remote);
    l.conn->begin();
}

void Links::link_established(Outbound& o) {
    auto it = links_.find(key_of(o.local(), o.remote()));
    if (it == links_.end() || it->second->conn != &o) return;
    Link& l = *it->second;
    l.up = true;
    log::info("s2s", "{} -> {}: link up{}, {} stanza(s) were waiting", l.local, l.remote,
              o.bidirectional() ? " (bidirectional)" : "", l.queue.size());
    // What the stream does not take (it broke meanwhile) stays queued for
    // the next connection.
    while (!l.queue.empty() && o.send_stanza(l.queue.front().stanza, l.queue.front().retried)) l.queue.pop_front();
}

void Links::start_tick() {
    if (tick_running_ || stopped_) return;
    tick_running_ = true;
    uv_timer_start(&tick_, &Links::on_tick, 1000, 1000);
}

void Links::link_closed(Outbound& o, const StanzaError* error, std::deque<Unconfirmed> unconfirmed) {
    auto it = links_.find(key_of(o.local(), o.remote()));
    if (it == links_.end() || it->second->conn != &o) return;
    Link& l = *it->second;
    l.conn = nullptr;
    l.up = false;
    const std::string key = key_of(o.local(), o.remote());
    if (!unconfirmed.empty()) {
        // Sent, never acknowledged: once more first on the next
        // connection; what was already sent twice bounces.
        const uint64_t now = uv_now(worker_.loop());
        std::vector<xml::Element> twice;
        size_t again = 0;
        for (auto u = unconfirmed.rbegin(); u != unconfirmed.rend(); ++u) {
            if (u->retried || stopped_) {
                twice.push_back(std::move(u->stanza));
                continue;
            }
            l.queue.push_front(Link::Queued{std::move(u->stanza), now, true});
            ++again;
        }
        const std::string remote = l.remote;
        log::info("s2s", "{} -> {}: {} stanza(s) the peer did not acknowledge go again, {} bounce", l.local, remote,
                  again, twice.size());
        if (!stopped_)
            for (auto t = twice.rbegin(); t != twice.rend(); ++t)
                worker_.router().bounce(*t, StanzaError::cancel("remote-server-not-found",
                                                                 "the connection to " + remote +
                                                                     " broke twice before it confirmed this stanza"));
        it = links_.find(key);
        if (it == links_.end()) return;
        if (!it->second->queue.empty()) start_tick();
    }
    Link& l2 = *it->second;
    if (error) {
        // A bounce may route new stanzas (a room telling its other
        // occupants), even to this pair: the map may have changed.
        fail(l2, *error);
        it = links_.find(key);
        if (it == links_.end()) return;
    }
    if (it->second->queue.empty() && it->second->verifies.empty() && !it->second->conn && !it->second->bidi) {
        links_.erase(it);
        return;
    }
    if (it->second->queue.empty() && it->second->verifies.empty()) return;  // the bidi stream stays
    if (it->second->conn) return;  // a stanza bounced above started a new connection
    // It ended cleanly with work waiting (the peer closed an idle link as
    // a stanza arrived): once more, on a new connection.
    if (!stopped_) connect(*it->second);
}

void Links::fail(Link& l, const StanzaError& error) {
    if (!l.queue.empty())
        log::info("s2s", "{} -> {}: {} waiting stanza(s) bounced: {}", l.local, l.remote, l.queue.size(), error.text);
    auto queue = std::exchange(l.queue, {});
    auto verifies = std::exchange(l.verifies, {});
    for (auto& q : queue) worker_.router().bounce(q.stanza, error);
    for (auto& v : verifies)
        if (v.done) v.done(false);
}

void Links::on_tick(uv_timer_t* t) { static_cast<Links*>(t->data)->expire(); }

void Links::expire() {
    const uint64_t now = uv_now(worker_.loop());
    const uint64_t limit = uint64_t{worker_.config().s2s.queue_timeout_s} * 1000;
    bool waiting = false;
    for (auto& [key, l] : links_) {
        size_t expired = 0;
        while (!l->queue.empty() && l->queue.front().since_ms + limit <= now) {
            auto q = std::move(l->queue.front());
            l->queue.pop_front();
            worker_.router().bounce(q.stanza, StanzaError::wait("remote-server-timeout",
                                                                "the connection to " + l->remote + " took too long"));
            ++expired;
        }
        if (expired) log::info("s2s", "{} -> {}: {} stanza(s) waited too long and bounced", l->local, l->remote, expired);
        waiting = waiting || !l->queue.empty();
        if (l->up && l->conn && l->conn->unacknowledged() > 0) {
            l->conn->ask_ack();
            waiting = true;
        }
    }
    if (!waiting && tick_running_) {
        tick_running_ = false;
        uv_timer_stop(&tick_);
    }
}

std::optional<std::string> Links::gate(const module::S2sAuth& auth) const {
    std::string owner;
    auto refusal = worker_.hooks().check_s2s(auth, &owner);
    if (refusal)
        log::info("s2s", "{} {} {}: refused by {}: {}", auth.local, auth.incoming ? "<-" : "->", auth.remote, owner,
                  *refusal);
    return refusal;
}

size_t Links::close_matching(const std::function<bool(const module::S2sAuth&)>& which, std::string_view text) {
    size_t n = 0;
    std::vector<Inbound*> streams;
    for (const auto& [id, s] : inbound_) streams.push_back(s);
    for (Inbound* s : streams)
        if (s->close_if(which, text)) ++n;
    std::vector<std::string> hit;
    for (auto& [key, l] : links_) {
        const Outbound* c = l->conn;
        const bool up = c && c->established();
        if (which(module::S2sAuth{l->local, l->remote, false, up && c->certificate_valid(), up && c->used_dialback(),
                                  {}}))
            hit.push_back(key);
    }
    const StanzaError error = StanzaError::cancel("policy-violation", std::string(text));
    // By key: a bounce may route new stanzas and change the map.
    for (const std::string& key : hit) {
        auto it = links_.find(key);
        if (it == links_.end()) continue;
        Outbound* conn = it->second->conn;
        fail(*it->second, error);
        if (conn) {
            conn->refuse(std::string(text));
            ++n;
        }
    }
    return n;
}

void Links::stop() {
    if (stopped_) return;
    stopped_ = true;
    std::vector<Outbound*> conns;
    for (auto& [key, l] : links_) {
        if (!l->queue.empty())
            log::info("s2s", "{} -> {}: {} waiting stanza(s) dropped at shutdown", l->local, l->remote, l->queue.size());
        l->queue.clear();
        for (auto& v : std::exchange(l->verifies, {}))
            if (v.done) v.done(false);
        if (l->conn) conns.push_back(l->conn);
    }
    for (Outbound* o : conns) o->close();
    // Links still looking up their peer hear "cancelled" and end.
    if (net::Resolver* r = std::exchange(resolver_, nullptr)) r->close();
    uv_timer_stop(&tick_);
    uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
}

}  // namespace parley::s2s

// s2s::Links: one worker's server-to-server links.
//
// Outbound: one link per (local domain, remote domain) pair, on the worker
// the pair hashes to (owner()), so one connection carries a pair's stanzas in
// order and no lock is needed. The router of any worker hands a stanza for a
// remote domain to send(), which posts it to that worker. A link that is not
// yet up queues what it is given, bounded in count ([s2s]
// queue_max_stanzas; past it a stanza bounces with resource-constraint) and
// in time (queue_timeout_s: remote-server-timeout). When the connection
// fails every queued stanza bounces to its sender: remote-server-not-found
// when the peer could not be found or reached, remote-server-timeout when it
// did not complete the handshake in time, policy-violation (with the
// reason) when it could not prove its domain as policy requires.
//
// Inbound: the streams this worker accepted on the s2s listeners, by id, so
// that a dialback verification answered on another worker finds its stream
// again (or learns it is gone).
//
// Bidirectional streams (XEP-0288): an incoming stream whose peer asked
// for bidi offers, once a (remote -> local) pair is authenticated on it, to
// carry our stanzas for (local -> remote) as well (offer_bidi, told to the
// pair's owner worker). A link that is not up then sends through that
// stream (on whichever worker holds it) instead of opening a connection of
// its own; an established outgoing connection is still preferred. When
// the stream ends it withdraws its offer (withdraw_bidi) before any
// stanza could come back from it, and a stanza that finds it gone is sent
// again through the owner, which then connects.
//
// Dialback verification (XEP-0220 §2.3): an inbound stream asks, through
// verify(), the authoritative server of the domain it is asked to accept;
// the request travels as <db:verify/> on the outbound link of that pair,
// and the answer is posted back to the asking worker. A link that fails
// answers every pending request "not valid".
//
// Loop-affine, except the static functions, which any worker may call.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "errors/stanza_error.hpp"
#include "module/module_api.hpp"
#include "xml/element.hpp"

namespace parley::loop {
class Worker;
}
namespace parley::net {
class Resolver;
}

namespace parley::s2s {

class Outbound;
class Inbound;

// A dialback key to check with a remote authoritative server.
struct VerifyRequest {
    std::string stream_id;  // of the inbound stream that got the key
    std::string key;
    // Runs on the asking worker with the answer.
    std::function<void(bool valid)> done;
};

class Links {
public:
    explicit Links(loop::Worker& worker);
    ~Links();
    Links(const Links&) = delete;
    Links& operator=(const Links&) = delete;

    // The worker that owns the link from `local` to `remote`.
    static unsigned owner(const loop::Worker& any, const std::string& local, const std::string& remote);
    // From any worker: a stanza (jabber:client) for `remote`, sent as `local`.
    static void send(loop::Worker& here, xml::Element stanza, std::string local, std::string remote);
    // From any worker: asks remote's authoritative server whether `key` is
    // the one it gave for the stream `stream_id` from `remote` to `local`.
    // `done` runs on `here` (not at all if that worker stops first).
    static void verify(loop::Worker& here, std::string local, std::string remote, VerifyRequest request);

    // From the worker of an incoming bidi stream `stream`: it may carry
    // stanzas from `local` to `remote` (offer) or no longer (withdraw).
    static void offer_bidi(loop::Worker& here, std::string local, std::string remote, uint64_t stream);
    static void withdraw_bidi(loop::Worker& here, std::string local, std::string remote, uint64_t stream);

    // Inbound streams of this worker.
    void add_inbound(uint64_t id, Inbound* s) { inbound_[id] = s; }
    void remove_inbound(uint64_t id) { inbound_.erase(id); }
    Inbound* find_inbound(uint64_t id) const;
    size_t inbound_count() const { return inbound_.size(); }
    size_t outbound_count() const { return links_.size(); }

    // Outbound connections report here (this worker).
    void link_established(Outbound& o);
    // The connection of a link ended; `error` is what queued stanzas get
    // (nullptr: it ended cleanly, e.g. idle, and nothing was waiting).
    // `unconfirmed`: stanzas it sent that the peer never acknowledged
    // (XEP-0198), in order; they go first on the next connection, once
    // (`retried` says which were already sent again), and bounce if that
    // one fails too.
    struct Unconfirmed {
        xml::Element stanza;
        bool retried = false;
    };
    void link_closed(Outbound& o, const StanzaError* error, std::deque<Unconfirmed> unconfirmed = {});
    // Runs the once-a-second tick (if it does not run): it bounces what
    // waited too long for a link, and asks established links with stanzas
    // waiting for the peer's ack for one (Outbound::ask_ack). It stops
    // when nothing waits.
    void start_tick();
    // Verifications waiting for a link's stream to be ready to carry them.
    std::deque<VerifyRequest> take_verifies(const std::string& local, const std::string& remote);

    // Ends the inbound streams and outbound links of this worker whose
    // remote domain `which` picks (module::Host::s2s_close).
    size_t close_matching(const std::function<bool(const module::S2sAuth&)>& which, std::string_view text);
    // The federation gates of the running modules (module::Host::s2s_gate):
    // the refusal's text, or nullopt.
    std::optional<std::string> gate(const module::S2sAuth& auth) const;

    // This worker's DNS resolver ([s2s] dns_servers, dns_timeout_ms,
    // dns_tries), made at first use; nullptr (logged once) when c-ares
    // cannot start, or after stop().
    net::Resolver* resolver();

    // Worker shutdown: no new link starts; queued stanzas are dropped;
    // lookups in flight are cancelled.
    void stop();

private:
    struct Link;
    void add_bidi(const std::string& local, const std::string& remote, unsigned worker, uint64_t stream);
    void remove_bidi(const std::string& local, const std::string& remote, unsigned worker, uint64_t stream);
    void forward_bidi(const Link& l, xml::Element stanza);
    void enqueue(xml::Element stanza, const std::string& local, const std::string& remote);
    void add_verify(const std::string& local, const std::string& remote, VerifyRequest request);
    Link& link(const std::string& local, const std::string& remote);
    void connect(Link& l);
    void fail(Link& l, const StanzaError& error);
    void expire();
    static void on_tick(uv_timer_t* t);

    loop::Worker& worker_;
    std::unordered_map<std::string, std::unique_ptr<Link>> links_;  // "local remote"
    std::unordered_map<uint64_t, Inbound*> inbound_;
    uv_timer_t tick_{};
    bool tick_running_ = false;
    net::Resolver* resolver_ = nullptr;  // frees itself after close()
    bool resolver_failed_ = false;
    bool stopped_ = false;
};

}  // namespace parley::s2s

// net::Resolver: asynchronous DNS on one worker's loop, through c-ares.
//
// What s2s needs to find a remote server (RFC 6120 §3.2, XEP-0368): the SRV
// records of _xmpp-server._tcp and _xmpps-server._tcp of a domain, and the
// A/AAAA addresses of a host. Nothing blocks the loop: c-ares' sockets are
// watched with uv_poll and its timeouts with one uv_timer.
//
// The name servers are [s2s] dns_servers when set, else the system's
// (/etc/resolv.conf); addresses are also looked up in /etc/hosts (c-ares'
// getaddrinfo does). SRV queries go to DNS only.
//
// One per worker (s2s::Links owns it). Loop-affine. The callbacks run on
// the loop, never from within srv() or addresses() (an answer c-ares has
// at once, from /etc/hosts, is handed over on the next loop turn); close()
// runs every pending one with Answer::cancelled, then the object deletes
// itself once its handles are closed.
#pragma once

#include <sys/socket.h>
#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "errors/status.hpp"

namespace parley::net {

// One SRV record (RFC 2782), and whether it came from the direct-TLS
// service (XEP-0368: _xmpps-server) or the STARTTLS one.
struct SrvTarget {
    std::string host;
    uint16_t port = 0;
    uint16_t priority = 0;
    uint16_t weight = 0;
    bool direct_tls = false;
};

// How a lookup ended.
enum class Answer {
    ok,           // records (possibly none for SRV: see below)
    no_records,   // the name does not exist, or has no record of the type
    unavailable,  // SRV: a single record with target "." (RFC 2782: the service is decidedly not offered)
    failed,       // no usable answer (timeout, server failure, refused)
    cancelled,    // the resolver closed first
};

// RFC 2782's order: by priority, lowest first; within one priority a
// weighted random order (records of weight 0 first among equals, as the
// RFC's selection algorithm gives them a small chance). `rng` makes it
// testable. XEP-0368 §3: the direct-TLS and STARTTLS records of a domain
// are ordered together, their priorities and weights mixed.
std::vector<SrvTarget> order_srv(std::vector<SrvTarget> records, std::mt19937& rng);

class Resolver {
public:
    struct Options {
        std::vector<std::string> servers;  // "ip", "ip:port" or "[ipv6]:port"; empty: the system's
        unsigned timeout_ms = 2000;        // per try and server
        unsigned tries = 2;
    };
    static Result<Resolver*> create(uv_loop_t* loop, const Options& options);

    // The SRV records of `name` (e.g. "_xmpp-server._tcp.example.org",
    // ASCII), each marked `direct_tls`, unordered.
    using SrvDone = std::function<void(Answer, std::vector<SrvTarget>, std::string error)>;
    void srv(const std::string& name, bool direct_tls, SrvDone done);

    // The IPv4 and IPv6 addresses of `host` (ASCII), with `port` set, in
    // the order RFC 6724 prefers.
    using AddressesDone = std::function<void(Answer, std::vector<sockaddr_storage>, std::string error)>;
    void addresses(const std::string& host, uint16_t port, AddressesDone done);

    size_t pending() const { return pending_; }

    // Cancels every pending lookup (their callbacks run now) and frees the
    // resolver once libuv has closed its handles. A lookup asked for after
    // (or during) close() is answered Answer::cancelled at once.
    void close();

private:
    struct Poll;
    Resolver(uv_loop_t* loop);
    ~Resolver();
    static void on_sock_state(void* data, int fd, int readable, int writable);
    static void on_poll(uv_poll_t* h, int status, int events);
    static void on_timer(uv_timer_t* t);
    static void on_handle_closed(uv_handle_t* h);
    void rearm();
    // An answer to hand over: now, or on the next loop turn when c-ares
    // had it while srv()/addresses() was still on the stack.
    void deliver(std::function<void()> call);
    void handle_closed();

    uv_loop_t* loop_;
    void* channel_ = nullptr;  // ares_channel
    uv_timer_t timer_{};       // c-ares' next timeout
    uv_timer_t defer_{};       // answers waiting for the next loop turn
    std::deque<std::function<void()>> deferred_;
    bool in_call_ = false;     // inside ares_query / ares_getaddrinfo
    std::unordered_map<int, Poll*> polls_;
    size_t pending_ = 0;       // lookups c-ares has not answered
    size_t open_handles_ = 0;
    bool closing_ = false;
};

}  // namespace parley::net

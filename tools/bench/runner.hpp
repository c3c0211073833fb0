// Runner: one libuv loop of parley-bench and the sessions it drives.
//
// A Runner owns its loop, a 10 ms tick timer and a check handle. The tick
// opens new sessions at the Runner's share of the connect rate with at most
// its share of max-pending logging in at once, fails sessions that do not
// reach "bound" within the login timeout, starts the senders' windows once
// the main thread says so, and carries out the stop: every session ends its
// stream, and after a grace period whatever is still open is closed. The
// check handle flushes every session that queued output in this loop
// iteration (one write per session per iteration).
//
// Shared is what the main thread and the Runners exchange, only through
// atomics (and a mutex for the first error): the main thread reads counters
// and sets the flags; each Runner only writes its own counters. Runner is
// loop-affine (its thread) apart from the atomics in Shared.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "client_session.hpp"
#include "options.hpp"
#include "tls_client.hpp"

namespace parley::bench {

struct Shared {
    Shared(const Options& o, const TlsClientContext& t) : opt(o), tls(t) {}
    const Options& opt;
    const TlsClientContext& tls;

    std::atomic<int> bound{0};
    std::atomic<bool> failed{false};
    std::atomic<bool> sending{false};  // messages mode: senders may start
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> delivered{0};

    // The first failure, printed by the main thread.
    void report_failure(const std::string& what);
    std::string first_failure() const;

private:
    mutable std::mutex mutex_;
    std::string first_failure_;
};

class Runner {
public:
    // `indices`: the global session indices this Runner drives, in the order
    // it opens them. In messages mode a pair's two sessions are in one Runner.
    Runner(Shared& shared, std::vector<int> indices, int runner_count);
    ~Runner();
    Runner(const Runner&) = delete;
    Runner& operator=(const Runner&) = delete;

    // The thread body: runs the loop until every handle is closed, then
    // closes the loop.
    void run();

    // For the sessions.
    uv_loop_t* loop() { return &loop_; }
    Shared& shared() { return shared_; }
    const sockaddr* server_addr() const { return reinterpret_cast<const sockaddr*>(&addr_); }
    char* read_buffer() { return read_buf_.get(); }
    static constexpr size_t kReadBufferBytes = 65536;
    void mark_dirty(ClientSession& s);
    void on_bound(ClientSession& s);
    void on_message(ClientSession& receiver);
    void on_failure(ClientSession& s, const std::string& what);
    void on_closed(ClientSession& s);

    // After run() returned: each session's connect-to-bound time in ms.
    std::vector<double> login_ms() const;
    uint64_t first_start_ns() const { return first_start_ns_; }
    uint64_t last_bound_ns() const { return last_bound_ns_; }

private:
    static void on_tick(uv_timer_t* t);
    static void on_check(uv_check_t* c);
    void tick();
    void open_more(uint64_t now);
    void check_timeouts(uint64_t now);
    void begin_stop(uint64_t now);
    void pair_up();

    Shared& shared_;
    uv_loop_t loop_{};
    sockaddr_storage addr_{};
    uv_timer_t tick_{};
    uv_check_t check_{};
    std::unique_ptr<char[]> read_buf_;
    std::vector<std::unique_ptr<ClientSession>> sessions_;
    std::vector<ClientSession*> dirty_;
    std::vector<ClientSession*> flushing_;
    double rate_;     // this Runner's share of the connect rate
    int max_pending_;
    size_t started_ = 0;
    int pending_ = 0;  // started, not yet bound or finished
    bool senders_started_ = false;
    bool stopping_ = false;
    bool loop_ok_ = false;
    uint64_t begin_ns_ = 0;
    uint64_t stop_deadline_ns_ = 0;
    uint64_t first_start_ns_ = 0;
    uint64_t last_bound_ns_ = 0;
};

}  // namespace parley::bench

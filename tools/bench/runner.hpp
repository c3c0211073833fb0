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
// In room mode the tick also walks the room's phases as the main thread
// opens them in Shared: the owner (session 0, in whichever Runner has it)
// joins and configures the room; then every other occupant but the last
// joins, at most this Runner's share of --join-concurrency at once, each
// failing if its join has not ended within --join-timeout; the owner says
// --history messages; the last occupant joins alone (the timed join); the
// senders start their windows, each message out of flight when the
// sender's own copy comes back from the room.
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
#include "room_client.hpp"
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

    // Room mode, set by the main thread in this order (room_open by the
    // Runner whose owner joined): sessions may join (the owner first); the
    // owner is in and the room configured; the owner says the history; the
    // last occupant may join. `joined` counts ended joins; `sent`, the
    // senders' groupchat messages.
    std::atomic<bool> joining{false};
    std::atomic<bool> room_open{false};
    std::atomic<bool> say_history{false};
    std::atomic<bool> last_join{false};
    std::atomic<int> joined{0};
    std::atomic<uint64_t> sent{0};

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
    // The peer server's address (--peer-port), for the receivers of messages mode.
    const sockaddr* peer_addr() const { return reinterpret_cast<const sockaddr*>(&peer_addr_); }
    char* read_buffer() { return read_buf_.get(); }
    static constexpr size_t kReadBufferBytes = 65536;
    void mark_dirty(ClientSession& s);
    void on_bound(ClientSession& s);
    void on_message(ClientSession& receiver);
    // Room mode: a live groupchat message (`own`: the session's own, back).
    void on_room_message(ClientSession& s, bool own);
    void on_joined(ClientSession& s);
    void on_failure(ClientSession& s, const std::string& what);
    void on_closed(ClientSession& s);

    // After run() returned: each session's connect-to-bound time in ms.
    std::vector<double> login_ms() const;
    uint64_t first_start_ns() const { return first_start_ns_; }
    uint64_t last_bound_ns() const { return last_bound_ns_; }
    // Room mode, after run(): the join times (presence to subject) of the
    // occupants other than the owner and the last, in ms; when the first
    // of those joins went and the last ended; the last occupant's room
    // state, if it was in this Runner.
    std::vector<double> join_ms() const;
    uint64_t first_join_ns() const;
    uint64_t last_joined_ns() const;
    const RoomClient* last_occupant() const;

private:
    static void on_tick(uv_timer_t* t);
    static void on_check(uv_check_t* c);
    void tick();
    void flush_dirty();
    void start_senders();
    void open_more(uint64_t now);
    void check_timeouts(uint64_t now);
    void begin_stop(uint64_t now);
    void pair_up();
    void set_up_room(int runner_count);
    void drive_room(uint64_t now);
    void start_joins();
    void check_join_timeouts(uint64_t now);
    void send_room_message(ClientSession& s);

    Shared& shared_;
    uv_loop_t loop_{};
    sockaddr_storage addr_{};
    sockaddr_storage peer_addr_{};
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

    // Room mode.
    ClientSession* owner_ = nullptr;         // session 0, if in this Runner
    ClientSession* last_ = nullptr;          // the last occupant, if in this Runner
    std::vector<ClientSession*> join_queue_;  // everyone else here, in join order
    size_t next_join_ = 0;
    std::vector<ClientSession*> joining_;    // joins in flight: at most join_quota_ + 2
    int join_quota_ = 1;
    bool history_said_ = false;
    std::string room_message_;               // the groupchat stanza, prebuilt
};

}  // namespace parley::bench

// parley-bench: a load generator for parleyd's budgets (DESIGN.md "Budgets").
//
// It opens authenticated TLS c2s sessions (STARTTLS, SASL PLAIN, bind,
// initial presence) at a bounded rate, then measures one of:
//   idle:     parleyd's resident memory per idle session (VmRSS of --pid
//             before any connection and after all are bound and settled);
//   messages: 1:1 messages per second between online sessions, each sender
//             keeping a window of messages in flight to its receiver;
//   room:     group chat (XEP-0045): every session joins one room (bounded
//             joins in flight), then the time the last one takes to join
//             with --history messages said before it; then groupchat
//             messages delivered per second to all occupants together,
//             --senders of them keeping a window each in flight.
// All also report the login rate and the CPU the bench and parleyd used.
// The main thread only coordinates (through Shared's atomics) and measures;
// the sessions run in --threads Runner threads, each on its own libuv loop.
// Exit status: 0 with the figures on stdout; 1 on any protocol failure (the
// session and what it got are printed), a timeout or an interrupt; 2 on bad usage.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <thread>

#include "options.hpp"
#include "proc_stats.hpp"
#include "room_client.hpp"
#include "runner.hpp"
#include "tls_client.hpp"

using namespace parley::bench;

namespace {

volatile std::sig_atomic_t g_interrupted = 0;

void on_signal(int) { g_interrupted = 1; }

// Sleeps `seconds`, waking early (false) on a failure or an interrupt.
bool wait_for(double seconds, const Shared& shared) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
        if (shared.failed.load() || g_interrupted) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return !shared.failed.load() && !g_interrupted;
}

double percentile(std::vector<double>& v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5));
    return v[i];
}

// Waits until done(), failing the run when progress() stands still for
// `stall_s` seconds; false on any failure or an interrupt.
template <class Done, class Progress>
bool wait_progress(Shared& shared, double stall_s, const std::string& what, Done done, Progress progress) {
    auto seen = progress();
    auto moved = std::chrono::steady_clock::now();
    while (!done()) {
        if (shared.failed.load() || g_interrupted) return false;
        const auto now = std::chrono::steady_clock::now();
        const auto p = progress();
        if (p != seen) {
            seen = p;
            moved = now;
        } else if (now - moved > std::chrono::duration<double>(stall_s)) {
            shared.report_failure(what + ": nothing moved for " + std::to_string(static_cast<int>(stall_s)) + " s");
            return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return !shared.failed.load() && !g_interrupted;
}

// Room mode, before the measurement: everyone but the last occupant joins,
// the owner says the history (every occupant in must have it), the last
// occupant joins. A Runner fails a join that takes longer than
// --join-timeout itself; the stall limit here catches a phase that never
// starts.
bool fill_room(Shared& shared) {
    const Options& opt = shared.opt;
    const int n = opt.occupants;
    const double stall_s = opt.join_timeout_s + 5;
    auto joined = [&] { return shared.joined.load(); };
    shared.joining.store(true);
    if (!wait_progress(shared, stall_s, "joining the room", [&] { return joined() >= n - 1; }, joined)) return false;
    if (opt.history > 0) {
        const uint64_t d0 = shared.delivered.load();
        const uint64_t want = static_cast<uint64_t>(opt.history) * static_cast<uint64_t>(n - 1);
        auto got = [&] { return shared.delivered.load() - d0; };
        shared.say_history.store(true);
        if (!wait_progress(shared, stall_s, "saying the history", [&] { return got() >= want; }, got)) return false;
    }
    shared.last_join.store(true);
    return wait_progress(shared, stall_s, "the last join", [&] { return joined() >= n; }, joined);
}

struct CpuMark {
    double own = 0;
    double server = 0;
};

CpuMark cpu_mark(long pid) { return {own_cpu_s(), pid != 0 ? process_cpu_s(pid).value_or(0) : 0}; }

// Room mode's figures: the fan-out rate, the bulk joins, the last join.
bool print_room(const Options& opt, const std::vector<std::unique_ptr<Runner>>& runners, uint64_t delivered,
                uint64_t sent, double measured_s, const CpuMark& m0, const CpuMark& m1, std::optional<long> rss) {
    const double server_cpu = m1.server - m0.server;
    auto per_s = [&](uint64_t n) { return measured_s > 0 ? static_cast<double>(n) / measured_s : 0.0; };
    fmt::print("room={} occupants={} senders={} delivered={} deliveries_per_s={:.0f} sent={} sent_per_s={:.0f} "
               "fanout={:.1f} bench_cpu_s={:.2f}",
               opt.room, opt.occupants, opt.senders, delivered, per_s(delivered), sent, per_s(sent),
               sent > 0 ? static_cast<double>(delivered) / static_cast<double>(sent) : 0.0, m1.own - m0.own);
    if (opt.pid != 0) {
        fmt::print(" server_cpu_s={:.2f} server_cpu_pct={:.0f} server_cpu_us_per_delivery={:.2f}", server_cpu,
                   measured_s > 0 ? server_cpu * 100 / measured_s : 0.0,
                   delivered > 0 ? server_cpu * 1e6 / static_cast<double>(delivered) : 0.0);
        if (rss) fmt::print(" server_rss_kib={}", *rss);
    }
    fmt::print(" measured_s={:.2f} window={}\n", measured_s, opt.window);

    std::vector<double> join_ms;
    uint64_t first = UINT64_MAX, last = 0;
    const RoomClient* last_occupant = nullptr;
    for (const auto& r : runners) {
        const auto v = r->join_ms();
        join_ms.insert(join_ms.end(), v.begin(), v.end());
        if (r->first_join_ns() != 0) first = std::min(first, r->first_join_ns());
        last = std::max(last, r->last_joined_ns());
        if (r->last_occupant()) last_occupant = r->last_occupant();
    }
    const double join_s = last > first ? static_cast<double>(last - first) / 1e9 : 0;
    fmt::print("joins={} join_s={:.2f} joins_per_s={:.0f} join_concurrency={} join_p50_ms={:.1f} join_p99_ms={:.1f} "
               "join_max_ms={:.1f}\n",
               join_ms.size(), join_s, join_s > 0 ? static_cast<double>(join_ms.size()) / join_s : 0.0,
               opt.join_concurrency, percentile(join_ms, 0.5), percentile(join_ms, 0.99), percentile(join_ms, 1.0));
    if (last_occupant && last_occupant->joined_ns() != 0) {
        fmt::print("last_join_ms={:.1f} last_join_occupant={} last_join_presences={} last_join_history={} history={}\n",
                   static_cast<double>(last_occupant->joined_ns() - last_occupant->join_sent_ns()) / 1e6, opt.occupants,
                   last_occupant->presences_seen(), last_occupant->history_seen(), opt.history);
        if (last_occupant->presences_seen() != opt.occupants - 1 || last_occupant->history_seen() != opt.history)
            fmt::print(stderr, "parley-bench: the last occupant got {} presences (expected {}) and {} history messages "
                       "(expected {}: is the room's history_length smaller?)\n",
                       last_occupant->presences_seen(), opt.occupants - 1, last_occupant->history_seen(), opt.history);
    }
    if (delivered == 0) {
        fmt::print(stderr, "parley-bench: no groupchat message was delivered during the measurement\n");
        return false;
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    std::signal(SIGPIPE, SIG_IGN);  // a peer that went away is a read error, not a signal
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);

    std::string err;
    const auto parsed = parse_options(argc, argv, err);
    if (!parsed) {
        if (err.empty()) {
            fmt::print("{}", usage_text());
            return 0;
        }
        fmt::print(stderr, "parley-bench: {}\n{}", err, usage_text());
        return 2;
    }
    const Options& opt = *parsed;

    const long nofile = raise_nofile_limit();
    if (nofile >= 0 && nofile < opt.sessions + 64) {
        fmt::print(stderr, "parley-bench: the open files limit ({}) is too low for {} sessions; raise it (ulimit -n)\n",
                   nofile, opt.sessions);
        return 1;
    }
    auto tls = TlsClientContext::load(opt.ca_file, err);
    if (!tls) {
        fmt::print(stderr, "parley-bench: {}\n", err);
        return 1;
    }
    std::optional<long> rss_before;
    if (opt.pid != 0) {
        rss_before = vm_rss_kib(opt.pid);
        if (!rss_before) {
            fmt::print(stderr, "parley-bench: cannot read /proc/{}/status: is parleyd running with that pid?\n", opt.pid);
            return 1;
        }
    }

    Shared shared(opt, *tls);
    const int runner_count = std::max(1, std::min(opt.threads, (opt.sessions + 1) / 2));
    std::vector<std::vector<int>> indices(static_cast<size_t>(runner_count));
    // A pair (2k, 2k+1) always lands in one Runner, so a message and its
    // reply never cross threads in the bench.
    for (int i = 0; i < opt.sessions; ++i) indices[static_cast<size_t>((i / 2) % runner_count)].push_back(i);
    std::vector<std::unique_ptr<Runner>> runners;
    try {
        for (auto& idx : indices) runners.push_back(std::make_unique<Runner>(shared, std::move(idx), runner_count));
    } catch (const std::exception& e) {
        fmt::print(stderr, "parley-bench: {}\n", e.what());
        return 1;
    }

    const CpuMark cpu_start = cpu_mark(opt.pid);
    std::vector<std::thread> threads;
    for (auto& r : runners) threads.emplace_back([&r] { r->run(); });

    // Phase 1: every session logs in.
    const double login_budget_s = opt.sessions / opt.connect_rate + opt.login_timeout_s + 10;
    const auto login_deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(login_budget_s);
    bool all_bound = false;
    while (!shared.failed.load() && !g_interrupted && std::chrono::steady_clock::now() < login_deadline) {
        if (shared.bound.load() >= opt.sessions) {
            all_bound = true;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const CpuMark cpu_logins = cpu_mark(opt.pid);

    // Phase 2: the measurement.
    std::optional<long> rss_after;
    uint64_t delivered = 0, sent = 0;
    double measured_s = 0;
    CpuMark cpu_m0, cpu_m1;
    bool measured = false;
    if (all_bound && opt.mode == Mode::idle) {
        if (wait_for(opt.settle_s, shared)) {
            if (opt.pid != 0) rss_after = vm_rss_kib(opt.pid);
            measured = opt.pid == 0 || rss_after.has_value();
        }
    } else if (all_bound && (opt.mode == Mode::messages || fill_room(shared))) {
        shared.sending.store(true);
        if (wait_for(opt.warmup_s, shared)) {
            const uint64_t d0 = shared.delivered.load(), s0 = shared.sent.load();
            cpu_m0 = cpu_mark(opt.pid);
            const auto t0 = std::chrono::steady_clock::now();
            if (wait_for(opt.duration_s, shared)) {
                delivered = shared.delivered.load() - d0;
                sent = shared.sent.load() - s0;
                cpu_m1 = cpu_mark(opt.pid);
                measured_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
                if (opt.pid != 0) rss_after = vm_rss_kib(opt.pid);
                measured = true;
            }
        }
    }

    // Shutdown: every Runner ends its streams and closes its loop.
    shared.stop.store(true);
    for (auto& t : threads) t.join();

    if (shared.failed.load()) {
        fmt::print(stderr, "parley-bench: FAILED: {}\n", shared.first_failure());
        return 1;
    }
    if (g_interrupted) {
        fmt::print(stderr, "parley-bench: interrupted\n");
        return 1;
    }
    if (!all_bound) {
        fmt::print(stderr, "parley-bench: only {} of {} sessions were bound within {:.0f} s\n", shared.bound.load(),
                   opt.sessions, login_budget_s);
        return 1;
    }
    if (!measured) {
        fmt::print(stderr, "parley-bench: parleyd (pid {}) went away during the measurement\n", opt.pid);
        return 1;
    }

    std::vector<double> login_ms;
    uint64_t first_start = UINT64_MAX, last_bound = 0;
    for (const auto& r : runners) {
        const auto v = r->login_ms();
        login_ms.insert(login_ms.end(), v.begin(), v.end());
        if (r->first_start_ns() != 0) first_start = std::min(first_start, r->first_start_ns());
        last_bound = std::max(last_bound, r->last_bound_ns());
    }
    const double login_s = last_bound > first_start ? static_cast<double>(last_bound - first_start) / 1e9 : 0;
    const double server_login_cpu = cpu_logins.server - cpu_start.server;

    if (opt.mode == Mode::idle) {
        if (rss_before && rss_after) {
            const double per = static_cast<double>(*rss_after - *rss_before) * 1024.0 / opt.sessions;
            fmt::print("sessions={} rss_before_kib={} rss_after_kib={} per_session_bytes={:.0f}\n", opt.sessions,
                       *rss_before, *rss_after, per);
        } else {
            fmt::print("sessions={} (no --pid: no memory figures)\n", opt.sessions);
        }
    } else if (opt.mode == Mode::room) {
        if (!print_room(opt, runners, delivered, sent, measured_s, cpu_m0, cpu_m1, rss_after)) return 1;
    } else {
        const double rate = measured_s > 0 ? static_cast<double>(delivered) / measured_s : 0;
        const double server_cpu = cpu_m1.server - cpu_m0.server;
        fmt::print("pairs={} delivered={} msgs_per_s={:.0f} bench_cpu_s={:.2f}", opt.pairs, delivered, rate,
                   cpu_m1.own - cpu_m0.own);
        if (opt.pid != 0)
            fmt::print(" server_cpu_s={:.2f} server_cpu_us_per_msg={:.1f}", server_cpu,
                       delivered > 0 ? server_cpu * 1e6 / static_cast<double>(delivered) : 0.0);
        fmt::print(" measured_s={:.2f} window={}\n", measured_s, opt.window);
        if (delivered == 0) {
            fmt::print(stderr, "parley-bench: no message was delivered during the measurement\n");
            return 1;
        }
    }
    fmt::print("logins={} login_s={:.2f} logins_per_s={:.0f} connect_rate={:.0f} login_p50_ms={:.1f} login_p99_ms={:.1f} "
               "bench_login_cpu_s={:.2f}",
               login_ms.size(), login_s, login_s > 0 ? static_cast<double>(login_ms.size()) / login_s : 0.0,
               opt.connect_rate, percentile(login_ms, 0.5), percentile(login_ms, 0.99), cpu_logins.own - cpu_start.own);
    if (opt.pid != 0)
        fmt::print(" server_login_cpu_s={:.2f} server_cpu_ms_per_login={:.2f}", server_login_cpu,
                   login_ms.empty() ? 0.0 : server_login_cpu * 1e3 / static_cast<double>(login_ms.size()));
    fmt::print(" bench_cpu_s={:.2f}\n", own_cpu_s());
    return 0;
}

// store-writer: how many durable writes per second the environment's writer
// thread (server/store/writer.hpp) sustains, and how long a write waits for
// its completion.
//
// N submitting threads (default 2: stand-ins for parleyd's two workers) each
// keep up to --window writes in flight: submit, and run the completions that
// the writer posts back to the thread's own inbox, as loop::Worker::post
// does (closed loop). With --rate R the threads instead submit R writes per
// second between them at an even pace, whatever the completions do (open
// loop: the latency at a given load). A write is a small record (--key-size 16, --value-size 100 bytes)
// put into one database of a fresh environment in a temporary directory
// (--dir to choose where: the disk under test). Writes completing during
// --seconds after --warmup are counted; the latency of each is the time from
// submit() to its completion running on the submitting thread. --direct
// measures the old way instead: each thread commits every write itself with
// Env::write (one synced commit per write).
//
// Prints one line of key=value figures. A benchmark, not a test; not
// installed. Single-threaded main; each submitter owns its state.
#include <fmt/core.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store/env.hpp"
#include "store/writer.hpp"

using namespace parley;
using Clock = std::chrono::steady_clock;

namespace {

struct Options {
    double seconds = 10;
    double warmup = 1;
    unsigned threads = 2;
    unsigned window = 512;
    double rate = 0;  // writes/s offered in all, open loop; 0: closed loop
    size_t key_size = 16;
    size_t value_size = 100;
    size_t max_batch = store::WriterOptions{}.max_batch;
    long max_wait_us = store::WriterOptions{}.max_wait.count();
    bool random_keys = false;
    bool direct = false;
    std::string dir;  // default: a temporary directory, removed afterwards
};

void usage() {
    std::fputs(
        "usage: store-writer [--seconds S] [--warmup S] [--threads N] [--window W | --rate R]\n"
        "                    [--key-size B] [--value-size B] [--max-batch N]\n"
        "                    [--max-wait-us U] [--random-keys] [--direct] [--dir DIR]\n",
        stderr);
}

bool parse(int argc, char** argv, Options& o) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
        const char* v = nullptr;
        if (a == "--random-keys") {
            o.random_keys = true;
        } else if (a == "--direct") {
            o.direct = true;
        } else if (!(v = next())) {
            return false;
        } else if (a == "--seconds") {
            o.seconds = std::atof(v);
        } else if (a == "--warmup") {
            o.warmup = std::atof(v);
        } else if (a == "--threads") {
            o.threads = static_cast<unsigned>(std::atoi(v));
        } else if (a == "--rate") {
            o.rate = std::atof(v);
        } else if (a == "--window") {
            o.window = static_cast<unsigned>(std::atoi(v));
        } else if (a == "--key-size") {
            o.key_size = static_cast<size_t>(std::atoi(v));
        } else if (a == "--value-size") {
            o.value_size = static_cast<size_t>(std::atoi(v));
        } else if (a == "--max-batch") {
            o.max_batch = static_cast<size_t>(std::atoi(v));
        } else if (a == "--max-wait-us") {
            o.max_wait_us = std::atol(v);
        } else if (a == "--dir") {
            o.dir = v;
        } else {
            return false;
        }
    }
    return o.seconds > 0 && o.threads > 0 && o.window > 0 && o.key_size >= 12 &&
           o.key_size < 512;
}

uint64_t splitmix(uint64_t x) {
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

// Big-endian (thread, sequence): each thread appends at its own end of the
// key space, like time-ordered ids; or a hash of it (--random-keys), which
// touches a different page for nearly every write.
std::string make_key(const Options& o, unsigned thread, uint64_t seq) {
    uint64_t head = (uint64_t{thread} << 56) | seq;
    if (o.random_keys) head = splitmix(head);
    std::string k(o.key_size, '\0');
    for (int b = 0; b < 8; ++b) k[b] = static_cast<char>((head >> (56 - 8 * b)) & 0xff);
    for (int b = 0; b < 4; ++b) k[8 + b] = static_cast<char>((thread >> (24 - 8 * b)) & 0xff);
    return k;
}

// The submitting thread's inbox: what loop::Worker::post is to a worker.
class Inbox : public store::Executor {
  public:
    bool post(std::function<void()> fn) override {
        // Notified under the lock: the thread may end (and this inbox go)
        // as soon as it has run its last completion.
        std::lock_guard<std::mutex> lock(mutex_);
        queue_.push_back(Posted{std::move(fn), Clock::now()});
        if (queue_.size() == 1) ready_.notify_one();
        return true;
    }
    // Runs what is queued, waiting until `until` for something if empty.
    void run(Clock::time_point until) {
        std::vector<Posted> batch;
        {
            std::unique_lock<std::mutex> lock(mutex_);
            ready_.wait_until(lock, until, [&] { return !queue_.empty(); });
            batch.swap(queue_);
        }
        const auto now = Clock::now();
        for (auto& p : batch) {
            // How long the posted completions waited for this thread: the
            // part of the latency that is the submitter's, not the writer's.
            if (counting)
                post_wait_us.push_back(static_cast<uint32_t>(
                    std::chrono::duration_cast<std::chrono::microseconds>(now - p.at).count()));
            p.fn();
        }
    }
    bool counting = false;
    std::vector<uint32_t> post_wait_us;

  private:
    struct Posted {
        std::function<void()> fn;
        Clock::time_point at;
    };
    std::mutex mutex_;
    std::condition_variable ready_;
    std::vector<Posted> queue_;
};

struct Submitter {
    unsigned index = 0;
    uint64_t in_flight = 0;
    uint64_t counted = 0, failed = 0, busy = 0;
    std::vector<uint32_t> latency_us;  // of the counted writes
    Inbox inbox;
};

void run_submitter(const Options& o, store::Env& env, MDB_dbi dbi, Submitter& s,
                   Clock::time_point count_from, Clock::time_point end) {
    const std::string value(o.value_size, 'v');
    store::Writer& writer = env.writer();
    uint64_t seq = 0;
    auto record = [&](Clock::time_point t0, bool ok) {
        const auto now = Clock::now();
        if (!ok) ++s.failed;
        if (t0 < count_from || now > end) return;
        ++s.counted;
        s.latency_us.push_back(static_cast<uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(now - t0).count()));
    };
    if (o.direct) {
        while (Clock::now() < end) {
            std::string key = make_key(o, s.index, seq++);
            const auto t0 = Clock::now();
            Status st = env.write([&](store::Txn& t) { return t.put(dbi, key, value); });
            record(t0, st.is_ok());
        }
        return;
    }
    auto submit = [&](Clock::time_point t0) -> bool {
        Status st = writer.submit(
            [dbi, key = make_key(o, s.index, seq++), &value](store::Txn& t) {
                return t.put(dbi, key, value);
            },
            [&s, &record, t0](Status done) {
                --s.in_flight;
                record(t0, done.is_ok());
            },
            s.inbox);
        if (!st) {
            ++s.busy;
            return false;
        }
        ++s.in_flight;
        return true;
    };
    auto counting = [&] {
        const auto now = Clock::now();
        s.inbox.counting = now >= count_from && now <= end;
    };
    if (o.rate > 0) {
        // Open loop: write i is due at start + i * interval; its latency
        // counts from when it was due, so falling behind shows.
        const auto interval = std::chrono::nanoseconds(
            static_cast<int64_t>(1e9 * o.threads / o.rate));
        // The thread wakes every 250 us at most (not once per write, which
        // would measure the bench's wake-ups), submitting what fell due.
        constexpr auto kTick = std::chrono::microseconds(250);
        auto due = Clock::now();
        while (Clock::now() < end) {
            for (auto now = Clock::now(); due <= now && due < end; due += interval)
                (void)submit(due);
            counting();
            s.inbox.run(std::min(std::max(due, Clock::now() + kTick), end));
        }
    } else {
        while (Clock::now() < end) {
            while (s.in_flight < o.window)
                if (!submit(Clock::now())) break;
            counting();
            s.inbox.run(end);
        }
    }
    // What is still in flight completes uncounted.
    s.inbox.counting = false;
    while (s.in_flight > 0) s.inbox.run(Clock::now() + std::chrono::seconds(60));
}

double cpu_seconds() {
    rusage ru{};
    ::getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse(argc, argv, o)) {
        usage();
        return 2;
    }
    std::string dir = o.dir;
    bool temporary = false;
    if (dir.empty()) {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/var/tmp") + "/store-writer-XXXXXX";
        if (!::mkdtemp(tmpl.data())) {
            std::perror("store-writer: mkdtemp");
            return 1;
        }
        dir = tmpl;
        temporary = true;
    }
    int code = 0;
    {
        auto env = store::Env::open(dir);
        if (!env) {
            std::fprintf(stderr, "store-writer: %s\n", env.status().to_string().c_str());
            return 1;
        }
        auto dbi = env.value()->database("bench", 1);
        if (!dbi) {
            std::fprintf(stderr, "store-writer: %s\n", dbi.status().to_string().c_str());
            return 1;
        }
        store::WriterOptions wo;
        wo.max_batch = o.max_batch;
        wo.max_wait = std::chrono::microseconds(o.max_wait_us);
        if (!o.direct) (void)env.value()->start_writer(wo);

        std::vector<Submitter> subs(o.threads);
        const auto start = Clock::now();
        const auto count_from =
            start + std::chrono::microseconds(static_cast<int64_t>(o.warmup * 1e6));
        const auto end =
            count_from + std::chrono::microseconds(static_cast<int64_t>(o.seconds * 1e6));
        store::WriterStats before{};
        double cpu_before = 0;
        std::vector<std::thread> threads;
        for (unsigned t = 0; t < o.threads; ++t) {
            subs[t].index = t;
            threads.emplace_back(run_submitter, std::cref(o), std::ref(*env.value()), dbi.value(),
                                 std::ref(subs[t]), count_from, end);
        }
        std::this_thread::sleep_until(count_from);
        if (!o.direct) before = env.value()->writer().stats();
        cpu_before = cpu_seconds();
        std::this_thread::sleep_until(end);
        const double cpu = cpu_seconds() - cpu_before;
        store::WriterStats after{};
        if (!o.direct) after = env.value()->writer().stats();
        for (auto& th : threads) th.join();

        std::vector<uint32_t> lat;
        uint64_t counted = 0, failed = 0, busy = 0;
        for (auto& s : subs) {
            counted += s.counted;
            failed += s.failed;
            busy += s.busy;
            lat.insert(lat.end(), s.latency_us.begin(), s.latency_us.end());
        }
        std::vector<uint32_t> waits;
        for (auto& s : subs)
            waits.insert(waits.end(), s.inbox.post_wait_us.begin(), s.inbox.post_wait_us.end());
        std::sort(lat.begin(), lat.end());
        std::sort(waits.begin(), waits.end());
        auto pct_of = [](const std::vector<uint32_t>& v, double p) -> uint32_t {
            if (v.empty()) return 0;
            return v[std::min(v.size() - 1, static_cast<size_t>(p * (v.size() - 1)))];
        };
        auto pct = [&](double p) { return pct_of(lat, p); };
        const uint64_t commits = o.direct ? counted : after.commits - before.commits;
        const uint64_t requests = o.direct ? counted : after.requests - before.requests;
        fmt::print(
            "mode={} threads={} {} key={}B value={}B keys={} max_batch={} "
            "max_wait_us={} seconds={:.1f} writes={} writes_per_s={:.0f} commits={} "
            "commits_per_s={:.0f} writes_per_commit={:.1f} p50_us={} p99_us={} max_us={} "
            "post_wait_p50_us={} post_wait_p99_us={} cpu_us_per_write={:.2f} failed={} busy={}\n",
            o.direct ? "direct" : "writer", o.threads,
            o.direct       ? std::string("window=1")
            : o.rate > 0   ? fmt::format("rate={:.0f}", o.rate)
                           : fmt::format("window={}", o.window),
            o.key_size,
            o.value_size, o.random_keys ? "random" : "sequential", o.max_batch, o.max_wait_us,
            o.seconds, counted, static_cast<double>(counted) / o.seconds, commits,
            static_cast<double>(commits) / o.seconds,
            commits ? static_cast<double>(requests) / static_cast<double>(commits) : 0.0,
            pct(0.50), pct(0.99), lat.empty() ? 0 : lat.back(), pct_of(waits, 0.50),
            pct_of(waits, 0.99), counted ? cpu * 1e6 / static_cast<double>(counted) : 0.0, failed, busy);
        if (failed) code = 1;
    }
    if (temporary) {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }
    return code;
}

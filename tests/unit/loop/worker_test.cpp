#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include "daemon/shared.hpp"
#include "loop/worker.hpp"

using namespace parley;

namespace {

// A worker with no listener and no module: only its loop and inbox.
std::shared_ptr<const config::Config> bare_config() {
    auto cfg = std::make_shared<config::Config>();
    cfg->workers = 1;
    cfg->c2s.starttls_port = 0;
    cfg->c2s.direct_tls_port = 0;
    return cfg;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(loop_worker)

BOOST_AUTO_TEST_CASE(post_runs_on_the_worker_and_is_refused_after_stop) {
    daemon::Shared shared;
    shared.set_config(bare_config());
    loop::Worker w(0, shared);
    BOOST_REQUIRE(w.start({}).is_ok());
    std::promise<std::thread::id> ran;
    BOOST_TEST(w.post([&](loop::Worker&) { ran.set_value(std::this_thread::get_id()); }));
    BOOST_TEST((ran.get_future().get() != std::this_thread::get_id()), "worker: a post runs on the worker's thread");
    w.request_shutdown();
    w.join();
    bool touched = false;
    BOOST_TEST(!w.post([&](loop::Worker&) { touched = true; }), "worker: a post after stop must be refused");
    BOOST_TEST(!touched);
}

// Threads keep posting while the worker stops: every post either runs or is
// refused, and none may wake a loop that is closing or closed (libuv aborts
// in uv_async_send on a closed loop). Bounded: a fixed number of stop
// cycles, each poster stops at its first refusal.
BOOST_AUTO_TEST_CASE(posting_while_the_worker_stops_is_safe) {
    constexpr int kCycles = 300;
    constexpr int kPosters = 6;
    for (int cycle = 0; cycle < kCycles; ++cycle) {
        daemon::Shared shared;
        shared.set_config(bare_config());
        loop::Worker w(0, shared);
        BOOST_REQUIRE(w.start({}).is_ok());
        std::atomic<long> accepted{0}, ran{0};
        std::vector<std::thread> posters;
        for (int p = 0; p < kPosters; ++p)
            posters.emplace_back([&] {
                for (long i = 0; i < 1000000; ++i) {
                    if (!w.post([&](loop::Worker&) { ran.fetch_add(1); })) return;
                    accepted.fetch_add(1);
                }
            });
        w.request_shutdown();
        w.join();
        for (auto& t : posters) t.join();
        BOOST_TEST(ran.load() <= accepted.load());
    }
}

BOOST_AUTO_TEST_SUITE_END()

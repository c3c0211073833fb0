#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>
#include <vector>

#include "daemon/shared.hpp"
#include "loop/worker.hpp"
#include "module/loader.hpp"

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

const std::string kModuleDir = PARLEY_TEST_BUILDDIR "/tests/support/modules/.libs";

std::shared_ptr<const config::Config> with_modules(std::vector<std::string> names,
                                                   std::map<std::string, config::OptionValue> life_options) {
    auto cfg = std::make_shared<config::Config>(*bare_config());
    cfg->modules = std::move(names);
    config::Section s;
    s.file = "test.toml";
    s.name = "testlife";
    s.values = std::move(life_options);
    cfg->module_sections["testlife"] = s;
    return cfg;
}

// The names of the modules running on w, asked on its loop.
std::vector<std::string> running(loop::Worker& w) {
    std::promise<std::vector<std::string>> names;
    BOOST_REQUIRE(w.post([&](loop::Worker& worker) { names.set_value(worker.module_names()); }));
    return names.get_future().get();
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

// What one worker's loop posts to another runs, all of it, in order.
BOOST_AUTO_TEST_CASE(posts_from_one_worker_to_another_keep_their_order) {
    daemon::Shared shared;
    auto cfg = std::make_shared<config::Config>(*bare_config());
    cfg->workers = 2;
    shared.set_config(cfg);
    loop::Worker w0(0, shared), w1(1, shared);
    shared.workers = {&w0, &w1};
    BOOST_REQUIRE(w0.start({}).is_ok());
    BOOST_REQUIRE(w1.start({}).is_ok());
    constexpr int kTasks = 5000;
    std::vector<int> order;  // touched on w1's thread only
    std::promise<void> done;
    std::atomic<int> refused{0};
    BOOST_REQUIRE(w0.post([&](loop::Worker&) {
        for (int i = 0; i < kTasks; ++i)
            if (!w1.post([&order, i](loop::Worker&) { order.push_back(i); })) refused.fetch_add(1);
        if (!w1.post([&](loop::Worker&) { done.set_value(); })) refused.fetch_add(1);
    }));
    BOOST_REQUIRE(done.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    BOOST_TEST(refused.load() == 0);
    BOOST_REQUIRE(order.size() == size_t{kTasks});
    bool in_order = true;
    for (int i = 0; i < kTasks; ++i) in_order = in_order && order[static_cast<size_t>(i)] == i;
    BOOST_TEST(in_order, "worker: one worker's posts to another run in the order they were made");
    // Once the other has stopped, a post from a worker's loop is refused.
    w1.request_shutdown();
    w1.join();
    std::promise<bool> after;
    BOOST_REQUIRE(w0.post([&](loop::Worker&) { after.set_value(w1.post([](loop::Worker&) {})); }));
    BOOST_TEST(!after.get_future().get());
    w0.request_shutdown();
    w0.join();
}

BOOST_AUTO_TEST_CASE(a_reload_is_applied_on_every_worker_or_on_none) {
    auto life = module::LoadedModule::load(kModuleDir, "testlife");
    BOOST_REQUIRE_MESSAGE(life.is_ok(), (life.is_ok() ? std::string() : life.status().message()));
    auto good = module::LoadedModule::load(kModuleDir, "testgood");
    BOOST_REQUIRE(good.is_ok());
    daemon::Shared shared;
    shared.set_config(with_modules({"testlife"}, {}));
    std::vector<std::unique_ptr<loop::Worker>> workers;
    std::vector<loop::Worker*> ptrs;
    for (unsigned i = 0; i < 2; ++i) {
        workers.push_back(std::make_unique<loop::Worker>(i, shared));
        ptrs.push_back(workers.back().get());
        BOOST_REQUIRE(workers.back()->start({life.value()}).is_ok());
    }
    // testlife's reload() throws on worker 1 only; the reload also adds testgood.
    auto failing = with_modules({"testgood", "testlife"}, {{"fail_reload_on_worker", {int64_t{1}, 2}}});
    Status s = loop::reload_workers(ptrs, failing, {good.value(), life.value()});
    BOOST_TEST(!s.is_ok(), "worker: a reload failing on one worker must fail");
    BOOST_TEST(s.message().find("worker 1") != std::string::npos, s.message());
    for (auto* w : ptrs)
        BOOST_TEST(running(*w) == std::vector<std::string>{"testlife"}, "worker " << w->index() << ": unchanged");
    // Without the failure, every worker takes it, in the order given.
    s = loop::reload_workers(ptrs, with_modules({"testgood", "testlife"}, {}), {good.value(), life.value()});
    BOOST_TEST(s.is_ok(), s.message());
    for (auto* w : ptrs)
        BOOST_TEST((running(*w) == std::vector<std::string>{"testgood", "testlife"}), "worker " << w->index());
    // And a module removed by a reload stops everywhere.
    s = loop::reload_workers(ptrs, with_modules({"testgood"}, {}), {good.value()});
    BOOST_TEST(s.is_ok(), s.message());
    for (auto* w : ptrs) BOOST_TEST(running(*w) == std::vector<std::string>{"testgood"}, "worker " << w->index());
    for (auto* w : ptrs) w->request_shutdown();
    for (auto* w : ptrs) w->join();
    // A stopped worker makes a reload fail; nothing is left half done.
    s = loop::reload_workers(ptrs, with_modules({"testgood"}, {}), {good.value()});
    BOOST_TEST(!s.is_ok(), "worker: a reload with a stopped worker must fail");
}

BOOST_AUTO_TEST_SUITE_END()

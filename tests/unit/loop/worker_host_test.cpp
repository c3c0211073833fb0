// WorkerHost's view of the process for modules: the uptime it reports is
// parleyd's (daemon::Shared::started), not the time since the module started.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "support/seams_fixture.hpp"

using namespace parley;

BOOST_AUTO_TEST_SUITE(loop_worker_host)

BOOST_FIXTURE_TEST_CASE(uptime_counts_from_the_start_of_the_process, test::SeamsFixture) {
    uint64_t fresh = 0, later = 0;
    on(0, [&](loop::Worker&) { fresh = hosts[0]->uptime_seconds(); });
    BOOST_TEST(fresh < 60u, "loop: a process started just now has been up for seconds, not " << fresh);
    // As if parleyd had started 100 s ago: every worker's hosts report it.
    shared.started -= std::chrono::seconds(100);
    on(1, [&](loop::Worker&) { later = hosts[1]->uptime_seconds(); });
    BOOST_TEST(later >= 100u, "loop: uptime must come from the process's start, got " << later);
    BOOST_TEST(later < 160u);
}

BOOST_FIXTURE_TEST_CASE(data_dir_and_virtual_hosts_come_from_the_running_config, test::SeamsFixture) {
    std::string dir;
    std::optional<config::VirtualHost> host, none;
    on(1, [&](loop::Worker&) {
        dir = hosts[1]->data_dir();
        host = hosts[1]->virtual_host(test::SeamsFixture::kDomain);
        none = hosts[1]->virtual_host("upload." + std::string(test::SeamsFixture::kDomain));
    });
    BOOST_TEST(dir == shared.config()->data_dir, "loop: data_dir must be the running config's, got " << dir);
    BOOST_TEST(!dir.empty());
    BOOST_REQUIRE_MESSAGE(host, "loop: the fixture's virtual host must be found");
    BOOST_TEST(host->domain == test::SeamsFixture::kDomain);
    BOOST_TEST(!none, "loop: a domain that is no virtual host must give nullopt");
    // A reload swaps the config: the next call sees the new one.
    auto next = std::make_shared<config::Config>(*shared.config());
    next->data_dir = "/elsewhere";
    shared.set_config(next);
    on(0, [&](loop::Worker&) { dir = hosts[0]->data_dir(); });
    BOOST_TEST(dir == "/elsewhere", "loop: data_dir must follow a reload, got " << dir);
}

BOOST_AUTO_TEST_SUITE_END()

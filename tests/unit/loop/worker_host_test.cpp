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

BOOST_AUTO_TEST_SUITE_END()

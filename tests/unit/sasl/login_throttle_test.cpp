// sasl::LoginThrottle: growth, cap, per-account and per-address counting,
// success reset, decay and bounded memory, on a test clock.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "sasl/login_throttle.hpp"

using parley::sasl::LoginThrottle;

namespace {

struct Fixture {
    std::chrono::steady_clock::time_point now = std::chrono::steady_clock::time_point() + std::chrono::hours(1);
    LoginThrottle t{100, 1000};
    Fixture() {
        t.set_clock([this] { return now; });
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(login_throttle)

BOOST_FIXTURE_TEST_CASE(no_failure_no_delay, Fixture) {
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.1"), 0u);
    BOOST_CHECK_EQUAL(t.delay_ms("", "192.0.2.1"), 0u);
}

BOOST_FIXTURE_TEST_CASE(delay_doubles_up_to_the_cap, Fixture) {
    const uint64_t expected[] = {100, 200, 400, 800, 1000, 1000};
    for (uint64_t e : expected) {
        t.failure("alice@example.com", "192.0.2.1");
        BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.1"), e);
    }
    for (int i = 0; i < 100; ++i) t.failure("alice@example.com", "192.0.2.1");
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.1"), 1000u);
}

BOOST_FIXTURE_TEST_CASE(account_counts_across_addresses, Fixture) {
    // One guess from each of many addresses still slows the account down.
    t.failure("alice@example.com", "192.0.2.1");
    t.failure("alice@example.com", "192.0.2.2");
    t.failure("alice@example.com", "192.0.2.3");
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.4"), 400u);
    BOOST_CHECK_EQUAL(t.delay_ms("bob@example.com", "192.0.2.4"), 0u);
}

BOOST_FIXTURE_TEST_CASE(address_counts_across_accounts, Fixture) {
    t.failure("a@example.com", "192.0.2.9");
    t.failure("b@example.com", "192.0.2.9");
    t.failure("", "192.0.2.9");  // the account was never learnt: the address alone counts
    BOOST_CHECK_EQUAL(t.delay_ms("c@example.com", "192.0.2.9"), 400u);
    BOOST_CHECK_EQUAL(t.delay_ms("", "192.0.2.9"), 400u);
    BOOST_CHECK_EQUAL(t.delay_ms("a@example.com", "198.51.100.1"), 100u);
    BOOST_CHECK_EQUAL(t.delay_ms("", "198.51.100.1"), 0u);
}

BOOST_FIXTURE_TEST_CASE(success_clears_the_account, Fixture) {
    t.failure("alice@example.com", "192.0.2.1");
    t.failure("alice@example.com", "192.0.2.1");
    t.success("alice@example.com", "192.0.2.1");
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "198.51.100.1"), 0u);
    // The address keeps its record (it decays): a good login does not wash it.
    BOOST_CHECK_EQUAL(t.delay_ms("", "192.0.2.1"), 200u);
}

BOOST_FIXTURE_TEST_CASE(counts_decay, Fixture) {
    t.failure("alice@example.com", "192.0.2.1");
    t.failure("alice@example.com", "192.0.2.1");
    now += LoginThrottle::kForgetAfter - std::chrono::seconds(1);
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.1"), 200u);
    now += std::chrono::seconds(2);
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.1"), 0u);
    t.failure("alice@example.com", "192.0.2.1");
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.1"), 100u);
    // Expired keys are dropped.
    now += LoginThrottle::kForgetAfter;
    t.failure("", "203.0.113.1");
    BOOST_CHECK_EQUAL(t.tracked_keys(), 1u);
}

BOOST_FIXTURE_TEST_CASE(set_delays_applies_at_once, Fixture) {
    t.failure("alice@example.com", "192.0.2.1");
    t.failure("alice@example.com", "192.0.2.1");
    t.set_delays(10, 15);
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.1"), 15u);
    t.set_delays(0, 1000);
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "192.0.2.1"), 0u);
}

BOOST_AUTO_TEST_CASE(memory_is_bounded) {
    LoginThrottle t(100, 1000, 10);
    for (int i = 0; i < 1000; ++i) t.failure("user" + std::to_string(i) + "@example.com", "10.0.0." + std::to_string(i));
    BOOST_CHECK_LE(t.tracked_keys(), 10u);
    // The most recent failures are the ones kept.
    BOOST_CHECK_EQUAL(t.delay_ms("user999@example.com", "x"), 100u);
    BOOST_CHECK_EQUAL(t.delay_ms("user0@example.com", "x"), 0u);
}

BOOST_AUTO_TEST_SUITE_END()

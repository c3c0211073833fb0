// sasl::LoginThrottle: growth, cap, per-account and per-address counting,
// success reset, decay and bounded memory, on a test clock.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "sasl/login_throttle.hpp"

#include <atomic>
#include <thread>
#include <vector>

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

BOOST_FIXTURE_TEST_CASE(admits_freely_without_failures, Fixture) {
    // People behind one address log in together: no spacing without failures.
    for (int i = 0; i < 20; ++i) BOOST_CHECK(t.admit("user" + std::to_string(i) + "@example.com", "192.0.2.1").admitted);
    for (int i = 0; i < 5; ++i) BOOST_CHECK(t.admit("alice@example.com", "192.0.2.1").admitted);
}

BOOST_FIXTURE_TEST_CASE(refuses_the_account_until_its_wait_has_passed, Fixture) {
    t.failure("alice@example.com", "192.0.2.1");
    // Another connection, another address, at once: refused unevaluated,
    // answered after the delay a failure gets.
    auto a = t.admit("alice@example.com", "198.51.100.7");
    BOOST_CHECK(!a.admitted);
    BOOST_CHECK_EQUAL(a.delay_ms, 100u);
    // A refusal is not a failure: the account's count (and so its wait) is unchanged.
    BOOST_CHECK_EQUAL(t.delay_ms("alice@example.com", "198.51.100.7"), 100u);
    now += std::chrono::milliseconds(80);
    BOOST_CHECK(!t.admit("alice@example.com", "198.51.100.7").admitted);
    // Another account from another address is not concerned.
    BOOST_CHECK(t.admit("bob@example.com", "198.51.100.7").admitted);
    // Within the slack of the end of the wait: admitted (a client that
    // waited for its delayed reply is never refused for a timer's rounding).
    now += std::chrono::milliseconds(20) - LoginThrottle::kSlack;
    BOOST_CHECK(t.admit("alice@example.com", "198.51.100.7").admitted);
}

BOOST_FIXTURE_TEST_CASE(a_stranger_cannot_lock_the_owner_out, Fixture) {
    // The owner logged in from home once.
    BOOST_REQUIRE(t.admit("alice@example.com", "192.0.2.10").admitted);
    t.success("alice@example.com", "192.0.2.10");
    // A stranger guesses every time the account's wait ends, from ever new
    // addresses, which keeps the account's wait running...
    for (int i = 0; i < 6; ++i) {
        const std::string ip = "203.0.113." + std::to_string(i);
        now += std::chrono::milliseconds(1000);
        BOOST_REQUIRE(t.admit("alice@example.com", ip).admitted);
        t.failure("alice@example.com", ip);
    }
    BOOST_TEST(!t.admit("alice@example.com", "198.51.100.1").admitted, "throttle: the account's wait runs");
    // ...but the owner's address is held only by its own wait.
    BOOST_TEST(t.admit("alice@example.com", "192.0.2.10").admitted, "throttle: the owner's address is let through");
    // That address's own failures still hold it.
    t.failure("alice@example.com", "192.0.2.10");
    BOOST_TEST(!t.admit("alice@example.com", "192.0.2.10").admitted, "throttle: its own wait holds it");
    // The vouching expires.
    now += LoginThrottle::kTrustFor + std::chrono::hours(1);
    for (int i = 0; i < 6; ++i) {
        now += std::chrono::milliseconds(1000);
        t.failure("alice@example.com", "203.0.113.50");
    }
    BOOST_TEST(!t.admit("alice@example.com", "192.0.2.10").admitted, "throttle: after kTrustFor the address is a stranger");
}

BOOST_FIXTURE_TEST_CASE(refuses_the_address_until_its_wait_has_passed, Fixture) {
    t.failure("", "192.0.2.1");
    t.failure("x@example.com", "192.0.2.1");  // address count 2: 200 ms
    auto a = t.admit("alice@example.com", "192.0.2.1");
    BOOST_CHECK(!a.admitted);
    BOOST_CHECK_EQUAL(a.delay_ms, 200u);
    BOOST_CHECK(!t.admit("", "192.0.2.1").admitted);
    BOOST_CHECK(t.admit("alice@example.com", "192.0.2.2").admitted);
    now += std::chrono::milliseconds(200);
    BOOST_CHECK(t.admit("alice@example.com", "192.0.2.1").admitted);
    // The address gets no spacing of admitted attempts: a NAT's users log in together.
    BOOST_CHECK(t.admit("bob@example.com", "192.0.2.1").admitted);
    BOOST_CHECK(t.admit("carol@example.com", "192.0.2.1").admitted);
}

BOOST_FIXTURE_TEST_CASE(an_account_with_failures_admits_one_attempt_per_wait, Fixture) {
    t.failure("alice@example.com", "192.0.2.1");
    t.failure("alice@example.com", "192.0.2.2");  // count 2: 200 ms
    now += std::chrono::milliseconds(200);
    // Many addresses racing for the moment the wait ends: one gets through.
    BOOST_CHECK(t.admit("alice@example.com", "198.51.100.1").admitted);
    BOOST_CHECK(!t.admit("alice@example.com", "198.51.100.2").admitted);
    BOOST_CHECK(!t.admit("alice@example.com", "198.51.100.3").admitted);
    now += std::chrono::milliseconds(200);
    BOOST_CHECK(t.admit("alice@example.com", "198.51.100.2").admitted);
    // A success clears the account: no refusal, no spacing any more.
    t.success("alice@example.com", "198.51.100.2");
    BOOST_CHECK(t.admit("alice@example.com", "198.51.100.4").admitted);
    BOOST_CHECK(t.admit("alice@example.com", "198.51.100.5").admitted);
}

BOOST_FIXTURE_TEST_CASE(waits_grow_and_decay_with_the_count, Fixture) {
    for (int i = 0; i < 4; ++i) t.failure("alice@example.com", "192.0.2.1");  // 800 ms
    now += std::chrono::milliseconds(700);
    BOOST_CHECK(!t.admit("alice@example.com", "203.0.113.1").admitted);
    now += std::chrono::milliseconds(100);
    BOOST_CHECK(t.admit("alice@example.com", "203.0.113.1").admitted);
    // Forgotten after kForgetAfter: nothing refused, nothing spaced.
    now += LoginThrottle::kForgetAfter;
    BOOST_CHECK(t.admit("alice@example.com", "192.0.2.1").admitted);
    BOOST_CHECK(t.admit("alice@example.com", "192.0.2.1").admitted);
}

BOOST_AUTO_TEST_CASE(shared_between_threads) {
    // Workers on several threads guessing at one account: every failure is
    // counted once, and while its wait runs no thread is admitted.
    LoginThrottle t(60000, 60000);
    constexpr int kThreads = 4, kEach = 500;
    std::atomic<int> admitted{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i)
        threads.emplace_back([&t, &admitted, i] {
            for (int k = 0; k < kEach; ++k) {
                const std::string ip = "10.0." + std::to_string(i) + "." + std::to_string(k % 200);
                if (t.admit("alice@example.com", ip).admitted) {
                    admitted.fetch_add(1);
                    t.failure("alice@example.com", ip);
                }
            }
        });
    for (auto& th : threads) th.join();
    // The first admitted guess fails and starts a minute's wait; guesses that
    // were admitted before that failure was recorded are the only others.
    BOOST_CHECK_GE(admitted.load(), 1);
    BOOST_CHECK_LE(admitted.load(), kThreads);
    BOOST_CHECK(!t.admit("alice@example.com", "192.0.2.99").admitted);
}

BOOST_AUTO_TEST_SUITE_END()

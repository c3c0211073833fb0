#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "../modules/register/rate_limits.hpp"

using namespace parley;
using namespace std::chrono_literals;
using parley::mod_register::SlidingWindows;
using Kind = SlidingWindows::Decision::Kind;

BOOST_AUTO_TEST_SUITE(modules_register_limits)

BOOST_AUTO_TEST_CASE(an_address_gets_its_share_then_waits_for_the_window_to_slide) {
    SlidingWindows w;
    w.set_limits(3, 100, 3600s);
    const auto t0 = SlidingWindows::Clock::time_point{} + 1000h;
    for (int i = 0; i < 3; ++i) BOOST_TEST((w.take("192.0.2.1", t0 + std::chrono::minutes(i)).kind == Kind::ok));
    auto d = w.take("192.0.2.1", t0 + 10min);
    BOOST_TEST((d.kind == Kind::address_full), "register: the fourth within the hour is refused");
    BOOST_TEST(d.retry_after.count() == (3600 - 600), "register: until the first one leaves the window");
    BOOST_TEST((w.take("192.0.2.2", t0 + 10min).kind == Kind::ok), "register: another address is not affected");
    BOOST_TEST((w.take("192.0.2.1", t0 + 3600s).kind == Kind::ok), "register: one unit back after an hour");
    BOOST_TEST((w.take("192.0.2.1", t0 + 3601s).kind == Kind::address_full));
}

BOOST_AUTO_TEST_CASE(all_addresses_together_are_bounded_and_memory_with_them) {
    SlidingWindows w;
    w.set_limits(2, 10, 60s);
    const auto t0 = SlidingWindows::Clock::time_point{} + 1000h;
    int ok = 0;
    for (int i = 0; i < 50; ++i)
        if (w.take("198.51.100." + std::to_string(i), t0).kind == Kind::ok) ++ok;
    BOOST_TEST(ok == 10);
    BOOST_TEST(w.in_window() == 10u, "register: refused requests are not kept");
    auto d = w.take("203.0.113.9", t0 + 30s);
    BOOST_TEST((d.kind == Kind::total_full));
    BOOST_TEST(d.retry_after.count() == 30);
    BOOST_TEST((w.take("203.0.113.9", t0 + 60s).kind == Kind::ok));
    BOOST_TEST(w.in_window() == 1u, "register: expired entries are dropped");
}

BOOST_AUTO_TEST_CASE(ipv6_addresses_count_by_prefix) {
    using mod_register::address_key;
    BOOST_TEST(address_key("2001:db8:1:2:aaaa::1", 64) == "2001:db8:1:2::/64");
    BOOST_TEST(address_key("2001:db8:1:2:bbbb::7", 64) == address_key("2001:db8:1:2:aaaa::1", 64));
    BOOST_TEST(address_key("2001:db8:1:3::1", 64) != address_key("2001:db8:1:2::1", 64));
    BOOST_TEST(address_key("2001:db8:1:2:aaaa::1", 128) == "2001:db8:1:2:aaaa::1/128");
    BOOST_TEST(address_key("2001:db8:1:2:aaaa::1", 48) == "2001:db8:1::/48");
    BOOST_TEST(address_key("::ffff:192.0.2.7", 64) == "192.0.2.7", "register: a mapped IPv4 address is IPv4");
    BOOST_TEST(address_key("192.0.2.7", 64) == "192.0.2.7");
    BOOST_TEST(address_key("", 64) == "");
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>

#include <thread>
#include <vector>

#include "net/connection_limiter.hpp"

using parley::net::AddressKey;
using parley::net::Admission;
using parley::net::ConnectionLimiter;
using parley::net::ConnectionLimits;
using parley::net::Refusal;

namespace {

AddressKey key(const char* ip) {
    sockaddr_storage ss{};
    if (inet_pton(AF_INET, ip, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
    } else {
        BOOST_REQUIRE(inet_pton(AF_INET6, ip, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr) == 1);
        ss.ss_family = AF_INET6;
    }
    return AddressKey::of(ss);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(net_connection_limiter)

BOOST_AUTO_TEST_CASE(ipv6_counts_per_64_and_mapped_ipv4_as_ipv4) {
    BOOST_TEST((key("2001:db8:1:2::1") == key("2001:db8:1:2:ffff:ffff:ffff:ffff")), "limiter: one /64 is one address");
    BOOST_TEST(!(key("2001:db8:1:2::1") == key("2001:db8:1:3::1")), "limiter: another /64 is another address");
    BOOST_TEST((key("::ffff:192.0.2.7") == key("192.0.2.7")), "limiter: a mapped IPv4 address is the IPv4 address");
    BOOST_TEST(!(key("192.0.2.7") == key("192.0.2.8")));
    BOOST_TEST(!(key("::1") == key("0.0.0.1")), "limiter: IPv6 and IPv4 keys never collide");
    BOOST_TEST(!(key("::1") == key("0.0.0.0")));
}

BOOST_AUTO_TEST_CASE(unauthenticated_per_address_then_authenticated_frees_a_place) {
    auto l = std::make_shared<ConnectionLimiter>(ConnectionLimits{100, 4, 2});
    Refusal r = Refusal::none;
    Admission a = l->admit(key("192.0.2.1"), &r);
    Admission b = l->admit(key("192.0.2.1"), &r);
    BOOST_REQUIRE(bool(a) && bool(b));
    Admission c = l->admit(key("192.0.2.1"), &r);
    BOOST_TEST(!bool(c), "limiter: a third unauthenticated connection from one address is refused");
    BOOST_TEST((r == Refusal::unauthenticated_per_address));
    BOOST_TEST(bool(l->admit(key("192.0.2.2"), &r)), "limiter: another address is not affected");
    a.authenticated();
    Admission d = l->admit(key("192.0.2.1"), &r);
    BOOST_TEST(bool(d), "limiter: once one authenticated, another may connect");
    BOOST_TEST(l->connections_from(key("192.0.2.1")) == 3u);
    Admission e = l->admit(key("192.0.2.1"), &r);  // 4th connection, 3rd unauthenticated
    BOOST_TEST(!bool(e));
    BOOST_TEST((r == Refusal::unauthenticated_per_address));
    b.authenticated();
    d.authenticated();
    Admission f = l->admit(key("192.0.2.1"), &r);
    BOOST_TEST(bool(f), "limiter: a fourth connection fits the per-address limit of 4");
    Admission g = l->admit(key("192.0.2.1"), &r);
    BOOST_TEST(!bool(g));
    BOOST_TEST((r == Refusal::per_address), "limiter: the fifth connection is over the per-address limit");
}

BOOST_AUTO_TEST_CASE(total_unauthenticated_and_release) {
    auto l = std::make_shared<ConnectionLimiter>(ConnectionLimits{3, 100, 100});
    Refusal r = Refusal::none;
    std::vector<Admission> held;
    for (const char* ip : {"192.0.2.1", "192.0.2.2", "2001:db8::1"}) held.push_back(l->admit(key(ip), &r));
    BOOST_TEST(l->unauthenticated() == 3u);
    BOOST_TEST(!bool(l->admit(key("192.0.2.9"), &r)));
    BOOST_TEST((r == Refusal::unauthenticated_total));
    held.pop_back();  // a connection closes: its place is free again
    BOOST_TEST(l->unauthenticated() == 2u);
    Admission again = l->admit(key("192.0.2.9"), &r);
    BOOST_TEST(bool(again));
    Admission moved = std::move(again);
    BOOST_TEST(!bool(again));
    BOOST_TEST(l->unauthenticated() == 3u, "limiter: a moved admission is counted once");
    held.clear();
    moved = Admission();
    BOOST_TEST(l->unauthenticated() == 0u);
    BOOST_TEST(l->connections_from(key("192.0.2.1")) == 0u);
}

BOOST_AUTO_TEST_CASE(refusals_are_logged_once_per_address_per_minute) {
    ConnectionLimiter l(ConnectionLimits{});
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t silenced = 99;
    BOOST_TEST(l.should_log(key("192.0.2.1"), t0, &silenced));
    BOOST_TEST(silenced == 0u);
    for (int i = 1; i <= 5; ++i)
        BOOST_TEST(!l.should_log(key("192.0.2.1"), t0 + std::chrono::seconds(i * 10), nullptr),
                   "limiter: not again within the minute");
    BOOST_TEST(l.should_log(key("192.0.2.2"), t0, nullptr), "limiter: another address is logged");
    BOOST_TEST(l.should_log(key("192.0.2.1"), t0 + std::chrono::seconds(61), &silenced));
    BOOST_TEST(silenced == 5u, "limiter: the silenced refusals are counted");
}

BOOST_AUTO_TEST_CASE(log_state_is_bounded_and_swept_once_a_minute) {
    ConnectionLimiter l(ConnectionLimits{});
    const auto t0 = std::chrono::steady_clock::now();
    auto nth = [](uint64_t i) { return AddressKey{0x20010db800000000ull + i, 1}; };  // /64s of one /48
    for (uint64_t i = 0; i < 4096; ++i) BOOST_REQUIRE(l.should_log(nth(i), t0, nullptr));
    // Past the bound, within the minute: one report for all the others.
    BOOST_TEST(l.should_log(nth(5000), t0, nullptr), "limiter: the first of the others is logged");
    for (uint64_t i = 5001; i < 5100; ++i)
        BOOST_TEST(!l.should_log(nth(i), t0 + std::chrono::seconds(1), nullptr), "limiter: the others share one line");
    BOOST_TEST(!l.should_log(nth(1), t0 + std::chrono::seconds(2), nullptr), "limiter: a known address keeps its state");
    // A minute later the old state is swept and addresses are logged again.
    uint64_t silenced = 0;
    BOOST_TEST(l.should_log(nth(6000), t0 + std::chrono::seconds(61), &silenced));
    BOOST_TEST(silenced == 0u, "limiter: a fresh address after the sweep has nothing silenced");
}

BOOST_AUTO_TEST_CASE(counts_stay_exact_under_threads) {
    auto l = std::make_shared<ConnectionLimiter>(ConnectionLimits{1000000, 1000000, 1000000});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&l, t] {
            for (int i = 0; i < 2000; ++i) {
                Refusal r;
                Admission a = l->admit(key(t % 2 ? "192.0.2.1" : "2001:db8::1"), &r);
                if (i % 2) a.authenticated();
            }
        });
    for (auto& th : threads) th.join();
    BOOST_TEST(l->unauthenticated() == 0u);
    BOOST_TEST(l->connections_from(key("192.0.2.1")) == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

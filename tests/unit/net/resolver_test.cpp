#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <optional>
#include <thread>

#include "net/resolver.hpp"

using parley::net::Answer;
using parley::net::order_srv;
using parley::net::Resolver;
using parley::net::SrvTarget;

namespace {

// A DNS server on 127.0.0.1 that answers from a table, on its own thread.
// Names it does not know get NXDOMAIN; `silent` makes it answer nothing.
class TinyDns {
public:
    struct Srv {
        uint16_t priority, weight, port;
        std::string target;
    };
    std::map<std::string, std::vector<Srv>> srv;
    std::map<std::string, std::string> a;  // name -> dotted IPv4
    bool silent = false;

    TinyDns() {
        fd_ = socket(AF_INET, SOCK_DGRAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        socklen_t len = sizeof sa;
        getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
        port_ = ntohs(sa.sin_port);
    }
    ~TinyDns() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        ::close(fd_);
    }
    void start() { thread_ = std::thread([this] { serve(); }); }
    std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
    int queries() const { return queries_; }

private:
    static void put16(std::string& o, uint16_t v) {
        o.push_back(static_cast<char>(v >> 8));
        o.push_back(static_cast<char>(v & 0xff));
    }
    static std::string name_wire(const std::string& name) {
        std::string o;
        size_t b = 0;
        while (b < name.size()) {
            size_t e = name.find('.', b);
            if (e == std::string::npos) e = name.size();
            o.push_back(static_cast<char>(e - b));
            o += name.substr(b, e - b);
            b = e + 1;
        }
        o.push_back('\0');
        return o;
    }
    void serve() {
        for (int round = 0; round < 2000 && !stop_; ++round) {  // at most 100 s
            pollfd p{fd_, POLLIN, 0};
            if (poll(&p, 1, 50) <= 0) continue;
            unsigned char q[512];
            sockaddr_in from{};
            socklen_t fl = sizeof from;
            const ssize_t n = recvfrom(fd_, q, sizeof q, 0, reinterpret_cast<sockaddr*>(&from), &fl);
            if (n < 17) continue;
            ++queries_;
            if (silent) continue;
            // The question: labels from offset 12, then type and class.
            std::string name;
            size_t i = 12;
            while (i < static_cast<size_t>(n) && q[i] != 0) {
                const size_t l = q[i];
                if (!name.empty()) name += '.';
                name.append(reinterpret_cast<const char*>(q + i + 1), l);
                i += l + 1;
            }
            const size_t qend = i + 5;
            const uint16_t type = static_cast<uint16_t>(q[i + 1] << 8 | q[i + 2]);
            std::string answers;
            int count = 0;
            bool known = srv.count(name) || a.count(name);
            if (type == 33 && srv.count(name)) {
                for (const Srv& s : srv[name]) {
                    std::string rd;
                    put16(rd, s.priority);
                    put16(rd, s.weight);
                    put16(rd, s.port);
                    rd += s.target == "." ? std::string(1, '\0') : name_wire(s.target);
                    answers += "\xc0\x0c";
                    put16(answers, 33);
                    put16(answers, 1);
                    answers += std::string("\0\0\0\x3c", 4);
                    put16(answers, static_cast<uint16_t>(rd.size()));
                    answers += rd;
                    ++count;
                }
            } else if (type == 1 && a.count(name)) {
                in_addr addr{};
                inet_pton(AF_INET, a[name].c_str(), &addr);
                answers += "\xc0\x0c";
                put16(answers, 1);
                put16(answers, 1);
                answers += std::string("\0\0\0\x3c", 4);
                put16(answers, 4);
                answers.append(reinterpret_cast<const char*>(&addr), 4);
                ++count;
            }
            std::string r(reinterpret_cast<const char*>(q), 2);  // id
            put16(r, known ? 0x8180 : 0x8183);                   // a response; NXDOMAIN when unknown
            put16(r, 1);
            put16(r, static_cast<uint16_t>(count));
            put16(r, 0);
            put16(r, 0);
            r.append(reinterpret_cast<const char*>(q + 12), qend - 12);
            r += answers;
            sendto(fd_, r.data(), r.size(), 0, reinterpret_cast<sockaddr*>(&from), fl);
        }
    }

    int fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> queries_{0};
    std::thread thread_;
};

// Runs the loop until `done` or 200 turns of at most 50 ms.
template <typename F>
void run_until(uv_loop_t* loop, F done) {
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, [](uv_timer_t*) {}, 50, 50);
    for (int i = 0; i < 200 && !done(); ++i) uv_run(loop, UV_RUN_ONCE);
    uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
}

struct LoopFixture {
    uv_loop_t loop{};
    LoopFixture() { uv_loop_init(&loop); }
    ~LoopFixture() {
        for (int i = 0; i < 100 && uv_loop_alive(&loop); ++i) uv_run(&loop, UV_RUN_NOWAIT);
        BOOST_CHECK_EQUAL(uv_loop_close(&loop), 0);
    }
};

std::string ip_of(const sockaddr_storage& ss, uint16_t* port) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (ss.ss_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof buf);
        *port = ntohs(sin->sin_port);
    } else {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof buf);
        *port = ntohs(sin6->sin6_port);
    }
    return buf;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(resolver)

BOOST_AUTO_TEST_CASE(srv_order_is_by_priority_then_weighted) {
    std::vector<SrvTarget> in = {
        {"c", 1, 20, 0, false}, {"a", 1, 10, 5, false}, {"b", 2, 10, 0, true}, {"d", 3, 30, 0, false},
    };
    std::mt19937 rng(7);
    auto out = order_srv(in, rng);
    BOOST_REQUIRE_EQUAL(out.size(), 4u);
    BOOST_CHECK_EQUAL(out[0].priority, 10);
    BOOST_CHECK_EQUAL(out[1].priority, 10);
    BOOST_CHECK_EQUAL(out[2].host, "c");
    BOOST_CHECK_EQUAL(out[3].host, "d");
    BOOST_CHECK(out[0].direct_tls || out[1].direct_tls);  // the flag travels with its record

    // Weights share the first place in proportion (RFC 2782): 90 against
    // 10 over 2000 draws, and a weight-0 record against a weighted one
    // almost never first.
    int heavy = 0, zero_first = 0;
    for (int i = 0; i < 2000; ++i) {
        auto o = order_srv({{"light", 1, 0, 10, false}, {"heavy", 1, 0, 90, false}}, rng);
        if (o[0].host == "heavy") ++heavy;
        auto z = order_srv({{"zero", 1, 0, 0, false}, {"some", 1, 0, 50, false}}, rng);
        if (z[0].host == "zero") ++zero_first;
    }
    BOOST_CHECK_GT(heavy, 1650);
    BOOST_CHECK_LT(heavy, 1950);
    BOOST_CHECK_LT(zero_first, 150);
    // Equal zero weights: both orders happen.
    int a_first = 0;
    for (int i = 0; i < 200; ++i)
        if (order_srv({{"a", 1, 0, 0, false}, {"b", 1, 0, 0, false}}, rng)[0].host == "a") ++a_first;
    BOOST_CHECK_GT(a_first, 0);
    BOOST_CHECK_LT(a_first, 200);
    BOOST_CHECK(order_srv({}, rng).empty());
}

BOOST_AUTO_TEST_CASE(srv_and_addresses_from_a_dns_server) {
    LoopFixture f;
    TinyDns dns;
    dns.srv["_xmpp-server._tcp.example.test"] = {{5, 0, 5270, "xmpp1.example.test"}, {10, 0, 5271, "xmpp2.example.test"}};
    dns.srv["_xmpp-server._tcp.none.test"] = {{0, 0, 0, "."}};
    dns.srv["_xmpp-server._tcp.empty.test"] = {};
    dns.a["xmpp1.example.test"] = "127.0.0.7";
    dns.start();
    auto r = Resolver::create(&f.loop, Resolver::Options{{dns.address()}, 500, 2});
    BOOST_REQUIRE(r);
    Resolver* res = r.value();

    std::map<std::string, std::pair<Answer, std::vector<SrvTarget>>> got;
    bool inside = false;
    for (const char* name : {"_xmpp-server._tcp.example.test", "_xmpp-server._tcp.none.test",
                             "_xmpp-server._tcp.empty.test", "_xmpp-server._tcp.nowhere.test"}) {
        inside = true;
        res->srv(name, true, [&got, &inside, n = std::string(name)](Answer a, std::vector<SrvTarget> t, std::string) {
            BOOST_CHECK(!inside);
            got[n] = {a, std::move(t)};
        });
        inside = false;
    }
    std::optional<std::pair<Answer, std::vector<sockaddr_storage>>> addrs, missing;
    res->addresses("xmpp1.example.test", 5270, [&](Answer a, std::vector<sockaddr_storage> v, std::string) {
        addrs.emplace(a, std::move(v));
    });
    res->addresses("xmpp9.example.test", 5270, [&](Answer a, std::vector<sockaddr_storage> v, std::string) {
        missing.emplace(a, std::move(v));
    });
    run_until(&f.loop, [&] { return got.size() == 4 && addrs && missing; });
    BOOST_REQUIRE_EQUAL(got.size(), 4u);
    const auto& ex = got["_xmpp-server._tcp.example.test"];
    BOOST_CHECK(ex.first == Answer::ok);
    BOOST_REQUIRE_EQUAL(ex.second.size(), 2u);
    std::map<std::string, uint16_t> ports;
    for (const auto& t : ex.second) {
        ports[t.host] = t.port;
        BOOST_CHECK(t.direct_tls);
    }
    BOOST_CHECK_EQUAL(ports["xmpp1.example.test"], 5270);
    BOOST_CHECK_EQUAL(ports["xmpp2.example.test"], 5271);
    BOOST_CHECK(got["_xmpp-server._tcp.none.test"].first == Answer::unavailable);
    BOOST_CHECK(got["_xmpp-server._tcp.empty.test"].first == Answer::no_records);
    BOOST_CHECK(got["_xmpp-server._tcp.nowhere.test"].first == Answer::no_records);
    BOOST_REQUIRE(addrs);
    BOOST_CHECK(addrs->first == Answer::ok);
    bool seen = false;
    for (const auto& ss : addrs->second) {
        uint16_t port = 0;
        if (ip_of(ss, &port) == "127.0.0.7") {
            seen = true;
            BOOST_CHECK_EQUAL(port, 5270);
        }
    }
    BOOST_CHECK(seen);
    BOOST_REQUIRE(missing);
    BOOST_CHECK(missing->first == Answer::no_records);
    BOOST_CHECK_EQUAL(res->pending(), 0u);
    res->close();
}

BOOST_AUTO_TEST_CASE(a_silent_server_times_out_and_close_cancels) {
    LoopFixture f;
    TinyDns dns;
    dns.silent = true;
    dns.start();
    auto r = Resolver::create(&f.loop, Resolver::Options{{dns.address()}, 100, 1});
    BOOST_REQUIRE(r);
    Resolver* res = r.value();
    std::optional<Answer> first, second;
    res->srv("_xmpp-server._tcp.slow.test", false, [&](Answer a, std::vector<SrvTarget>, std::string) { first = a; });
    run_until(&f.loop, [&] { return first.has_value(); });
    BOOST_REQUIRE(first);
    BOOST_CHECK(*first == Answer::failed);
    BOOST_CHECK_GE(dns.queries(), 1);

    // A lookup still waiting when the resolver closes hears "cancelled",
    // and one asked from that callback too.
    std::optional<Answer> again;
    res->srv("_xmpp-server._tcp.slow.test", false, [&](Answer a, std::vector<SrvTarget>, std::string) {
        second = a;
        res->addresses("x.slow.test", 1, [&](Answer b, std::vector<sockaddr_storage>, std::string) { again = b; });
    });
    res->close();
    BOOST_REQUIRE(second);
    BOOST_CHECK(*second == Answer::cancelled);
    BOOST_REQUIRE(again);
    BOOST_CHECK(*again == Answer::cancelled);
}

BOOST_AUTO_TEST_CASE(bad_server_lists_are_refused) {
    LoopFixture f;
    auto r = Resolver::create(&f.loop, Resolver::Options{{"not an address"}, 100, 1});
    BOOST_CHECK(!r);
}

BOOST_AUTO_TEST_SUITE_END()

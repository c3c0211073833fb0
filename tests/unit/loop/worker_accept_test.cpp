#define BOOST_TEST_DYN_LINK
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <chrono>
#include <memory>
#include <thread>

#include "daemon/shared.hpp"
#include "loop/worker.hpp"
#include "support/loopback.hpp"

using namespace parley;
using parley::test::free_port;

namespace {

size_t open_fds() {
    size_t n = 0;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (::readdir(d)) ++n;
        ::closedir(d);
    }
    return n;
}

// Connects and waits until the server closes the connection (bounded).
bool closed_by_server(uint16_t port) {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    if (::connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(s);
        return false;
    }
    timeval tv{3, 0};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[64];
    ssize_t n = ::read(s, buf, sizeof buf);
    ::close(s);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(loop_worker_accept)

BOOST_AUTO_TEST_CASE(a_direct_tls_session_that_cannot_start_tls_leaks_no_fd) {
    // Fault injection: no TLS context, so creating the TLS session of every
    // direct-TLS connection fails. The connection must be closed, and its
    // socket with it.
    auto cfg = std::make_shared<config::Config>();
    cfg->workers = 1;
    cfg->c2s.address = "127.0.0.1";
    cfg->c2s.starttls_port = 0;
    cfg->c2s.direct_tls_port = free_port();
    cfg->hosts.push_back(config::VirtualHost{"example.org", "/nonexistent.pem", "/nonexistent.key"});
    daemon::Shared shared;
    shared.set_config(cfg);
    shared.set_tls(nullptr);
    loop::Worker worker(0, shared);
    shared.workers.push_back(&worker);
    Status s = worker.start({});
    BOOST_REQUIRE_MESSAGE(s.is_ok(), "worker: " << s.to_string());

    // One connection first, so that whatever the loop allocates once is counted.
    BOOST_TEST(closed_by_server(cfg->c2s.direct_tls_port), "c2s: a connection without TLS must be closed");
    const size_t before = open_fds();
    constexpr int kConnections = 10;
    for (int i = 0; i < kConnections; ++i)
        BOOST_TEST(closed_by_server(cfg->c2s.direct_tls_port), "c2s: a connection without TLS must be closed");
    // The worker closes its side right after the client sees the close:
    // give it a bounded moment.
    size_t after = open_fds();
    for (int i = 0; i < 100 && after > before; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        after = open_fds();
    }
    BOOST_TEST(after <= before, "c2s: " << after - before << " fds leaked by " << kConnections
                                        << " failed direct-TLS sessions");
    worker.request_shutdown();
    worker.join();
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include "loop/host_tls.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "net/tls.hpp"
#include "support/temp_dir.hpp"

using namespace parley;

namespace {

// A CA and a certificate for files.example it signed (tests/support/certs.sh).
struct Certs {
    test::TempDir tmp;
    std::string dir = tmp.sub("certs");
    Certs() {
        const std::string cmd = "sh '" + std::string(PARLEY_TEST_SRCDIR) + "/tests/support/certs.sh' '" + dir +
                                "' files.example >/dev/null 2>&1";
        BOOST_REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, "host tls: tests/support/certs.sh failed");
    }
    module::TlsIdentity identity() const {
        return {"files.example", dir + "/files.example.pem", dir + "/files.example.key"};
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(loop_host_tls)

BOOST_AUTO_TEST_CASE(a_client_that_trusts_the_ca_completes_a_handshake_and_data_flows_both_ways) {
    Certs certs;
    auto server = loop::make_tls_server(certs.identity());
    BOOST_REQUIRE_MESSAGE(server, server.status().to_string());
    auto stream = (*server)->accept();
    BOOST_REQUIRE(stream);
    auto cctx = net::TlsContext::create_client({certs.dir + "/ca.pem", {}});
    BOOST_REQUIRE(cctx);
    auto client = net::TlsSession::create_client(*cctx, {"files.example", "", {"http/1.1"}});
    BOOST_REQUIRE(client);
    std::string at_server, at_client;
    BOOST_REQUIRE((*stream)->write("hello from the server"));  // kept until the handshake is done
    for (int i = 0; i < 20; ++i) {
        bool moved = false;
        if ((*client)->has_output()) {
            const std::string wire = (*client)->take_output();
            BOOST_REQUIRE((*stream)->feed(wire.data(), wire.size(), at_server));
            moved = true;
        }
        if ((*stream)->has_output()) {
            const std::string wire = (*stream)->take_output();
            BOOST_REQUIRE((*client)->feed(wire.data(), wire.size(), at_client));
            moved = true;
        }
        if ((*client)->handshake_done() && at_server.empty()) BOOST_REQUIRE((*client)->write("GET / HTTP/1.1\r\n"));
        if (!moved) break;
    }
    BOOST_TEST((*stream)->handshake_done());
    BOOST_TEST((*client)->verification().ok(), (*client)->verification().text);
    BOOST_TEST((*client)->alpn().empty(), "no XMPP ALPN offered to an HTTP client");
    BOOST_TEST(at_server == "GET / HTTP/1.1\r\n");
    BOOST_TEST(at_client == "hello from the server");
    (*client)->bye();
    const std::string wire = (*client)->take_output();
    std::string none;
    BOOST_REQUIRE((*stream)->feed(wire.data(), wire.size(), none));
    BOOST_TEST((*stream)->peer_closed());
}

BOOST_AUTO_TEST_CASE(files_that_do_not_load_are_named) {
    Certs certs;
    module::TlsIdentity missing = certs.identity();
    missing.key = certs.dir + "/nowhere.key";
    auto server = loop::make_tls_server(missing);
    BOOST_REQUIRE(!server);
    BOOST_TEST(server.status().message().find("nowhere.key") != std::string::npos, server.status().message());
}

BOOST_AUTO_TEST_SUITE_END()

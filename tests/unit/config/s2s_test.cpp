// [s2s] and [[s2s.route]] in parley.toml(5).
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>
#include <string>

#include "config/config.hpp"
#include "support/option_docs.hpp"
#include "support/temp_dir.hpp"

using namespace parley;

namespace {

const std::string kHost = R"(
[[virtual_host]]
domain = "example.org"
certificate = "/c.pem"
key = "/c.key"
)";

struct S2sFixture {
    test::TempDir dir;
    std::string path = dir.sub("parley.toml");
    Result<config::Config> load(const std::string& text) {
        dir.write("parley.toml", "data_dir = \"d\"\n" + kHost + text);
        return config::load(path);
    }
    std::string error_of(const std::string& text) {
        auto r = load(text);
        BOOST_REQUIRE_MESSAGE(!r.is_ok(), "config: this must be refused:\n" << text);
        return r.status().message();
    }
};

bool has(const std::string& haystack, const std::string& needle) { return haystack.find(needle) != std::string::npos; }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(config_s2s, S2sFixture)

BOOST_AUTO_TEST_CASE(federation_is_off_unless_enabled) {
    auto r = load("");
    BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    BOOST_TEST(!r->s2s.enabled);
    BOOST_TEST(r->s2s.port == 5269);
    BOOST_TEST(r->s2s.direct_tls_port == 0);
    BOOST_TEST(r->s2s.dialback);
    BOOST_TEST(r->s2s.bidi);
    BOOST_TEST(r->s2s.stream_management);
    BOOST_TEST(r->s2s.routes.empty());
    BOOST_TEST(r->find_route("remote.example") == nullptr);
    BOOST_TEST(r->s2s.dns_servers.empty());
    BOOST_TEST(r->s2s.dns_timeout_ms == 2000u);
    BOOST_TEST(r->s2s.dns_tries == 2u);
}

BOOST_AUTO_TEST_CASE(settings_and_routes_are_read) {
    auto r = load(R"(
[s2s]
enabled = true
address = "127.0.0.1"
port = 25269
direct_tls_port = 25270
ca_file = "ca.pem"
dialback = false
bidi = false
stream_management = false
handshake_timeout_s = 5
idle_timeout_s = 0
queue_max_stanzas = 10
queue_timeout_s = 3
max_read_bytes_per_s = 0
dns_servers = ["127.0.0.53", "127.0.0.1:5353", "[::1]:53"]
dns_timeout_ms = 500
dns_tries = 3

[[s2s.route]]
domain = "Remote.Example"
host = "127.0.1.2"

[[s2s.route]]
domain = "tls.example"
host = "::1"
port = 5270
direct_tls = true
)");
    BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    const auto& s = r->s2s;
    BOOST_TEST(s.enabled);
    BOOST_TEST(s.address == "127.0.0.1");
    BOOST_TEST(s.port == 25269);
    BOOST_TEST(s.direct_tls_port == 25270);
    BOOST_TEST(s.ca_file == dir.sub("ca.pem"), "config: relative to the file");
    BOOST_TEST(!s.dialback);
    BOOST_TEST(!s.bidi);
    BOOST_TEST(!s.stream_management);
    BOOST_TEST(s.handshake_timeout_s == 5u);
    BOOST_TEST(s.idle_timeout_s == 0u);
    BOOST_TEST(s.queue_max_stanzas == 10u);
    BOOST_TEST(s.queue_timeout_s == 3u);
    BOOST_TEST(s.max_read_bytes_per_s == 0u);
    std::vector<std::string> servers = {"127.0.0.53", "127.0.0.1:5353", "[::1]:53"};
    BOOST_TEST(s.dns_servers == servers, boost::test_tools::per_element());
    BOOST_TEST(s.dns_timeout_ms == 500u);
    BOOST_TEST(s.dns_tries == 3u);
    BOOST_REQUIRE(s.routes.size() == 2u);
    const config::S2sRoute* a = r->find_route("REMOTE.example");
    BOOST_REQUIRE(a != nullptr);
    BOOST_TEST(a->domain == "remote.example");
    BOOST_TEST(a->host == "127.0.1.2");
    BOOST_TEST(a->port == 5269);
    BOOST_TEST(!a->direct_tls);
    const config::S2sRoute* b = r->find_route("tls.example");
    BOOST_REQUIRE(b != nullptr);
    BOOST_TEST(b->port == 5270);
    BOOST_TEST(b->direct_tls);
}

BOOST_AUTO_TEST_CASE(bad_settings_are_refused_by_name) {
    BOOST_TEST(has(error_of("[s2s]\naddress = \"localhost\"\n"), "s2s.address"));
    BOOST_TEST(has(error_of("[s2s]\nport = 5269\ndirect_tls_port = 5269\n"), "both 5269"));
    BOOST_TEST(has(error_of("[s2s]\nqueue_max_stanzas = 0\n"), "s2s.queue_max_stanzas"));
    BOOST_TEST(has(error_of("[s2s]\nbogus = 1\n"), "s2s.bogus"));
    for (const char* bad : {"ns.example", "127.0.0.1:", "127.0.0.1:70000", "::1]:53", "[::1]", "[127.0.0.1]:53"})
        BOOST_TEST(has(error_of(std::string("[s2s]\ndns_servers = [\"") + bad + "\"]\n"), "s2s.dns_servers"), bad);
    BOOST_TEST(has(error_of("[s2s]\ndns_servers = \"127.0.0.1\"\n"), "s2s.dns_servers"));
    BOOST_TEST(has(error_of("[s2s]\ndns_tries = 0\n"), "s2s.dns_tries"));
    BOOST_TEST(has(error_of("[[s2s.route]]\ndomain = \"a.example\"\n"), "s2s.route.host"));
    BOOST_TEST(has(error_of("[[s2s.route]]\ndomain = \"a.example\"\nhost = \"a.example\"\n"),
                   "not an IPv4 or IPv6 address"));
    BOOST_TEST(has(error_of("[[s2s.route]]\ndomain = \"a.example\"\nhost = \"127.0.0.2\"\n"
                            "[[s2s.route]]\ndomain = \"A.example\"\nhost = \"127.0.0.3\"\n"),
                   "already has a route"));
    BOOST_TEST(has(error_of("[[s2s.route]]\ndomain = \"example.org\"\nhost = \"127.0.0.2\"\n"),
                   "is served here"));
}

BOOST_AUTO_TEST_CASE(listeners_need_a_restart_routes_do_not) {
    auto a = load("[s2s]\nenabled = true\n[[s2s.route]]\ndomain = \"a.example\"\nhost = \"127.0.0.2\"\n");
    auto b = load("[s2s]\nenabled = true\ndialback = false\n");
    auto c = load("[s2s]\nport = 5999\ndns_servers = [\"127.0.0.1:53\"]\n");
    BOOST_REQUIRE(a.is_ok());
    BOOST_REQUIRE(b.is_ok());
    BOOST_REQUIRE(c.is_ok());
    BOOST_TEST(config::restart_only_changes(*a, *b).empty());
    std::vector<std::string> want = {"s2s.enabled", "s2s.port", "s2s.dns_servers"};
    BOOST_TEST(config::restart_only_changes(*a, *c) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_key_is_documented_in_the_man_page_and_the_example) {
    const std::string man = test::read_text(PARLEY_TEST_SRCDIR "/doc/parley.toml.5.md");
    const std::string example = test::read_text(PARLEY_TEST_SRCDIR "/doc/parley.example.toml");
    BOOST_TEST(has(man, "## [s2s]"));
    BOOST_TEST(has(man, "## [[s2s.route]]"));
    for (const char* key :
         {"`enabled` (boolean; default `false`)", "`address` (string; default `0.0.0.0`)",
          "`port` (integer, 0-65535; default 5269)", "`direct_tls_port` (integer, 0-65535; default 0)",
          "`ca_file` (string; default: the system's trust store)", "`dialback` (boolean; default `true`)", "`bidi` (boolean; default `true`)", "`stream_management` (boolean; default `true`)",
          "`handshake_timeout_s` (integer, 1-3600; default 30)", "`idle_timeout_s` (integer, 0-86400; default 600)",
          "`queue_max_stanzas` (integer, 1-1000000; default 1000)", "`queue_timeout_s` (integer, 1-3600; default 60)",
          "`max_read_bytes_per_s` (integer, 0-1099511627776; default 67108864)", "`host` (string, required)", "`port` (integer, 1-65535; default 5269)",
          "`direct_tls` (boolean; default `false`)",
          "`dns_servers` (array of strings; default: those of /etc/resolv.conf)",
          "`dns_timeout_ms` (integer, 100-60000; default 2000)", "`dns_tries` (integer, 1-10; default 2)"})
        BOOST_TEST(has(man, key), "config: parley.toml(5) must document " << key);
    for (const char* key : {"# [s2s]", "# enabled =", "# dialback =", "# dns_servers =", "# [[s2s.route]]", "# direct_tls ="})
        BOOST_TEST(has(example, key), "config: doc/parley.example.toml must show " << key);
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include "config/config.hpp"

#include <algorithm>
#include <boost/test/unit_test.hpp>
#include <string>

#include "support/temp_dir.hpp"

using namespace parley;

namespace {

// A valid configuration; line numbers below refer to it.
const std::string kHost = R"(
[[virtual_host]]
domain = "Example.org"
certificate = "certs/example.pem"
key = "/etc/parley/example.key"
)";

struct ConfigFixture {
    test::TempDir dir;
    std::string path = dir.sub("parley.toml");

    Result<config::Config> load(const std::string& text) {
        dir.write("parley.toml", text);
        return config::load(path);
    }
    // Loads text, which must fail, and returns the message.
    std::string error_of(const std::string& text) {
        auto r = load(text);
        BOOST_REQUIRE_MESSAGE(!r.is_ok(), "config: this must be refused:\n" << text);
        BOOST_TEST(r.status().code() == "config");
        return r.status().message();
    }
    std::string at(int line) const { return path + ":" + std::to_string(line) + ":"; }
};

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

size_t lines_of(const std::string& s) {
    size_t n = 1;
    for (char c : s) n += c == '\n';
    return n;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(config_load, ConfigFixture)

BOOST_AUTO_TEST_CASE(minimal_config_gets_the_defaults) {
    auto r = load("data_dir = \"data\"\n" + kHost);
    BOOST_REQUIRE_MESSAGE(r.is_ok(), "config: " << r.status().to_string());
    const config::Config& c = r.value();
    BOOST_TEST(c.path == path);
    BOOST_TEST(c.workers >= 1u);
    BOOST_TEST(c.data_dir == dir.sub("data"),
               "config: a relative data_dir is resolved against the file's directory");
    BOOST_TEST(c.control_socket == dir.sub("data") + "/parleyd.sock");
    BOOST_TEST(!c.module_dir.empty());
    BOOST_TEST(c.modules.empty());
    BOOST_REQUIRE(c.hosts.size() == 1u);
    BOOST_TEST(c.hosts[0].domain == "example.org", "config: domains are lowercased");
    BOOST_TEST(c.hosts[0].certificate == dir.sub("certs/example.pem"));
    BOOST_TEST(c.hosts[0].key == "/etc/parley/example.key");
    BOOST_TEST(c.c2s.address == "0.0.0.0");
    BOOST_TEST(c.c2s.starttls_port == 5222);
    BOOST_TEST(c.c2s.direct_tls_port == 5223);
    BOOST_TEST(c.c2s.require_encryption);
    BOOST_TEST(c.c2s.handshake_timeout_s == 60u);
    BOOST_TEST(c.limits.max_stanza_bytes == 262144u);
    BOOST_TEST(c.limits.max_depth == 32u);
    BOOST_TEST(c.limits.max_send_queue_bytes == size_t{4} << 20);
    BOOST_TEST(c.limits.max_sessions_per_account == 16u);
    BOOST_TEST(c.log.level == "info");
    BOOST_TEST(c.log.file.empty());
    BOOST_TEST(c.sasl.mechanisms.size() == 5u);
    BOOST_TEST(c.sasl.mechanisms.front() == "SCRAM-SHA-256-PLUS");
    BOOST_TEST(c.sasl.failure_delay_ms == 250u);
    BOOST_TEST(c.sasl.failure_delay_max_ms == 8000u);
    BOOST_TEST(c.sasl.scram_iterations == 4096u);
    BOOST_TEST(c.sasl.max_queued_password_checks == 32u);
    BOOST_TEST(c.sasl.plus_on_tls13);
    BOOST_TEST(c.find_host("EXAMPLE.ORG") == &c.hosts[0], "config: find_host ignores ASCII case");
    BOOST_TEST(c.find_host("example.net") == nullptr);
}

BOOST_AUTO_TEST_CASE(every_core_key_is_read) {
    auto r = load(R"(workers = 3
data_dir = "/var/lib/parley"
module_dir = "/opt/parley/modules"
control_socket = "/run/parley/ctl.sock"
modules = ["disco", "ping"]

[log]
level = "debug"
file = "/var/log/parley.log"

[c2s]
address = "::1"
starttls_port = 15222
direct_tls_port = 0
require_encryption = false
handshake_timeout_s = 20

[limits]
max_stanza_bytes = 65536
max_depth = 16
max_send_queue_bytes = 1048576
max_sessions_per_account = 4

[sasl]
mechanisms = ["scram-sha-256", "PLAIN"]
failure_delay_ms = 50
failure_delay_max_ms = 200
scram_iterations = 10000
max_queued_password_checks = 3
plus_on_tls13 = false
)" + kHost + R"(
[[virtual_host]]
domain = "chat.example.org"
certificate = "/c.pem"
key = "/c.key"
)");
    BOOST_REQUIRE_MESSAGE(r.is_ok(), "config: " << r.status().to_string());
    const config::Config& c = r.value();
    BOOST_TEST(c.workers == 3u);
    BOOST_TEST(c.data_dir == "/var/lib/parley");
    BOOST_TEST(c.module_dir == "/opt/parley/modules");
    BOOST_TEST(c.control_socket == "/run/parley/ctl.sock");
    BOOST_TEST((c.modules == std::vector<std::string>{"disco", "ping"}));
    BOOST_TEST(c.log.level == "debug");
    BOOST_TEST(c.log.file == "/var/log/parley.log");
    BOOST_TEST(c.c2s.address == "::1");
    BOOST_TEST(c.c2s.starttls_port == 15222);
    BOOST_TEST(c.c2s.direct_tls_port == 0);
    BOOST_TEST(!c.c2s.require_encryption);
    BOOST_TEST(c.c2s.handshake_timeout_s == 20u);
    BOOST_TEST(c.limits.max_stanza_bytes == 65536u);
    BOOST_TEST(c.limits.max_depth == 16u);
    BOOST_TEST(c.limits.max_send_queue_bytes == 1048576u);
    BOOST_TEST(c.limits.max_sessions_per_account == 4u);
    BOOST_TEST((c.sasl.mechanisms == std::vector<std::string>{"SCRAM-SHA-256", "PLAIN"}));
    BOOST_TEST(c.sasl.failure_delay_ms == 50u);
    BOOST_TEST(c.sasl.failure_delay_max_ms == 200u);
    BOOST_TEST(c.sasl.scram_iterations == 10000u);
    BOOST_TEST(c.sasl.max_queued_password_checks == 3u);
    BOOST_TEST(!c.sasl.plus_on_tls13);
    BOOST_TEST(c.hosts.size() == 2u);
    BOOST_TEST(c.find_host("chat.example.org") != nullptr);
}

BOOST_AUTO_TEST_CASE(unknown_top_level_key_names_file_line_and_key) {
    std::string msg = error_of("data_dir = \"d\"\n\n\nwrokers = 2\n" + kHost);
    BOOST_TEST(has(msg, at(4)), msg);
    BOOST_TEST(has(msg, "wrokers"), msg);
    BOOST_TEST(has(msg, "did you mean 'workers'"), msg);
}

BOOST_AUTO_TEST_CASE(unknown_key_in_every_table_all_reported) {
    std::string msg = error_of(R"(data_dir = "d"
[log]
colour = "red"
[c2s]
adress = "127.0.0.1"
[limits]
max_stanzas = 3
[sasl]
mechanism = ["PLAIN"]
[[virtual_host]]
domain = "a.example"
certificate = "/a.pem"
key = "/a.key"
keyfile = "/a.key"
)");
    BOOST_TEST(has(msg, at(3) + " log.colour"), msg);
    BOOST_TEST(has(msg, at(5) + " c2s.adress"), msg);
    BOOST_TEST(has(msg, "did you mean 'c2s.address'"), msg);
    BOOST_TEST(has(msg, at(7) + " limits.max_stanzas"), msg);
    BOOST_TEST(has(msg, at(9) + " sasl.mechanism"), msg);
    BOOST_TEST(has(msg, at(14) + " virtual_host.keyfile"), msg);
    BOOST_TEST(lines_of(msg) == 5u, "config: every error is reported, one per line:\n" << msg);
}

BOOST_AUTO_TEST_CASE(wrong_types_and_ranges_name_line_and_key) {
    std::string msg = error_of(R"(workers = "two"
data_dir = 7
[c2s]
require_encryption = "yes"
starttls_port = 70000
[limits]
max_stanza_bytes = 100
[log]
level = "loud"
[sasl]
mechanisms = "PLAIN"
)" + kHost);
    BOOST_TEST(has(msg, at(1) + " workers: expected an integer, got a string"), msg);
    BOOST_TEST(has(msg, at(2) + " data_dir: expected a string"), msg);
    BOOST_TEST(has(msg, at(4) + " c2s.require_encryption: expected a boolean"), msg);
    BOOST_TEST(has(msg, at(5) + " c2s.starttls_port: 70000 is out of range"), msg);
    BOOST_TEST(has(msg, at(7) + " limits.max_stanza_bytes: 100 is out of range"), msg);
    BOOST_TEST(has(msg, at(9) + " log.level"), msg);
    BOOST_TEST(has(msg, at(11) + " sasl.mechanisms: expected a list of strings"), msg);
    BOOST_TEST(!has(msg, "data_dir: missing"),
               "config: a data_dir of the wrong type is not also 'missing'");
}

BOOST_AUTO_TEST_CASE(workers_zero_and_a_table_that_is_not_one) {
    std::string msg = error_of("workers = 0\ndata_dir = \"d\"\nc2s = 5\n" + kHost);
    BOOST_TEST(has(msg, at(1) + " workers: 0 is out of range: must be between 1 and 256"), msg);
    BOOST_TEST(has(msg, at(3) + " c2s: expected a table"), msg);
}

BOOST_AUTO_TEST_CASE(missing_data_dir) {
    std::string msg = error_of("workers = 2\n" + kHost);
    BOOST_TEST(has(msg, path + ": data_dir: missing"), msg);
}

BOOST_AUTO_TEST_CASE(no_virtual_host) {
    std::string msg = error_of("data_dir = \"d\"\n");
    BOOST_TEST(has(msg, path + ": virtual_host: missing"), msg);
    std::string incomplete =
        error_of("data_dir = \"d\"\n[[virtual_host]]\ndomain = \"a.example\"\n");
    BOOST_TEST(has(incomplete, at(2) + " virtual_host.certificate: missing"), incomplete);
    BOOST_TEST(has(incomplete, at(2) + " virtual_host.key: missing"), incomplete);
}

BOOST_AUTO_TEST_CASE(duplicate_domain_ignoring_case) {
    std::string msg = error_of("data_dir = \"d\"\n" + kHost +
                               "\n[[virtual_host]]\ndomain = \"EXAMPLE.org\"\ncertificate = "
                               "\"/b.pem\"\nkey = \"/b.key\"\n");
    BOOST_TEST(
        has(msg, at(9) + " virtual_host.domain: 'example.org' is already a virtual host (line 4)"),
        msg);
    std::string bad = error_of(
        "data_dir = \"d\"\n[[virtual_host]]\ndomain = \"a@b\"\ncertificate = \"/b.pem\"\nkey = "
        "\"/b.key\"\n");
    BOOST_TEST(has(bad, at(3) + " virtual_host.domain: 'a@b' is not a domain name"), bad);
}

BOOST_AUTO_TEST_CASE(bad_mechanism_and_duplicate_mechanism) {
    std::string msg = error_of(
        "data_dir = \"d\"\n[sasl]\nmechanisms = [\"SCRAM-SHA-256\", \"DIGEST-MD5\"]\n" + kHost);
    BOOST_TEST(has(msg, at(3) + " sasl.mechanisms: unknown mechanism 'DIGEST-MD5'"), msg);
    std::string twice =
        error_of("data_dir = \"d\"\n[sasl]\nmechanisms = [\"PLAIN\", \"plain\"]\n" + kHost);
    BOOST_TEST(has(twice, at(3) + " sasl.mechanisms: mechanism 'PLAIN' is listed twice"), twice);
    std::string none = error_of("data_dir = \"d\"\n[sasl]\nmechanisms = []\n" + kHost);
    BOOST_TEST(has(none, at(3) + " sasl.mechanisms"), none);
}

BOOST_AUTO_TEST_CASE(cross_checks) {
    std::string msg = error_of(
        "data_dir = \"d\"\n[c2s]\nstarttls_port = 5000\ndirect_tls_port = 5000\n"
        "address = \"localhost\"\n[sasl]\nfailure_delay_ms = 500\nfailure_delay_max_ms = 100\n" +
        kHost);
    BOOST_TEST(has(msg, "c2s: starttls_port and direct_tls_port are both 5000"), msg);
    BOOST_TEST(has(msg, at(5) + " c2s.address: 'localhost' is not an IPv4 or IPv6 address"), msg);
    BOOST_TEST(has(msg, "sasl.failure_delay_max_ms: 100 is less than failure_delay_ms (500)"), msg);
}

BOOST_AUTO_TEST_CASE(read_rate_limit_is_zero_or_at_least_1024) {
    auto ok = load("data_dir = \"d\"\n[limits]\nmax_read_bytes_per_s = 0\n" + kHost);
    BOOST_REQUIRE_MESSAGE(ok.is_ok(), "config: " << ok.status().to_string());
    BOOST_TEST(ok.value().limits.max_read_bytes_per_s == 0u);
    auto dflt = load("data_dir = \"d\"\n" + kHost);
    BOOST_REQUIRE(dflt.is_ok());
    BOOST_TEST(dflt.value().limits.max_read_bytes_per_s == 262144u);
    std::string msg = error_of("data_dir = \"d\"\n[limits]\nmax_read_bytes_per_s = 10\n" + kHost);
    BOOST_TEST(has(msg, "limits.max_read_bytes_per_s: must be 0 (no limit) or at least 1024"), msg);
}

BOOST_AUTO_TEST_CASE(module_sections_become_sections) {
    auto r = load(R"(data_dir = "d"
[modules]
enabled = ["version", "disco", "ping"]

[modules.version]
name = "Corp IM"
show_os = true
retries = 3
tags = ["a", "b"]

[modules.disco]
)" + kHost);
    BOOST_REQUIRE_MESSAGE(r.is_ok(), "config: " << r.status().to_string());
    const config::Config& c = r.value();
    BOOST_TEST((c.modules == std::vector<std::string>{"version", "disco", "ping"}),
               "config: modules keep their order");
    BOOST_REQUIRE(c.module_sections.count("version") == 1u);
    const config::Section& s = c.module_sections.at("version");
    BOOST_TEST(s.file == path);
    BOOST_TEST(s.name == "version");
    BOOST_TEST(s.line == 5);
    BOOST_TEST(s.get_string("name", "x") == "Corp IM");
    BOOST_TEST(s.values.at("name").line == 6);
    BOOST_TEST(s.get_bool("show_os", false));
    BOOST_TEST(s.get_int("retries", 0) == 3);
    BOOST_TEST((s.get_list("tags") == std::vector<std::string>{"a", "b"}));
    BOOST_TEST(s.get_string("absent", "dflt") == "dflt");
    BOOST_TEST(s.get_int("name", 42) == 42, "config: a value of another type gives the default");
    BOOST_TEST(c.module_sections.at("disco").values.empty());
    BOOST_TEST(c.module_sections.count("ping") == 0u);
}

BOOST_AUTO_TEST_CASE(section_for_a_module_not_enabled) {
    std::string msg = error_of(
        "data_dir = \"d\"\n[modules]\nenabled = [\"ping\"]\n\n[modules.time]\nx = 1\n" + kHost);
    BOOST_TEST(has(msg, at(5) + " modules.time: module 'time' has options but is not enabled"),
               msg);
}

BOOST_AUTO_TEST_CASE(bad_module_names_and_values) {
    std::string msg = error_of(R"(data_dir = "d"
[modules]
enabled = ["ping", "Bad-Name", "ping"]
[modules.ping]
ratio = 0.5
)" + kHost);
    BOOST_TEST(has(msg, at(3) + " modules.enabled: 'Bad-Name' is not a module name"), msg);
    BOOST_TEST(has(msg, at(3) + " modules.enabled: module 'ping' is listed twice"), msg);
    BOOST_TEST(has(msg, at(5) + " modules.ping.ratio: a float is not a module option type"), msg);
}

BOOST_AUTO_TEST_CASE(toml_syntax_error_gives_line_and_column) {
    std::string msg = error_of("data_dir = \"d\"\nworkers = = 2\n" + kHost);
    BOOST_TEST(has(msg, at(2)), msg);
    BOOST_TEST(lines_of(msg) == 1u, msg);
    std::string dup = error_of("data_dir = \"d\"\ndata_dir = \"e\"\n" + kHost);
    BOOST_TEST(has(dup, at(2)), dup);
    BOOST_TEST(has(dup, "data_dir"), dup);
}

BOOST_AUTO_TEST_CASE(modules_list_and_module_tables_conflict_with_a_hint) {
    std::string msg =
        error_of("data_dir = \"d\"\nmodules = [\"ping\"]\n[modules.ping]\nx = 1\n" + kHost);
    BOOST_TEST(has(msg, path + ":"), msg);
    BOOST_TEST(has(msg, "enabled = [...]"), msg);
}

BOOST_AUTO_TEST_CASE(unreadable_file) {
    auto r = config::load(dir.sub("nope.toml"));
    BOOST_REQUIRE(!r.is_ok());
    BOOST_TEST(has(r.status().message(), dir.sub("nope.toml") + ": cannot read"),
               r.status().message());
}

BOOST_AUTO_TEST_CASE(the_dev_server_config_loads) {
    // What tools/setup/dev-server and the integration harness write.
    auto r = load(R"(# Development configuration written by tools/setup/dev-server.
workers = 2
data_dir = "/tmp/dev/data"
module_dir = "/tmp/top/_build/modules/.libs"
modules = ["disco", "ping", "version", "time"]

[log]
level = "info"

[c2s]
address = "127.0.0.1"
starttls_port = 5222
direct_tls_port = 5223

[sasl]
failure_delay_ms = 50
failure_delay_max_ms = 200

[[virtual_host]]
domain = "localhost"
certificate = "/tmp/dev/certs/localhost.pem"
key = "/tmp/dev/certs/localhost.key"

[limits]
max_stanza_bytes = 65536
)");
    BOOST_REQUIRE_MESSAGE(r.is_ok(), "config: " << r.status().to_string());
    BOOST_TEST(r->modules.size() == 4u);
    BOOST_TEST(r->find_host("localhost") != nullptr);
    BOOST_TEST(r->limits.max_stanza_bytes == 65536u);
}

BOOST_AUTO_TEST_CASE(the_example_config_loads) {
    const std::string example = PARLEY_TEST_SRCDIR "/doc/parley.example.toml";
    auto r = config::load(example);
    BOOST_REQUIRE_MESSAGE(r.is_ok(),
                          "config: doc/parley.example.toml must load: " << r.status().to_string());
    BOOST_TEST(!r->hosts.empty());
    BOOST_TEST(!r->modules.empty());
    for (const auto& [name, section] : r->module_sections)
        BOOST_TEST((std::find(r->modules.begin(), r->modules.end(), name) != r->modules.end()),
                   name);
}

BOOST_AUTO_TEST_CASE(restart_only_changes_name_exactly_the_keys_a_reload_cannot_apply) {
    auto a = load("data_dir = \"d\"\nworkers = 2\n[c2s]\nstarttls_port = 5222\n" + kHost);
    BOOST_REQUIRE(a.is_ok());
    BOOST_TEST(config::restart_only_changes(*a, *a).empty());
    // Reloadable keys change: nothing needs a restart.
    auto b = load("data_dir = \"d\"\nworkers = 2\n[c2s]\nstarttls_port = 5222\nhandshake_timeout_s = 5\n"
                  "[sasl]\nmechanisms = [\"PLAIN\"]\n[limits]\nmax_depth = 8\n" + kHost);
    BOOST_REQUIRE(b.is_ok());
    BOOST_TEST(config::restart_only_changes(*a, *b).empty());
    auto c = load("data_dir = \"e\"\nworkers = 3\ncontrol_socket = \"/tmp/x.sock\"\n[c2s]\n"
                  "address = \"127.0.0.1\"\nstarttls_port = 5322\ndirect_tls_port = 5323\n" + kHost);
    BOOST_REQUIRE(c.is_ok());
    std::vector<std::string> want = {"workers", "data_dir", "control_socket", "c2s.address", "c2s.starttls_port",
                                     "c2s.direct_tls_port"};
    BOOST_TEST(config::restart_only_changes(*a, *c) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(config_valid_domain)

BOOST_AUTO_TEST_CASE(empty_and_malformed_domains_are_refused) {
    // The empty domain once reached d.front() and d.back(): undefined
    // behaviour, and in practice accepted.
    BOOST_TEST(!config::valid_domain(""), "config: the empty domain must not be valid");
    BOOST_TEST(!config::valid_domain("."));
    BOOST_TEST(!config::valid_domain(".example.org"));
    BOOST_TEST(!config::valid_domain("example.org."));
    BOOST_TEST(!config::valid_domain("a..b"));
    BOOST_TEST(!config::valid_domain("a b"));
    BOOST_TEST(!config::valid_domain(std::string(1024, 'a')));
    BOOST_TEST(config::valid_domain("a"));
    BOOST_TEST(config::valid_domain("example.org"));
    BOOST_TEST(config::valid_domain(std::string(1023, 'a')));
}

BOOST_AUTO_TEST_SUITE_END()

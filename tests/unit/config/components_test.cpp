#define BOOST_TEST_DYN_LINK
#include "config/components.hpp"

#include <sys/stat.h>

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

struct ComponentFixture {
    test::TempDir dir;
    std::string path = dir.sub("parley.toml");

    std::string secret(const std::string& name, const std::string& content, mode_t mode = 0600) {
        const std::string p = dir.write(name, content);
        ::chmod(p.c_str(), mode);
        return p;
    }
    Result<config::Config> load(const std::string& text) {
        dir.write("parley.toml", "data_dir = \"d\"\n" + text + kHost);
        return config::load(path);
    }
    std::string error_of(const std::string& text) {
        auto r = load(text);
        BOOST_REQUIRE_MESSAGE(!r.is_ok(), "config: this must be refused:\n" << text);
        return r.status().message();
    }
};

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(config_components, ComponentFixture)

BOOST_AUTO_TEST_CASE(no_component_no_listener_defaults) {
    auto r = load("");
    BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    BOOST_TEST(r->components.empty());
    BOOST_TEST(r->component_listener.address == "127.0.0.1");
    BOOST_TEST(r->component_listener.port == 5347);
    BOOST_TEST(!r->component_listener.allow_non_loopback);
    BOOST_TEST(r->component_listener.handshake_timeout_s == 30u);
}

BOOST_AUTO_TEST_CASE(components_are_read_with_their_secrets) {
    secret("bot.secret", "s3cret\n");
    secret("gw.secret", "other\r\n");
    auto r = load(R"(
[component_listener]
address = "::1"
port = 15347
handshake_timeout_s = 5

[[component]]
domain = "Bot.Example.org"
secret_file = "bot.secret"

[[component]]
domain = "gw.example.net"
secret_file = "gw.secret"
)");
    BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    BOOST_REQUIRE(r->components.size() == 2u);
    BOOST_TEST(r->components[0].domain == "bot.example.org",
               "config: component domains are lowercased");
    BOOST_TEST(r->components[0].secret_file == dir.sub("bot.secret"));
    BOOST_TEST(r->components[0].secret == "s3cret",
               "config: the trailing newline is not part of the secret");
    BOOST_TEST(r->components[1].secret == "other");
    BOOST_TEST(r->component_listener.address == "::1");
    BOOST_TEST(r->component_listener.port == 15347);
    BOOST_TEST(r->component_listener.handshake_timeout_s == 5u);
    BOOST_TEST(r->find_component("BOT.example.org") == &r->components[0]);
    BOOST_TEST(r->find_component("example.org") == nullptr);
}

BOOST_AUTO_TEST_CASE(a_secret_file_others_may_read_is_refused_without_showing_it) {
    secret("bot.secret", "topsecretvalue\n", 0640);
    std::string msg =
        error_of("[[component]]\ndomain = \"bot.example.org\"\nsecret_file = \"bot.secret\"\n");
    BOOST_TEST(has(msg, "component.secret_file"), msg);
    BOOST_TEST(has(msg, "chmod 600"), msg);
    BOOST_TEST(!has(msg, "topsecretvalue"),
               "config: the secret must never appear in a message: " << msg);
    secret("bot.secret", "topsecretvalue\n", 0604);
    BOOST_TEST(
        has(error_of("[[component]]\ndomain = \"bot.example.org\"\nsecret_file = \"bot.secret\"\n"),
            "0604"));
    secret("bot.secret", "topsecretvalue\n", 0400);
    BOOST_TEST(
        load("[[component]]\ndomain = \"bot.example.org\"\nsecret_file = \"bot.secret\"\n").is_ok(),
        "config: 0400 is stricter than 0600 and fine");
}

BOOST_AUTO_TEST_CASE(bad_secret_files) {
    secret("empty.secret", "\n");
    secret("two.secret", "a\nb\n");
    secret("long.secret", std::string(1025, 'x'));
    for (const char* f : {"empty.secret", "two.secret", "long.secret", "missing.secret"}) {
        std::string msg =
            error_of(std::string("[[component]]\ndomain = \"bot.example.org\"\nsecret_file = \"") +
                     f + "\"\n");
        BOOST_TEST(has(msg, f), msg);
    }
    auto dir_as_secret = config::read_secret_file(dir.sub(""));
    BOOST_TEST(!dir_as_secret.is_ok());
}

BOOST_AUTO_TEST_CASE(domain_rules) {
    secret("s", "x");
    BOOST_TEST(has(error_of("[[component]]\ndomain = \"example.org\"\nsecret_file = \"s\"\n"),
                   "is a virtual host"));
    BOOST_TEST(has(error_of("[[component]]\ndomain = \"bad domain\"\nsecret_file = \"s\"\n"),
                   "not a domain name"));
    BOOST_TEST(has(error_of("[[component]]\ndomain = \"a.example.org\"\nsecret_file = \"s\"\n"
                            "[[component]]\ndomain = \"A.example.org\"\nsecret_file = \"s\"\n"),
                   "already a component"));
    std::string msg =
        error_of("[[component]]\ndomain = \"a.example.org\"\n[[component]]\nsecret_file = \"s\"\n");
    BOOST_TEST(has(msg, "component.secret_file: missing"), msg);
    BOOST_TEST(has(msg, "component.domain: missing"), msg);
    BOOST_TEST(has(
        error_of("[[component]]\ndomain = \"a.example.org\"\nsecret_file = \"s\"\ncolour = 1\n"),
        "component.colour"));
}

BOOST_AUTO_TEST_CASE(the_listener_stays_on_loopback_unless_allowed) {
    secret("s", "x");
    const std::string comp = "[[component]]\ndomain = \"bot.example.org\"\nsecret_file = \"s\"\n";
    std::string msg = error_of("[component_listener]\naddress = \"0.0.0.0\"\n" + comp);
    BOOST_TEST(has(msg, "component_listener.address"), msg);
    BOOST_TEST(has(msg, "allow_non_loopback"), msg);
    auto r =
        load("[component_listener]\naddress = \"10.1.2.3\"\nallow_non_loopback = true\n" + comp);
    BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    BOOST_TEST(r->component_listener.allow_non_loopback);
    BOOST_TEST(has(error_of("[component_listener]\naddress = \"localhost\"\n" + comp),
                   "not an IPv4 or IPv6"));
    BOOST_TEST(has(error_of("[component_listener]\nport = 0\n" + comp), "component_listener.port"));
    BOOST_TEST(has(error_of("[c2s]\nstarttls_port = 5347\n" + comp), "is a c2s port too"));
}

BOOST_AUTO_TEST_CASE(loopback_addresses) {
    for (const char* a : {"127.0.0.1", "127.1.2.3", "::1", "::ffff:127.0.0.1"})
        BOOST_TEST(config::is_loopback(a), a);
    for (const char* a :
         {"0.0.0.0", "10.0.0.1", "::", "::2", "128.0.0.1", "::ffff:10.0.0.1", "nonsense"})
        BOOST_TEST(!config::is_loopback(a), a);
}

BOOST_AUTO_TEST_CASE(the_component_set_and_listener_change_on_restart_only) {
    secret("s", "x");
    secret("t", "y");
    auto a = load("[[component]]\ndomain = \"bot.example.org\"\nsecret_file = \"s\"\n");
    auto b = load("[[component]]\ndomain = \"bot.example.org\"\nsecret_file = \"t\"\n");
    auto c = load(
        "[component_listener]\nport = 6000\n[[component]]\ndomain = "
        "\"gw.example.org\"\nsecret_file = \"s\"\n");
    BOOST_REQUIRE(a.is_ok());
    BOOST_REQUIRE(b.is_ok());
    BOOST_REQUIRE(c.is_ok());
    BOOST_TEST(config::restart_only_changes(*a, *b).empty(), "config: a secret changes at reload");
    std::vector<std::string> want = {"component", "component_listener.port"};
    BOOST_TEST(config::restart_only_changes(*a, *c) == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(every_key_is_documented_in_the_man_page_and_the_example) {
    const std::string man = test::read_text(PARLEY_TEST_SRCDIR "/doc/parley.toml.5.md");
    const std::string example = test::read_text(PARLEY_TEST_SRCDIR "/doc/parley.example.toml");
    BOOST_REQUIRE(!man.empty());
    BOOST_TEST(has(man, "## [[component]]"));
    BOOST_TEST(has(man, "## [component_listener]"));
    for (const char* key :
         {"`domain` (string, required)", "`secret_file` (string, required)",
          "`address` (string; default `127.0.0.1`)", "`port` (integer, 1-65535; default 5347)",
          "`allow_non_loopback` (boolean; default `false`)",
          "`handshake_timeout_s` (integer, 1-3600; default 30)"})
        BOOST_TEST(has(man, key), "config: parley.toml(5) must document " << key);
    for (const char* key : {"# [[component]]", "# secret_file =", "# [component_listener]",
                            "# allow_non_loopback =", "# handshake_timeout_s ="})
        BOOST_TEST(has(example, key), "config: doc/parley.example.toml must show " << key);
}

BOOST_AUTO_TEST_SUITE_END()

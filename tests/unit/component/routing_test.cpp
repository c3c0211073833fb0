#define BOOST_TEST_DYN_LINK
#include "component/routing.hpp"

#include <boost/test/unit_test.hpp>
#include <future>

#include "daemon/shared.hpp"
#include "loop/worker.hpp"

using namespace parley;

BOOST_AUTO_TEST_SUITE(component_routing)

BOOST_AUTO_TEST_CASE(a_component_is_listed_under_its_parent_virtual_host) {
    config::Config cfg;
    cfg.hosts.push_back({"example.org", "", ""});
    cfg.hosts.push_back({"chat.example.org", "", ""});
    cfg.hosts.push_back({"ample.org", "", ""});
    BOOST_TEST(component::parent_host(cfg, "bot.example.org") == "example.org");
    // The longest parent wins.
    BOOST_TEST(component::parent_host(cfg, "bot.chat.example.org") == "chat.example.org");
    // A suffix that is not at a label boundary is no parent.
    BOOST_TEST(component::parent_host(cfg, "botexample.org").empty());
    BOOST_TEST(component::parent_host(cfg, "xexample.org").empty());
    BOOST_TEST(component::parent_host(cfg, "bot.example.net").empty());
    BOOST_TEST(component::parent_host(cfg, "example.org").empty(),
               "component: a host is not its own parent");
}

// A worker registers every configured component as a domain at its start,
// under its parent host: what mod_disco lists (Host::domains_of) and what
// the component listener accepts.
BOOST_AUTO_TEST_CASE(a_worker_routes_its_components_domains_from_its_start) {
    auto cfg = std::make_shared<config::Config>();
    cfg->workers = 1;
    cfg->c2s.starttls_port = 0;
    cfg->c2s.direct_tls_port = 0;
    cfg->component_listener.port = 0;  // no socket in a unit test
    cfg->hosts.push_back({"example.org", "", ""});
    cfg->components.push_back({"bot.example.org", "/nowhere", "secret"});
    cfg->components.push_back({"gateway.example.net", "/nowhere", "secret"});
    daemon::Shared shared;
    shared.set_config(cfg);
    loop::Worker w(0, shared);
    BOOST_REQUIRE(w.start({}).is_ok());
    struct Seen {
        std::vector<std::string> items, unlisted;
        bool bot = false, gateway = false, other = true;
    };
    std::promise<Seen> seen;
    BOOST_REQUIRE(w.post([&](loop::Worker& worker) {
        Seen s;
        s.items = worker.hooks().domains_of("example.org");
        s.unlisted = worker.hooks().domains_of("");
        s.bot = component::routed_here(worker, "bot.example.org");
        s.gateway = component::routed_here(worker, "gateway.example.net");
        s.other = component::routed_here(worker, "other.example.org");
        seen.set_value(s);
    }));
    Seen s = seen.get_future().get();
    w.request_shutdown();
    w.join();
    BOOST_TEST(s.items == std::vector<std::string>{"bot.example.org"},
               boost::test_tools::per_element());
    BOOST_TEST(s.unlisted == std::vector<std::string>{"gateway.example.net"},
               boost::test_tools::per_element());
    BOOST_TEST(s.bot, "component: a configured component must be routed");
    BOOST_TEST(s.gateway);
    BOOST_TEST(!s.other, "component: a domain that is not configured must not be");
}

BOOST_AUTO_TEST_SUITE_END()

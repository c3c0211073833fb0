#define BOOST_TEST_DYN_LINK
#include "component/routing.hpp"

#include <boost/test/unit_test.hpp>

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

BOOST_AUTO_TEST_SUITE_END()

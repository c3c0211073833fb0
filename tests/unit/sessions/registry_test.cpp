#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <thread>

#include "sessions/registry.hpp"

using parley::sessions::LocalRegistry;
using parley::sessions::SessionRef;
using parley::xmpp::Jid;

namespace {
Jid full(const char* node, const char* resource) { return Jid::make(node, "example.org", resource).value(); }
}  // namespace

BOOST_AUTO_TEST_SUITE(sessions_registry)

BOOST_AUTO_TEST_CASE(bind_find_unbind) {
    LocalRegistry r;
    BOOST_TEST(!r.bind(full("romeo", "orchard"), SessionRef{0, 1}).has_value());
    BOOST_TEST(!r.bind(full("romeo", "garden"), SessionRef{1, 2}).has_value());
    auto e = r.find(full("romeo", "garden"));
    BOOST_REQUIRE(e.has_value());
    BOOST_TEST(e->ref.worker == 1u);
    BOOST_TEST(e->ref.session_id == 2u);
    BOOST_TEST(r.count_of(full("romeo", "x").bare()) == 2u);
    BOOST_TEST(r.total() == 2u);
    BOOST_TEST(r.unbind(full("romeo", "garden"), SessionRef{1, 2}));
    BOOST_TEST(!r.find(full("romeo", "garden")).has_value());
    BOOST_TEST(r.total() == 1u);
}

BOOST_AUTO_TEST_CASE(conflict_returns_the_older_session_and_its_late_unbind_is_ignored) {
    LocalRegistry r;
    r.bind(full("romeo", "orchard"), SessionRef{0, 1});
    auto old = r.bind(full("romeo", "orchard"), SessionRef{1, 9});
    BOOST_REQUIRE(old.has_value());
    BOOST_TEST(old->ref.session_id == 1u, "registry: the replaced session must be returned for <conflict/>");
    // The old session closing later must not remove the new one.
    BOOST_TEST(!r.unbind(full("romeo", "orchard"), SessionRef{0, 1}));
    auto now = r.find(full("romeo", "orchard"));
    BOOST_REQUIRE(now.has_value());
    BOOST_TEST(now->ref.session_id == 9u);
}

BOOST_AUTO_TEST_CASE(presence_state_is_kept_per_session) {
    LocalRegistry r;
    r.bind(full("romeo", "a"), SessionRef{0, 1});
    r.bind(full("romeo", "b"), SessionRef{0, 2});
    r.set_presence(full("romeo", "a"), SessionRef{0, 1}, true, 10);
    r.set_presence(full("romeo", "b"), SessionRef{0, 99}, true, 10);  // wrong ref: ignored
    auto all = r.sessions_of(full("romeo", "a").bare());
    BOOST_REQUIRE_EQUAL(all.size(), 2u);
    for (const auto& e : all) {
        if (e.full_jid.resource() == "a") {
            BOOST_TEST(e.available);
            BOOST_TEST(e.priority == 10);
        } else {
            BOOST_TEST(!e.available);
        }
    }
}

BOOST_AUTO_TEST_CASE(concurrent_binds_from_two_threads) {
    LocalRegistry r;
    auto work = [&r](unsigned worker) {
        for (int i = 0; i < 500; ++i) {
            Jid j = Jid::make("user" + std::to_string(i), "example.org", "w" + std::to_string(worker)).value();
            r.bind(j, SessionRef{worker, static_cast<uint64_t>(i)});
        }
    };
    std::thread a(work, 0), b(work, 1);
    a.join();
    b.join();
    BOOST_TEST(r.total() == 1000u);
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <thread>

#include "sessions/registry.hpp"

using parley::sessions::LocalRegistry;
using parley::sessions::SessionRef;
using parley::xmpp::Jid;

namespace {
bool race_bind(LocalRegistry& r, const Jid& j, SessionRef ref, size_t max) { return r.try_bind(j, ref, max).refused; }
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

BOOST_AUTO_TEST_CASE(session_limit_holds_against_binds_racing_on_two_threads) {
    // Two workers bind different resources of the same accounts at the same
    // time, with a limit of one session per account: for every account
    // exactly one bind must win and the other be refused.
    constexpr int kAccounts = 20000;
    LocalRegistry r;
    std::atomic<int> ready{0};
    std::atomic<int> refused{0};
    auto work = [&](unsigned worker) {
        ready.fetch_add(1);
        // Start together (bounded spin: both threads are started just below).
        for (int spin = 0; ready.load() < 2 && spin < 100000000; ++spin) {
        }
        for (int i = 0; i < kAccounts; ++i) {
            Jid j = Jid::make("user" + std::to_string(i), "example.org", "w" + std::to_string(worker)).value();
            if (race_bind(r, j, SessionRef{worker, static_cast<uint64_t>(i)}, 1)) refused.fetch_add(1);
        }
    };
    std::thread a(work, 0), b(work, 1);
    a.join();
    b.join();
    int over = 0;
    for (int i = 0; i < kAccounts; ++i)
        if (r.count_of(full(("user" + std::to_string(i)).c_str(), "x").bare()) > 1) ++over;
    BOOST_TEST(over == 0, "registry: " << over << " accounts got past their limit of one session");
    BOOST_TEST(r.total() == static_cast<size_t>(kAccounts));
    BOOST_TEST(refused.load() == kAccounts);
}

BOOST_AUTO_TEST_CASE(taking_over_a_resource_is_not_refused_at_the_limit) {
    LocalRegistry r;
    BOOST_TEST(!r.try_bind(full("romeo", "a"), SessionRef{0, 1}, 1).refused);
    BOOST_TEST(r.try_bind(full("romeo", "b"), SessionRef{0, 2}, 1).refused);
    auto again = r.try_bind(full("romeo", "a"), SessionRef{1, 3}, 1);
    BOOST_TEST(!again.refused, "registry: a new session of a bound full JID replaces it, whatever the limit");
    BOOST_REQUIRE(again.replaced.has_value());
    BOOST_TEST(again.replaced->ref.session_id == 1u);
    BOOST_TEST(r.total() == 1u);
    // A refusal leaves no empty entry behind.
    BOOST_TEST(r.try_bind(full("juliet", "a"), SessionRef{0, 4}, 0).refused == false);
    BOOST_TEST(r.count_of(full("juliet", "a").bare()) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

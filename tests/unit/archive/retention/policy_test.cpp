#define BOOST_TEST_DYN_LINK
#include "archive/retention/policy.hpp"

#include <boost/test/unit_test.hpp>

#include "archive/hold/holds.hpp"
#include "support/archive_fixture.hpp"

using namespace parley;
using namespace parley::archive;
using parley::test::chat;

namespace {

Rule rule(Scope s, std::string target, std::string type, uint32_t days, std::string origin = "config") {
    return Rule{s, std::move(target), std::move(type), days, std::move(origin), 0};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(archive_policy)

BOOST_AUTO_TEST_CASE(most_specific_rule_wins) {
    Policy p({rule(Scope::all, "", "", 2555), rule(Scope::all, "", "headline", 1),
              rule(Scope::domain, "example.org", "", 365), rule(Scope::user, "alice@example.org", "", 30),
              rule(Scope::user, "alice@example.org", "chat", 7)},
             {});
    BOOST_TEST(p.decide("alice@example.org/phone", "chat").days == 7u);
    BOOST_TEST(p.decide("alice@example.org", "normal").days == 30u);
    BOOST_TEST(p.decide("bob@example.org", "chat").days == 365u);
    BOOST_TEST(p.decide("zed@other.example", "chat").days == 2555u);
    BOOST_TEST(p.decide("zed@other.example", "headline").days == 1u);
    BOOST_TEST(p.decide("bob@example.org", "chat").explain().find("domain example.org") != std::string::npos);
    // Nothing configured: forever.
    BOOST_TEST(Policy().decide("a@b", "chat").days == 0u);
    // A room's rule decides for the room's view.
    Policy rooms({rule(Scope::all, "", "", 2555), rule(Scope::room, "team@conference.example.org", "", 90)}, {});
    BOOST_TEST(rooms.decide("team@conference.example.org", "groupchat").days == 90u);
    BOOST_TEST(rooms.decide("other@conference.example.org", "groupchat").days == 2555u);
    // A room's record keeps the longest of the room's rule and its sender's.
    Policy both({rule(Scope::all, "", "", 30), rule(Scope::user, "alice@example.org", "", 2555)}, {});
    Entry said;
    said.from = "alice@example.org/desk";
    said.to = "team@conference.example.org";
    said.type = "groupchat";
    said.views = {{"team@conference.example.org", "alice@example.org"}};
    BOOST_TEST(both.record_days(said) == 2555u);
}

BOOST_AUTO_TEST_CASE(runtime_rules_replace_configured_ones) {
    Policy p({rule(Scope::all, "", "", 2555), rule(Scope::domain, "example.org", "", 365)},
             {rule(Scope::domain, "example.org", "", 90, "parleyctl by root")});
    BOOST_TEST(p.decide("bob@example.org", "chat").days == 90u);
    BOOST_TEST(p.decide("bob@example.org", "chat").rule.origin == "parleyctl by root");
    BOOST_TEST(p.rules().size() == 2u);
}

BOOST_AUTO_TEST_CASE(record_kept_as_long_as_its_longest_view) {
    Policy p({rule(Scope::all, "", "", 30), rule(Scope::user, "alice@x", "", 365)}, {});
    BOOST_TEST(p.record_days(chat("alice@x", "bob@x", "hi")) == 365u);
    BOOST_TEST(p.record_days(chat("carol@x", "bob@x", "hi")) == 30u);
    Policy forever({rule(Scope::all, "", "", 30), rule(Scope::user, "bob@x", "", 0)}, {});
    BOOST_TEST(forever.record_days(chat("alice@x", "bob@x", "hi")) == 0u);
    Entry no_views = chat("carol@x", "alice@x", "hi");
    no_views.views.clear();
    BOOST_TEST(p.record_days(no_views) == 365u);  // its parties decide
}

BOOST_AUTO_TEST_CASE(rules_stored) {
    test::ArchiveFixture f;
    f.edit([&](MDB_txn* t) {
        BOOST_REQUIRE(put_rule(t, f.db, rule(Scope::user, "alice@x", "chat", 7, "parleyctl by root")));
        BOOST_REQUIRE(put_rule(t, f.db, rule(Scope::domain, "x", "", 90, "parleyctl by root")));
        BOOST_REQUIRE(put_rule(t, f.db, rule(Scope::domain, "x", "", 60, "parleyctl by admin")));
    });
    auto rules = f.read([&](MDB_txn* t) { return load_rules(t, f.db); });
    BOOST_REQUIRE(rules);
    BOOST_REQUIRE(rules->size() == 2u);
    BOOST_TEST(((*rules)[1] == rule(Scope::user, "alice@x", "chat", 7, "parleyctl by root")));
    BOOST_TEST((*rules)[0].days == 60u);
    f.edit([&](MDB_txn* t) {
        BOOST_TEST(*delete_rule(t, f.db, Scope::domain, "x", ""));
        BOOST_TEST(!*delete_rule(t, f.db, Scope::domain, "x", ""));
    });
    BOOST_TEST(f.read([&](MDB_txn* t) { return load_rules(t, f.db)->size(); }) == 1u);
}

BOOST_AUTO_TEST_CASE(holds_cover_their_scope) {
    test::ArchiveFixture f;
    LegalHold h{"CASE-1", Scope::user, "bob@x", "litigation", "legal@x", 1000, 0, ""};
    LegalHold d{"CASE-2", Scope::domain, "partner.example", "audit", "legal@x", 1000, 0, ""};
    f.edit([&](MDB_txn* t) {
        BOOST_REQUIRE(add_hold(t, f.db, h));
        BOOST_REQUIRE(add_hold(t, f.db, d));
        BOOST_TEST(add_hold(t, f.db, h).code() == "exists");
    });
    auto holds = *f.read([&](MDB_txn* t) { return load_holds(t, f.db); });
    BOOST_REQUIRE(holds.size() == 2u);
    BOOST_TEST(held(holds, chat("alice@x", "bob@x", "hi")));
    BOOST_TEST(held(holds, chat("zed@partner.example", "carol@x", "hi")));
    BOOST_TEST(!held(holds, chat("alice@x", "carol@x", "hi")));
    f.edit([&](MDB_txn* t) {
        auto r = release_hold(t, f.db, "CASE-1", "legal@x", 2000);
        BOOST_REQUIRE(r);
        BOOST_TEST(r->released_ms == 2000u);
        BOOST_TEST(release_hold(t, f.db, "CASE-1", "legal@x", 3000).status().code() == "not-found");
    });
    holds = *f.read([&](MDB_txn* t) { return load_holds(t, f.db); });
    BOOST_TEST(holds.size() == 2u);  // the released one stays, as history
    BOOST_TEST(!holds[0].active());
    BOOST_TEST(holds[0].released_by == "legal@x");
    BOOST_TEST(!held(holds, chat("alice@x", "bob@x", "hi")));
    f.edit([&](MDB_txn* t) { BOOST_TEST(add_hold(t, f.db, h).is_ok()); });  // on hold again
    BOOST_TEST(held(*f.read([&](MDB_txn* t) { return load_holds(t, f.db); }), chat("alice@x", "bob@x", "hi")));
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "router/rules.hpp"

using parley::router::Decision;
using parley::router::decide_bare;
using parley::router::decide_full;
using parley::sessions::SessionEntry;
using parley::xmpp::Jid;

namespace {

SessionEntry entry(const char* resource, unsigned worker, uint64_t id, bool available, int priority) {
    SessionEntry e;
    e.full_jid = Jid::make("juliet", "example.org", resource).value();
    e.ref = {worker, id};
    e.available = available;
    e.priority = priority;
    return e;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(router_rules)

BOOST_AUTO_TEST_CASE(full_jid_online_delivers_to_that_session_only) {
    auto e = entry("balcony", 1, 7, false, 0);
    for (const char* kind : {"message", "presence", "iq"}) {
        Decision d = decide_full(kind, "", &e);
        BOOST_TEST((d.action == Decision::Action::deliver), "router: " << kind << " to an online full JID");
        BOOST_REQUIRE_EQUAL(d.targets.size(), 1u);
        BOOST_TEST(d.targets[0].ref.session_id == 7u);
    }
}

BOOST_AUTO_TEST_CASE(full_jid_offline_follows_rfc6121_8_5_3_2) {
    BOOST_TEST((decide_full("message", "", nullptr).action == Decision::Action::to_bare));
    BOOST_TEST((decide_full("message", "chat", nullptr).action == Decision::Action::to_bare));
    BOOST_TEST((decide_full("message", "normal", nullptr).action == Decision::Action::to_bare));
    Decision g = decide_full("message", "groupchat", nullptr);
    BOOST_TEST((g.action == Decision::Action::bounce));
    BOOST_TEST(g.error.condition == "service-unavailable");
    BOOST_TEST((decide_full("message", "headline", nullptr).action == Decision::Action::drop));
    BOOST_TEST((decide_full("message", "error", nullptr).action == Decision::Action::drop));
    Decision iq = decide_full("iq", "get", nullptr);
    BOOST_TEST((iq.action == Decision::Action::bounce));
    BOOST_TEST(iq.error.condition == "service-unavailable");
    BOOST_TEST((decide_full("iq", "set", nullptr).action == Decision::Action::bounce));
    BOOST_TEST((decide_full("iq", "result", nullptr).action == Decision::Action::drop), "iq results are never answered");
    BOOST_TEST((decide_full("iq", "error", nullptr).action == Decision::Action::drop), "iq errors are never answered");
    BOOST_TEST((decide_full("presence", "", nullptr).action == Decision::Action::drop));
}

BOOST_AUTO_TEST_CASE(bare_jid_chat_goes_to_highest_non_negative_priority) {
    std::vector<SessionEntry> s{entry("a", 0, 1, true, 5), entry("b", 1, 2, true, 5), entry("c", 0, 3, true, 1),
                                entry("d", 1, 4, false, 50), entry("e", 0, 5, true, -1)};
    Decision d = decide_bare("message", "chat", s, true);
    BOOST_TEST((d.action == Decision::Action::deliver));
    BOOST_REQUIRE_EQUAL(d.targets.size(), 2u);
    BOOST_TEST(d.targets[0].ref.session_id == 1u);
    BOOST_TEST(d.targets[1].ref.session_id == 2u);
}

BOOST_AUTO_TEST_CASE(bare_jid_headline_goes_to_all_non_negative) {
    std::vector<SessionEntry> s{entry("a", 0, 1, true, 5), entry("c", 0, 3, true, 0), entry("e", 0, 5, true, -1)};
    Decision d = decide_bare("message", "headline", s, true);
    BOOST_TEST((d.action == Decision::Action::deliver));
    BOOST_TEST(d.targets.size() == 2u);
}

BOOST_AUTO_TEST_CASE(bare_jid_nobody_available_bounces_chat_and_drops_the_rest) {
    std::vector<SessionEntry> s{entry("a", 0, 1, false, 0), entry("e", 0, 5, true, -1)};
    // The decision point (offline storage may take it); its default is the bounce.
    Decision d = decide_bare("message", "chat", s, true);
    BOOST_TEST((d.action == Decision::Action::unavailable));
    BOOST_TEST(d.error.condition == "service-unavailable");
    BOOST_TEST((decide_bare("message", "error", s, true).action == Decision::Action::drop));
    BOOST_TEST((decide_bare("message", "headline", s, true).action == Decision::Action::drop));
    // Presence reaches every available resource, whatever its priority (RFC 6121 §8.5.2.1.3)...
    Decision p = decide_bare("presence", "", s, true);
    BOOST_TEST((p.action == Decision::Action::deliver));
    BOOST_TEST(p.targets.size() == 1u);
    // ...and goes to the decision point when none is available, dropped by default.
    std::vector<SessionEntry> none{entry("a", 0, 1, false, 0)};
    Decision off = decide_bare("presence", "subscribe", none, true);
    BOOST_TEST((off.action == Decision::Action::unavailable));
    BOOST_TEST(off.error.condition.empty(), "router: presence is never bounced by default");
    BOOST_TEST((decide_bare("presence", "error", none, true).action == Decision::Action::drop));
}

BOOST_AUTO_TEST_CASE(bare_jid_unknown_account) {
    Decision m = decide_bare("message", "", {}, false);
    BOOST_TEST((m.action == Decision::Action::bounce));
    BOOST_TEST(m.error.condition == "service-unavailable");
    Decision iq = decide_bare("iq", "get", {}, false);
    BOOST_TEST((iq.action == Decision::Action::bounce));
    BOOST_TEST(iq.error.condition == "service-unavailable");
    BOOST_TEST((decide_bare("presence", "subscribe", {}, false).action == Decision::Action::drop));
}

BOOST_AUTO_TEST_CASE(unknown_and_unavailable_accounts_bounce_alike) {
    // RFC 6121 §8.5.1 and §8.5.2.2: no account enumeration through bounces.
    std::vector<SessionEntry> unavailable{entry("a", 0, 1, false, 0), entry("b", 0, 2, true, -1)};
    for (const char* type : {"", "normal", "chat", "groupchat"}) {
        Decision none = decide_bare("message", type, {}, false);
        for (const auto& sessions : {std::vector<SessionEntry>{}, unavailable}) {
            // An existing account goes to the decision point, whose default
            // is the bounce a missing account gets.
            Decision d = decide_bare("message", type, sessions, true);
            BOOST_TEST((d.action == none.action || (d.action == Decision::Action::unavailable &&
                                                    none.action == Decision::Action::bounce)),
                       "router: message type '" << type << "'");
            BOOST_TEST(d.error.type == none.error.type);
            BOOST_TEST(d.error.condition == none.error.condition);
            BOOST_TEST(d.error.text == none.error.text, "router: message type '" << type << "' text differs");
        }
    }
    Decision iq = decide_bare("iq", "get", {}, false);
    BOOST_TEST(iq.error.condition == parley::recipient_unavailable().condition);
    BOOST_TEST(iq.error.text == parley::recipient_unavailable().text);
    Decision full = decide_full("iq", "get", nullptr);
    BOOST_TEST(full.error.text == parley::recipient_unavailable().text);
}

BOOST_AUTO_TEST_CASE(bare_jid_iq_is_answered_by_the_server) {
    std::vector<SessionEntry> s{entry("a", 0, 1, true, 0)};
    BOOST_TEST((decide_bare("iq", "get", s, true).action == Decision::Action::handle_iq));
    BOOST_TEST((decide_bare("iq", "set", {}, true).action == Decision::Action::handle_iq));
    BOOST_TEST((decide_bare("iq", "result", s, true).action == Decision::Action::drop));
    BOOST_TEST((decide_bare("iq", "error", s, true).action == Decision::Action::drop));
}

BOOST_AUTO_TEST_CASE(bare_jid_groupchat_bounces) {
    std::vector<SessionEntry> s{entry("a", 0, 1, true, 0)};
    Decision d = decide_bare("message", "groupchat", s, true);
    BOOST_TEST((d.action == Decision::Action::bounce));
}

BOOST_AUTO_TEST_CASE(bare_jid_presence_reaches_available_resources) {
    std::vector<SessionEntry> s{entry("a", 0, 1, true, -5), entry("b", 0, 2, false, 0)};
    Decision d = decide_bare("presence", "", s, true);
    BOOST_TEST((d.action == Decision::Action::deliver));
    BOOST_REQUIRE_EQUAL(d.targets.size(), 1u);
    BOOST_TEST(d.targets[0].ref.session_id == 1u);
    // Probes are answered by the server (RFC 6121 §4.3): always the decision point.
    Decision probe = decide_bare("presence", "probe", s, true);
    BOOST_TEST((probe.action == Decision::Action::unavailable));
    BOOST_TEST(probe.error.condition.empty());
}

BOOST_AUTO_TEST_CASE(subscription_stanzas_and_probes_are_the_servers_to_handle) {
    // RFC 6121 §3.1.3, §4.3: whatever the account's sessions, subscription
    // stanzas and probes go to the decision point (the roster module), never
    // straight to a client; to a full JID they are handled for the bare JID.
    std::vector<SessionEntry> online{entry("a", 0, 1, true, 5), entry("b", 1, 2, true, 0)};
    SessionEntry one = online[0];
    for (const char* type : {"subscribe", "subscribed", "unsubscribe", "unsubscribed", "probe"}) {
        Decision d = decide_bare("presence", type, online, true);
        BOOST_TEST((d.action == Decision::Action::unavailable), type);
        BOOST_TEST(d.error.condition.empty(), type << ": never bounced by default");
        BOOST_TEST((decide_full("presence", type, &one).action == Decision::Action::to_bare), type);
        BOOST_TEST((decide_full("presence", type, nullptr).action == Decision::Action::to_bare), type);
        BOOST_TEST((decide_bare("presence", type, online, false).action == Decision::Action::drop), type);
    }
    // Ordinary presence to an online full JID is still delivered to it.
    BOOST_TEST((decide_full("presence", "", &one).action == Decision::Action::deliver));
    BOOST_TEST((decide_full("presence", "unavailable", &one).action == Decision::Action::deliver));
}

BOOST_AUTO_TEST_SUITE_END()

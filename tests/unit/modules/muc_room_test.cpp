// mod_muc's Room (modules/muc/room.hpp) on its own: what it sends for each
// stanza it is given, with a fixed clock.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "modules/muc/muc.hpp"
#include "modules/muc/room.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;
using namespace parley::mod_muc;

namespace {

xmpp::Jid jid(const std::string& s) { return xmpp::Jid::parse(s).value(); }

struct Fixture {
    std::vector<xml::Element> sent;
    int64_t now = 1'700'000'000'000;
    Room room{jid("team@conference.example.org"), jid("alice@example.org/desk"), RoomLimits{3, 2},
              [this](xml::Element e) { sent.push_back(std::move(e)); }, [this] { return now; }};

    static xml::Element join_presence(const std::string& from, const std::string& nick) {
        xml::Element p("presence", std::string(xmpp::kNsClient));
        p.set_attr("from", from);
        p.set_attr("to", "team@conference.example.org/" + nick);
        p.add_child("x", kNsMuc);
        return p;
    }
    void join(const std::string& from, const std::string& nick) {
        room.presence(join_presence(from, nick), jid(from), nick);
    }
    void say(const std::string& from, const std::string& body) {
        xml::Element m("message", std::string(xmpp::kNsClient));
        m.set_attr("from", from);
        m.set_attr("to", "team@conference.example.org");
        m.set_attr("type", "groupchat");
        m.set_attr("id", body);
        m.add_child("body", std::string(xmpp::kNsClient)).add_text(body);
        room.message(m, jid(from), "");
    }
    void instant() {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("from", "alice@example.org/desk");
        iq.set_attr("to", "team@conference.example.org");
        iq.set_attr("type", "set");
        iq.set_attr("id", "cfg");
        iq.add_child("query", kNsMucOwner).add_child("x", "jabber:x:data").set_attr("type", "submit");
        room.iq(iq, jid("alice@example.org/desk"), "");
    }
    // Everything sent to `to`, as "name from" lines with status codes and errors.
    std::vector<std::string> to(const std::string& who) {
        std::vector<std::string> out;
        for (const auto& e : sent) {
            if (e.attr_or("to") != who) continue;
            std::string line = e.name() + " " + std::string(e.attr_or("from"));
            if (!e.attr_or("type").empty()) line += " " + std::string(e.attr_or("type"));
            if (const xml::Element* x = e.child("x", kNsMucUser))
                for (const xml::Element& c : x->children())
                    if (c.name() == "status") line += " " + std::string(c.attr_or("code"));
            if (const xml::Element* err = e.child("error", xmpp::kNsClient))
                if (const xml::Element* cond = err->first_child()) line += " " + cond->name();
            if (const xml::Element* b = e.child("body", xmpp::kNsClient)) line += " '" + b->text() + "'";
            if (e.child("delay", "urn:xmpp:delay")) line += " delayed";
            out.push_back(line);
        }
        return out;
    }
};

using Lines = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(muc_room)

BOOST_FIXTURE_TEST_CASE(the_creator_gets_a_locked_room_that_admits_others_once_configured, Fixture) {
    join("alice@example.org/desk", "Alice");
    BOOST_TEST(to("alice@example.org/desk") ==
               (Lines{"presence team@conference.example.org/Alice 110 201", "message team@conference.example.org groupchat"}));
    BOOST_TEST(room.locked());
    join("bob@example.org/phone", "Bob");
    BOOST_TEST(to("bob@example.org/phone") ==
               (Lines{"presence team@conference.example.org/Bob error item-not-found"}),
               "muc: a room being created admits nobody else (XEP-0045 §10.1.1)");
    instant();
    BOOST_TEST(!room.locked());
    sent.clear();
    join("bob@example.org/phone", "Bob");
    BOOST_TEST(to("bob@example.org/phone") ==
               (Lines{"presence team@conference.example.org/Alice", "presence team@conference.example.org/Bob 110",
                      "message team@conference.example.org groupchat"}));
    BOOST_TEST(to("alice@example.org/desk") == (Lines{"presence team@conference.example.org/Bob"}));
    // The owner sees real JIDs, a participant does not.
    auto item_jid = [&](const std::string& to, const std::string& from) {
        for (const auto& e : sent)
            if (e.name() == "presence" && e.attr_or("to") == to && e.attr_or("from") == from)
                return std::string(e.child("x", kNsMucUser)->child("item", kNsMucUser)->attr_or("jid"));
        return std::string("?");
    };
    BOOST_TEST(item_jid("alice@example.org/desk", "team@conference.example.org/Bob") == "bob@example.org/phone");
    BOOST_TEST(item_jid("bob@example.org/phone", "team@conference.example.org/Alice") == "");
}

BOOST_FIXTURE_TEST_CASE(groupchat_reaches_everyone_and_history_what_was_asked, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    say("alice@example.org/desk", "one");
    now += 60'000;
    say("bob@example.org/phone", "two");
    now += 60'000;
    say("alice@example.org/desk", "three");  // history_length 2: "one" is dropped
    BOOST_TEST(to("bob@example.org/phone").back() == "message team@conference.example.org/Alice groupchat 'three'");
    sent.clear();
    xml::Element p = join_presence("carol@example.org/pc", "Carol");
    p.child("x", kNsMuc)->add_child("history", kNsMuc).set_attr("seconds", "30");
    room.presence(p, jid("carol@example.org/pc"), "Carol");
    const Lines carol = to("carol@example.org/pc");
    BOOST_REQUIRE(carol.size() == 5u);
    BOOST_TEST(carol[2] == "presence team@conference.example.org/Carol 110");
    BOOST_TEST(carol[3] == "message team@conference.example.org/Alice groupchat 'three' delayed",
               "muc: only what was said in the last 30 s");
    // A non-occupant may not speak.
    sent.clear();
    say("mallory@example.org/x", "spam");
    BOOST_TEST(to("mallory@example.org/x") ==
               (Lines{"message team@conference.example.org error not-acceptable 'spam'"}));
    BOOST_TEST(to("bob@example.org/phone").empty());
}

BOOST_FIXTURE_TEST_CASE(nicknames_conflict_change_and_leave, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    sent.clear();
    join("carol@example.org/pc", "Bob");
    BOOST_TEST(to("carol@example.org/pc") == (Lines{"presence team@conference.example.org/Bob error conflict"}));
    // The same person's second client shares the nickname.
    join("bob@example.org/laptop", "Bob");
    BOOST_TEST(to("bob@example.org/laptop").size() == 3u);
    BOOST_TEST(to("alice@example.org/desk").empty(), "muc: a second client of an occupant is not news");
    sent.clear();
    room.presence(join_presence("alice@example.org/desk", "Ally"), jid("alice@example.org/desk"), "Ally");
    BOOST_TEST(to("bob@example.org/laptop") ==
               (Lines{"presence team@conference.example.org/Alice unavailable 303", "presence team@conference.example.org/Ally"}));
    BOOST_TEST(to("alice@example.org/desk") == (Lines{"presence team@conference.example.org/Alice unavailable 303 110",
                                                       "presence team@conference.example.org/Ally 110"}));
    sent.clear();
    xml::Element bye("presence", std::string(xmpp::kNsClient));
    bye.set_attr("type", "unavailable");
    room.presence(bye, jid("alice@example.org/desk"), "Ally");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"presence team@conference.example.org/Ally unavailable"}));
    BOOST_TEST(room.occupant_count() == 1u);
    room.presence(bye, jid("bob@example.org/phone"), "Bob");
    room.presence(bye, jid("bob@example.org/laptop"), "Bob");
    BOOST_TEST(room.empty());
}

BOOST_FIXTURE_TEST_CASE(private_messages_and_self_ping_go_through_the_room, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    sent.clear();
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("type", "chat");
    m.add_child("body", std::string(xmpp::kNsClient)).add_text("psst");
    room.message(m, jid("alice@example.org/desk"), "Bob");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"message team@conference.example.org/Alice chat 'psst'"}));
    room.message(m, jid("alice@example.org/desk"), "Nobody");
    BOOST_TEST(to("alice@example.org/desk").back() == "message  error item-not-found 'psst'");
    xml::Element ping("iq", std::string(xmpp::kNsClient));
    ping.set_attr("type", "get");
    ping.set_attr("to", "team@conference.example.org/Bob");
    ping.add_child("ping", "urn:xmpp:ping");
    sent.clear();
    room.iq(ping, jid("bob@example.org/phone"), "Bob");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"iq team@conference.example.org/Bob result"}));
    room.iq(ping, jid("carol@example.org/pc"), "Bob");
    BOOST_TEST(to("carol@example.org/pc") == (Lines{"iq team@conference.example.org/Bob error not-acceptable"}));
}

BOOST_FIXTURE_TEST_CASE(only_the_owner_changes_the_subject_or_destroys_the_room, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    sent.clear();
    xml::Element s("message", std::string(xmpp::kNsClient));
    s.set_attr("type", "groupchat");
    s.add_child("subject", std::string(xmpp::kNsClient)).add_text("Plans");
    room.message(s, jid("bob@example.org/phone"), "");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"message  error forbidden"}));
    room.message(s, jid("alice@example.org/desk"), "");
    BOOST_TEST(to("bob@example.org/phone").back() == "message team@conference.example.org/Alice groupchat");
    xml::Element destroy("iq", std::string(xmpp::kNsClient));
    destroy.set_attr("type", "set");
    destroy.add_child("query", kNsMucOwner).add_child("destroy", kNsMucOwner).add_child("reason", kNsMucOwner).add_text("done");
    sent.clear();
    room.iq(destroy, jid("bob@example.org/phone"), "");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"iq  error forbidden"}));
    room.iq(destroy, jid("alice@example.org/desk"), "");
    BOOST_TEST(room.destroyed());
    BOOST_TEST(to("bob@example.org/phone").back() == "presence team@conference.example.org/Bob unavailable");
}

BOOST_FIXTURE_TEST_CASE(invitations_go_through_the_room_and_declines_back_to_the_inviter_only, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    sent.clear();
    auto invite = [](const std::string& to) {
        xml::Element m("message", std::string(xmpp::kNsClient));
        xml::Element& i = m.add_child("x", kNsMucUser).add_child("invite", kNsMucUser);
        i.set_attr("to", to);
        i.add_child("reason", kNsMucUser).add_text("join us");
        return m;
    };
    room.message(invite("dave@example.org"), jid("alice@example.org/desk"), "");
    BOOST_REQUIRE(to("dave@example.org").size() == 1u);
    const xml::Element& got = sent.back();
    BOOST_TEST(got.attr_or("from") == "team@conference.example.org");
    BOOST_TEST(got.child("x", kNsMucUser)->child("invite", kNsMucUser)->attr_or("from") == "alice@example.org");
    // Only occupants invite.
    room.message(invite("erin@example.org"), jid("mallory@example.org/x"), "");
    BOOST_TEST(to("erin@example.org").empty());
    BOOST_TEST(to("mallory@example.org/x") == (Lines{"message  error not-acceptable"}));
    // A decline reaches the inviter; from someone not invited, nothing.
    auto decline = [](const std::string& to) {
        xml::Element m("message", std::string(xmpp::kNsClient));
        m.add_child("x", kNsMucUser).add_child("decline", kNsMucUser).set_attr("to", to);
        return m;
    };
    sent.clear();
    room.message(decline("victim@example.net"), jid("mallory@example.org/x"), "");
    BOOST_TEST(sent.empty(), "muc: the room relays no decline it did not ask for");
    room.message(decline("alice@example.org"), jid("dave@example.org/phone"), "");
    BOOST_TEST(to("alice@example.org") == (Lines{"message team@conference.example.org"}));
}

BOOST_FIXTURE_TEST_CASE(what_the_room_relays_carries_no_claims_of_the_sender_and_bounces_remove_occupants, Fixture) {
    join("alice@example.org/desk", "Alice");
    // A room being created is invisible to others.
    xml::Element info("iq", std::string(xmpp::kNsClient));
    info.set_attr("type", "get");
    info.add_child("query", "http://jabber.org/protocol/disco#info");
    room.iq(info, jid("bob@example.org/phone"), "");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"iq  error item-not-found"}));
    instant();
    join("bob@example.org/phone", "Bob");
    sent.clear();
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("type", "groupchat");
    m.add_child("body", std::string(xmpp::kNsClient)).add_text("trust me");
    xml::Element& forged = m.add_child("x", kNsMucUser);
    forged.add_child("status", kNsMucUser).set_attr("code", "110");
    m.add_child("stanza-id", "urn:xmpp:sid:0").set_attr("by", "team@conference.example.org");
    room.message(m, jid("bob@example.org/phone"), "");
    BOOST_TEST(to("alice@example.org/desk") == (Lines{"message team@conference.example.org/Bob groupchat 'trust me'"}));
    BOOST_TEST(!sent.back().child("stanza-id", "urn:xmpp:sid:0"));
    // Bob's client is gone without a word: his copy bounces.
    xml::Element bounce("message", std::string(xmpp::kNsClient));
    bounce.set_attr("type", "error");
    room.message(bounce, jid("bob@example.org/phone"), "Alice");
    BOOST_TEST(room.occupant_count() == 1u, "muc: an occupant whose copy bounced has left");
    BOOST_TEST(to("alice@example.org/desk").back() == "presence team@conference.example.org/Bob unavailable");
    // History requests that overflow are clamped, not undefined.
    xml::Element h("history", kNsMuc);
    h.set_attr("seconds", "18446744073709551615");
    BOOST_TEST(read_history_request(&h, now).since_ms.has_value());
}

BOOST_AUTO_TEST_CASE(a_room_has_one_owner_worker_whatever_asks) {
    for (unsigned w : {1u, 2u, 4u}) {
        const unsigned o = owner_of("team@conference.example.org", w);
        BOOST_TEST(o < w);
        BOOST_TEST(owner_of("team@conference.example.org", w) == o);
    }
}

BOOST_AUTO_TEST_SUITE_END()

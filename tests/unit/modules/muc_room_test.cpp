// mod_muc's Room (modules/muc/room.hpp) on its own: what it sends for each
// stanza it is given, with a fixed clock.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "modules/muc/muc.hpp"
#include "modules/muc/room.hpp"
#include "xml/parse_element.hpp"
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
    // An iq to the room from `from`, its payload given as text.
    void ask(const std::string& from, const std::string& type, const std::string& payload) {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("from", from);
        iq.set_attr("to", "team@conference.example.org");
        iq.set_attr("type", type);
        iq.set_attr("id", "q");
        iq.add_child(xml::parse_element(payload, xmpp::kNsClient, 16).value());
        room.iq(iq, jid(from), "");
    }
    void configure(const std::string& from, const std::string& fields) {
        ask(from, "set", "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
                             fields + "</x></query>");
    }
    static std::string field(const std::string& var, const std::string& value) {
        return "<field var='" + var + "'><value>" + value + "</value></field>";
    }
    void admin(const std::string& from, const std::string& items) {
        ask(from, "set", "<query xmlns='http://jabber.org/protocol/muc#admin'>" + items + "</query>");
    }
    // The last line sent to `who`, or "" when nothing was.
    std::string last(const std::string& who) {
        auto lines = to(who);
        return lines.empty() ? std::string() : lines.back();
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
    // A refusal by a client that is still there (it blocks Alice) changes nothing.
    bool bob_gone = false;
    room.set_session_gone([&](const xmpp::Jid&) { return bob_gone; });
    xml::Element bounce("message", std::string(xmpp::kNsClient));
    bounce.set_attr("type", "error");
    room.message(bounce, jid("bob@example.org/phone"), "Alice");
    BOOST_TEST(room.occupant_count() == 2u, "muc: a bounce from a client still there does not remove it");
    // Bob's client is gone without a word: his copy bounces.
    bob_gone = true;
    room.message(bounce, jid("bob@example.org/phone"), "Alice");
    BOOST_TEST(room.occupant_count() == 1u, "muc: an occupant whose copy bounced has left");
    BOOST_TEST(to("alice@example.org/desk").back() == "presence team@conference.example.org/Bob unavailable 333");
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

BOOST_FIXTURE_TEST_CASE(a_room_message_is_serialized_once_for_every_copy, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    join("bob@example.org/desk", "Bob");
    sent.clear();
    say("alice@example.org/desk", "hello <all> & everyone");
    std::vector<const xml::Element*> copies;
    for (const auto& e : sent)
        if (e.name() == "message" && e.attr_or("type") == "groupchat") copies.push_back(&e);
    BOOST_TEST_REQUIRE(copies.size() == 3u, "muc: one copy per session");
    const std::string* bytes = copies[0]->shared_children(xmpp::kNsClient);
    BOOST_TEST_REQUIRE(bytes != nullptr, "muc: the copies' children are written once");
    for (const auto* c : copies) {
        BOOST_TEST(c->shared_children(xmpp::kNsClient) == bytes, "muc: every copy shares the same bytes");
        // What goes out is still the whole message, to that session.
        const std::string out = xml::to_string(*c, xmpp::kNsClient);
        BOOST_TEST(out.find("to='" + std::string(c->attr_or("to")) + "'") != std::string::npos);
        BOOST_TEST(out.find("<body>hello &lt;all&gt; &amp; everyone</body>") != std::string::npos);
    }
    BOOST_TEST(copies[0]->attr_or("to") != copies[1]->attr_or("to"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(muc_access)

BOOST_FIXTURE_TEST_CASE(a_members_only_room_admits_members_and_loses_a_removed_one_with_every_client, Fixture) {
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk", field("muc#roomconfig_membersonly", "1"));
    BOOST_TEST(!room.locked());
    sent.clear();
    join("bob@example.org/phone", "Bob");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"presence team@conference.example.org/Bob error registration-required"}),
               "muc: a non-member is refused (XEP-0045 §7.2.6)");
    admin("alice@example.org/desk", "<item affiliation='member' jid='bob@example.org'/>");
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org result");
    join("bob@example.org/phone", "Bob");
    join("bob@example.org/laptop", "Bob");
    join("bob@example.org/tablet", "Robert");
    BOOST_TEST(room.occupant_count() == 3u);
    sent.clear();
    admin("alice@example.org/desk", "<item affiliation='none' jid='bob@example.org'><reason>left the team</reason></item>");
    for (const char* client : {"bob@example.org/phone", "bob@example.org/laptop", "bob@example.org/tablet"}) {
        auto lines = to(client);
        BOOST_TEST_REQUIRE(!lines.empty());
        BOOST_TEST(lines.back().find("unavailable 321 110") != std::string::npos, client << ": " << lines.back());
    }
    BOOST_TEST(room.occupant_count() == 1u, "muc: every nickname and client of the removed member leaves at once");
    BOOST_TEST(to("alice@example.org/desk").size() == 3u, "the others hear each of them leave");
    sent.clear();
    join("bob@example.org/phone", "Bob");
    BOOST_TEST(last("bob@example.org/phone") == "presence team@conference.example.org/Bob error registration-required");
    // Making a room members-only sends the non-members away (322).
    configure("alice@example.org/desk", field("muc#roomconfig_membersonly", "0"));
    join("carol@example.org/pc", "Carol");
    sent.clear();
    configure("alice@example.org/desk", field("muc#roomconfig_membersonly", "1"));
    BOOST_TEST(to("carol@example.org/pc").front() == "presence team@conference.example.org/Carol unavailable 322 110");
    BOOST_TEST(room.occupant_count() == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_ban_removes_every_client_and_keeps_them_out, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("mallory@example.org/a", "Mal");
    join("mallory@example.org/b", "Mal");
    join("bob@example.org/phone", "Bob");
    sent.clear();
    admin("bob@example.org/phone", "<item affiliation='outcast' jid='mallory@example.org'/>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error forbidden", "muc: a participant may not ban");
    admin("alice@example.org/desk", "<item affiliation='outcast' jid='mallory@example.org'><reason>spam</reason></item>");
    BOOST_TEST(last("mallory@example.org/a") == "presence team@conference.example.org/Mal unavailable 301 110");
    BOOST_TEST(last("mallory@example.org/b") == "presence team@conference.example.org/Mal unavailable 301 110");
    BOOST_TEST(last("bob@example.org/phone") == "presence team@conference.example.org/Mal unavailable 301");
    join("mallory@example.org/c", "Other");
    BOOST_TEST(last("mallory@example.org/c") == "presence team@conference.example.org/Other error forbidden");
    // The ban list, for admins and owners only.
    ask("alice@example.org/desk", "get", "<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query>");
    const xml::Element& list = sent.back();
    const xml::Element* item = list.child("query", kNsMucAdmin)->child("item", kNsMucAdmin);
    BOOST_TEST_REQUIRE(item);
    BOOST_TEST(item->attr_or("jid") == "mallory@example.org");
    BOOST_TEST(item->child("reason", kNsMucAdmin)->text() == "spam");
    ask("bob@example.org/phone", "get", "<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error forbidden");
    // A whole domain.
    admin("alice@example.org/desk", "<item affiliation='outcast' jid='spam.example'/>");
    join("x@spam.example/r", "X");
    BOOST_TEST(last("x@spam.example/r") == "presence team@conference.example.org/X error forbidden");
}

BOOST_FIXTURE_TEST_CASE(a_password_is_asked_for_checked_and_never_shown_or_kept, Fixture) {
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk", field("muc#roomconfig_passwordprotectedroom", "1") +
                                            field("muc#roomconfig_roomsecret", "s3cret-phrase"));
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org result");
    join("bob@example.org/phone", "Bob");
    BOOST_TEST(last("bob@example.org/phone") == "presence team@conference.example.org/Bob error not-authorized");
    xml::Element p = join_presence("bob@example.org/phone", "Bob");
    p.child("x", kNsMuc)->add_child("password", kNsMuc).add_text("wrong");
    room.presence(p, jid("bob@example.org/phone"), "Bob");
    BOOST_TEST(last("bob@example.org/phone") == "presence team@conference.example.org/Bob error not-authorized");
    p.child("x", kNsMuc)->child("password", kNsMuc)->add_text("");  // unchanged text; build a new one
    xml::Element good = join_presence("bob@example.org/phone", "Bob");
    good.child("x", kNsMuc)->add_child("password", kNsMuc).add_text("s3cret-phrase");
    room.presence(good, jid("bob@example.org/phone"), "Bob");
    BOOST_TEST(room.occupant_count() == 2u);
    const std::string stored = xml::to_string(room.snapshot(), kNsRoomRecord);
    BOOST_TEST(stored.find("s3cret-phrase") == std::string::npos, "muc: the password is not kept");
    sent.clear();
    ask("alice@example.org/desk", "get", "<query xmlns='http://jabber.org/protocol/muc#owner'/>");
    BOOST_TEST(xml::to_string(sent.back(), xmpp::kNsClient).find("s3cret-phrase") == std::string::npos);
    // Submitting the form back with an empty secret keeps the password.
    configure("alice@example.org/desk", field("muc#roomconfig_passwordprotectedroom", "1") +
                                            field("muc#roomconfig_roomsecret", ""));
    join("carol@example.org/pc", "Carol");
    BOOST_TEST(last("carol@example.org/pc") == "presence team@conference.example.org/Carol error not-authorized");
    BOOST_TEST(password_matches(room.config().secret, "s3cret-phrase"));
    BOOST_TEST(!password_matches(room.config().secret, "s3cret-phrasE"));
}

BOOST_FIXTURE_TEST_CASE(in_a_moderated_room_visitors_are_silent_until_given_voice, Fixture) {
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk", field("muc#roomconfig_moderatedroom", "1"));
    join("bob@example.org/phone", "Bob");
    sent.clear();
    say("bob@example.org/phone", "hello?");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"message team@conference.example.org error forbidden 'hello?'"}),
               "muc: a visitor may not speak in a moderated room (§7.4)");
    BOOST_TEST(to("alice@example.org/desk").empty());
    admin("alice@example.org/desk", "<item nick='Bob' role='participant'/>");
    sent.clear();
    say("bob@example.org/phone", "thanks");
    BOOST_TEST(last("alice@example.org/desk") == "message team@conference.example.org/Bob groupchat 'thanks'");
    // A participant may not change roles; nobody kicks an owner.
    admin("bob@example.org/phone", "<item nick='Alice' role='none'/>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error forbidden");
    admin("alice@example.org/desk", "<item affiliation='admin' jid='bob@example.org'/>");
    admin("bob@example.org/phone", "<item nick='Alice' role='none'/>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error not-allowed");
    // An admin kicks a participant: 307 with who and why.
    join("carol@example.org/pc", "Carol");
    admin("alice@example.org/desk", "<item affiliation='member' jid='carol@example.org'/>");
    sent.clear();
    admin("bob@example.org/phone", "<item nick='Carol' role='none'><reason>off topic</reason></item>");
    BOOST_TEST(last("carol@example.org/pc") == "presence team@conference.example.org/Carol unavailable 307 110");
    const xml::Element* item = nullptr;
    for (const auto& e : sent)
        if (e.attr_or("to") == "carol@example.org/pc") item = e.child("x", kNsMucUser)->child("item", kNsMucUser);
    BOOST_TEST_REQUIRE(item);
    BOOST_TEST(item->child("actor", kNsMucUser)->attr_or("nick") == "Bob");
    BOOST_TEST(item->child("reason", kNsMucUser)->text() == "off topic");
    BOOST_TEST(room.occupant_count() == 2u);
}

BOOST_FIXTURE_TEST_CASE(a_visitor_asks_for_voice_and_a_moderator_grants_it, Fixture) {
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk", field("muc#roomconfig_moderatedroom", "1"));
    join("bob@example.org/phone", "Bob");
    auto request = [](const std::string& extra, const std::string& type) {
        return xml::parse_element("<message xmlns='jabber:client'><x xmlns='jabber:x:data' type='" + type +
                                      "'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value>"
                                      "</field><field var='muc#role'><value>participant</value></field>" + extra +
                                      "</x></message>",
                                  xmpp::kNsClient, 16)
            .value();
    };
    sent.clear();
    room.message(request("", "submit"), jid("bob@example.org/phone"), "");
    BOOST_TEST_REQUIRE(to("alice@example.org/desk").size() == 1u, "muc: the moderator gets the approval form (§8.6)");
    const xml::Element* form = sent.back().child("x", "jabber:x:data");
    BOOST_TEST_REQUIRE(form);
    room.message(request("", "submit"), jid("bob@example.org/phone"), "");
    BOOST_TEST(to("alice@example.org/desk").size() == 1u, "muc: once, until it is answered");
    sent.clear();
    room.message(request("<field var='muc#roomnick'><value>Bob</value></field>"
                         "<field var='muc#request_allow'><value>true</value></field>",
                         "submit"),
                 jid("alice@example.org/desk"), "");
    BOOST_TEST(last("bob@example.org/phone") == "presence team@conference.example.org/Bob 110");
    say("bob@example.org/phone", "thanks");
    BOOST_TEST(last("alice@example.org/desk") == "message team@conference.example.org/Bob groupchat 'thanks'");
}

BOOST_FIXTURE_TEST_CASE(an_iq_to_an_occupant_is_relayed_and_its_answer_comes_back, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    sent.clear();
    xml::Element q("iq", std::string(xmpp::kNsClient));
    q.set_attr("type", "get");
    q.set_attr("id", "v1");
    q.set_attr("to", "team@conference.example.org/Bob");
    q.add_child("query", "jabber:iq:version");
    room.iq(q, jid("alice@example.org/desk"), "Bob");
    BOOST_TEST_REQUIRE(sent.size() == 1u);
    const xml::Element relayed = sent.back();
    BOOST_TEST(relayed.attr_or("to") == "bob@example.org/phone");
    BOOST_TEST(relayed.attr_or("from") == "team@conference.example.org/Alice", "muc: the asker's real JID stays hidden");
    BOOST_TEST(relayed.attr_or("id") != "v1");
    xml::Element answer("iq", std::string(xmpp::kNsClient));
    answer.set_attr("type", "result");
    answer.set_attr("id", std::string(relayed.attr_or("id")));
    answer.add_child("query", "jabber:iq:version");
    sent.clear();
    room.iq(answer, jid("mallory@example.org/x"), "Alice");
    BOOST_TEST(sent.empty(), "muc: an answer from anyone else is not taken");
    room.iq(answer, jid("bob@example.org/phone"), "Alice");
    BOOST_TEST_REQUIRE(sent.size() == 1u);
    BOOST_TEST(sent.back().attr_or("to") == "alice@example.org/desk");
    BOOST_TEST(sent.back().attr_or("from") == "team@conference.example.org/Bob");
    BOOST_TEST(sent.back().attr_or("id") == "v1");
    sent.clear();
    room.iq(answer, jid("bob@example.org/phone"), "Alice");
    BOOST_TEST(sent.empty(), "muc: once");
}

BOOST_FIXTURE_TEST_CASE(affiliations_change_only_as_xep_0045_permits, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    admin("alice@example.org/desk", "<item affiliation='admin' jid='bob@example.org'/>");
    admin("bob@example.org/phone", "<item affiliation='admin' jid='carol@example.org'/>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error forbidden", "muc: only owners make admins (§10.3)");
    admin("bob@example.org/phone", "<item affiliation='outcast' jid='alice@example.org'/>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error not-allowed", "muc: an admin cannot ban an owner (§9.1)");
    admin("alice@example.org/desk", "<item affiliation='member' jid='alice@example.org'/>");
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org error conflict", "muc: the last owner stays (§10.6)");
    admin("bob@example.org/phone", "<item affiliation='member' jid='carol@example.org'/>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org result");
    BOOST_TEST(std::string(name_of(room.affiliation_of(jid("carol@example.org/x")))) == "member");
    // All or nothing: one refused item refuses the request.
    admin("bob@example.org/phone",
          "<item affiliation='member' jid='dave@example.org'/><item affiliation='owner' jid='erin@example.org'/>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error forbidden");
    BOOST_TEST(std::string(name_of(room.affiliation_of(jid("dave@example.org")))) == "none");
    // An owner makes another owner; then the first may step down.
    admin("alice@example.org/desk", "<item affiliation='owner' jid='bob@example.org'/>");
    admin("alice@example.org/desk", "<item affiliation='admin' jid='alice@example.org'/>");
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org result");
    BOOST_TEST(std::string(name_of(room.affiliation_of(jid("alice@example.org")))) == "admin");
    // A bad form is refused whole, and the configuration stays.
    configure("bob@example.org/phone", field("muc#roomconfig_membersonly", "1") + field("muc#roomconfig_maxusers", "0"));
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error not-acceptable");
    BOOST_TEST(!room.config().members_only);
    configure("alice@example.org/desk", field("muc#roomconfig_membersonly", "1"));
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org error forbidden", "muc: only owners configure (§10.2)");
}

BOOST_FIXTURE_TEST_CASE(an_internal_room_admits_only_the_organisation_and_an_open_one_says_who_is_outside, Fixture) {
    room.set_own_domains([](std::string_view d) { return d == "example.org"; });
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk", field("parley#roomconfig_internal", "1"));
    join("pat@partner.example/x", "Pat");
    BOOST_TEST(last("pat@partner.example/x") == "presence team@conference.example.org/Pat error not-allowed");
    xml::Element inv("message", std::string(xmpp::kNsClient));
    inv.add_child("x", kNsMucUser).add_child("invite", kNsMucUser).set_attr("to", "pat@partner.example");
    room.message(inv, jid("alice@example.org/desk"), "");
    BOOST_TEST(last("alice@example.org/desk") == "message  error not-allowed");
    BOOST_TEST(to("pat@partner.example").empty());
    // Open to outsiders: everyone is told when one is present, and so is each newcomer.
    configure("alice@example.org/desk", field("parley#roomconfig_internal", "0"));
    sent.clear();
    join("pat@partner.example/x", "Pat");
    BOOST_TEST(last("alice@example.org/desk").find("people from outside the organisation") != std::string::npos);
    BOOST_TEST(last("alice@example.org/desk").find("partner.example") != std::string::npos);
    join("bob@example.org/phone", "Bob");
    BOOST_TEST(last("bob@example.org/phone").find("partner.example") != std::string::npos);
    // Made internal again: the outsider leaves.
    sent.clear();
    configure("alice@example.org/desk", field("parley#roomconfig_internal", "1"));
    BOOST_TEST(to("pat@partner.example/x").front() == "presence team@conference.example.org/Pat unavailable 307 110");
    BOOST_TEST(room.occupant_count() == 2u);
}

BOOST_AUTO_TEST_CASE(a_person_sending_too_fast_is_refused_with_resource_constraint) {
    std::vector<xml::Element> sent;
    int64_t now = 1'000'000;
    RoomLimits limits;
    limits.rate = 2;
    limits.burst = 3;
    Room room(jid("team@conference.example.org"), jid("alice@example.org/desk"), limits,
              [&](xml::Element e) { sent.push_back(std::move(e)); }, [&] { return now; });
    room.presence(Fixture::join_presence("alice@example.org/desk", "Alice"), jid("alice@example.org/desk"), "Alice");
    xml::Element form("iq", std::string(xmpp::kNsClient));
    form.set_attr("type", "set");
    form.add_child("query", kNsMucOwner).add_child("x", "jabber:x:data").set_attr("type", "submit");
    room.iq(form, jid("alice@example.org/desk"), "");
    auto say = [&] {
        sent.clear();
        xml::Element m("message", std::string(xmpp::kNsClient));
        m.set_attr("type", "groupchat");
        m.add_child("body", std::string(xmpp::kNsClient)).add_text("x");
        room.message(m, jid("alice@example.org/desk"), "");
        return sent.size() == 1 && sent[0].attr_or("type") == "groupchat";
    };
    BOOST_TEST(say());
    BOOST_TEST(say());
    BOOST_TEST(say());
    BOOST_TEST(!say(), "muc: past the burst");
    BOOST_TEST(sent[0].child("error", xmpp::kNsClient)->child("resource-constraint", "urn:ietf:params:xml:ns:xmpp-stanzas"));
    now += 500;  // one more allowed after half a second at 2 a second
    BOOST_TEST(say());
    BOOST_TEST(!say());
}

BOOST_FIXTURE_TEST_CASE(permissions_hold_against_batches_domains_and_lower_moderators, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    admin("alice@example.org/desk", "<item affiliation='owner' jid='bob@example.org'/>");
    // Two owners cannot both be demoted in one request: the room keeps one.
    admin("alice@example.org/desk", "<item affiliation='member' jid='bob@example.org'/>"
                                    "<item affiliation='member' jid='alice@example.org'/>");
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org error conflict");
    BOOST_TEST(std::string(name_of(room.affiliation_of(jid("bob@example.org")))) == "owner");
    // A domain made admin: an admin cannot ban one of its users.
    admin("alice@example.org/desk", "<item affiliation='admin' jid='partner.example'/>"
                                    "<item affiliation='admin' jid='carol@example.org'/>");
    admin("carol@example.org/pc", "<item affiliation='outcast' jid='pat@partner.example'/>");
    BOOST_TEST(last("carol@example.org/pc") == "iq team@conference.example.org error not-allowed");
    // A moderator without affiliation cannot kick a member.
    join("dave@example.org/x", "Dave");
    join("erin@example.org/y", "Erin");
    admin("alice@example.org/desk", "<item nick='Dave' role='moderator'/>"
                                    "<item affiliation='member' jid='erin@example.org'/>");
    admin("dave@example.org/x", "<item nick='Erin' role='none'/>");
    BOOST_TEST(last("dave@example.org/x") == "iq team@conference.example.org error not-allowed");
    // A forged occupant id in presence is not relayed.
    sent.clear();
    xml::Element p = join_presence("erin@example.org/y", "Erin");
    p.add_child("occupant-id", kNsOccupantId).set_attr("id", room.occupant_id(jid("alice@example.org")));
    room.presence(p, jid("erin@example.org/y"), "Erin");
    for (const auto& e : sent)
        if (e.attr_or("from") == "team@conference.example.org/Erin") {
            size_t ids = 0;
            for (const xml::Element& c : e.children())
                if (c.name() == "occupant-id") {
                    ++ids;
                    BOOST_TEST(c.attr_or("id") == room.occupant_id(jid("erin@example.org")));
                }
            BOOST_TEST(ids == 1u);
        }
}

BOOST_FIXTURE_TEST_CASE(a_refused_joiner_learns_nothing_of_the_nicknames_inside, Fixture) {
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk", field("muc#roomconfig_membersonly", "1"));
    join("mallory@example.org/x", "Alice");
    BOOST_TEST(last("mallory@example.org/x") == "presence team@conference.example.org/Alice error registration-required",
               "muc: not conflict, which would tell that Alice is in");
}

BOOST_AUTO_TEST_CASE(the_rate_is_per_person_and_survives_leaving) {
    std::vector<xml::Element> sent;
    int64_t now = 1'000'000;
    RoomLimits limits;
    limits.rate = 1;
    limits.burst = 2;
    Room room(jid("team@conference.example.org"), jid("alice@example.org/desk"), limits,
              [&](xml::Element e) { sent.push_back(std::move(e)); }, [&] { return now; });
    auto join = [&](const std::string& from, const std::string& nick) {
        room.presence(Fixture::join_presence(from, nick), jid(from), nick);
    };
    join("alice@example.org/desk", "Alice");
    xml::Element form("iq", std::string(xmpp::kNsClient));
    form.set_attr("type", "set");
    form.add_child("query", kNsMucOwner).add_child("x", "jabber:x:data").set_attr("type", "submit");
    room.iq(form, jid("alice@example.org/desk"), "");
    join("bob@example.org/a", "Bob");
    auto say = [&](const std::string& from) {
        sent.clear();
        xml::Element m("message", std::string(xmpp::kNsClient));
        m.set_attr("type", "groupchat");
        m.add_child("body", std::string(xmpp::kNsClient)).add_text("x");
        room.message(m, jid(from), "");
        return !sent.empty() && sent[0].attr_or("type") == "groupchat";
    };
    BOOST_TEST(say("bob@example.org/a"));
    BOOST_TEST(say("bob@example.org/a"));
    BOOST_TEST(!say("bob@example.org/a"));
    // Another client under another nickname, or leaving and coming back, gives no fresh allowance.
    xml::Element bye("presence", std::string(xmpp::kNsClient));
    bye.set_attr("type", "unavailable");
    room.presence(bye, jid("bob@example.org/a"), "Bob");
    join("bob@example.org/b", "Bobby");
    BOOST_TEST(!say("bob@example.org/b"));
    BOOST_TEST(say("alice@example.org/desk"), "muc: others are not affected");
}

BOOST_FIXTURE_TEST_CASE(a_registered_nickname_is_the_registrants_only, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    ask("bob@example.org/phone", "get", "<query xmlns='jabber:iq:register'/>");
    BOOST_TEST(xml::to_string(sent.back(), xmpp::kNsClient).find("muc#register_roomnick") != std::string::npos);
    ask("bob@example.org/phone", "set",
        "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
            field("FORM_TYPE", "http://jabber.org/protocol/muc#register") + field("muc#register_roomnick", "Robert") +
            "</x></query>");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org result");
    BOOST_TEST(std::string(name_of(room.affiliation_of(jid("bob@example.org")))) == "member",
               "muc: registering makes a member (§7.10)");
    ask("carol@example.org/pc", "set",
        "<query xmlns='jabber:iq:register'><x xmlns='jabber:x:data' type='submit'>" +
            field("muc#register_roomnick", "Robert") + "</x></query>");
    BOOST_TEST(last("carol@example.org/pc") == "iq team@conference.example.org error conflict");
    join("carol@example.org/pc", "Robert");
    BOOST_TEST(last("carol@example.org/pc") == "presence team@conference.example.org/Robert error conflict",
               "muc: nobody else joins under a registered nickname");
    join("bob@example.org/phone", "Robert");
    BOOST_TEST(room.occupant_count() == 2u);
    // §7.12: a person asks for their registered nickname.
    ask("bob@example.org/phone", "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/>");
    const xml::Element* id = sent.back().child("query", "http://jabber.org/protocol/disco#info")
                                 ->child("identity", "http://jabber.org/protocol/disco#info");
    BOOST_TEST_REQUIRE(id);
    BOOST_TEST(id->attr_or("name") == "Robert");
    // Kept with the room, and gone with the membership.
    auto back = Room::restore(xml::parse_element(xml::to_string(room.snapshot(), kNsRoomRecord), kNsRoomRecord, 16).value(),
                              RoomLimits{}, [](xml::Element) {}, [] { return int64_t{0}; });
    BOOST_TEST_REQUIRE(bool(back));
    BOOST_TEST(xml::to_string(back.value()->snapshot(), kNsRoomRecord).find("Robert") != std::string::npos);
    admin("alice@example.org/desk", "<item affiliation='none' jid='bob@example.org'/>");
    ask("bob@example.org/phone", "get", "<query xmlns='http://jabber.org/protocol/disco#info' node='x-roomuser-item'/>");
    BOOST_TEST(!sent.back().child("query", "http://jabber.org/protocol/disco#info")
                    ->child("identity", "http://jabber.org/protocol/disco#info"),
               "muc: the registration goes with the membership");
}

BOOST_FIXTURE_TEST_CASE(when_the_service_stops_every_occupant_is_told_332, Fixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    sent.clear();
    room.shutdown();
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"presence team@conference.example.org/Alice unavailable 332",
                                                      "presence team@conference.example.org/Bob unavailable 332 110"}));
    BOOST_TEST(room.empty());
}

BOOST_FIXTURE_TEST_CASE(a_stored_room_comes_back_as_it_was, Fixture) {
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk",
              field("muc#roomconfig_roomname", "Team &lt;&amp;&gt; room") + field("muc#roomconfig_persistentroom", "1") +
                  field("muc#roomconfig_membersonly", "1") + field("muc#roomconfig_passwordprotectedroom", "1") +
                  field("muc#roomconfig_roomsecret", "pw") + field("muc#roomconfig_whois", "anyone") +
                  field("muc#roomconfig_allowpm", "moderators") + field("muc#maxhistoryfetch", "1"));
    admin("alice@example.org/desk", "<item affiliation='member' jid='bob@example.org'/>"
                                    "<item affiliation='outcast' jid='mallory@example.org'><reason>no</reason></item>");
    xml::Element s("message", std::string(xmpp::kNsClient));
    s.set_attr("type", "groupchat");
    s.add_child("subject", std::string(xmpp::kNsClient)).add_text("Plans & more");
    room.message(s, jid("alice@example.org/desk"), "");
    BOOST_TEST(room.take_changed());
    const std::string text = xml::to_string(room.snapshot(), kNsRoomRecord);
    auto parsed = xml::parse_element(text, kNsRoomRecord, 16);
    BOOST_TEST_REQUIRE(bool(parsed));
    std::vector<xml::Element> out;
    auto back = Room::restore(parsed.value(), RoomLimits{3, 2}, [&](xml::Element e) { out.push_back(std::move(e)); },
                              [this] { return now; });
    BOOST_TEST_REQUIRE(bool(back));
    Room& r = *back.value();
    BOOST_TEST(xml::to_string(r.snapshot(), kNsRoomRecord) == text, "muc: a room's record round-trips");
    BOOST_TEST(!r.locked());
    BOOST_TEST(r.config().name == "Team <&> room");
    BOOST_TEST(r.config().persistent);
    BOOST_TEST(r.config().members_only);
    BOOST_TEST(r.config().whois_anyone);
    BOOST_TEST((r.config().allow_pm == PmPolicy::moderators));
    BOOST_TEST(std::string(name_of(r.affiliation_of(jid("alice@example.org")))) == "owner");
    BOOST_TEST(std::string(name_of(r.affiliation_of(jid("bob@example.org")))) == "member");
    BOOST_TEST(std::string(name_of(r.affiliation_of(jid("mallory@example.org")))) == "outcast");
    BOOST_TEST(password_matches(r.config().secret, "pw"));
    // A record this version cannot read is refused, not half-read.
    xml::Element broken = parsed.value();
    broken.child("config", kNsRoomRecord)->set_attr("members-only", "maybe");
    const bool restored = bool(Room::restore(broken, RoomLimits{}, [](xml::Element) {}, [] { return int64_t{0}; }));
    BOOST_TEST(!restored);
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// The journal as a room sees it: records what it is given; a query is
// remembered (access was granted) rather than answered.
struct FakeArchive : RoomArchive {
    bool compliance = false;
    bool refuse = false;
    uint64_t next = 0x100;
    struct Rec {
        std::string stanza, sender, outcome;
        bool in_view;
    };
    std::vector<Rec> records;
    std::vector<std::pair<std::string, bool>> queries;  // who, sees real JIDs
    bool available() const override { return true; }
    bool forced() const override { return compliance; }
    std::variant<uint64_t, StanzaError> record(const Room&, const xml::Element& said, const xmpp::Jid& sender,
                                               bool in_view, std::string_view outcome) override {
        if (refuse) return StanzaError::wait("resource-constraint", "full");
        records.push_back({xml::to_string(said, xmpp::kNsClient), sender.str(), std::string(outcome), in_view});
        return next++;
    }
    void query(const Room&, const xml::Element&, const xmpp::Jid& from, bool sees) override {
        queries.emplace_back(from.str(), sees);
    }
    bool contains(const Room&, uint64_t id) override { return id >= 0x100 && id < next; }
    std::vector<std::pair<uint64_t, std::string>> retractions;
    void retracted(const Room&, uint64_t id, const xml::Element& moderated) override {
        retractions.emplace_back(id, xml::to_string(moderated, kNsModerate));
    }
};

struct ArchivedFixture : Fixture {
    FakeArchive archive;
    ArchivedFixture() { room.set_archive(&archive); }
    void mam(const std::string& from) {
        ask(from, "set", "<query xmlns='urn:xmpp:mam:2'/>");
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(muc_archive)

BOOST_FIXTURE_TEST_CASE(a_room_message_is_journaled_once_and_carries_its_stanza_id_everywhere, ArchivedFixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    BOOST_TEST(to("bob@example.org/phone")[1] == "presence team@conference.example.org/Bob 110 170",
               "muc: those who join are told the room is archived");
    sent.clear();
    say("bob@example.org/phone", "minutes");
    BOOST_TEST_REQUIRE(archive.records.size() == 1u);
    BOOST_TEST(archive.records[0].sender == "bob@example.org/phone");
    BOOST_TEST(archive.records[0].in_view);
    BOOST_TEST(archive.records[0].stanza.find("team@conference.example.org/Bob") != std::string::npos);
    size_t stamped = 0;
    for (const auto& e : sent)
        if (const xml::Element* sid = e.child("stanza-id", kNsSid)) {
            BOOST_TEST(sid->attr_or("id") == "0000000000000100");
            BOOST_TEST(sid->attr_or("by") == "team@conference.example.org");
            ++stamped;
        }
    BOOST_TEST(stamped == 2u, "muc: each occupant's copy carries the record's id");
    sent.clear();
    join("carol@example.org/pc", "Carol");
    bool history_stamped = false;
    for (const auto& e : sent)
        if (e.attr_or("to") == "carol@example.org/pc" && e.child("delay", "urn:xmpp:delay"))
            history_stamped = e.child("stanza-id", kNsSid) != nullptr;
    BOOST_TEST(history_stamped);
    // A message the journal cannot take is refused, not sent unrecorded.
    archive.refuse = true;
    sent.clear();
    say("bob@example.org/phone", "lost?");
    BOOST_TEST(to("bob@example.org/phone") == (Lines{"message team@conference.example.org error resource-constraint 'lost?'"}));
    BOOST_TEST(to("alice@example.org/desk").empty());
    // disco says so, and a room can turn archiving off (not in compliance mode).
    archive.refuse = false;
    BOOST_TEST(xml::to_string(room.disco_info(), xmpp::kNsClient).find("urn:xmpp:mam:2") != std::string::npos);
    configure("alice@example.org/desk", field("muc#roomconfig_enablearchiving", "0"));
    BOOST_TEST(!room.archiving());
    say("bob@example.org/phone", "off the record");
    BOOST_TEST(archive.records.size() == 1u);
    BOOST_TEST(xml::to_string(room.disco_info(), xmpp::kNsClient).find("urn:xmpp:mam:2") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(in_compliance_mode_every_room_is_archived_and_refusals_are_kept, ArchivedFixture) {
    archive.compliance = true;
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk", field("muc#roomconfig_enablearchiving", "0"));
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org error not-acceptable");
    configure("alice@example.org/desk", field("muc#roomconfig_moderatedroom", "1"));
    join("bob@example.org/phone", "Bob");  // a visitor
    say("bob@example.org/phone", "may I?");
    say("mallory@example.org/x", "spam");
    BOOST_TEST_REQUIRE(archive.records.size() == 2u);
    BOOST_TEST(archive.records[0].outcome == "bounced");
    BOOST_TEST(!archive.records[0].in_view, "muc: a refused message is in no one's archive, only the journal");
    BOOST_TEST(archive.records[1].sender == "mallory@example.org/x");
}

BOOST_FIXTURE_TEST_CASE(only_those_who_may_see_the_history_now_query_the_archive, ArchivedFixture) {
    join("alice@example.org/desk", "Alice");
    configure("alice@example.org/desk", field("muc#roomconfig_membersonly", "1"));
    admin("alice@example.org/desk", "<item affiliation='member' jid='bob@example.org'/>");
    mam("bob@example.org/phone");
    mam("carol@example.org/pc");
    BOOST_TEST(last("carol@example.org/pc") == "iq team@conference.example.org error forbidden");
    admin("alice@example.org/desk", "<item affiliation='none' jid='bob@example.org'/>");
    mam("bob@example.org/phone");
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error forbidden",
               "muc: a removed member no longer reads the archive");
    admin("alice@example.org/desk", "<item affiliation='outcast' jid='mallory@example.org'/>");
    configure("alice@example.org/desk", field("muc#roomconfig_membersonly", "0"));
    mam("mallory@example.org/x");
    BOOST_TEST(last("mallory@example.org/x") == "iq team@conference.example.org error forbidden");
    mam("carol@example.org/pc");  // an open room: anyone
    mam("alice@example.org/desk");
    BOOST_TEST_REQUIRE(archive.queries.size() == 3u);
    BOOST_TEST(archive.queries[0].first == "bob@example.org/phone");
    BOOST_TEST(!archive.queries[1].second, "muc: a non-moderator does not see real JIDs");
    BOOST_TEST(archive.queries[2].second, "muc: the owner does");
}

BOOST_FIXTURE_TEST_CASE(a_moderator_retracts_a_message_and_the_record_keeps_who_when_and_why, ArchivedFixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    say("bob@example.org/phone", "my card is 4111 1111 1111 1111");
    const std::string id = "0000000000000100";
    auto moderate = [&](const std::string& from, const std::string& target) {
        ask(from, "set", "<moderate xmlns='urn:xmpp:message-moderate:1' id='" + target +
                             "'><retract xmlns='urn:xmpp:message-retract:1'/><reason>card number</reason></moderate>");
    };
    moderate("bob@example.org/phone", id);
    BOOST_TEST(last("bob@example.org/phone") == "iq team@conference.example.org error forbidden",
               "muc: only moderators retract others' messages");
    moderate("alice@example.org/desk", "00000000000000ff");
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org error item-not-found");
    sent.clear();
    moderate("alice@example.org/desk", id);
    BOOST_TEST(last("alice@example.org/desk") == "iq team@conference.example.org result");
    const xml::Element* retraction = nullptr;
    for (const auto& e : sent)
        if (e.attr_or("to") == "bob@example.org/phone" && e.child("retract", kNsRetract)) retraction = &e;
    BOOST_TEST_REQUIRE(retraction);
    const xml::Element* r = retraction->child("retract", kNsRetract);
    BOOST_TEST(r->attr_or("id") == id);
    BOOST_TEST(r->child("moderated", kNsModerate)->attr_or("by") == "team@conference.example.org/Alice");
    BOOST_TEST(r->child("reason", kNsRetract)->text() == "card number");
    BOOST_TEST(retraction->child("apply-to", kNsFasten), "muc: and the 0.2 form for older clients");
    BOOST_TEST(retraction->attr_or("from") == "team@conference.example.org");
    // Kept: the original stays in the journal, the retraction is a record
    // of its own, and MAM will answer a tombstone.
    BOOST_TEST(archive.records.size() == 2u);
    BOOST_TEST(archive.records[1].sender == "alice@example.org/desk");
    BOOST_TEST_REQUIRE(archive.retractions.size() == 1u);
    BOOST_TEST(archive.retractions[0].first == 0x100u);
    BOOST_TEST(archive.retractions[0].second.find("card number") != std::string::npos);
    // The history forgets it.
    sent.clear();
    join("carol@example.org/pc", "Carol");
    for (const auto& e : sent)
        if (const xml::Element* b = e.child("body", xmpp::kNsClient))
            BOOST_TEST(b->text().find("4111") == std::string::npos);
}

BOOST_FIXTURE_TEST_CASE(occupant_ids_are_stable_per_person_and_cannot_be_forged, ArchivedFixture) {
    join("alice@example.org/desk", "Alice");
    instant();
    join("bob@example.org/phone", "Bob");
    join("bob@example.org/laptop", "Bob");
    auto ids_from = [&](const std::string& from) {
        std::vector<std::string> out;
        for (const auto& e : sent)
            if (e.attr_or("from") == from)
                if (const xml::Element* o = e.child("occupant-id", kNsOccupantId)) out.push_back(std::string(o->attr_or("id")));
        return out;
    };
    const std::string bob = room.occupant_id(jid("bob@example.org/any"));
    BOOST_TEST(!bob.empty());
    BOOST_TEST(bob != room.occupant_id(jid("alice@example.org")));
    for (const auto& id : ids_from("team@conference.example.org/Bob")) BOOST_TEST(id == bob);
    sent.clear();
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("type", "groupchat");
    m.add_child("body", std::string(xmpp::kNsClient)).add_text("I am alice");
    m.add_child("occupant-id", kNsOccupantId).set_attr("id", room.occupant_id(jid("alice@example.org")));
    room.message(m, jid("bob@example.org/laptop"), "");
    BOOST_TEST(ids_from("team@conference.example.org/Bob") == (std::vector<std::string>(3, bob)),
               "muc: the sender's own claim is replaced by the room's id");
    // Another room gives other ids; a stored room keeps its own.
    Room other(jid("other@conference.example.org"), jid("alice@example.org/desk"), RoomLimits{}, [](xml::Element) {},
               [] { return int64_t{0}; });
    BOOST_TEST(other.occupant_id(jid("bob@example.org")) != bob);
    auto back = Room::restore(xml::parse_element(xml::to_string(room.snapshot(), kNsRoomRecord), kNsRoomRecord, 16).value(),
                              RoomLimits{}, [](xml::Element) {}, [] { return int64_t{0}; });
    BOOST_TEST_REQUIRE(bool(back));
    BOOST_TEST(back.value()->occupant_id(jid("bob@example.org")) == bob);
}

BOOST_AUTO_TEST_SUITE_END()

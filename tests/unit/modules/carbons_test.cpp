// mod_carbons: the XEP-0280 rules (which messages, the wrapper), the enable
// and disable requests against a fake host, and the copies made on two
// running workers with the real router: who gets a <sent/> or <received/>
// copy, exactly once, only after the message was carried out, and never a
// forged one.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "../modules/carbons/carbons.hpp"
#include "support/fake_host.hpp"
#include "support/seams_fixture.hpp"

using namespace parley;
using namespace parley::mod_carbons;
using test::jid;

namespace {

xml::Element msg(const std::string& type, bool body = true) {
    xml::Element m("message", std::string(xmpp::kNsClient));
    if (!type.empty()) m.set_attr("type", type);
    if (body) m.add_child("body", std::string(xmpp::kNsClient)).add_text("hi");
    return m;
}

xml::Element with(xml::Element m, const std::string& name, const std::string& ns) {
    m.add_child(name, ns);
    return m;
}

// Two workers, the real router, and mod_carbons started on each.
struct CarbonsFixture : test::SeamsFixture {
    std::unique_ptr<loop::WorkerHost> chosts[2];
    Carbons mods[2];

    CarbonsFixture() {
        for (unsigned i = 0; i < 2; ++i)
            on(i, [this, i](loop::Worker& w) {
                chosts[i] = std::make_unique<loop::WorkerHost>(w, "carbons", config::Section{});
                chosts[i]->set_instance(&mods[i]);
                BOOST_REQUIRE(mods[i].start(*chosts[i]).is_ok());
            });
    }
    ~CarbonsFixture() {
        for (unsigned i = 0; i < 2; ++i)
            on(i, [this, i](loop::Worker&) {
                mods[i].stop();
                chosts[i].reset();
            });
    }

    // Session `s` (on worker i) enables or disables carbons; returns the reply's type.
    std::string toggle(unsigned i, test::FakeSession& s, bool on_) {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("from", s.full_jid().str());
        iq.set_attr("to", s.full_jid().bare_str());
        iq.set_attr("type", "set");
        const std::string id = std::string(on_ ? "enable-" : "disable-") + s.full_jid().resource();
        iq.set_attr("id", id);
        iq.add_child(on_ ? "enable" : "disable", std::string(kNsCarbons));
        send(i, std::move(iq));
        settle();
        std::string type;
        this->on(i, [&](loop::Worker&) {
            for (const auto& e : s.received)
                if (e.attr_or("id") == id) type = std::string(e.attr_or("type"));
        });
        return type;
    }

    // What session s (on worker i) received: "id" for a plain stanza,
    // "sent:id" / "received:id" for a copy, checked to be from the bare JID
    // and addressed to the session.
    std::vector<std::string> got(unsigned i, test::FakeSession& s) {
        std::vector<std::string> out;
        on(i, [&](loop::Worker&) {
            for (const auto& e : s.received) {
                std::string what;
                for (const char* d : {"sent", "received"})
                    if (const auto* w = e.child(d, kNsCarbons)) {
                        const auto* fwd = w->child("forwarded", kNsForward);
                        const auto* inner = fwd ? fwd->child("message", xmpp::kNsClient) : nullptr;
                        BOOST_TEST(e.attr_or("from") == s.full_jid().bare_str(), "carbons: a copy comes from the bare JID");
                        BOOST_TEST(e.attr_or("to") == s.full_jid().str(), "carbons: a copy is addressed to its session");
                        what = std::string(d) + ":" + (inner ? std::string(inner->attr_or("id")) : "?");
                    }
                if (what.empty()) what = std::string(e.attr_or("type")) == "error" ? "error:" + std::string(e.attr_or("id"))
                                                                                : std::string(e.attr_or("id"));
                if (what.rfind("enable-", 0) == 0 || what.rfind("disable-", 0) == 0) continue;
                out.push_back(what);
            }
        });
        return out;
    }
    void forget(unsigned i, test::FakeSession& s) {
        on(i, [&](loop::Worker&) { s.received.clear(); });
    }
};

using V = std::vector<std::string>;

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_carbons)

BOOST_AUTO_TEST_CASE(eligible_messages_follow_the_recommended_rules) {
    using D = Direction;
    BOOST_TEST(eligible(msg("chat"), D::sent, false));
    BOOST_TEST(eligible(msg("chat", false), D::received, false), "carbons: chat needs no body");
    BOOST_TEST(eligible(msg("normal"), D::sent, false));
    BOOST_TEST(eligible(msg(""), D::received, false), "carbons: no type is normal");
    BOOST_TEST(!eligible(msg("normal", false), D::sent, false), "carbons: a normal message without body is not IM");
    BOOST_TEST(!eligible(msg("groupchat"), D::sent, false));
    BOOST_TEST(!eligible(msg("error"), D::received, false));
    BOOST_TEST(!eligible(msg("headline"), D::received, false));
    BOOST_TEST(eligible(with(msg("", false), "received", "urn:xmpp:receipts"), D::received, false));
    BOOST_TEST(eligible(with(msg("", false), "composing", "http://jabber.org/protocol/chatstates"), D::sent, false));
    BOOST_TEST(eligible(with(msg("", false), "displayed", "urn:xmpp:chat-markers:0"), D::sent, false));
    BOOST_TEST(eligible(with(msg("", false), "x", "jabber:x:conference"), D::received, false));
    BOOST_TEST(!eligible(with(msg("chat"), "private", std::string(kNsCarbons)), D::sent, false));
    BOOST_TEST(!eligible(with(msg("chat"), "no-copy", std::string(kNsHints)), D::received, false));
    BOOST_TEST(!eligible(with(msg("chat"), "received", std::string(kNsCarbons)), D::received, false),
               "carbons: a carbon is never copied again");
    // MUC private messages: copied when sent, not when received.
    auto pm = with(msg("chat"), "x", std::string(kNsMucUser));
    BOOST_TEST(eligible(pm, D::sent, false));
    BOOST_TEST(!eligible(pm, D::received, false));
    BOOST_TEST(!eligible(msg("chat"), D::received, true), "carbons: a PM from an occupant without <x/>");
    xml::Element invite = msg("", false);
    invite.add_child("x", std::string(kNsMucUser)).add_child("invite", std::string(kNsMucUser));
    BOOST_TEST(eligible(invite, D::received, false), "carbons: a mediated invitation is copied");
    xml::Element presence("presence", std::string(xmpp::kNsClient));
    BOOST_TEST(!eligible(presence, D::sent, false));
}

BOOST_AUTO_TEST_CASE(a_copy_wraps_the_original_from_the_bare_jid) {
    xml::Element original = msg("chat");
    original.set_attr("id", "m1");
    original.set_attr("from", "juliet@example.net/balcony");
    xml::Element c = wrap(Direction::received, jid("romeo@example.org"), jid("romeo@example.org/home"), original);
    BOOST_TEST(c.name() == "message");
    BOOST_TEST(c.attr_or("from") == "romeo@example.org");
    BOOST_TEST(c.attr_or("to") == "romeo@example.org/home");
    BOOST_TEST(c.attr_or("type") == "chat", "carbons: the wrapper keeps the type");
    const auto* r = c.child("received", kNsCarbons);
    BOOST_REQUIRE(r);
    const auto* f = r->child("forwarded", kNsForward);
    BOOST_REQUIRE(f);
    const auto* inner = f->child("message", xmpp::kNsClient);
    BOOST_REQUIRE(inner);
    BOOST_TEST((*inner == original), "carbons: the original is forwarded unchanged");
    BOOST_TEST(is_carbon(c));
    BOOST_TEST(!is_carbon(original));
    BOOST_TEST(!wrap(Direction::sent, jid("a@example.org"), jid("a@example.org/x"), msg("")).attr("type"),
               "carbons: no type stays no type");
}

BOOST_AUTO_TEST_CASE(enable_and_disable_are_for_ones_own_session_only) {
    test::FakeHost host;
    Carbons m;
    host.module_instance = &m;
    BOOST_REQUIRE(m.start(host).is_ok());
    BOOST_TEST(host.disco_features() == std::vector<std::string>{std::string(kNsCarbons)});
    module::SessionInfo s{jid("juliet@example.org/balcony"), {0, 7}, true, 0};
    host.sessions.push_back(s);
    auto enable = [&](const std::string& to, const char* what = "enable") {
        return host.ask(module::IqTarget::account, "set", xml::Element(what, std::string(kNsCarbons)), to);
    };
    auto r = enable("juliet@example.org");
    BOOST_TEST(r->answers == 1);
    BOOST_TEST(r->ok);
    BOOST_TEST(m.enabled(7));
    BOOST_TEST(enable("juliet@example.org")->ok, "carbons: enabling twice is no error (§10.1)");
    BOOST_TEST(enable("juliet@example.org", "disable")->ok);
    BOOST_TEST(!m.enabled(7));
    BOOST_TEST(enable("juliet@example.org", "disable")->ok, "carbons: disabling twice is no error");
    // Another account's address: the answer an account with nothing to answer gets.
    r = enable("romeo@example.org");
    BOOST_TEST(!r->ok);
    BOOST_TEST(r->err.condition == recipient_unavailable().condition);
    BOOST_TEST(r->err.text == recipient_unavailable().text, "carbons: no enumeration through the text");
    // A session that is gone cannot enable anything.
    host.sessions.clear();
    r = enable("juliet@example.org");
    BOOST_TEST(!r->ok);
    BOOST_TEST(r->err.condition == "not-allowed");
}

BOOST_AUTO_TEST_CASE(clients_cannot_send_carbons_and_sessions_get_only_their_own) {
    test::FakeHost host;
    Carbons m;
    host.module_instance = &m;
    BOOST_REQUIRE(m.start(host).is_ok());
    auto run = [&](module::HookPoint point, xml::Element& stanza, const std::string& from, const std::string& to) {
        auto f = jid(from), t = jid(to);
        module::StanzaContext ctx{stanza, f, t, point == module::HookPoint::stanza_in};
        for (auto& [p, prio, fn] : host.hooks)
            if (p == point) {
                auto r = fn(ctx);
                if (r.verdict != module::HookResult::Verdict::pass) return r;
            }
        return module::HookResult::pass();
    };
    xml::Element forged = wrap(Direction::received, jid("romeo@example.org"), jid("romeo@example.org/home"), msg("chat"));
    forged.set_attr("from", "tybalt@example.org/home");
    forged.set_attr("to", "romeo@example.org");
    auto r = run(module::HookPoint::stanza_in, forged, "tybalt@example.org/home", "romeo@example.org");
    BOOST_TEST((r.verdict == module::HookResult::Verdict::handled), "carbons: a client's wrapper goes no further");
    BOOST_REQUIRE(host.sent.size() == 1u);
    const xml::Element& err = host.sent[0];
    BOOST_TEST(err.attr_or("type") == "error");
    BOOST_TEST(err.attr_or("to") == "tybalt@example.org/home");
    const auto* e = err.child("error", xmpp::kNsClient);
    BOOST_TEST((e && e->child("forbidden", xmpp::kNsStanzas)), "carbons: the sender is told it is forbidden");
    BOOST_TEST(!is_carbon(err), "carbons: the error does not carry the wrapper back");
    xml::Element forged_error = forged;
    forged_error.set_attr("type", "error");
    BOOST_TEST((run(module::HookPoint::stanza_in, forged_error, "tybalt@example.org/home", "romeo@example.org").verdict ==
                module::HookResult::Verdict::handled));
    BOOST_TEST(host.sent.size() == 1u, "carbons: an error is never answered");
    xml::Element plain = msg("chat");
    BOOST_TEST((run(module::HookPoint::stanza_in, plain, "tybalt@example.org/home", "romeo@example.org").verdict ==
                module::HookResult::Verdict::pass));
    // On the way out: only from the session's own bare JID.
    using Verdict = module::HookResult::Verdict;
    BOOST_TEST((run(module::HookPoint::stanza_out, forged, "tybalt@example.org/home", "romeo@example.org/home").verdict ==
                Verdict::handled));
    BOOST_TEST((run(module::HookPoint::stanza_out, forged, "tybalt@example.org", "romeo@example.org/home").verdict ==
                Verdict::handled));
    BOOST_TEST((run(module::HookPoint::stanza_out, forged, "romeo@example.org/other", "romeo@example.org/home").verdict ==
                Verdict::handled), "carbons: not even from another resource of the account");
    BOOST_TEST((run(module::HookPoint::stanza_out, forged, "example.org", "romeo@example.org/home").verdict ==
                Verdict::handled));
    BOOST_TEST((run(module::HookPoint::stanza_out, forged, "romeo@example.org", "romeo@example.org/home").verdict ==
                Verdict::pass));
    BOOST_TEST((run(module::HookPoint::stanza_out, plain, "tybalt@example.org/home", "romeo@example.org/home").verdict ==
                Verdict::pass));
}

BOOST_FIXTURE_TEST_CASE(received_copies_go_to_the_enabled_sessions_that_did_not_get_the_message, CarbonsFixture) {
    auto& a = bind(0, "alice@example.org/a", 5);  // the highest priority: gets messages to the bare JID
    auto& b = bind(1, "alice@example.org/b", 0);
    auto& c = bind(0, "alice@example.org/c", 0);
    auto& d = bind(1, "alice@example.org/d", -1);  // never gets messages to the bare JID
    auto& bob = bind(1, "bob@example.org/x");
    for (auto [i, s] : {std::pair{0u, &a}, {1u, &b}, {1u, &d}}) BOOST_TEST(toggle(i, *s, true) == "result");
    // To the bare JID: a gets it, the other enabled sessions a copy; c has carbons off.
    send(1, test::message("bob@example.org/x", "alice@example.org", "m-bare"));
    settle();
    BOOST_TEST((got(0, a) == V{"m-bare"}));
    BOOST_TEST((got(1, b) == V{"received:m-bare"}));
    BOOST_TEST(got(0, c).empty(), "carbons: a session without carbons gets no copy");
    BOOST_TEST((got(1, d) == V{"received:m-bare"}), "carbons: a negative priority session gets a copy");
    BOOST_TEST(got(1, bob).empty(), "carbons: the sender of another account gets nothing");
    for (auto [i, s] : {std::pair{0u, &a}, {1u, &b}, {0u, &c}, {1u, &d}}) forget(i, *s);
    // To a full JID: the others get a copy, b only the message.
    send(1, test::message("bob@example.org/x", "alice@example.org/b", "m-full"));
    settle();
    BOOST_TEST((got(0, a) == V{"received:m-full"}));
    BOOST_TEST((got(1, b) == V{"m-full"}));
    BOOST_TEST(got(0, c).empty());
    BOOST_TEST((got(1, d) == V{"received:m-full"}));
    for (auto [i, s] : {std::pair{0u, &a}, {1u, &b}, {1u, &d}}) forget(i, *s);
    // Not IM, or not to be copied: nobody gets a copy.
    auto groupchat = test::message("bob@example.org/x", "alice@example.org/b", "m-headline", "headline");
    send(1, std::move(groupchat));
    auto priv = test::message("bob@example.org/x", "alice@example.org/b", "m-private");
    priv.add_child("private", std::string(kNsCarbons));
    send(1, std::move(priv));
    auto nocopy = test::message("bob@example.org/x", "alice@example.org/b", "m-nocopy");
    nocopy.add_child("no-copy", std::string(kNsHints));
    send(1, std::move(nocopy));
    settle();
    BOOST_TEST(got(0, a).empty());
    BOOST_TEST((got(1, b) == V{"m-headline", "m-private", "m-nocopy"}));
    BOOST_TEST(got(1, d).empty());
    // Disabled: no more copies.
    BOOST_TEST(toggle(1, d, false) == "result");
    send(1, test::message("bob@example.org/x", "alice@example.org/b", "m-after"));
    settle();
    BOOST_TEST((got(0, a) == V{"received:m-after"}));
    BOOST_TEST(got(1, d).empty(), "carbons: a disabled session gets no copy");
}

BOOST_FIXTURE_TEST_CASE(sent_copies_go_to_the_other_enabled_sessions_of_the_sender, CarbonsFixture) {
    auto& a = bind(0, "alice@example.org/a", 5);
    auto& b = bind(1, "alice@example.org/b", 0);
    auto& c = bind(0, "alice@example.org/c", 0);
    auto& bob = bind(1, "bob@example.org/x");
    BOOST_TEST(toggle(1, b, true) == "result");
    BOOST_TEST(toggle(0, c, true) == "result");
    // a has carbons off: its messages are copied all the same (§8).
    send(0, test::message("alice@example.org/a", "bob@example.org", "m-out"));
    settle();
    BOOST_TEST(got(0, a).empty(), "carbons: the sending session gets no copy");
    BOOST_TEST((got(1, b) == V{"sent:m-out"}));
    BOOST_TEST((got(0, c) == V{"sent:m-out"}));
    BOOST_TEST((got(1, bob) == V{"m-out"}));
    for (auto [i, s] : {std::pair{1u, &b}, {0u, &c}}) forget(i, *s);
    // To a bounced address (no such account): nothing was sent, nothing copied.
    send(0, test::message("alice@example.org/a", "nobody@example.org", "m-bounced"));
    settle();
    BOOST_TEST(got(1, b).empty());
    // To oneself: the highest priority session gets it, every other enabled
    // session exactly one copy, the sent one.
    send(1, test::message("alice@example.org/b", "alice@example.org", "m-self"));
    settle();
    BOOST_TEST((got(0, a) == V{"error:m-bounced", "m-self"}));
    BOOST_TEST(got(1, b).empty(), "carbons: the sender gets no copy of its own message to itself");
    BOOST_TEST((got(0, c) == V{"sent:m-self"}));
}

BOOST_FIXTURE_TEST_CASE(copies_wait_for_a_held_message_and_none_is_made_when_it_is_refused, CarbonsFixture) {
    std::vector<std::shared_ptr<module::Hold>> holds;  // worker 1
    on(1, [&](loop::Worker&) {
        hosts[1]->on_routed(0, [&](module::RoutedContext& ctx) {
            if (ctx.stanza.attr_or("id").substr(0, 4) == "hold" && ctx.stanza.attr_or("type") != "error")
                holds.push_back(ctx.hold());
        });
    });
    auto& a = bind(0, "alice@example.org/a", 5);
    auto& b = bind(1, "alice@example.org/b", 0);
    bind(1, "bob@example.org/x");
    BOOST_TEST(toggle(1, b, true) == "result");
    send(1, test::message("bob@example.org/x", "alice@example.org", "hold-1"));
    send(1, test::message("bob@example.org/x", "alice@example.org", "hold-2"));
    settle();
    BOOST_TEST(got(1, b).empty(), "carbons: no copy of a message still held");
    on(1, [&](loop::Worker&) { holds.at(0)->release(); });
    on(1, [&](loop::Worker&) { holds.at(1)->reject(StanzaError::cancel("not-acceptable", "refused")); });
    settle();
    BOOST_TEST((got(0, a) == V{"hold-1"}));
    BOOST_TEST((got(1, b) == V{"received:hold-1"}), "carbons: the refused message is not copied");
}

BOOST_FIXTURE_TEST_CASE(a_forged_carbon_routed_by_anyone_reaches_no_session, CarbonsFixture) {
    auto& a = bind(0, "alice@example.org/a");
    // As a module or a remote server would route it: no stanza_in on the way.
    auto forged = wrap(Direction::sent, jid("alice@example.org"), jid("alice@example.org/a"),
                       test::message("alice@example.org/z", "bob@example.org", "inner"));
    forged.set_attr("from", "bob@example.org/x");
    forged.set_attr("id", "forged");
    send(1, forged, module::Origin::server);
    auto genuine = wrap(Direction::sent, jid("alice@example.org"), jid("alice@example.org/a"),
                        test::message("alice@example.org/z", "bob@example.org", "inner2"));
    genuine.set_attr("id", "genuine");
    send(1, genuine, module::Origin::server);
    settle();
    BOOST_TEST((got(0, a) == V{"sent:inner2"}), "carbons: only the copy from alice's bare JID reaches her");
}

BOOST_AUTO_TEST_SUITE_END()

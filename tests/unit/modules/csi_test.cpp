// mod_csi against the fake host: what waits while a client is inactive, in
// what order it goes out, and when.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include "../modules/csi/client_state.hpp"
#include "support/fake_host.hpp"
#include "support/option_docs.hpp"

using namespace parley;
using namespace parley::mod_csi;

namespace {

xmpp::Jid jid(const char* s) { return xmpp::Jid::parse(s).value(); }

xml::Element presence(const std::string& from, const std::string& id, const std::string& type = "") {
    xml::Element p("presence", "jabber:client");
    p.set_attr("from", from);
    p.set_attr("id", id);
    if (!type.empty()) p.set_attr("type", type);
    return p;
}

xml::Element message(const std::string& id, bool body, const char* extra_ns = nullptr, const char* extra = nullptr) {
    xml::Element m("message", "jabber:client");
    m.set_attr("from", "bob@example.org/b");
    m.set_attr("id", id);
    m.set_attr("type", "chat");
    if (body) m.add_child("body", "jabber:client").add_text("hi");
    if (extra) m.add_child(extra, extra_ns);
    return m;
}

xml::Element chat_state(const std::string& id) {
    return message(id, false, "http://jabber.org/protocol/chatstates", "composing");
}

struct CsiFixture {
    test::FakeHost host;
    ClientState csi;
    const xmpp::Jid alice = jid("alice@example.org/phone");
    static constexpr uint64_t kId = 4;

    explicit CsiFixture(int64_t max_held = 100) {
        host.section.values["max_held"].value = max_held;
        host.module_instance = &csi;
        BOOST_REQUIRE(csi.configure(host.section).is_ok());
        BOOST_REQUIRE(csi.start(host).is_ok());
        host.sessions.push_back(module::SessionInfo{alice, sessions::SessionRef{0, kId}, true, 0});
    }
    void nonza(const char* name) {
        auto it = host.nonzas.find(std::make_tuple(static_cast<int>(module::StreamStage::bound), std::string(kNsCsi),
                                                   std::string(name)));
        BOOST_REQUIRE_MESSAGE(it != host.nonzas.end(), "csi: no handler for " << name);
        struct Quiet final : module::StreamControl {
            int calls = 0;
            void send(const xml::Element&) override { ++calls; }
            void stream_error(xmpp::StreamErrorCondition, std::string_view) override { ++calls; }
            void close() override { ++calls; }
            void resume(const module::SessionInfo&, module::ResumeDone) override { ++calls; }
        } st;
        xml::Element el(name, kNsCsi);
        it->second(module::StreamInfo{"example.org", "s", true, kId, alice}, el, st);
        BOOST_TEST(st.calls == 0, "csi: no reply to <" << name << "/>");
    }
    // Delivers `st` to the session through the stanza_out hooks: "out" if it
    // went on to the session, "held" if a hook kept it.
    std::string deliver(xml::Element st) {
        xmpp::Jid from = jid(std::string(st.attr_or("from")).c_str());
        module::StanzaContext c{st, from, alice, false, kId};
        for (auto& [point, prio, fn] : host.hooks) {
            if (point != module::HookPoint::stanza_out) continue;
            auto r = fn(c);
            if (r.verdict == module::HookResult::Verdict::handled) return "held";
        }
        written.push_back(std::string(st.attr_or("id")));
        return "out";
    }
    // Appends what the module flushed (send_to_session) to `written`, the
    // ids the session was written in order; call right after each step.
    void collect() {
        for (auto& [id, e] : host.to_sessions) {
            BOOST_TEST(id == kId);
            written.push_back(std::string(e.attr_or("id")));
        }
        host.to_sessions.clear();
    }
    std::vector<std::string> written;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_csi)

BOOST_AUTO_TEST_CASE(the_readme_documents_every_option) {
    const std::string doc = test::read_text(std::string(PARLEY_TEST_SRCDIR) + "/modules/csi/README.md");
    BOOST_REQUIRE(!doc.empty());
    const auto missing = test::undocumented_options(doc, kOptions, kOptionCount);
    BOOST_TEST(missing.empty(), "csi README: " << fmt::format("{}", fmt::join(missing, "; ")));
}

BOOST_FIXTURE_TEST_CASE(the_feature_is_offered_with_bind, CsiFixture) {
    BOOST_REQUIRE_EQUAL(host.features_at.size(), 1u);
    BOOST_TEST((host.features_at[0].first == module::StreamStage::after_auth));
    auto el = host.features_at[0].second(module::StreamInfo{"example.org", "s", true, 0, alice});
    BOOST_REQUIRE(el.has_value());
    BOOST_TEST(el->name() == "csi");
    BOOST_TEST(el->ns() == kNsCsi);
}

BOOST_AUTO_TEST_CASE(what_can_wait) {
    const auto me = jid("alice@example.org/phone");
    BOOST_TEST(can_wait(presence("bob@example.org/b", "p"), me));
    BOOST_TEST(can_wait(presence("bob@example.org/b", "p", "unavailable"), me));
    BOOST_TEST(!can_wait(presence("bob@example.org", "p", "subscribe"), me));
    BOOST_TEST(!can_wait(presence("bob@example.org/b", "p", "error"), me));
    BOOST_TEST(!can_wait(presence("alice@example.org/phone", "p"), me), "csi: its own presence, reflected");
    xml::Element self = presence("room@muc.example.org/alice", "p");
    self.add_child("x", "http://jabber.org/protocol/muc#user").add_child("status", "http://jabber.org/protocol/muc#user")
        .set_attr("code", "110");
    BOOST_TEST(!can_wait(self, me), "csi: MUC self-presence");
    BOOST_TEST(can_wait(chat_state("c"), me));
    BOOST_TEST(!can_wait(message("m", true), me));
    BOOST_TEST(!can_wait(message("m", false), me), "csi: a message with no chat state is not held");
    xml::Element omemo = chat_state("o");
    omemo.add_child("encrypted", "eu.siacs.conversations.axolotl");
    BOOST_TEST(!can_wait(omemo, me));
    xml::Element receipt = chat_state("r");
    receipt.add_child("request", "urn:xmpp:receipts");
    BOOST_TEST(!can_wait(receipt, me));
    xml::Element subject = chat_state("s");
    subject.add_child("subject", "jabber:client").add_text("topic");
    BOOST_TEST(!can_wait(subject, me));
    // Carbon copies are judged by the message inside.
    auto carbon = [](xml::Element inner) {
        xml::Element m("message", "jabber:client");
        m.set_attr("from", "alice@example.org");
        m.add_child("sent", "urn:xmpp:carbons:2").add_child("forwarded", "urn:xmpp:forward:0").add_child(std::move(inner));
        return m;
    };
    BOOST_TEST(can_wait(carbon(chat_state("cc")), me));
    BOOST_TEST(!can_wait(carbon(message("cm", true)), me));
    xml::Element iq("iq", "jabber:client");
    iq.set_attr("type", "get");
    BOOST_TEST(!can_wait(iq, me));
}

BOOST_FIXTURE_TEST_CASE(an_active_client_gets_everything_at_once, CsiFixture) {
    BOOST_TEST(deliver(presence("bob@example.org/b", "p1")) == "out");
    nonza("inactive");
    nonza("active");
    BOOST_TEST(deliver(chat_state("c1")) == "out");
}

BOOST_FIXTURE_TEST_CASE(inactive_holds_presence_latest_per_sender_and_urgent_stanzas_keep_the_order, CsiFixture) {
    nonza("inactive");
    BOOST_TEST(deliver(presence("bob@example.org/b", "bob1")) == "held");
    BOOST_TEST(deliver(presence("carol@example.org/c", "carol1")) == "held");
    BOOST_TEST(deliver(chat_state("state1")) == "held");
    BOOST_TEST(deliver(presence("bob@example.org/b", "bob2", "unavailable")) == "held");
    BOOST_TEST(host.to_sessions.empty());
    // A message with a body: what was held first, then it.
    BOOST_TEST(deliver(message("hello", true)) == "out");
    // (the flush happened inside the hook, before the message went on)
    std::vector<std::string> flushed;
    for (auto& [id, e] : host.to_sessions) flushed.push_back(std::string(e.attr_or("id")));
    host.to_sessions.clear();
    BOOST_TEST((flushed == std::vector<std::string>{"carol1", "state1", "bob2"}), "csi: flushed in order");
    // Still inactive: the next update waits again.
    BOOST_TEST(deliver(presence("bob@example.org/b", "bob3")) == "held");
    nonza("active");
    collect();
    BOOST_TEST((written == std::vector<std::string>{"hello", "bob3"}));
    BOOST_TEST(deliver(presence("bob@example.org/b", "bob4")) == "out");
}

BOOST_AUTO_TEST_CASE(held_stanzas_are_bounded) {
    CsiFixture f(3);
    f.nonza("inactive");
    for (int i = 0; i < 3; ++i) BOOST_TEST(f.deliver(chat_state("c" + std::to_string(i))) == "held");
    BOOST_TEST(f.host.to_sessions.empty());
    BOOST_TEST(f.deliver(chat_state("c3")) == "held");
    f.collect();
    BOOST_TEST((f.written == std::vector<std::string>{"c0", "c1", "c2", "c3"}), "csi: past max_held all go out");
    BOOST_TEST(f.deliver(chat_state("c4")) == "held", "csi: and the client is still inactive");
}

BOOST_FIXTURE_TEST_CASE(a_resumed_stream_starts_active, CsiFixture) {
    nonza("inactive");
    BOOST_TEST(deliver(presence("bob@example.org/b", "p1")) == "held");
    host.fire(module::SessionEvent::resumed, host.sessions[0]);
    collect();
    BOOST_TEST((written == std::vector<std::string>{"p1"}));
    BOOST_TEST(deliver(presence("bob@example.org/b", "p2")) == "out");
}

BOOST_FIXTURE_TEST_CASE(stopping_sends_what_was_held, CsiFixture) {
    nonza("inactive");
    BOOST_TEST(deliver(chat_state("c1")) == "held");
    csi.stop();
    collect();
    BOOST_TEST((written == std::vector<std::string>{"c1"}));
}

BOOST_AUTO_TEST_SUITE_END()

// mod_sm against the fake host: enabling, both counters, acknowledgements,
// the bound on unacknowledged stanzas, resumption answers and what a session
// that ends does with what it kept; the directory of SM-IDs.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fmt/format.h>

#include <set>

#include "../modules/sm/resumption_directory.hpp"
#include "../modules/sm/stream_management.hpp"
#include "support/fake_host.hpp"
#include "support/option_docs.hpp"
#include "xml/serializer.hpp"

using namespace parley;
using namespace parley::mod_sm;

namespace {

std::string str(const xml::Element& e) {
    std::string s;
    xml::serialize(e, s, "jabber:client");
    return s;
}

// A stream as a nonza handler sees it.
struct FakeStream final : module::StreamControl {
    std::vector<std::string> sent;
    std::vector<std::string> errors;
    bool closed = false;
    std::optional<module::SessionInfo> asked;
    module::ResumeDone done;
    void send(const xml::Element& e) override { sent.push_back(str(e)); }
    void stream_error(xmpp::StreamErrorCondition c, std::string_view) override {
        errors.emplace_back(xmpp::condition_name(c));
    }
    void close() override { closed = true; }
    void resume(const module::SessionInfo& old, module::ResumeDone d) override {
        asked = old;
        done = std::move(d);
    }
};

struct FakeRouted final : module::RoutedContext {
    FakeRouted(xml::Element& s, const xmpp::Jid& f, const xmpp::Jid& t, module::Origin o, const module::RouteOutcome& out,
               uint64_t session)
        : module::RoutedContext(s, f, t, o, out) {
        session_id = session;
    }
    std::shared_ptr<module::Hold> hold() override { return nullptr; }
    void when_done(std::function<void(const StanzaError*)> fn) override { done.push_back(std::move(fn)); }
    std::vector<std::function<void(const StanzaError*)>> done;
};

xmpp::Jid jid(const char* s) { return xmpp::Jid::parse(s).value(); }

xml::Element message(const std::string& id, const std::string& type = "chat") {
    xml::Element m("message", "jabber:client");
    m.set_attr("from", "bob@example.org/b");
    m.set_attr("to", "alice@example.org/phone");
    m.set_attr("type", type);
    m.set_attr("id", id);
    m.add_child("body", "jabber:client").add_text(id);
    return m;
}

xml::Element nonza(const char* name, std::vector<std::pair<std::string, std::string>> attrs = {}) {
    xml::Element e(name, kNsSm);
    for (auto& [k, v] : attrs) e.set_attr(k, v);
    return e;
}

struct SmFixture {
    test::FakeHost host;
    ResumptionDirectory directory;
    StreamManagement sm{&directory};
    const xmpp::Jid alice = jid("alice@example.org/phone");
    const xmpp::Jid alice_bare = jid("alice@example.org");
    static constexpr uint64_t kId = 7;

    explicit SmFixture(int64_t max_unacked = 1000) {
        host.section.values["max_unacked"].value = max_unacked;
        host.module_instance = &sm;
        BOOST_REQUIRE(sm.start(host).is_ok());
        host.sessions.push_back(module::SessionInfo{alice, sessions::SessionRef{0, kId}, true, 0});
    }
    module::StreamInfo bound_info() { return module::StreamInfo{"example.org", "s1", true, kId, alice}; }
    // Runs the nonza handler of (stage, name) on a fresh stream.
    FakeStream call(module::StreamStage stage, const xml::Element& el, std::optional<module::StreamInfo> info = {}) {
        FakeStream st;
        auto it = host.nonzas.find(std::make_tuple(static_cast<int>(stage), std::string(kNsSm), el.name()));
        BOOST_REQUIRE_MESSAGE(it != host.nonzas.end(), "sm: no handler for " << el.name());
        it->second(info ? *info : bound_info(), el, st);
        return st;
    }
    FakeStream enable(bool resume = true, const char* max = nullptr) {
        std::vector<std::pair<std::string, std::string>> attrs;
        if (resume) attrs.emplace_back("resume", "true");
        if (max) attrs.emplace_back("max", max);
        return call(module::StreamStage::bound, nonza("enable", attrs));
    }
    SmSlot& slot() {
        auto* s = dynamic_cast<SmSlot*>(host.slot(kId));
        BOOST_REQUIRE_MESSAGE(s, "sm: no slot for the session");
        return *s;
    }
    // Nonzas the module sent to the session outside a handler, serialized.
    std::vector<std::string> pushed() {
        std::vector<std::string> out;
        for (auto& [id, e] : host.to_sessions) out.push_back(str(e));
        host.to_sessions.clear();
        return out;
    }
    // A client stanza of the session through the routed hook; its done callbacks.
    FakeRouted route(xml::Element& st, const module::RouteOutcome& out) {
        FakeRouted c(st, alice, alice_bare, module::Origin::local_client, out, kId);
        for (auto& fn : host.routed) fn(c);
        return c;
    }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_sm)

BOOST_AUTO_TEST_CASE(the_readme_documents_every_option) {
    const std::string doc = test::read_text(std::string(PARLEY_TEST_SRCDIR) + "/modules/sm/README.md");
    BOOST_REQUIRE(!doc.empty());
    const auto missing = test::undocumented_options(doc, kOptions, kOptionCount);
    BOOST_TEST(missing.empty(), "sm README: " << fmt::format("{}", fmt::join(missing, "; ")));
}

BOOST_FIXTURE_TEST_CASE(the_feature_is_offered_with_bind_only, SmFixture) {
    int after_auth = 0, others = 0;
    for (auto& [stage, fn] : host.features_at) {
        auto el = fn(bound_info());
        if (!el) continue;
        if (stage == module::StreamStage::after_auth && el->name() == "sm" && el->ns() == kNsSm) ++after_auth;
        else ++others;
    }
    BOOST_TEST(after_auth == 1);
    BOOST_TEST(others == 0);
}

BOOST_FIXTURE_TEST_CASE(enable_with_resume_gives_an_id_bound_to_the_account_and_keeps_the_session, SmFixture) {
    FakeStream st = enable(true, "60");
    BOOST_REQUIRE_EQUAL(st.sent.size(), 1u);
    const std::string& e = st.sent[0];
    BOOST_TEST(e.find("<enabled xmlns='urn:xmpp:sm:3'") == 0, e);
    BOOST_TEST(e.find("resume='true'") != std::string::npos, e);
    BOOST_TEST(e.find("max='60'") != std::string::npos, "sm: the client's smaller max is taken: " << e);
    const std::string id = slot().id;
    BOOST_TEST(id.size() == 32u);
    BOOST_TEST(e.find("id='" + id + "'") != std::string::npos);
    BOOST_TEST((directory.find(id, "alice@example.org") == std::optional<uint64_t>(kId)));
    BOOST_TEST(!directory.find(id, "mallory@example.org").has_value(), "sm: another account cannot use the id");
    BOOST_REQUIRE_EQUAL(host.kept.size(), 1u);
    BOOST_TEST(std::get<0>(host.kept[0]) == kId);
    BOOST_TEST(std::get<1>(host.kept[0]) == 60000u);

    // A second <enable/> on the stream.
    FakeStream again = enable();
    BOOST_REQUIRE_EQUAL(again.sent.size(), 1u);
    BOOST_TEST(again.sent[0].find("<unexpected-request") != std::string::npos, again.sent[0]);
}

BOOST_FIXTURE_TEST_CASE(enable_without_resume_and_out_of_order, SmFixture) {
    FakeStream early = call(module::StreamStage::after_auth, nonza("enable"));
    BOOST_REQUIRE_EQUAL(early.sent.size(), 1u);
    BOOST_TEST(early.sent[0].find("<failed xmlns='urn:xmpp:sm:3'><unexpected-request") == 0, early.sent[0]);
    FakeStream pre = call(module::StreamStage::before_auth, nonza("enable"));
    BOOST_TEST(pre.sent.at(0).find("<unexpected-request") != std::string::npos);
    FakeStream r = call(module::StreamStage::bound, nonza("r"));
    BOOST_TEST((r.errors == std::vector<std::string>{"unsupported-stanza-type"}), "sm: <r/> before <enable/>");

    FakeStream st = enable(false);
    BOOST_TEST(st.sent.at(0) == "<enabled xmlns='urn:xmpp:sm:3'/>");
    BOOST_TEST(host.kept.empty(), "sm: a session that did not ask for resumption is not kept");
    BOOST_TEST(directory.live() == 0u);
}

BOOST_FIXTURE_TEST_CASE(outbound_stanzas_are_counted_kept_and_dropped_when_acknowledged, SmFixture) {
    host.output(kId, message("before"));  // before <enable/>: not counted
    enable();
    for (int i = 1; i <= 3; ++i) host.output(kId, message("m" + std::to_string(i)));
    BOOST_TEST(slot().h_out == 3u);
    BOOST_TEST(slot().unacked.size() == 3u);
    // One request for the burst, at the end of the turn.
    BOOST_TEST(pushed().empty());
    host.run_timers();
    BOOST_TEST((pushed() == std::vector<std::string>{"<r xmlns='urn:xmpp:sm:3'/>"}));
    host.output(kId, message("m4"));
    host.run_timers();
    BOOST_TEST(pushed().empty(), "sm: no second request while one is awaited (below ack_request_every)");

    FakeStream a = call(module::StreamStage::bound, nonza("a", {{"h", "2"}}));
    BOOST_TEST(a.errors.empty());
    BOOST_REQUIRE_EQUAL(slot().unacked.size(), 2u);
    BOOST_TEST(slot().unacked.front().stanza.attr_or("id") == "m3");
    host.output(kId, message("m5"));
    host.run_timers();
    BOOST_TEST((pushed() == std::vector<std::string>{"<r xmlns='urn:xmpp:sm:3'/>"}), "sm: asks again after the answer");

    FakeStream bad = call(module::StreamStage::bound, nonza("a", {{"h", "x2"}}));
    BOOST_TEST((bad.errors == std::vector<std::string>{"bad-format"}));
    FakeStream high = call(module::StreamStage::bound, nonza("a", {{"h", "9"}}));
    BOOST_REQUIRE_EQUAL(high.sent.size(), 1u);
    BOOST_TEST(high.sent[0].find("<undefined-condition") != std::string::npos, high.sent[0]);
    BOOST_TEST(high.sent[0].find("<handled-count-too-high xmlns='urn:xmpp:sm:3' h='9' send-count='5'/>") !=
                   std::string::npos,
               high.sent[0]);
    BOOST_TEST(high.closed);
    BOOST_TEST(slot().unacked.size() == 3u, "sm: an ack that is too high changes nothing");
}

BOOST_FIXTURE_TEST_CASE(h_wraps_around_at_two_to_the_32, SmFixture) {
    enable();
    slot().h_out = slot().acked = slot().requested_at = UINT32_MAX - 1;
    for (int i = 0; i < 4; ++i) host.output(kId, message("w" + std::to_string(i)));
    BOOST_TEST(slot().h_out == 2u);
    FakeStream a = call(module::StreamStage::bound, nonza("a", {{"h", "1"}}));
    BOOST_TEST(a.errors.empty());
    BOOST_TEST(a.sent.empty());
    BOOST_REQUIRE_EQUAL(slot().unacked.size(), 1u);
    BOOST_TEST(slot().unacked.front().stanza.attr_or("id") == "w3");
}

BOOST_FIXTURE_TEST_CASE(inbound_stanzas_count_once_handled_and_a_late_ack_follows, SmFixture) {
    enable();
    module::RouteOutcome out;
    out.kind = module::RouteOutcome::Kind::delivered;
    xml::Element m1 = message("c1"), m2 = message("c2");
    FakeRouted r1 = route(m1, out);
    FakeRouted r2 = route(m2, out);
    BOOST_REQUIRE_EQUAL(r1.done.size(), 1u);
    BOOST_TEST(slot().pending_in == 2u);
    // Another session's stanza, and a server's: not counted.
    xml::Element other = message("o");
    FakeRouted c(other, alice, alice_bare, module::Origin::server, out, 0);
    for (auto& fn : host.routed) fn(c);
    BOOST_TEST(c.done.empty());

    r1.done[0](nullptr);
    FakeStream r = call(module::StreamStage::bound, nonza("r"));
    BOOST_TEST((r.sent == std::vector<std::string>{"<a xmlns='urn:xmpp:sm:3' h='1'/>"}), "sm: answered at once");
    BOOST_TEST(pushed().empty());
    const StanzaError bounced = StanzaError::cancel("service-unavailable");
    r2.done[0](&bounced);  // bounced: handled too
    BOOST_TEST((pushed() == std::vector<std::string>{"<a xmlns='urn:xmpp:sm:3' h='2'/>"}),
               "sm: an unrequested <a/> once everything in hand is handled");
    BOOST_TEST(slot().h_in == 2u);
}

BOOST_AUTO_TEST_CASE(a_client_that_never_acknowledges_loses_its_session) {
    SmFixture f(10);
    int64_t now = 1000;
    f.sm.set_clock([&] { return now; });
    f.enable();
    auto burst = [&](int n) {
        for (int i = 0; i < n; ++i) f.host.output(SmFixture::kId, message("m"));
        f.host.run_timers();
    };
    burst(9);
    f.pushed();
    f.call(module::StreamStage::bound, nonza("a", {{"h", "9"}}));
    // Over the bound: asked at once (though a request is awaited), not ended.
    burst(11);
    BOOST_TEST((f.pushed() == std::vector<std::string>{"<r xmlns='urn:xmpp:sm:3'/>"}));
    BOOST_TEST(f.host.ended.empty());
    burst(1);
    BOOST_TEST(f.host.ended.empty(), "sm: within the grace");
    // It answers: under the bound again; a new excess gets a new grace.
    f.call(module::StreamStage::bound, nonza("a", {{"h", "19"}}));
    now += StreamManagement::kGraceMs;
    burst(11);
    BOOST_TEST(f.host.ended.empty());
    now += StreamManagement::kGraceMs - 1;
    burst(1);
    BOOST_TEST(f.host.ended.empty());
    now += 1;
    burst(1);
    BOOST_REQUIRE_EQUAL(f.host.ended.size(), 1u);
    BOOST_TEST((f.host.ended[0].second == xmpp::StreamErrorCondition::resource_constraint));
}

BOOST_AUTO_TEST_CASE(past_twice_the_bound_a_silent_client_goes_at_once) {
    SmFixture f(10);
    f.sm.set_clock([] { return int64_t{5}; });
    f.enable();
    for (int i = 0; i < 11; ++i) f.host.output(SmFixture::kId, message("m"));
    f.host.run_timers();
    BOOST_TEST(f.host.ended.empty());
    for (int i = 0; i < 10; ++i) f.host.output(SmFixture::kId, message("m"));
    BOOST_TEST(f.host.ended.empty(), "sm: not from inside the write");
    f.host.run_timers();
    BOOST_REQUIRE_EQUAL(f.host.ended.size(), 1u);
    // Also when the first check already finds twice the bound.
    SmFixture g(10);
    g.enable();
    for (int i = 0; i < 21; ++i) g.host.output(SmFixture::kId, message("m"));
    g.host.run_timers();
    BOOST_TEST(g.host.ended.size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(an_ended_session_reroutes_messages_and_answers_iqs, SmFixture) {
    enable();
    xml::Element to_bare = message("bare");
    to_bare.set_attr("to", "alice@example.org");
    host.output(kId, to_bare);
    host.output(kId, message("full"));
    host.output(kId, message("err", "error"));
    xml::Element delayed = message("old");
    delayed.add_child("delay", kNsDelay).set_attr("stamp", "2020-01-01T00:00:00Z");
    host.output(kId, delayed);
    xml::Element get("iq", "jabber:client");
    get.set_attr("type", "get");
    get.set_attr("id", "q1");
    get.set_attr("from", "bob@example.org/b");
    get.set_attr("to", alice.str());
    get.add_child("query", "jabber:iq:version");
    host.output(kId, get);
    xml::Element result = get;
    result.set_attr("type", "result");
    host.output(kId, result);
    xml::Element presence("presence", "jabber:client");
    presence.set_attr("from", "bob@example.org/b");
    host.output(kId, presence);
    // The client acknowledged the first one.
    call(module::StreamStage::bound, nonza("a", {{"h", "1"}}));
    const std::string id = slot().id;

    host.fire(module::SessionEvent::closed, host.sessions[0]);
    std::vector<std::string> got;
    for (auto& e : host.sent) got.push_back(str(e));
    BOOST_REQUIRE_EQUAL(got.size(), 3u);
    // Addressed to the resource that is gone, with the time it was sent.
    BOOST_TEST(got[0].find("id='full'") != std::string::npos);
    BOOST_TEST(got[0].find("to='alice@example.org/phone'") != std::string::npos, got[0]);
    BOOST_TEST(got[0].find("<delay xmlns='urn:xmpp:delay' from='example.org' stamp='") != std::string::npos, got[0]);
    BOOST_TEST(got[1].find("id='old'") != std::string::npos);
    BOOST_TEST(got[1].find("stamp='2020-01-01T00:00:00Z'") != std::string::npos, "sm: an older delay stays");
    BOOST_TEST(got[1].find("from='example.org' stamp") == std::string::npos, "sm: no second delay: " << got[1]);
    BOOST_TEST(got[2].find("type='error'") != std::string::npos, got[2]);
    BOOST_TEST(got[2].find("to='bob@example.org/b'") != std::string::npos, got[2]);
    BOOST_TEST(got[2].find("<service-unavailable") != std::string::npos, got[2]);
    BOOST_TEST(slot().unacked.empty());
    // The id is spent, but remembered with the count handled.
    BOOST_TEST(!directory.find(id, "alice@example.org").has_value());
    BOOST_TEST((directory.ended_h(id, "alice@example.org") == std::optional<uint32_t>(0)));
}

BOOST_FIXTURE_TEST_CASE(resume_answers_each_failure_with_its_condition, SmFixture) {
    const module::StreamInfo authed{"example.org", "s2", true, 0, alice_bare};
    auto resume = [&](std::vector<std::pair<std::string, std::string>> attrs) {
        return call(module::StreamStage::after_auth, nonza("resume", std::move(attrs)), authed);
    };
    FakeStream missing = resume({{"previd", "abc"}});
    BOOST_TEST(missing.sent.at(0).find("<bad-request") != std::string::npos, missing.sent.at(0));
    FakeStream unknown = resume({{"previd", "abc"}, {"h", "0"}});
    BOOST_TEST(unknown.sent.at(0).find("<failed xmlns='urn:xmpp:sm:3'><item-not-found") == 0, unknown.sent.at(0));
    BOOST_TEST(!unknown.asked.has_value());
    FakeStream bound = call(module::StreamStage::bound, nonza("resume", {{"previd", "abc"}, {"h", "0"}}));
    BOOST_TEST(bound.sent.at(0).find("<unexpected-request") != std::string::npos);

    // Another account's id: the same answer as an unknown one.
    const std::string bobs = directory.issue("bob@example.org", 99);
    FakeStream other = resume({{"previd", bobs}, {"h", "0"}});
    BOOST_TEST(other.sent.at(0).find("<item-not-found") != std::string::npos);
    BOOST_TEST(!other.asked.has_value());

    // An id that ended: item-not-found with the count handled before.
    const std::string gone = directory.issue("alice@example.org", 55);
    directory.ended(gone, 17, std::chrono::seconds(60));
    FakeStream ended = resume({{"previd", gone}, {"h", "0"}});
    BOOST_TEST(ended.sent.at(0).find("<failed xmlns='urn:xmpp:sm:3' h='17'><item-not-found") == 0, ended.sent.at(0));
}

BOOST_AUTO_TEST_CASE(resumption_can_be_turned_off) {
    test::FakeHost host;
    host.section.values["resume_timeout"].value = int64_t{0};
    ResumptionDirectory directory;
    StreamManagement sm(&directory);
    BOOST_REQUIRE(sm.start(host).is_ok());
    const auto alice = jid("alice@example.org/phone");
    auto& enable = host.nonzas.at(std::make_tuple(static_cast<int>(module::StreamStage::bound), std::string(kNsSm),
                                                  std::string("enable")));
    FakeStream st;
    xml::Element e = nonza("enable", {{"resume", "true"}});
    enable(module::StreamInfo{"example.org", "s", true, 3, alice}, e, st);
    BOOST_TEST(st.sent.at(0) == "<enabled xmlns='urn:xmpp:sm:3'/>", "sm: enabled without resumption");
    auto& resume = host.nonzas.at(std::make_tuple(static_cast<int>(module::StreamStage::after_auth),
                                                  std::string(kNsSm), std::string("resume")));
    FakeStream r;
    xml::Element re = nonza("resume", {{"previd", "x"}, {"h", "0"}});
    const auto bare = alice.bare();
    resume(module::StreamInfo{"example.org", "s", true, 0, bare}, re, r);
    BOOST_TEST(r.sent.at(0).find("<feature-not-implemented") != std::string::npos, r.sent.at(0));
}

BOOST_FIXTURE_TEST_CASE(a_resume_acknowledges_then_sends_what_is_left_in_order, SmFixture) {
    enable();
    const std::string id = slot().id;
    for (int i = 1; i <= 5; ++i) host.output(kId, message("m" + std::to_string(i)));
    module::RouteOutcome out;
    xml::Element in = message("in");
    FakeRouted r = route(in, out);
    r.done[0](nullptr);

    const module::StreamInfo authed{"example.org", "s2", true, 0, alice_bare};
    FakeStream st = call(module::StreamStage::after_auth, nonza("resume", {{"previd", id}, {"h", "2"}}), authed);
    BOOST_REQUIRE(st.asked.has_value());
    BOOST_TEST(st.asked->ref.session_id == kId);
    BOOST_TEST(st.sent.empty(), "sm: nothing before the host moved the session");
    // The host moved the session here and calls back.
    FakeStream now;
    st.done(Status::ok(), &host.sessions[0], now);
    BOOST_REQUIRE_EQUAL(now.sent.size(), 4u);
    BOOST_TEST(now.sent[0] == "<resumed xmlns='urn:xmpp:sm:3' h='1' previd='" + id + "'/>");
    for (int i = 0; i < 3; ++i)
        BOOST_TEST(now.sent[1 + i].find("id='m" + std::to_string(3 + i) + "'") != std::string::npos, now.sent[1 + i]);
    BOOST_TEST(slot().h_out == 5u, "sm: retransmissions are not counted again");
    BOOST_TEST(slot().unacked.size() == 3u);

    // A claim of more than was sent ends the stream.
    FakeStream st2 = call(module::StreamStage::after_auth, nonza("resume", {{"previd", id}, {"h", "6"}}), authed);
    FakeStream now2;
    st2.done(Status::ok(), &host.sessions[0], now2);
    BOOST_TEST(now2.sent.at(0).find("<handled-count-too-high") != std::string::npos);
    BOOST_TEST(now2.closed);
    // The host could not: the client is told, the stream may bind.
    FakeStream st3 = call(module::StreamStage::after_auth, nonza("resume", {{"previd", id}, {"h", "3"}}), authed);
    FakeStream now3;
    st3.done(Status::error("conflict", "being resumed already"), nullptr, now3);
    BOOST_TEST(now3.sent.at(0).find("<failed xmlns='urn:xmpp:sm:3'><conflict") == 0, now3.sent.at(0));
}

BOOST_AUTO_TEST_CASE(the_directory_issues_unguessable_ids_and_forgets_them_in_bounds) {
    ResumptionDirectory d(3);
    std::set<std::string> ids;
    for (int i = 0; i < 50; ++i) {
        std::string id = d.issue("a@example.org", static_cast<uint64_t>(i));
        BOOST_TEST(id.size() == 32u);
        BOOST_TEST(id.find_first_not_of("0123456789abcdef") == std::string::npos);
        ids.insert(id);
    }
    BOOST_TEST(ids.size() == 50u, "sm: ids are never repeated");
    BOOST_TEST(d.live() == 50u);
    std::vector<std::string> order(ids.begin(), ids.end());
    for (size_t i = 0; i < 5; ++i) d.ended(order[i], static_cast<uint32_t>(i), std::chrono::hours(1));
    BOOST_TEST(d.remembered() == 3u, "sm: at most max_ended ended ids are remembered");
    BOOST_TEST(!d.ended_h(order[0], "a@example.org").has_value(), "sm: the oldest goes first");
    BOOST_TEST((d.ended_h(order[4], "a@example.org") == std::optional<uint32_t>(4)));
    BOOST_TEST(!d.ended_h(order[4], "b@example.org").has_value());
    d.ended(order[5], 5, std::chrono::seconds(0));
    BOOST_TEST(!d.ended_h(order[5], "a@example.org").has_value(), "sm: remembered only for the timeout");
}

BOOST_AUTO_TEST_CASE(h_and_stamps_are_parsed_and_written_strictly) {
    BOOST_TEST((parse_h("0") == std::optional<uint32_t>(0)));
    BOOST_TEST((parse_h("4294967295") == std::optional<uint32_t>(UINT32_MAX)));
    for (const char* bad : {"", "-1", "4294967296", "1.0", " 1", "0x10", "12345678901"})
        BOOST_TEST(!parse_h(bad).has_value(), "sm: '" << bad << "' is not an h");
    BOOST_TEST(xep0082_stamp(1700000000123) == "2023-11-14T22:13:20.123Z");
}

BOOST_AUTO_TEST_SUITE_END()

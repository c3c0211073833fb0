#define BOOST_TEST_DYN_LINK
#include "modules/content_policy/content_policy.hpp"

#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "support/fake_host.hpp"
#include "support/temp_dir.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;
using namespace parley::mod_content_policy;

namespace {

const std::string kHead = R"(data_dir = "d"
[modules]
enabled = ["content_policy"]
)";
const std::string kHost = R"(
[[virtual_host]]
domain = "example.org"
certificate = "c.pem"
key = "k.pem"
)";

// The section [modules.content_policy] as written in `body`.
config::Section section(test::TempDir& dir, const std::string& body) {
    dir.write("parley.toml", kHead + body + kHost);
    auto r = config::load(dir.sub("parley.toml"));
    BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    auto it = r.value().module_sections.find("content_policy");
    BOOST_REQUIRE(it != r.value().module_sections.end());
    BOOST_REQUIRE_MESSAGE(config::validate_section(it->second, kOptions, kOptionCount).is_ok(), body);
    return it->second;
}

Settings settings(test::TempDir& dir, const std::string& body) {
    auto s = read_settings(section(dir, body));
    BOOST_REQUIRE_MESSAGE(s, s.status().to_string());
    return *s;
}

Message text(std::string t, Direction d = Direction::internal, std::string room = {}) {
    Message m;
    m.texts = {std::move(t)};
    m.direction = d;
    m.room = std::move(room);
    return m;
}

const char* kCard = "4111 1111 1111 1111";

// Rules used by several cases: cards may not leave, are flagged inside;
// US SSNs are redacted everywhere; a word list blocks a project name in
// one room only; links to a paste site are refused.
const std::string kRules = R"([modules.content_policy]
[[modules.content_policy.rule]]
name = "finance-room"
detect = ["card"]
rooms = ["finance@conference.example.org"]
action = "allow"
[[modules.content_policy.rule]]
name = "cards-out"
detect = ["card"]
direction = ["external", "room"]
action = "block"
[[modules.content_policy.rule]]
name = "cards-in"
detect = ["card"]
direction = ["internal"]
action = "flag"
[[modules.content_policy.rule]]
name = "ssn"
detect = ["us_ssn"]
action = "redact"
[[modules.content_policy.rule]]
name = "bluebird"
words = ["bluebird"]
rooms = ["lobby@conference.example.org"]
action = "block"
[modules.content_policy.links]
block = ["paste.example"]
)";

}  // namespace

BOOST_AUTO_TEST_SUITE(content_policy)

BOOST_AUTO_TEST_CASE(rules_apply_in_order_by_direction_and_room) {
    test::TempDir dir;
    const Settings s = settings(dir, kRules);
    BOOST_TEST(s.rules.size() == 5u);
    // A card to another domain or into a room is blocked by the first blocking rule.
    Verdict v = judge(s, text(std::string("pay ") + kCard, Direction::external));
    BOOST_TEST(v.blocked);
    BOOST_TEST(v.blocking_rule == "cards-out");
    v = judge(s, text(kCard, Direction::room, "lobby@conference.example.org"));
    BOOST_TEST(v.blocking_rule == "cards-out");
    // An allow rule written first is an exception: the finance room may.
    v = judge(s, text(kCard, Direction::room, "Finance@conference.example.org"));
    BOOST_TEST(!v.blocked);
    BOOST_TEST(v.allowed_by == "finance-room");
    BOOST_TEST(v.flagged.empty());
    // To a colleague: flagged, passes unchanged.
    v = judge(s, text(kCard));
    BOOST_TEST(!v.blocked);
    BOOST_TEST(v.flagged == (std::vector<std::string>{"cards-in"}));
    BOOST_TEST(v.texts == (std::vector<std::string>{kCard}));
    // Redactions and flags add up; the redacted text names the rule.
    v = judge(s, text(std::string("ssn 123-45-6789 and ") + kCard + ", 078-05-1120."));
    BOOST_TEST(v.redacted == (std::vector<std::string>{"ssn"}));
    BOOST_TEST(v.flagged == (std::vector<std::string>{"cards-in"}));
    BOOST_TEST(v.redactions == 2u);
    BOOST_TEST(v.texts[0] == std::string("ssn [redacted: ssn] and ") + kCard + ", [redacted: ssn].");
    // A blocked message is not redacted: the sender gets it back refused.
    v = judge(s, text(std::string("123-45-6789 ") + kCard, Direction::external));
    BOOST_TEST(v.blocked);
    BOOST_TEST(v.redacted.empty());
    // A word rule scoped to one room applies there only.
    BOOST_TEST(judge(s, text("Bluebird ships", Direction::room, "lobby@conference.example.org")).blocking_rule ==
               "bluebird");
    BOOST_TEST(!judge(s, text("bluebird ships", Direction::room, "other@conference.example.org")).blocked);
    BOOST_TEST(!judge(s, text("bluebird ships", Direction::internal)).blocked);
    // The prefilter (one RE2::Set pass) only skips detectors that cannot
    // find anything: the same verdicts without it.
    BOOST_TEST(s.prefilter != nullptr);
    Settings plain = s;
    plain.prefilter.reset();
    for (const std::string& t : {std::string("ssn 123-45-6789 and ") + kCard, std::string("Bluebird"),
                                 std::string("nothing here"), std::string(kCard) + " https://paste.example/"})
        for (Direction d : {Direction::internal, Direction::room, Direction::external}) {
            const Verdict a = judge(s, text(t, d, "lobby@conference.example.org"));
            const Verdict b = judge(plain, text(t, d, "lobby@conference.example.org"));
            BOOST_TEST((a.blocked == b.blocked && a.blocking_rule == b.blocking_rule && a.flagged == b.flagged &&
                        a.redacted == b.redacted && a.texts == b.texts),
                       t);
        }
    // Nothing found: nothing decided.
    v = judge(s, text("lunch at noon?", Direction::external));
    BOOST_TEST(!v.blocked);
    BOOST_TEST(v.flagged.empty());
    BOOST_TEST(v.redacted.empty());
}

BOOST_AUTO_TEST_CASE(rules_scoped_to_federation_tiers_and_incoming_messages) {
    test::TempDir dir;
    const Settings s = settings(dir, R"([modules.content_policy]
[[modules.content_policy.rule]]
name = "cards-to-restricted"
detect = ["card"]
tiers = ["Restricted"]
action = "block"
[[modules.content_policy.rule]]
name = "keys-coming-in"
detect = ["private_key"]
direction = ["incoming"]
action = "block"
[[modules.content_policy.rule]]
name = "cards-flagged"
detect = ["card"]
action = "flag"
)");
    auto to_tier = [](std::string t, Direction d, std::string tier) {
        Message m = text(std::move(t), d);
        m.tier = std::move(tier);
        return m;
    };
    BOOST_TEST(judge(s, to_tier(kCard, Direction::external, "restricted")).blocking_rule == "cards-to-restricted");
    const Verdict trusted = judge(s, to_tier(kCard, Direction::external, "trusted"));
    BOOST_TEST(!trusted.blocked, "another tier: the tier rule does not apply");
    BOOST_TEST(trusted.flagged == std::vector<std::string>{"cards-flagged"});
    BOOST_TEST(!judge(s, to_tier(kCard, Direction::internal, "")).blocked, "a tier rule never applies inside");
    BOOST_TEST(!judge(s, to_tier(kCard, Direction::incoming, "restricted")).blocked,
               "a rule judges incoming messages only when it names that direction");
    const std::string key = "-----BEGIN PRIVATE KEY-----\nMIIBVQIBADANBgkqhkiG9w0BAQEFAASCAT8wggE7AgEAAkEA\n-----END PRIVATE KEY-----";
    BOOST_TEST(judge(s, to_tier(key, Direction::incoming, "trusted")).blocking_rule == "keys-coming-in");
    BOOST_TEST(!judge(s, to_tier(key, Direction::external, "trusted")).blocked, "incoming only");
    // Incoming is never a default direction: existing rules do not start judging what arrives.
    BOOST_TEST(judge(s, to_tier(kCard, Direction::incoming, "trusted")).flagged.empty());
}

BOOST_AUTO_TEST_CASE(links_by_domain_in_bodies_and_out_of_band_data) {
    test::TempDir dir;
    Settings s = settings(dir, kRules);
    BOOST_TEST(judge(s, text("see https://paste.example/x1")).blocking_rule == "links");
    BOOST_TEST(judge(s, text("see HTTPS://Sub.Paste.Example:8443/x")).blocking_rule == "links");
    BOOST_TEST(!judge(s, text("see https://notpaste.example/x")).blocked, "another domain that ends the same");
    Message oob = text("a file");
    oob.links = {"https://paste.example/f.zip"};
    BOOST_TEST(judge(s, oob).blocking_rule == "links");
    BOOST_TEST(link_hosts("a http://user@a.example/b, (https://b.example). ftp://c.example:21") ==
               (std::vector<std::string>{"a.example", "b.example", "c.example"}));
    // Hosts as a browser reads them: a backslash ends the host, %XX is decoded.
    BOOST_TEST(link_hosts("https://evil.org\\.example.com/ https://evil%2Eorg/x https:\\\\paste.example") ==
               (std::vector<std::string>{"evil.org", "evil.org", "paste.example"}));
    BOOST_TEST(judge(s, text("go https://paste%2Eexample/x")).blocking_rule == "links");
    // An allow list: every other domain is refused; flag only records it.
    s = settings(dir, R"([modules.content_policy.links]
allow = ["example.org"]
action = "flag"
)");
    Verdict v = judge(s, text("https://www.example.org/ and https://elsewhere.test/"));
    BOOST_TEST(!v.blocked);
    BOOST_TEST(v.flagged == (std::vector<std::string>{"links"}));
    BOOST_TEST(judge(s, text("https://docs.example.org/a")).flagged.empty());
}

BOOST_AUTO_TEST_CASE(bad_rules_are_refused_with_the_place) {
    test::TempDir dir;
    auto r = read_settings(section(dir, R"([modules.content_policy]
[[modules.content_policy.rule]]
name = "broken"
patterns = ["(a"]
action = "flag"
)"));
    BOOST_TEST(!r);
    BOOST_TEST(r.status().message().find("rule[0].patterns") != std::string::npos, r.status().message());
    r = read_settings(section(dir, R"([modules.content_policy]
[[modules.content_policy.rule]]
name = "nothing"
action = "flag"
)"));
    BOOST_TEST(!r);
    BOOST_TEST(r.status().message().find("detects nothing") != std::string::npos);
}

namespace {

struct ModuleFixture {
    test::TempDir dir;
    test::FakeHost host;
    ContentPolicy module;
    explicit ModuleFixture(const std::string& body = kRules) {
        host.section = section(dir, body);
        BOOST_REQUIRE(module.configure(host.section));
        BOOST_REQUIRE(module.start(host));
        BOOST_REQUIRE(host.domain_handler("example.org", "conference.example.org", [](module::DomainStanza&) {}));
    }
    // Runs the stanza/in hooks on a message from alice's client.
    module::HookResult send(xml::Element& m, const std::string& to, bool from_client = true) {
        const auto from = xmpp::Jid::parse("alice@example.org/desk").value();
        const auto dest = xmpp::Jid::parse(to).value();
        module::StanzaContext c{m, from, dest, from_client, 1};
        module::HookResult r;
        for (auto& [point, prio, fn] : host.hooks)
            if (point == module::HookPoint::stanza_in) r = fn(c);
        return r;
    }
};

xml::Element message(const std::string& body) {
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("type", "chat");
    m.set_attr("id", "m1");
    m.add_child("body", std::string(xmpp::kNsClient)).add_text(body);
    return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_hook_blocks_redacts_flags_and_strips) {
    ModuleFixture f;
    // Blocked to another domain, with the rule's name.
    xml::Element m = message(std::string("card ") + kCard);
    module::HookResult r = f.send(m, "bob@remote.example");
    BOOST_TEST((r.verdict == module::HookResult::Verdict::reject));
    BOOST_TEST(r.error.condition == "policy-violation");
    BOOST_TEST(r.error.text.find("'cards-out'") != std::string::npos);
    // Into a room of ours: the room direction.
    m = message(kCard);
    BOOST_TEST(f.send(m, "lobby@conference.example.org").error.text.find("'cards-out'") != std::string::npos);
    // Redacted for the recipient, in place, other children kept in order;
    // the sender is told.
    m = message("my ssn is 123-45-6789");
    m.add_child("active", "http://jabber.org/protocol/chatstates");
    f.host.sent.clear();
    r = f.send(m, "bob@example.org");
    BOOST_TEST((r.verdict == module::HookResult::Verdict::pass));
    BOOST_TEST(m.child("body", xmpp::kNsClient)->text() == "my ssn is [redacted: ssn]");
    BOOST_TEST(m.first_child()->name() == "body");
    BOOST_TEST(m.child("active", "http://jabber.org/protocol/chatstates") != nullptr);
    BOOST_TEST(m.attr_or("id") == "m1");
    BOOST_REQUIRE(f.host.sent.size() == 1u);
    BOOST_TEST(f.host.sent[0].attr_or("to") == "alice@example.org/desk");
    BOOST_TEST(f.host.sent[0].child("body", xmpp::kNsClient)->text().find("'ssn'") != std::string::npos);
    BOOST_TEST(f.host.sent[0].child("body", xmpp::kNsClient)->text().find("123-45") == std::string::npos,
               "the notice never repeats what was found");
    // XHTML-IM is removed from every message, checked or not.
    m = message("hello");
    m.add_child("html", kNsXhtmlIm).add_child("body", "http://www.w3.org/1999/xhtml").add_text("<b>hi</b>");
    BOOST_TEST((f.send(m, "bob@example.org").verdict == module::HookResult::Verdict::pass));
    BOOST_TEST(m.child("html", kNsXhtmlIm) == nullptr);
    // A client's error message is checked too (the router drops, never answers, a refused error).
    m = message(kCard);
    m.set_attr("type", "error");
    BOOST_TEST((f.send(m, "bob@remote.example").verdict == module::HookResult::Verdict::reject));
    // Only what our clients send: a message from the server is left alone.
    m = message(kCard);
    BOOST_TEST((f.send(m, "bob@remote.example", false).verdict == module::HookResult::Verdict::pass));
    BOOST_TEST(f.module.counters().blocked == 3u);
    BOOST_TEST(f.module.counters().redacted == 1u);
    BOOST_TEST(f.module.counters().stripped == 1u);
}

BOOST_AUTO_TEST_CASE(a_reload_applies_new_rules) {
    ModuleFixture f;
    xml::Element m = message(kCard);
    BOOST_TEST((f.send(m, "bob@remote.example").verdict == module::HookResult::Verdict::reject));
    BOOST_REQUIRE(f.module.reload(section(f.dir, "[modules.content_policy]\nstrip_xhtml = false\n")));
    m = message(kCard);
    BOOST_TEST((f.send(m, "bob@remote.example").verdict == module::HookResult::Verdict::pass));
    m.add_child("html", kNsXhtmlIm);
    f.send(m, "bob@example.org");
    BOOST_TEST(m.child("html", kNsXhtmlIm) != nullptr, "strip_xhtml = false keeps the markup");
    // Kept markup is judged by its text, and goes when something is redacted.
    BOOST_REQUIRE(f.module.reload(section(f.dir, R"([modules.content_policy]
strip_xhtml = false
[[modules.content_policy.rule]]
name = "ssn"
detect = ["us_ssn"]
action = "redact"
[[modules.content_policy.rule]]
name = "cards"
detect = ["card"]
action = "block"
)")));
    m = message("see the formatted version");
    m.add_child("html", kNsXhtmlIm).add_child("body", "http://www.w3.org/1999/xhtml").add_text(kCard);
    BOOST_TEST((f.send(m, "bob@example.org").verdict == module::HookResult::Verdict::reject));
    m = message("ssn 123-45-6789");
    m.add_child("html", kNsXhtmlIm).add_child("body", "http://www.w3.org/1999/xhtml").add_text("ssn 123-45-6789");
    BOOST_TEST((f.send(m, "bob@example.org").verdict == module::HookResult::Verdict::pass));
    BOOST_TEST(m.child("body", xmpp::kNsClient)->text() == "ssn [redacted: ssn]");
    BOOST_TEST(m.child("html", kNsXhtmlIm) == nullptr);
}

BOOST_AUTO_TEST_SUITE_END()

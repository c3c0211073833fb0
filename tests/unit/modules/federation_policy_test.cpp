// mod_federation_policy's policy: tiers, the order rules are read in, what
// each tier lets cross, and what a stanza counts as.
#define BOOST_TEST_DYN_LINK
#include "modules/federation_policy/policy.hpp"

#include <boost/test/unit_test.hpp>

#include "config/config.hpp"
#include "support/temp_dir.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;
using namespace parley::mod_federation_policy;

namespace {

const std::string kHead = R"(data_dir = "d"
[modules]
enabled = ["federation_policy"]
)";
const std::string kHost = R"(
[[virtual_host]]
domain = "example.org"
certificate = "c.pem"
key = "k.pem"
)";

Result<Settings> load(test::TempDir& dir, const std::string& body) {
    dir.write("parley.toml", kHead + "[modules.federation_policy]\n" + body + kHost);
    auto r = config::load(dir.sub("parley.toml"));
    BOOST_REQUIRE_MESSAGE(r.is_ok(), r.status().to_string());
    auto it = r.value().module_sections.find("federation_policy");
    BOOST_REQUIRE(it != r.value().module_sections.end());
    Status v = config::validate_section(it->second, kOptions, kOptionCount);
    if (!v) return v;
    return read_settings(it->second);
}

Settings settings(test::TempDir& dir, const std::string& body) {
    auto s = load(dir, body);
    BOOST_REQUIRE_MESSAGE(s, s.status().to_string());
    return std::move(s).value();
}

xml::Element message(const std::string& body, const std::string& type = "chat") {
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("type", type);
    m.add_child("body", std::string(xmpp::kNsClient)).add_text(body);
    return m;
}

const std::map<std::string, std::string> kNone;

}  // namespace

BOOST_AUTO_TEST_SUITE(federation_policy)

BOOST_AUTO_TEST_CASE(a_stanza_counts_as_its_most_specific_kind) {
    BOOST_TEST(to_string(classify(message("hello"))) == "chat");
    BOOST_TEST(to_string(classify(message("see https://files.example/x.pdf"))) == "files");
    BOOST_TEST(to_string(classify(message("see HTTP://files.example/x.pdf"))) == "files");
    BOOST_TEST(to_string(classify(message("a talk", "groupchat"))) == "muc");
    xml::Element oob = message("look");
    oob.add_child("x", "jabber:x:oob").add_child("url", "jabber:x:oob").add_text("https://f.example/a");
    BOOST_TEST(to_string(classify(oob)) == "files");
    xml::Element event("message", std::string(xmpp::kNsClient));
    event.add_child("event", "http://jabber.org/protocol/pubsub#event");
    BOOST_TEST(to_string(classify(event)) == "pep");
    xml::Element join("presence", std::string(xmpp::kNsClient));
    join.add_child("x", "http://jabber.org/protocol/muc");
    BOOST_TEST(to_string(classify(join)) == "muc");
    BOOST_TEST(to_string(classify(xml::Element("presence", std::string(xmpp::kNsClient)))) == "presence");
    xml::Element iq("iq", std::string(xmpp::kNsClient));
    iq.add_child("ping", "urn:xmpp:ping");
    BOOST_TEST(to_string(classify(iq)) == "iq");
    xml::Element ps("iq", std::string(xmpp::kNsClient));
    ps.add_child("pubsub", "http://jabber.org/protocol/pubsub");
    BOOST_TEST(to_string(classify(ps)) == "pep");
}

BOOST_AUTO_TEST_CASE(the_exact_domain_then_the_longest_wildcard_then_the_default) {
    test::TempDir dir;
    const Settings s = settings(dir, R"(
[[modules.federation_policy.domain]]
name = "*.partner.example"
tier = "trusted"
[[modules.federation_policy.domain]]
name = "*.lab.partner.example"
tier = "blocked"
[[modules.federation_policy.domain]]
name = "Partner.Example"
tier = "trusted"
)");
    auto tier = [&](const std::string& d, const std::map<std::string, std::string>& rt = kNone) {
        return place(s, rt, d).tier->name;
    };
    BOOST_TEST(tier("partner.example") == "trusted");
    BOOST_TEST(place(s, kNone, "partner.example").rule == "domain partner.example (config)");
    BOOST_TEST(tier("chat.partner.example") == "trusted");
    BOOST_TEST(place(s, kNone, "chat.partner.example").rule == "*.partner.example (config)");
    BOOST_TEST(tier("x.lab.partner.example") == "blocked", "the longer wildcard wins");
    BOOST_TEST(tier("lab.partner.example") == "trusted", "*.lab... does not name lab... itself");
    BOOST_TEST(tier("notpartner.example") == "restricted", "a suffix must end at a label");
    BOOST_TEST(place(s, kNone, "elsewhere.example").rule == "default");
    // Run-time rules win over the config's for the same name, and among wildcards of the same length.
    const std::map<std::string, std::string> rt = {{"partner.example", "blocked"}, {"*.partner.example", "restricted"}};
    BOOST_TEST(tier("partner.example", rt) == "blocked");
    BOOST_TEST(place(s, rt, "partner.example").rule == "domain partner.example (parleyctl)");
    BOOST_TEST(tier("chat.partner.example", rt) == "restricted");
    BOOST_TEST(tier("x.lab.partner.example", rt) == "blocked");
}

BOOST_AUTO_TEST_CASE(default_deny_blocks_everyone_no_rule_names) {
    test::TempDir dir;
    const Settings s = settings(dir, "default = \"deny\"\n[[modules.federation_policy.domain]]\nname = \"ok.example\"\n"
                                     "tier = \"restricted\"\n");
    BOOST_TEST(place(s, kNone, "any.example").tier->blocked);
    BOOST_TEST(!place(s, kNone, "ok.example").tier->blocked);
    const auto why = admit(place(s, kNone, "any.example"), "any.example", true);
    BOOST_REQUIRE(why.has_value());
    BOOST_TEST(why->find("blocked") != std::string::npos);
    BOOST_TEST(why->find("rule default") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(tiers_decide_authentication_kinds_and_size) {
    test::TempDir dir;
    const Settings s = settings(dir, R"(
[[modules.federation_policy.tier]]
name = "restricted"
max_stanza_bytes = 600
[[modules.federation_policy.tier]]
name = "partners"
authentication = "dialback"
inbound = ["chat", "presence"]
outbound = ["chat", "files"]
[[modules.federation_policy.domain]]
name = "p.example"
tier = "partners"
)");
    const Placement restricted = place(s, kNone, "r.example");
    const Placement partners = place(s, kNone, "p.example");
    // Authentication: restricted wants a valid certificate, partners take dialback.
    BOOST_TEST(!admit(restricted, "r.example", true).has_value());
    const auto no_cert = admit(restricted, "r.example", false);
    BOOST_REQUIRE(no_cert.has_value());
    BOOST_TEST(no_cert->find("valid certificate") != std::string::npos);
    BOOST_TEST(!admit(partners, "p.example", false).has_value());
    // Kinds, each way.
    BOOST_TEST(!judge(restricted, false, message("hi"), 100).has_value());
    const auto link = judge(restricted, false, message("https://x.example/f"), 100);
    BOOST_REQUIRE(link.has_value());
    BOOST_TEST(*link == "files to this domain is not allowed (tier restricted, rule default)");
    BOOST_TEST(!judge(partners, false, message("https://x.example/f"), 100).has_value());
    BOOST_TEST(judge(partners, true, message("https://x.example/f"), 100).has_value(), "files may not come in");
    BOOST_TEST(judge(partners, true, message("room", "groupchat"), 100).has_value());
    // Size: the restricted tier was changed to 600 bytes; errors always pass.
    BOOST_TEST(judge(restricted, true, message("hi"), 601).has_value());
    BOOST_TEST(!judge(restricted, true, message("hi"), 600).has_value());
    BOOST_TEST(!judge(restricted, true, message("hi", "error"), 100000).has_value());
    // The built-in tiers keep what a [[tier]] table did not change.
    BOOST_TEST(s.tiers.at("restricted").certificate_required);
    BOOST_TEST(s.tiers.at("trusted").inbound.count(Kind::muc) == 1u);
    BOOST_TEST(!judge(place(s, kNone, "b.example"), true, message("x"), 1).has_value());
}

BOOST_AUTO_TEST_CASE(existing_links_end_when_blocked_or_proven_less_than_the_tier_wants) {
    test::TempDir dir;
    const Settings s = settings(dir, "");
    BOOST_REQUIRE(s.tiers.count("trusted") && s.tiers.count("restricted") && s.tiers.count("blocked"));
    const Tier* trusted = &s.tiers.at("trusted");
    const Tier* restricted = &s.tiers.at("restricted");
    const Tier* blocked = &s.tiers.at("blocked");
    BOOST_REQUIRE(restricted->certificate_required);
    BOOST_REQUIRE(!trusted->certificate_required);
    // (certificate valid, dialback) -> must close?
    BOOST_TEST(!must_close(*restricted, true, false), "a certificate (SASL EXTERNAL) meets it");
    BOOST_TEST(!must_close(*restricted, true, true), "dialback with a valid certificate (XEP-0344) too");
    BOOST_TEST(must_close(*restricted, false, true), "dialback alone does not");
    BOOST_TEST(!must_close(*restricted, false, false), "a link still connecting meets the gate later");
    BOOST_TEST(!must_close(*trusted, false, true), "dialback is enough for trusted");
    for (bool cert : {false, true})
        for (bool db : {false, true}) BOOST_TEST(must_close(*blocked, cert, db));
}

BOOST_AUTO_TEST_CASE(bad_policies_are_refused_by_name) {
    test::TempDir dir;
    auto error_of = [&](const std::string& body) {
        auto r = load(dir, body);
        BOOST_REQUIRE_MESSAGE(!r, "must be refused:\n" << body);
        return r.status().message();
    };
    BOOST_TEST(error_of("default_tier = \"gold\"\n").find("no tier is called 'gold'") != std::string::npos);
    BOOST_TEST(error_of("[[modules.federation_policy.domain]]\nname = \"a.example\"\ntier = \"gold\"\n").find("gold") !=
               std::string::npos);
    BOOST_TEST(error_of("[[modules.federation_policy.domain]]\nname = \"a.*.example\"\ntier = \"trusted\"\n")
                   .find("not a domain") != std::string::npos);
    BOOST_TEST(error_of("[[modules.federation_policy.domain]]\nname = \"a.example\"\ntier = \"trusted\"\n"
                        "[[modules.federation_policy.domain]]\nname = \"A.example\"\ntier = \"blocked\"\n")
                   .find("has a rule already") != std::string::npos);
    BOOST_TEST(!error_of("[[modules.federation_policy.tier]]\nname = \"x\"\ninbound = [\"email\"]\n").empty());
}

BOOST_AUTO_TEST_SUITE_END()

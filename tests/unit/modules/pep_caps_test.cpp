// XEP-0115 for PEP: the verification string against the XEP's own examples,
// the §5.4 checks that refuse a response, +notify sets, the bounded cache.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "../modules/pep/caps.hpp"

using namespace parley;
using namespace parley::mod_pep;

namespace {

const std::string kInfo = "http://jabber.org/protocol/disco#info";

xml::Element query() { return xml::Element("query", kInfo); }

void identity(xml::Element& q, const char* category, const char* type, const char* name, const char* lang = nullptr) {
    auto& i = q.add_child("identity", kInfo);
    i.set_attr("category", category);
    i.set_attr("type", type);
    if (name) i.set_attr("name", name);
    if (lang) i.set_attr(xml::xml_lang(), lang);
}

void feature(xml::Element& q, const std::string& var) { q.add_child("feature", kInfo).set_attr("var", var); }

xml::Element& field(xml::Element& x, const char* var, std::initializer_list<const char*> values, const char* type = nullptr) {
    auto& f = x.add_child("field", "jabber:x:data");
    f.set_attr("var", var);
    if (type) f.set_attr("type", type);
    for (const char* v : values) f.add_child("value", "jabber:x:data").add_text(v);
    return f;
}

xml::Element simple_example() {
    xml::Element q = query();
    identity(q, "client", "pc", "Exodus 0.9.1");
    for (const char* f : {"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
                          "http://jabber.org/protocol/muc", "http://jabber.org/protocol/caps"})
        feature(q, f);
    return q;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_pep_caps)

BOOST_AUTO_TEST_CASE(simple_example_of_xep_0115) {
    auto ver = verification_string(simple_example(), "sha-1");
    BOOST_REQUIRE(ver.has_value());
    BOOST_TEST(*ver == "QgayPKawpkPSDYmwT/WM94uAlu0=", "pep caps: §5.2 example");
}

BOOST_AUTO_TEST_CASE(complex_example_of_xep_0115_with_a_form) {
    xml::Element q = query();
    identity(q, "client", "pc", "Psi 0.11", "en");
    identity(q, "client", "pc", "\xce\xa8 0.11", "el");
    for (const char* f : {"http://jabber.org/protocol/caps", "http://jabber.org/protocol/disco#info",
                          "http://jabber.org/protocol/disco#items", "http://jabber.org/protocol/muc"})
        feature(q, f);
    auto& x = q.add_child("x", "jabber:x:data");
    x.set_attr("type", "result");
    field(x, "FORM_TYPE", {"urn:xmpp:dataforms:softwareinfo"}, "hidden");
    field(x, "ip_version", {"ipv6", "ipv4"}, "text-multi");  // values out of order: sorted by the method
    field(x, "software_version", {"0.11"});
    field(x, "os", {"Mac"});
    field(x, "os_version", {"10.5.1"});
    field(x, "software", {"Psi"});
    auto ver = verification_string(q, "sha-1");
    BOOST_REQUIRE(ver.has_value());
    BOOST_TEST(*ver == "q07IKJEyjvHSyhy//CH0CxmKi8w=", "pep caps: §5.3 example");
    // A form whose FORM_TYPE is not hidden is left out, not refused.
    xml::Element q2 = simple_example();
    auto& x2 = q2.add_child("x", "jabber:x:data");
    field(x2, "FORM_TYPE", {"urn:example"});
    field(x2, "a", {"b"});
    BOOST_TEST(verification_string(q2, "sha-1").value_or("") == "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

BOOST_AUTO_TEST_CASE(ill_formed_responses_give_no_verification_string) {
    xml::Element dup_feature = simple_example();
    feature(dup_feature, "http://jabber.org/protocol/muc");
    BOOST_TEST(!verification_string(dup_feature, "sha-1").has_value(), "pep caps: duplicate feature");
    xml::Element dup_identity = simple_example();
    identity(dup_identity, "client", "pc", "Exodus 0.9.1");
    BOOST_TEST(!verification_string(dup_identity, "sha-1").has_value(), "pep caps: duplicate identity");
    xml::Element dup_form = simple_example();
    for (int i = 0; i < 2; ++i) {
        auto& x = dup_form.add_child("x", "jabber:x:data");
        field(x, "FORM_TYPE", {"urn:example"}, "hidden");
    }
    BOOST_TEST(!verification_string(dup_form, "sha-1").has_value(), "pep caps: two forms of one FORM_TYPE");
    xml::Element two_types = simple_example();
    field(two_types.add_child("x", "jabber:x:data"), "FORM_TYPE", {"urn:a", "urn:b"}, "hidden");
    BOOST_TEST(!verification_string(two_types, "sha-1").has_value(), "pep caps: FORM_TYPE with two values");
    BOOST_TEST(!verification_string(simple_example(), "md5").has_value(), "pep caps: md5 is not supported");
    BOOST_TEST(hash_supported("sha-256"));
    BOOST_TEST(!hash_supported("md5"));
    // Another hash gives another string.
    BOOST_TEST(verification_string(simple_example(), "sha-256").value_or("") != "QgayPKawpkPSDYmwT/WM94uAlu0=");
}

BOOST_AUTO_TEST_CASE(notify_sets_and_presence_caps) {
    xml::Element q = simple_example();
    feature(q, "http://jabber.org/protocol/tune+notify");
    feature(q, "urn:xmpp:bookmarks:1+notify");
    feature(q, "+notify");  // no node: ignored
    NotifySet set = notify_set(q);
    BOOST_TEST(set == (NotifySet{"http://jabber.org/protocol/tune", "urn:xmpp:bookmarks:1"}));
    BOOST_TEST(wants(set, "urn:xmpp:bookmarks:1"));
    BOOST_TEST(!wants(set, "http://jabber.org/protocol/muc"));

    xml::Element p("presence", "jabber:client");
    BOOST_TEST(!parse_caps(p).has_value());
    auto& c = p.add_child("c", std::string(kNsCaps));
    c.set_attr("hash", "sha-1");
    c.set_attr("node", "http://example.org/client");
    c.set_attr("ver", "QgayPKawpkPSDYmwT/WM94uAlu0=");
    auto caps = parse_caps(p);
    BOOST_REQUIRE(caps.has_value());
    BOOST_TEST(caps->key() == "sha-1 QgayPKawpkPSDYmwT/WM94uAlu0=");
}

BOOST_AUTO_TEST_CASE(cache_is_bounded_and_keeps_the_recently_used) {
    CapsCache cache(2);
    auto set = [](const char* n) { return std::make_shared<const NotifySet>(NotifySet{n}); };
    cache.insert("a", set("a"));
    cache.insert("b", set("b"));
    BOOST_TEST(cache.find("a") != nullptr);  // a is now the most recent
    cache.insert("c", set("c"));
    BOOST_TEST(cache.size() == 2u);
    BOOST_TEST(cache.find("b") == nullptr, "pep caps: the least recently used went");
    BOOST_TEST(cache.find("a") != nullptr);
    BOOST_TEST(cache.find("c")->front() == "c");
    cache.set_capacity(1);
    BOOST_TEST(cache.size() == 1u);
    CapsCache none(0);
    none.insert("a", set("a"));
    BOOST_TEST(none.find("a") == nullptr, "pep caps: a cache of size 0 keeps nothing");
}

BOOST_AUTO_TEST_SUITE_END()

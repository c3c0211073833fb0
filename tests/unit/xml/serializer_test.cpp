#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <stdexcept>

#include "xml/serializer.hpp"

using parley::xml::Attribute;
using parley::xml::Element;
using parley::xml::kStreamNs;
using parley::xml::QName;
using parley::xml::to_string;

BOOST_AUTO_TEST_SUITE(xml_serializer)

BOOST_AUTO_TEST_CASE(text_and_attribute_values_are_escaped) {
    Element m("message", "jabber:client");
    m.set_attr("id", "a'b\"c<d>e&f");
    m.add_child("body", "jabber:client").add_text("1 < 2 && 3 > 2 ]]> 'q' \"d\"");
    BOOST_TEST(to_string(m, "jabber:client") ==
                   "<message id='a&apos;b&quot;c&lt;d&gt;e&amp;f'><body>1 &lt; 2 &amp;&amp; 3 &gt; 2 ]]&gt; 'q' "
                   "\"d\"</body></message>",
               "xml: serializer escapes & < > in text and & < > ' \" in attributes");
}

BOOST_AUTO_TEST_CASE(carriage_returns_in_text_survive) {
    Element e("x", "urn:a");
    e.add_text("a\r\nb\rc");
    BOOST_TEST(to_string(e, "urn:a") == "<x>a&#13;\nb&#13;c</x>", "xml: a CR in text is a reference, not a line end");
}

BOOST_AUTO_TEST_CASE(whitespace_in_attribute_values_survives) {
    Element e("x", "urn:a");
    e.set_attr("v", "a\tb\nc\rd");
    BOOST_TEST(to_string(e, "urn:a") == "<x v='a&#9;b&#10;c&#13;d'/>");
}

BOOST_AUTO_TEST_CASE(namespaces_are_declared_only_where_they_change) {
    Element iq("iq", "jabber:client");
    iq.set_attr("type", "result");
    auto& q = iq.add_child("query", "jabber:iq:version");
    q.add_child("name", "jabber:iq:version").add_text("Parley");
    q.add_child("x", "jabber:client");
    BOOST_TEST(to_string(iq, "jabber:client") ==
               "<iq type='result'><query xmlns='jabber:iq:version'><name>Parley</name>"
               "<x xmlns='jabber:client'/></query></iq>");
    BOOST_TEST(to_string(iq, "jabber:server") ==
               "<iq xmlns='jabber:client' type='result'><query xmlns='jabber:iq:version'><name>Parley</name>"
               "<x xmlns='jabber:client'/></query></iq>",
               "xml: an element outside the stream's default namespace declares its own");
    Element none("a", "");
    none.add_child("b", "");
    BOOST_TEST(to_string(none, "jabber:client") == "<a xmlns=''><b/></a>", "xml: no namespace is xmlns=''");
}

BOOST_AUTO_TEST_CASE(stream_namespace_elements_use_the_stream_prefix) {
    Element f("features", std::string(kStreamNs));
    f.add_child("starttls", "urn:ietf:params:xml:ns:xmpp-tls").add_child("required", "urn:ietf:params:xml:ns:xmpp-tls");
    f.add_child("c", "jabber:client");
    BOOST_TEST(to_string(f, "jabber:client") ==
               "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"
               "<c/></stream:features>",
               "xml: stream: prefix, and children still inherit the stream's default namespace");
}

BOOST_AUTO_TEST_CASE(foreign_and_xml_namespace_attributes_are_redeclared) {
    Element e("body", "jabber:client");
    e.set_attr(parley::xml::xml_lang(), "en");
    e.set_attr(QName{"urn:example:a", "x"}, "1");
    e.set_attr(QName{"urn:example:b", "y"}, "2");
    e.set_attr(QName{"urn:example:a", "z"}, "3");
    e.set_attr(QName{std::string(parley::xml::kXmlNs), "space"}, "preserve");
    BOOST_TEST(to_string(e, "jabber:client") ==
               "<body xml:lang='en' xmlns:ns1='urn:example:a' ns1:x='1' xmlns:ns2='urn:example:b' ns2:y='2' "
               "ns1:z='3' xml:space='preserve'/>");
}

BOOST_AUTO_TEST_CASE(names_that_are_not_ncnames_are_refused) {
    // The string convention "{URI}local" of old must not sneak back in.
    Element e("x", "urn:a");
    BOOST_CHECK_THROW(e.set_attr("{urn:a}b", "1"), std::invalid_argument);
    BOOST_CHECK_THROW(e.set_attr("a='1'", "1"), std::invalid_argument);
    BOOST_CHECK_THROW(e.set_attr("xml:lang", "en"), std::invalid_argument);
    BOOST_CHECK_THROW(e.set_attr("xmlns", "urn:other"), std::invalid_argument);
    BOOST_CHECK_THROW(e.set_attr(QName{"urn:x}q='1'/><", "a b"}, "1"), std::invalid_argument);
    BOOST_CHECK_THROW(e.set_attr(QName{std::string(parley::xml::kXmlnsNs), "p"}, "urn:p"), std::invalid_argument);
    BOOST_CHECK_THROW(Element("a b", "urn:a"), std::invalid_argument);
    BOOST_CHECK_THROW(Element("", "urn:a"), std::invalid_argument);
    BOOST_CHECK_THROW(Element("m>", "urn:a"), std::invalid_argument);
    BOOST_CHECK_THROW(Element("p", std::string(parley::xml::kXmlnsNs)), std::invalid_argument);
    BOOST_CHECK_THROW(e.add_child("1st", "urn:a"), std::invalid_argument);
    BOOST_TEST(e.attrs().empty(), "xml: a refused attribute is not added");
    BOOST_TEST(e.child_count() == 0u, "xml: a refused child is not added");
    BOOST_TEST(to_string(e, "urn:a") == "<x/>");
}

BOOST_AUTO_TEST_CASE(ncname_check) {
    using parley::xml::is_ncname;
    for (const char* good : {"a", "_x", "body", "x-1.2_3", "\xC3\xA9t\xC3\xA9", "\xE5\x90\x8D\xE5\x89\x8D",
                             "a\xC2\xB7" "b", "\xF0\x90\x80\x80"})
        BOOST_TEST(is_ncname(good), "xml: an NCName: " << good);
    for (const char* bad : {"", "1a", "-a", ".a", "a:b", "a b", "a>", "a'", "a}", "{a", "a=", "\xC3", "\xC3\x28",
                            "\xED\xA0\x80", "\xC0\x80", "a\xC3\x97" "b", "\xC2\xB7" "a", "\xEF\xBF\xBF"})
        BOOST_TEST(!is_ncname(bad), "xml: not an NCName: " << bad);
}

BOOST_AUTO_TEST_CASE(stream_header_and_close) {
    std::vector<Attribute> attrs{
        {"from", "example.com"}, {"id", "x'1"}, {"version", "1.0"}, {parley::xml::xml_lang(), "en"}};
    BOOST_TEST(parley::xml::stream_header("jabber:client", attrs) ==
               "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
               "xmlns:stream='http://etherx.jabber.org/streams' from='example.com' id='x&apos;1' version='1.0' "
               "xml:lang='en'>");
    BOOST_TEST(parley::xml::stream_close() == "</stream:stream>");
}

BOOST_AUTO_TEST_CASE(shared_children_are_written_once_and_copies_stay_apart) {
    Element m("message", "jabber:client");
    m.set_attr("type", "groupchat");
    m.add_child("body", "jabber:client").add_text("hi & bye");
    m.add_child("x", "http://jabber.org/protocol/muc#user");
    const std::string before = to_string(m, "jabber:client");
    const std::string server_before = to_string(m, "jabber:server");

    parley::xml::share_children(m, "jabber:client");
    BOOST_TEST(m.shared_children("jabber:client") != nullptr);
    BOOST_TEST(*m.shared_children("jabber:client") ==
               "<body>hi &amp; bye</body><x xmlns='http://jabber.org/protocol/muc#user'/>");
    BOOST_TEST(to_string(m, "jabber:client") == before, "xml: shared children write the same bytes");
    BOOST_TEST(to_string(m, "jabber:server") == server_before, "xml: and the same in another stream namespace");

    Element a = m, b = m;
    a.set_attr("to", "a@x/1");
    b.set_attr("to", "b@x/1");
    BOOST_TEST(to_string(a, "jabber:client") ==
               "<message type='groupchat' to='a@x/1'><body>hi &amp; bye</body>"
               "<x xmlns='http://jabber.org/protocol/muc#user'/></message>");
    BOOST_TEST(a.shared_children("jabber:client") == m.shared_children("jabber:client"),
               "xml: a copy holds the same children, not a copy of them");

    // Changes to one copy's children are its own.
    a.add_child("delay", "urn:xmpp:delay");
    b.child("body", "jabber:client")->add_text("!");
    BOOST_TEST(b.remove_children("x", "http://jabber.org/protocol/muc#user") == 1u);
    BOOST_TEST(a.shared_children("jabber:client") == nullptr);
    BOOST_TEST(to_string(m, "jabber:client") == before, "xml: the original is untouched by its copies' changes");
    BOOST_TEST(to_string(a, "jabber:client") ==
               "<message type='groupchat' to='a@x/1'><body>hi &amp; bye</body>"
               "<x xmlns='http://jabber.org/protocol/muc#user'/><delay xmlns='urn:xmpp:delay'/></message>");
    BOOST_TEST(to_string(b, "jabber:client") == "<message type='groupchat' to='b@x/1'><body>hi &amp; bye!</body></message>");
    // Looking for a child that is not there, or removing none, keeps the sharing.
    Element c = m;
    BOOST_TEST(c.child("nothing", "urn:x") == nullptr);
    BOOST_TEST(c.remove_children("nothing", "urn:x") == 0u);
    BOOST_TEST(c.shared_children("jabber:client") == m.shared_children("jabber:client"));
    BOOST_TEST((c == m));
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "xml/element.hpp"

using parley::xml::Element;

BOOST_AUTO_TEST_SUITE(xml_element)

BOOST_AUTO_TEST_CASE(attributes_are_found_replaced_and_removed) {
    Element e("message", "jabber:client");
    BOOST_TEST(e.attr("to") == nullptr, "xml: an absent attribute is nullptr");
    BOOST_TEST(e.attr_or("to").empty(), "xml: attr_or of an absent attribute is empty");
    e.set_attr("to", "juliet@example.com");
    e.set_attr("type", "chat");
    e.set_attr("to", "romeo@example.net");
    BOOST_REQUIRE(e.attr("to") != nullptr);
    BOOST_TEST(*e.attr("to") == "romeo@example.net", "xml: set_attr replaces");
    BOOST_TEST(e.attrs().size() == 2u, "xml: set_attr does not duplicate");
    BOOST_TEST(e.attrs()[0].name.local == "to", "xml: attribute order is kept");
    BOOST_TEST(e.remove_attr("to"));
    BOOST_TEST(!e.remove_attr("to"));
    BOOST_TEST(e.attr("to") == nullptr);
    BOOST_TEST(e.attr_or("type") == "chat");
}

BOOST_AUTO_TEST_CASE(children_and_text_keep_their_order) {
    Element e("message", "jabber:client");
    e.add_text("  ");
    Element& body = e.add_child("body", "jabber:client");
    body.add_text("Wherefore");
    body.add_text(" art thou?");
    e.add_text("\n");
    e.add_child(Element("x", "urn:example"));
    BOOST_TEST(e.nodes().size() == 4u, "xml: element and text nodes in order");
    BOOST_TEST(e.child_count() == 2u, "xml: child_count counts elements only");
    // `body` may dangle now: adding children moves them.
    BOOST_TEST(e.child("body", "jabber:client")->text() == "Wherefore art thou?", "xml: adjacent text merges");
    BOOST_TEST(e.text() == "  \n", "xml: text() is the direct text only");
    BOOST_REQUIRE(e.first_child() != nullptr);
    BOOST_TEST(e.first_child()->name() == "body", "xml: first_child skips text");
    BOOST_TEST(e.child("body", "jabber:client") != nullptr);
    BOOST_TEST(e.child("body", "urn:other") == nullptr, "xml: child() matches the namespace too");
    BOOST_TEST(e.child("x", "urn:example") != nullptr);
    std::vector<std::string> names;
    for (const Element& c : e.children()) names.push_back(c.name());
    BOOST_TEST((names == std::vector<std::string>{"body", "x"}), "xml: children() iterates elements");
    BOOST_TEST(e.remove_children("x", "urn:example") == 1u);
    BOOST_TEST(e.child_count() == 1u);
}

BOOST_AUTO_TEST_CASE(add_child_returns_the_new_child_for_chaining) {
    Element iq("iq", "jabber:client");
    iq.add_child("bind", "urn:ietf:params:xml:ns:xmpp-bind").add_child("jid", "urn:ietf:params:xml:ns:xmpp-bind").add_text("a@b/c");
    const Element* bind = iq.child("bind", "urn:ietf:params:xml:ns:xmpp-bind");
    BOOST_REQUIRE(bind != nullptr);
    BOOST_REQUIRE(bind->child("jid", "urn:ietf:params:xml:ns:xmpp-bind") != nullptr);
    BOOST_TEST(bind->child("jid", "urn:ietf:params:xml:ns:xmpp-bind")->text() == "a@b/c");
}

BOOST_AUTO_TEST_CASE(copies_are_deep_and_independent) {
    Element a("presence", "jabber:client");
    a.add_child("show", "jabber:client").add_text("away");
    Element b = a;
    BOOST_TEST((a == b), "xml: a copy is equal");
    b.set_attr("to", "x@y");
    b.child("show", "jabber:client")->add_text("!");
    BOOST_TEST(a.attr("to") == nullptr, "xml: copies do not share attributes");
    BOOST_TEST(a.child("show", "jabber:client")->text() == "away", "xml: copies do not share children");
    BOOST_TEST(!(a == b));
    Element c = std::move(b);
    BOOST_TEST(c.child("show", "jabber:client")->text() == "away!");
    // Adding a copy of one's own child is safe.
    c.add_child(*c.first_child());
    BOOST_TEST(c.child_count() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

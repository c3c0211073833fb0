#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include "xml/serializer.hpp"
#include "xmpp/errors.hpp"

using parley::StanzaError;
using parley::xml::Element;
using parley::xml::ParseError;
using namespace parley::xmpp;

BOOST_AUTO_TEST_SUITE(xmpp_errors)

BOOST_AUTO_TEST_CASE(condition_names_follow_rfc6120) {
    using C = StreamErrorCondition;
    const std::pair<C, const char*> v[] = {
        {C::bad_format, "bad-format"},
        {C::bad_namespace_prefix, "bad-namespace-prefix"},
        {C::conflict, "conflict"},
        {C::connection_timeout, "connection-timeout"},
        {C::host_gone, "host-gone"},
        {C::host_unknown, "host-unknown"},
        {C::improper_addressing, "improper-addressing"},
        {C::internal_server_error, "internal-server-error"},
        {C::invalid_from, "invalid-from"},
        {C::invalid_namespace, "invalid-namespace"},
        {C::invalid_xml, "invalid-xml"},
        {C::not_authorized, "not-authorized"},
        {C::not_well_formed, "not-well-formed"},
        {C::policy_violation, "policy-violation"},
        {C::remote_connection_failed, "remote-connection-failed"},
        {C::reset, "reset"},
        {C::resource_constraint, "resource-constraint"},
        {C::restricted_xml, "restricted-xml"},
        {C::see_other_host, "see-other-host"},
        {C::system_shutdown, "system-shutdown"},
        {C::undefined_condition, "undefined-condition"},
        {C::unsupported_encoding, "unsupported-encoding"},
        {C::unsupported_feature, "unsupported-feature"},
        {C::unsupported_stanza_type, "unsupported-stanza-type"},
        {C::unsupported_version, "unsupported-version"},
    };
    for (const auto& [c, name] : v) BOOST_TEST(condition_name(c) == name, "xmpp errors: name of " << name);
}

BOOST_AUTO_TEST_CASE(stream_error_element) {
    Element e = make_stream_error(StreamErrorCondition::not_well_formed, "line 1 & more");
    BOOST_TEST(parley::xml::to_string(e, "jabber:client") ==
               "<stream:error><not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"
               "<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>line 1 &amp; more</text>"
               "</stream:error>");
    BOOST_TEST(parley::xml::to_string(make_stream_error(StreamErrorCondition::conflict, ""), "jabber:client") ==
               "<stream:error><conflict xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>",
               "xmpp errors: no <text/> without text");
}

BOOST_AUTO_TEST_CASE(parse_errors_map_to_stream_conditions) {
    BOOST_TEST((from_parse_error(ParseError::not_well_formed) == StreamErrorCondition::not_well_formed));
    BOOST_TEST((from_parse_error(ParseError::restricted_xml) == StreamErrorCondition::restricted_xml));
    BOOST_TEST((from_parse_error(ParseError::unsupported_encoding) == StreamErrorCondition::unsupported_encoding));
    BOOST_TEST((from_parse_error(ParseError::bad_namespace_prefix) == StreamErrorCondition::bad_namespace_prefix));
    BOOST_TEST((from_parse_error(ParseError::too_large) == StreamErrorCondition::policy_violation));
    BOOST_TEST((from_parse_error(ParseError::too_deep) == StreamErrorCondition::policy_violation));
}

BOOST_AUTO_TEST_CASE(errors_and_results_are_never_answered) {
    Element iq("iq", "jabber:client");
    iq.set_attr("type", "result");
    BOOST_TEST(is_error_or_result(iq));
    iq.set_attr("type", "error");
    BOOST_TEST(is_error_or_result(iq));
    iq.set_attr("type", "get");
    BOOST_TEST(!is_error_or_result(iq));
    Element m("message", "jabber:client");
    BOOST_TEST(!is_error_or_result(m));
    m.set_attr("type", "result");
    BOOST_TEST(!is_error_or_result(m), "xmpp errors: only an iq can be a result");
    m.set_attr("type", "error");
    BOOST_TEST(is_error_or_result(m));
}

BOOST_AUTO_TEST_CASE(error_reply_swaps_addresses_and_drops_an_iqs_payload) {
    Element iq("iq", "jabber:client");
    iq.set_attr("from", "juliet@example.com/balcony");
    iq.set_attr("to", "example.com");
    iq.set_attr("type", "get");
    iq.set_attr("id", "v1");
    iq.add_child("query", "jabber:iq:version");
    Element r = make_error_reply(iq, StanzaError::cancel("service-unavailable", "no <thanks>"));
    BOOST_TEST(parley::xml::to_string(r, "jabber:client") ==
               "<iq type='error' id='v1' from='example.com' to='juliet@example.com/balcony'>"
               "<error type='cancel'>"
               "<service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
               "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>no &lt;thanks&gt;</text>"
               "</error></iq>");
}

BOOST_AUTO_TEST_CASE(error_reply_without_to_has_no_from) {
    Element m("message", "jabber:client");
    m.set_attr("from", "juliet@example.com/balcony");
    m.add_child("body", "jabber:client").add_text("hi");
    Element r = make_error_reply(m, StanzaError::modify("jid-malformed"));
    BOOST_TEST(r.attr("from") == nullptr, "xmpp errors: the router fills in 'from' when there was no 'to'");
    BOOST_TEST(r.attr_or("to") == "juliet@example.com/balcony");
    BOOST_TEST(r.attr_or("type") == "error");
    const Element* e = r.child("error", "jabber:client");
    BOOST_REQUIRE(e != nullptr);
    BOOST_TEST(e->attr_or("type") == "modify");
    BOOST_TEST(e->child("jid-malformed", "urn:ietf:params:xml:ns:xmpp-stanzas") != nullptr);
    BOOST_TEST(e->child("text", "urn:ietf:params:xml:ns:xmpp-stanzas") == nullptr, "xmpp errors: no empty <text/>");
    BOOST_TEST(r.child("body", "jabber:client") != nullptr, "xmpp errors: the original payload is kept");
}

BOOST_AUTO_TEST_CASE(error_reply_carries_the_application_condition) {
    Element iq("iq", "jabber:client");
    iq.set_attr("from", "juliet@example.com/balcony");
    iq.set_attr("type", "set");
    iq.set_attr("id", "p1");
    iq.add_child("pubsub", "http://jabber.org/protocol/pubsub");
    Element r = make_error_reply(iq, StanzaError::cancel("conflict", "access_model differs")
                                         .with_app("precondition-not-met", "http://jabber.org/protocol/pubsub#errors"));
    BOOST_TEST(parley::xml::to_string(r, "jabber:client") ==
               "<iq type='error' id='p1' to='juliet@example.com/balcony'>"
               "<error type='cancel'>"
               "<conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>"
               "<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>access_model differs</text>"
               "<precondition-not-met xmlns='http://jabber.org/protocol/pubsub#errors'/>"
               "</error></iq>");
    Element u = make_error_reply(iq, StanzaError::cancel("feature-not-implemented")
                                         .with_app("unsupported", "http://jabber.org/protocol/pubsub#errors", "subscribe"));
    const Element* e = u.child("error", "jabber:client");
    BOOST_REQUIRE(e != nullptr);
    const Element* app = e->child("unsupported", "http://jabber.org/protocol/pubsub#errors");
    BOOST_REQUIRE_MESSAGE(app != nullptr, "xmpp errors: the application condition is in the error");
    BOOST_TEST(app->attr_or("feature") == "subscribe");
}

BOOST_AUTO_TEST_SUITE_END()

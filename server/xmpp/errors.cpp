#include "xmpp/errors.hpp"

#include <string>
#include <utility>

#include "xmpp/namespaces.hpp"

namespace parley::xmpp {

std::string_view condition_name(StreamErrorCondition c) {
    using C = StreamErrorCondition;
    switch (c) {
        case C::bad_format: return "bad-format";
        case C::bad_namespace_prefix: return "bad-namespace-prefix";
        case C::conflict: return "conflict";
        case C::connection_timeout: return "connection-timeout";
        case C::host_gone: return "host-gone";
        case C::host_unknown: return "host-unknown";
        case C::improper_addressing: return "improper-addressing";
        case C::internal_server_error: return "internal-server-error";
        case C::invalid_from: return "invalid-from";
        case C::invalid_namespace: return "invalid-namespace";
        case C::invalid_xml: return "invalid-xml";
        case C::not_authorized: return "not-authorized";
        case C::not_well_formed: return "not-well-formed";
        case C::policy_violation: return "policy-violation";
        case C::remote_connection_failed: return "remote-connection-failed";
        case C::reset: return "reset";
        case C::resource_constraint: return "resource-constraint";
        case C::restricted_xml: return "restricted-xml";
        case C::see_other_host: return "see-other-host";
        case C::system_shutdown: return "system-shutdown";
        case C::undefined_condition: return "undefined-condition";
        case C::unsupported_encoding: return "unsupported-encoding";
        case C::unsupported_feature: return "unsupported-feature";
        case C::unsupported_stanza_type: return "unsupported-stanza-type";
        case C::unsupported_version: return "unsupported-version";
    }
    return "undefined-condition";
}

xml::Element make_stream_error(StreamErrorCondition condition, std::string_view text) {
    xml::Element e("error", std::string(xml::kStreamNs));
    e.add_child(std::string(condition_name(condition)), std::string(kNsStreamErrors));
    if (!text.empty()) {
        auto& t = e.add_child("text", std::string(kNsStreamErrors));
        t.set_attr(xml::xml_lang(), "en");
        t.add_text(std::string(text));
    }
    return e;
}

StreamErrorCondition from_parse_error(xml::ParseError error) {
    using P = xml::ParseError;
    switch (error) {
        case P::none: return StreamErrorCondition::undefined_condition;
        case P::not_well_formed: return StreamErrorCondition::not_well_formed;
        case P::restricted_xml: return StreamErrorCondition::restricted_xml;
        case P::unsupported_encoding: return StreamErrorCondition::unsupported_encoding;
        case P::bad_namespace_prefix: return StreamErrorCondition::bad_namespace_prefix;
        case P::too_large:
        case P::too_deep: return StreamErrorCondition::policy_violation;
    }
    return StreamErrorCondition::undefined_condition;
}

bool is_error_or_result(const xml::Element& stanza) {
    const std::string_view type = stanza.attr_or("type");
    return type == "error" || (stanza.name() == "iq" && type == "result");
}

xml::Element make_error_reply(const xml::Element& stanza, const StanzaError& error) {
    // An iq's error carries no copy of the request (RFC 6120 §8.3.1 makes it
    // optional): a request may hold what must not travel back (a new
    // password, XEP-0077 §3.3), and every refusal then has the same shape
    // whoever answers it, which enumeration tests rely on. Messages and
    // presence keep theirs, so that a client can show what failed.
    xml::Element reply = stanza.name() == "iq" ? xml::Element("iq", stanza.ns()) : stanza;
    if (stanza.name() == "iq")
        for (const auto& a : stanza.attrs()) reply.set_attr(a.name, a.value);
    const std::string* from = stanza.attr("from");
    const std::string* to = stanza.attr("to");
    reply.remove_attr("from");
    reply.remove_attr("to");
    if (to) reply.set_attr("from", *to);
    if (from) reply.set_attr("to", *from);
    reply.set_attr("type", "error");
    reply.remove_children("error", stanza.ns());
    auto& e = reply.add_child("error", stanza.ns());
    e.set_attr("type", error.type.empty() ? std::string("cancel") : error.type);
    e.add_child(error.condition.empty() ? std::string("undefined-condition") : error.condition,
                std::string(kNsStanzas));
    if (!error.text.empty()) {
        auto& t = e.add_child("text", std::string(kNsStanzas));
        t.set_attr(xml::xml_lang(), "en");
        t.add_text(error.text);
    }
    if (!error.app_condition.empty()) {
        auto& a = e.add_child(error.app_condition, error.app_ns);
        if (!error.app_feature.empty()) a.set_attr("feature", error.app_feature);
    }
    return reply;
}

std::optional<StanzaError> iq_shape_error(const xml::Element& iq) {
    const std::string_view t = iq.attr_or("type");
    if ((t != "get" && t != "set" && t != "result" && t != "error") || !iq.attr("id"))
        return StanzaError::modify("bad-request", "an iq needs an id and a type of get, set, result or error");
    if ((t == "get" || t == "set") && iq.child_count() != 1)
        return StanzaError::modify("bad-request", "an iq request carries exactly one child");
    return std::nullopt;
}

}  // namespace parley::xmpp

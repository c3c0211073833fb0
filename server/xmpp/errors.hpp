// XMPP errors as elements: stream errors (RFC 6120 §4.9) and stanza error
// replies (RFC 6120 §8.3).
//
// make_stream_error() builds the <stream:error/> a transport sends before
// closing; from_parse_error() says which condition a parser failure is.
// make_error_reply() turns a stanza and a StanzaError into the error reply
// to its sender; is_error_or_result() tells the stanzas that must never be
// answered with an error (RFC 6120 §8.3.1). Pure functions: any thread.
#pragma once

#include <optional>
#include <string_view>

#include "errors/stanza_error.hpp"
#include "xml/element.hpp"
#include "xml/stream_parser.hpp"

namespace parley::xmpp {

// Every defined condition of RFC 6120 §4.9.3.
enum class StreamErrorCondition {
    bad_format,
    bad_namespace_prefix,
    conflict,
    connection_timeout,
    host_gone,
    host_unknown,
    improper_addressing,
    internal_server_error,
    invalid_from,
    invalid_namespace,
    invalid_xml,
    not_authorized,
    not_well_formed,
    policy_violation,
    remote_connection_failed,
    reset,
    resource_constraint,
    restricted_xml,
    see_other_host,
    system_shutdown,
    undefined_condition,
    unsupported_encoding,
    unsupported_feature,
    unsupported_stanza_type,
    unsupported_version,
};

// The element name of the condition, e.g. "not-well-formed".
std::string_view condition_name(StreamErrorCondition condition);

// <stream:error><COND xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>
// <text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>TEXT</text>
// </stream:error>; no <text/> when `text` is empty.
xml::Element make_stream_error(StreamErrorCondition condition, std::string_view text);

// not_well_formed, restricted_xml, unsupported_encoding and
// bad_namespace_prefix map to the condition of that name; the limits
// (too_large, too_deep) to policy_violation; none to undefined_condition.
StreamErrorCondition from_parse_error(xml::ParseError error);

// What is wrong with an iq from a peer that addresses it itself (another
// server, a component): not a type of get, set, result or error, or no id
// (bad-request); a request without exactly one child (bad-request);
// nullopt when it is well formed.
std::optional<StanzaError> iq_shape_error(const xml::Element& iq);

// True for an iq of type result or error and for any stanza of type error.
bool is_error_or_result(const xml::Element& stanza);

// RFC 6120 §8.3.1: the same stanza (name, namespace, id, payload) with 'to'
// and 'from' swapped (an absent one stays absent), type='error', and
// <error type=TYPE><COND xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>
// <text xmlns=... xml:lang='en'>TEXT</text></error> appended, and after the
// text the application-specific condition when the error has one
// (<APP xmlns=APP_NS feature=FEATURE/>). An <error/> child the original had
// is dropped first.
xml::Element make_error_reply(const xml::Element& stanza, const StanzaError& error);

}  // namespace parley::xmpp

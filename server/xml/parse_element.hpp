// xml::parse_element: one element back from its serialized text.
//
// The reverse of xml::serialize() for a record kept as text (a stored
// vCard, an offline message): `text` must hold exactly one element, as it
// would appear inside a stream whose default namespace is `default_ns`
// (what serialize() wrote with the same `default_ns`). It is parsed by the
// stream parser, under the same restrictions as anything read from a client
// (RFC 6120 §11: no DTD, comments or processing instructions, declared
// prefixes only), inside a synthetic stream header. Limits guard against a
// damaged record rather than a peer: elements may nest `max_depth` deep
// (the element itself is depth 1), and the tree may take what a stream
// allows a stanza of the text's size plus a small margin
// (xml::kTreeBytesPerStanzaByte per byte), so text a stream accepted always
// parses again.
//
// Part of the module interface (doc/modules.md): modules parse what they
// stored through this, never through the stream parser itself. Any
// thread: each keeps one synthetic stream open between calls (a page of
// archived messages is parsed into it, ~2.6 us a message instead of ~9 us
// with a parser made per call), used again only when a call left it exactly
// between two elements.
#pragma once

#include <cstddef>
#include <string_view>

#include "errors/status.hpp"
#include "xml/element.hpp"

namespace parley::xml {

// Code "parse" (the message is the parser's, e.g. "not well-formed (invalid
// token) at line 1") when the text is not well-formed, restricted or over
// the limits; code "not-one-element" (message "not one element") when it
// holds no element or more than one.
Result<Element> parse_element(std::string_view text, std::string_view default_ns, size_t max_depth);

}  // namespace parley::xml

// xml serializer: Element trees and stream framing as XMPP stream bytes.
//
// serialize() appends one element to `out` as it must appear inside a stream
// whose default namespace is `default_ns` (jabber:client for c2s): an element
// in the namespace it inherits gets no declaration, any other gets
// xmlns='...'; an element in xml::kStreamNs is written with the `stream:`
// prefix declared by stream_header() (<stream:features/>, <stream:error/>),
// one in xml::kXmlNs with the predeclared `xml:` prefix, and the children of
// either still inherit the enclosing default namespace. An
// attribute in a namespace gets a generated prefix (ns1, ns2, ...) declared
// on its element; xml:* uses the predefined xml prefix. Text is escaped
// (& < > and CR), attribute values too (& < > ' " TAB LF CR), and values are
// quoted with '. Namespace URIs are written as escaped attribute values, so
// a URI of any content round-trips.
//
// Names: every element and attribute name goes through one function that
// checks it is an NCName and throws std::invalid_argument otherwise (Element
// already refuses such names, so this cannot happen for a tree built through
// its interface). Whatever the parser produced serializes to exactly one
// element that parses back to the same tree (tests/unit/xml/round_trip_test,
// tests/fuzz/stream_parser_fuzz). Text content is written as stored: the
// caller keeps it valid UTF-8 without XML-forbidden characters, as the parser
// does. Pure functions: any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace parley::xml {

void serialize(const Element& e, std::string& out, std::string_view default_ns);
std::string to_string(const Element& e, std::string_view default_ns);

// For one stanza sent to many (a room's message to its occupants): writes
// e's children once, as they appear when e is serialized where default_ns
// is the default namespace, and makes them shared (element.hpp). Copies of
// e made afterwards share the children, and serialize() writes those bytes
// instead of walking the tree again wherever the children inherit the same
// namespace; the output is byte for byte what it would be without sharing.
// e's own name and attributes stay its own: each copy may set its 'to'.
// Invalidates references to e's children.
void share_children(Element& e, std::string_view default_ns);

// "<?xml version='1.0'?><stream:stream xmlns='DEFAULT'
//  xmlns:stream='http://etherx.jabber.org/streams' ATTRS>" (one line).
std::string stream_header(std::string_view default_ns, const std::vector<Attribute>& attrs);
// "</stream:stream>"
std::string stream_close();

// Escaping helpers, also used by the parser to build its priming header.
void append_escaped_text(std::string& out, std::string_view text);
void append_escaped_attr(std::string& out, std::string_view value);

}  // namespace parley::xml

// xml serializer: Element trees and stream framing as XMPP stream bytes.
//
// serialize() appends one element to `out` as it must appear inside a stream
// whose default namespace is `default_ns` (jabber:client for c2s): an element
// in the namespace it inherits gets no declaration, any other gets
// xmlns='...'; an element in xml::kStreamNs is written with the `stream:`
// prefix declared by stream_header() (<stream:features/>, <stream:error/>),
// and its children still inherit the stream's default namespace. Attributes
// in foreign namespaces ("{URI}local") get a generated prefix declared on the
// element. Text is escaped (& < >), attribute values too (& < > ' "), and
// values are quoted with '.
//
// Output is UTF-8 as stored; the caller is responsible for well-formed
// content (the parser only ever produces such). Pure functions: any thread.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace parley::xml {

void serialize(const Element& e, std::string& out, std::string_view default_ns);
std::string to_string(const Element& e, std::string_view default_ns);

// "<?xml version='1.0'?><stream:stream xmlns='DEFAULT'
//  xmlns:stream='http://etherx.jabber.org/streams' ATTRS>" (one line).
std::string stream_header(std::string_view default_ns, const std::vector<Attribute>& attrs);
// "</stream:stream>"
std::string stream_close();

// Escaping helpers, also used by the parser to build its priming header.
void append_escaped_text(std::string& out, std::string_view text);
void append_escaped_attr(std::string& out, std::string_view value);

}  // namespace parley::xml

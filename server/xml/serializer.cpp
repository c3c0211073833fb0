#include "xml/serializer.hpp"

#include <stdexcept>
#include <utility>

namespace parley::xml {

namespace {

void escape_text_char(std::string& out, char c) {
    switch (c) {
        case '&': out.append("&amp;"); break;
        case '<': out.append("&lt;"); break;
        case '>': out.append("&gt;"); break;  // keeps "]]>" out of the stream
        // A literal CR would reach the reader as LF (end-of-line handling).
        case '\r': out.append("&#13;"); break;
        default: out.push_back(c);
    }
}

void escape_attr_char(std::string& out, char c) {
    switch (c) {
        case '&': out.append("&amp;"); break;
        case '<': out.append("&lt;"); break;
        case '>': out.append("&gt;"); break;
        case '\'': out.append("&apos;"); break;
        case '"': out.append("&quot;"); break;
        // Literal whitespace in a value would be normalised to a space by
        // the reader; character references keep it as it was.
        case '\t': out.append("&#9;"); break;
        case '\n': out.append("&#10;"); break;
        case '\r': out.append("&#13;"); break;
        default: out.push_back(c);
    }
}

// The plain runs between characters that need a reference are appended in
// one piece (most text, and every JID, needs none).
template <class NeedsEscape, class Escape>
void append_with(std::string& out, std::string_view in, NeedsEscape needs, Escape escape) {
    size_t start = 0;
    for (size_t i = 0; i < in.size(); ++i) {
        if (!needs(in[i])) continue;
        out.append(in.data() + start, i - start);
        escape(out, in[i]);
        start = i + 1;
    }
    out.append(in.data() + start, in.size() - start);
}

}  // namespace

void append_escaped_text(std::string& out, std::string_view text) {
    append_with(out, text, [](char c) { return c == '&' || c == '<' || c == '>' || c == '\r'; }, escape_text_char);
}

void append_escaped_attr(std::string& out, std::string_view value) {
    append_with(
        out, value,
        [](char c) {
            return c == '&' || c == '<' || c == '>' || c == '\'' || c == '"' || c == '\t' || c == '\n' || c == '\r';
        },
        escape_attr_char);
}

namespace {

// The one place a name is written. Element guarantees NCNames already; this
// check makes the serializer itself unable to write anything else, whatever
// a future code path does to a tree.
void append_name(std::string& out, std::string_view prefix, std::string_view local) {
    if (!is_ncname(local)) throw std::invalid_argument("xml serializer: not a name: '" + std::string(local) + "'");
    if (!prefix.empty()) out.append(prefix).push_back(':');
    out.append(local);
}

void append_attr(std::string& out, std::string_view prefix, std::string_view local, std::string_view value) {
    out.push_back(' ');
    append_name(out, prefix, local);
    out.append("='");
    append_escaped_attr(out, value);
    out.push_back('\'');
}

// Writes the attributes of one element, declaring a generated prefix (ns1,
// ns2, ...) on this element for every namespace an attribute is in; the
// prefixes of the input are not kept. xml:* needs no declaration.
void append_attrs(std::string& out, const std::vector<Attribute>& attrs) {
    std::vector<std::string_view> declared;  // namespace URIs, index + 1 = prefix number
    std::string prefix;
    for (const Attribute& a : attrs) {
        const std::string_view uri = a.name.ns;
        if (uri.empty()) {
            if (a.name.local == "xmlns") throw std::invalid_argument("xml serializer: xmlns is not an attribute");
            append_attr(out, {}, a.name.local, a.value);
            continue;
        }
        if (uri == kXmlnsNs) throw std::invalid_argument("xml serializer: a namespace declaration is not an attribute");
        if (uri == kXmlNs) {
            append_attr(out, "xml", a.name.local, a.value);
            continue;
        }
        size_t n = 0;
        while (n < declared.size() && declared[n] != uri) ++n;
        prefix = "ns" + std::to_string(n + 1);
        if (n == declared.size()) {
            declared.push_back(uri);
            out.append(" xmlns:").append(prefix).append("='");
            append_escaped_attr(out, uri);
            out.push_back('\'');
        }
        append_attr(out, prefix, a.name.local, a.value);
    }
}

// Two namespaces are written with a prefix the reader knows already:
// the stream's (declared by the stream header) and the XML namespace
// (predeclared, and never allowed as a default namespace).
std::string_view prefix_of(const Element& e) { return e.ns() == kStreamNs ? "stream" : e.ns() == kXmlNs ? "xml" : ""; }

// The default namespace e's children inherit when e is written where
// `inherited` is the default. A prefixed element leaves it as it was.
std::string_view children_ns(const Element& e, std::string_view inherited) {
    return prefix_of(e).empty() && e.ns() != inherited ? std::string_view(e.ns()) : inherited;
}

void write(const Element& e, std::string& out, std::string_view inherited);

void write_children(const Element& e, std::string& out, std::string_view for_children) {
    for (const Element::Node& n : e.nodes()) {
        if (n.is_text()) append_escaped_text(out, n.text());
        else write(n.element(), out, for_children);
    }
}

void write(const Element& e, std::string& out, std::string_view inherited) {
    const std::string_view prefix = prefix_of(e);
    out.push_back('<');
    append_name(out, prefix, e.name());
    const std::string_view for_children = children_ns(e, inherited);
    if (for_children != inherited) {
        out.append(" xmlns='");
        append_escaped_attr(out, e.ns());
        out.push_back('\'');
    }
    append_attrs(out, e.attrs());
    if (e.nodes().empty()) {
        out.append("/>");
        return;
    }
    out.push_back('>');
    if (const std::string* shared = e.shared_children(for_children)) out.append(*shared);
    else write_children(e, out, for_children);
    out.append("</");
    append_name(out, prefix, e.name());
    out.push_back('>');
}

}  // namespace

void serialize(const Element& e, std::string& out, std::string_view default_ns) { write(e, out, default_ns); }

void share_children(Element& e, std::string_view default_ns) {
    const std::string_view for_children = children_ns(e, default_ns);
    if (e.shared_children(for_children)) return;  // shared already
    std::string bytes;
    write_children(e, bytes, for_children);
    e.share(std::move(bytes), std::string(for_children));
}

std::string to_string(const Element& e, std::string_view default_ns) {
    std::string out;
    serialize(e, out, default_ns);
    return out;
}

std::string stream_header(std::string_view default_ns, const std::vector<Attribute>& attrs) {
    std::string out = "<?xml version='1.0'?><stream:stream xmlns='";
    append_escaped_attr(out, default_ns);
    out.append("' xmlns:stream='");
    out.append(kStreamNs);
    out.push_back('\'');
    append_attrs(out, attrs);
    out.push_back('>');
    return out;
}

std::string stream_close() { return "</stream:stream>"; }

}  // namespace parley::xml

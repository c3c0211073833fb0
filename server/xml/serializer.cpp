#include "xml/serializer.hpp"

#include <utility>

namespace parley::xml {

void append_escaped_text(std::string& out, std::string_view text) {
    for (char c : text) {
        switch (c) {
            case '&': out.append("&amp;"); break;
            case '<': out.append("&lt;"); break;
            case '>': out.append("&gt;"); break;  // keeps "]]>" out of the stream
            default: out.push_back(c);
        }
    }
}

void append_escaped_attr(std::string& out, std::string_view value) {
    for (char c : value) {
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
}

namespace {

void append_attr(std::string& out, std::string_view name, std::string_view value) {
    out.push_back(' ');
    out.append(name);
    out.append("='");
    append_escaped_attr(out, value);
    out.push_back('\'');
}

// Writes the attributes of one element, declaring a prefix for every
// foreign namespace an attribute is in ("{URI}local").
void append_attrs(std::string& out, const Element& e) {
    std::vector<std::pair<std::string_view, std::string>> prefixes;  // URI -> prefix, this element only
    for (const Attribute& a : e.attrs()) {
        std::string_view name = a.name;
        if (name == "xmlns" || name.substr(0, 6) == "xmlns:") continue;  // declarations are ours to write
        if (name.size() > 2 && name.front() == '{') {
            const size_t close = name.find('}');
            if (close != std::string_view::npos && close + 1 < name.size()) {
                const std::string_view uri = name.substr(1, close - 1);
                const std::string_view local = name.substr(close + 1);
                std::string prefix;
                if (uri == kXmlNs) {
                    prefix = "xml";
                } else {
                    for (const auto& p : prefixes)
                        if (p.first == uri) prefix = p.second;
                    if (prefix.empty()) {
                        prefix = "ns" + std::to_string(prefixes.size() + 1);
                        prefixes.emplace_back(uri, prefix);
                        out.append(" xmlns:").append(prefix).append("='");
                        append_escaped_attr(out, uri);
                        out.push_back('\'');
                    }
                }
                append_attr(out, prefix + ":" + std::string(local), a.value);
                continue;
            }
        }
        append_attr(out, name, a.value);
    }
}

void write(const Element& e, std::string& out, std::string_view inherited) {
    const bool stream_ns = e.ns() == kStreamNs;
    out.push_back('<');
    if (stream_ns) out.append("stream:");
    out.append(e.name());
    // The stream: prefix leaves the default namespace as it was.
    std::string_view for_children = inherited;
    if (!stream_ns && e.ns() != inherited) {
        out.append(" xmlns='");
        append_escaped_attr(out, e.ns());
        out.push_back('\'');
        for_children = e.ns();
    }
    append_attrs(out, e);
    if (e.nodes().empty()) {
        out.append("/>");
        return;
    }
    out.push_back('>');
    for (const Element::Node& n : e.nodes()) {
        if (n.is_text()) append_escaped_text(out, n.text());
        else write(n.element(), out, for_children);
    }
    out.append("</");
    if (stream_ns) out.append("stream:");
    out.append(e.name());
    out.push_back('>');
}

}  // namespace

void serialize(const Element& e, std::string& out, std::string_view default_ns) { write(e, out, default_ns); }

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
    for (const Attribute& a : attrs) append_attr(out, a.name, a.value);
    out.push_back('>');
    return out;
}

std::string stream_close() { return "</stream:stream>"; }

}  // namespace parley::xml

// libFuzzer target: the XMPP stream parser (server/xml/stream_parser) fed
// arbitrary bytes in arbitrary pieces, after a valid stream header. It must
// never crash, leak or report more consumed bytes than it was given, and
// after an error it must deliver nothing more.
//
// The property that keeps one user's stanza from forging or breaking another
// user's stream: every stanza it parses is serialized, and the output parsed
// again by a fresh parser must give exactly one top-level element, the same
// tree, and no error. xml::parse_element (which keeps one stream per thread
// open between calls) must read the same output back to the same tree, and
// on the raw input it must either refuse or give an element that round
// trips too, whatever it was given before.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "xml/parse_element.hpp"
#include "xml/serializer.hpp"
#include "xml/stream_parser.hpp"

namespace {

using namespace parley;

constexpr std::string_view kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
    "xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>";

class Collect final : public xml::StreamHandler {
public:
    void on_stream_open(const xml::StreamHeader&) override {}
    void on_stanza(xml::Element stanza) override { stanzas.push_back(std::move(stanza)); }
    void on_stream_close() override { closed = true; }
    std::vector<xml::Element> stanzas;
    bool closed = false;
};

// Serialize, parse again, compare: abort on any difference.
void check_round_trip(const xml::Element& stanza) {
    std::string out;
    xml::serialize(stanza, out, "jabber:client");
    Collect again;
    xml::StreamLimits big;  // escaping and declarations may grow a stanza
    big.max_stanza_bytes = 1 << 24;
    big.max_tree_bytes = size_t{1} << 30;
    xml::StreamParser p(again, big);
    std::string input(kHeader);
    input += out;
    const auto r = p.feed(input.data(), input.size());
    if (r.error != xml::ParseError::none) {
        std::fprintf(stderr, "round trip: not well-formed (%s): %s\n", r.text.c_str(), out.c_str());
        std::abort();
    }
    if (again.stanzas.size() != 1 || again.closed) {
        std::fprintf(stderr, "round trip: %zu top-level elements from: %s\n", again.stanzas.size(), out.c_str());
        std::abort();
    }
    if (!(again.stanzas[0] == stanza)) {
        std::fprintf(stderr, "round trip: a different tree from: %s\n", out.c_str());
        std::abort();
    }
    auto back = xml::parse_element(out, "jabber:client", 64);
    if (!back || !(back.value() == stanza)) {
        std::fprintf(stderr, "parse_element: %s from: %s\n",
                     back ? "a different tree" : back.status().to_string().c_str(), out.c_str());
        std::abort();
    }
    // Shared children (a room's fan-out) write exactly the same bytes, in
    // either stream namespace, and a copy that changes leaves the rest.
    for (const char* ns : {"jabber:client", "jabber:server"}) {
        const std::string plain = xml::to_string(stanza, ns);
        xml::Element shared = stanza;
        xml::share_children(shared, ns);
        xml::Element copy = shared;
        copy.set_attr("to", "a@b/c");
        if (xml::to_string(shared, ns) != plain || !(shared == stanza)) {
            std::fprintf(stderr, "shared children: different bytes in %s from: %s\n", ns, out.c_str());
            std::abort();
        }
        copy.add_child("extra", "urn:x");
        if (xml::to_string(shared, ns) != plain || copy.child_count() != stanza.child_count() + 1) {
            std::fprintf(stderr, "shared children: a copy's change showed elsewhere, from: %s\n", out.c_str());
            std::abort();
        }
    }
}

class Sink final : public xml::StreamHandler {
public:
    void on_stream_open(const xml::StreamHeader&) override { ++events; }
    void on_stanza(xml::Element stanza) override {
        ++events;
        check_round_trip(stanza);
    }
    void on_stream_close() override { ++events; }
    size_t events = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    // The first byte picks the split size, the second whether to start from
    // a ready stream header.
    const size_t piece = 1 + data[0] % 64;
    const bool with_header = size > 1 && (data[1] & 1);
    data += size > 1 ? 2 : 1;
    size -= size > 1 ? 2 : 1;
    // Stored text that is damaged, partial or more than one element leaves
    // the reused stream of parse_element unusable: it must not show later.
    if (auto e = xml::parse_element(std::string_view(reinterpret_cast<const char*>(data), size), "jabber:client", 8); e)
        check_round_trip(e.value());
    Sink sink;
    const xml::StreamLimits limits = xml::StreamLimits::for_stanza_bytes(4096, 8);
    xml::StreamParser parser(sink, limits);
    if (with_header) {
        auto r = parser.feed(kHeader.data(), kHeader.size());
        if (r.error != xml::ParseError::none) std::abort();
    }
    bool failed = false;
    for (size_t off = 0; off < size;) {
        const size_t n = std::min(piece, size - off);
        const size_t before = sink.events;
        auto r = parser.feed(reinterpret_cast<const char*>(data) + off, n);
        if (r.consumed > n) std::abort();
        if (failed && sink.events != before) std::abort();  // nothing after an error
        if (r.error != xml::ParseError::none) failed = true;
        off += n;
    }
    return 0;
}

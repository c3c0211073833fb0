// libFuzzer target: the XMPP stream parser (server/xml/stream_parser) fed
// arbitrary bytes in arbitrary pieces, after a valid stream header. It must
// never crash, leak or report more consumed bytes than it was given, and
// after an error it must deliver nothing more.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "xml/serializer.hpp"
#include "xml/stream_parser.hpp"

namespace {

using namespace parley;

class Sink final : public xml::StreamHandler {
public:
    void on_stream_open(const xml::StreamHeader&) override { ++events; }
    void on_stanza(xml::Element stanza) override {
        ++events;
        // Whatever was parsed serializes without trouble.
        std::string out;
        xml::serialize(stanza, out, "jabber:client");
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
    Sink sink;
    xml::StreamLimits limits;
    limits.max_stanza_bytes = 4096;
    limits.max_depth = 8;
    xml::StreamParser parser(sink, limits);
    if (with_header) {
        static constexpr std::string_view kHeader =
            "<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
            "xmlns:stream='http://etherx.jabber.org/streams' to='example.org' version='1.0'>";
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

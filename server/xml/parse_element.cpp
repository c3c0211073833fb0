#include "xml/parse_element.hpp"

#include <optional>
#include <string>

#include "xml/serializer.hpp"
#include "xml/stream_parser.hpp"

namespace parley::xml {

namespace {

// Collects the elements of the synthetic stream: the first, and how many.
class OneElement final : public StreamHandler {
public:
    void on_stream_open(const StreamHeader&) override {}
    void on_stanza(Element e) override {
        ++count;
        if (!element) element.emplace(std::move(e));
    }
    void on_stream_close() override {}
    std::optional<Element> element;
    size_t count = 0;
};

// Room for the synthetic header and what a serializer may add around a
// stanza (a declaration or two), on top of the text's own size.
constexpr size_t kMarginBytes = 1024;

}  // namespace

Result<Element> parse_element(std::string_view text, std::string_view default_ns, size_t max_depth) {
    const std::string head = stream_header(default_ns, {});
    OneElement one;
    StreamParser parser(one, StreamLimits::for_stanza_bytes(head.size() + text.size() + kMarginBytes, max_depth));
    FeedResult r = parser.feed(head);
    if (r.error == ParseError::none) r = parser.feed(text);
    if (r.error != ParseError::none) return Status::error("parse", r.text);
    if (one.count != 1 || !one.element) return Status::error("not-one-element", "not one element");
    return std::move(*one.element);
}

}  // namespace parley::xml

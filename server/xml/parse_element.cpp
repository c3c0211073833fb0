#include "xml/parse_element.hpp"

#include <memory>
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
    void clear() {
        element.reset();
        count = 0;
    }
    std::optional<Element> element;
    size_t count = 0;
};

// What a stream may add around a stanza (a declaration or two), on top of
// the text's own size.
constexpr size_t kMarginBytes = 1024;

// One synthetic stream per thread and default namespace, kept open between
// calls: a page of archived messages parses each stanza into the same
// stream instead of making (and priming) a parser per stanza, which cost
// more than the parse itself. Only a stream left exactly between two
// elements is used again; anything else (an error, a partial element, text
// after the element, the stream closed) drops it. Expat keeps every
// distinct element and attribute name it has seen for the life of a parser,
// so a stream is also dropped after kReaderBytes of text: stored messages
// full of invented names cannot make a worker's parser grow for good.
constexpr size_t kReaderBytes = size_t{1} << 20;

struct Reader {
    explicit Reader(std::string_view ns) : default_ns(ns), parser(one, StreamLimits{}) {
        parser.keep_expat_when_idle(true);
    }
    std::string default_ns;
    OneElement one;
    StreamParser parser;
    size_t fed = 0;
};

thread_local std::unique_ptr<Reader> t_reader;

}  // namespace

Result<Element> parse_element(std::string_view text, std::string_view default_ns, size_t max_depth) {
    std::unique_ptr<Reader> reader = std::move(t_reader);
    if (!reader || reader->default_ns != default_ns) {
        reader = std::make_unique<Reader>(default_ns);
        const std::string head = stream_header(default_ns, {});
        reader->parser.set_limits(StreamLimits::for_stanza_bytes(head.size() + kMarginBytes, max_depth));
        FeedResult h = reader->parser.feed(head);
        if (h.error != ParseError::none) return Status::error("parse", h.text);
    }
    reader->one.clear();
    reader->parser.set_limits(StreamLimits::for_stanza_bytes(text.size() + kMarginBytes, max_depth));
    FeedResult r = reader->parser.feed(text);
    if (r.error != ParseError::none) return Status::error("parse", r.text);
    if (reader->one.count != 1 || !reader->one.element || !reader->parser.at_boundary())
        return Status::error("not-one-element", "not one element");
    Element e = std::move(*reader->one.element);
    reader->one.clear();
    reader->fed += text.size();
    if (reader->fed < kReaderBytes) t_reader = std::move(reader);
    return e;
}

}  // namespace parley::xml

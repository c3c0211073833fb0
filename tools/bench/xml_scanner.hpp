// StreamScanner: splits an XMPP stream into its top-level pieces, without a
// full XML parser.
//
// parley-bench only needs to know where each element the server sends ends:
// the stream header (<stream:stream ...>), each complete child of the stream
// (features, proceed, success, iq, message, presence, stream errors) and the
// closing </stream:stream>. The scanner tracks tag depth, quoted attribute
// values, processing instructions, comments and CDATA, so '>' inside an
// attribute or a '<' split across two reads does not fool it. It does not
// check well-formedness beyond that and does not decode entities: the
// server is trusted to speak XML, the bench only has to be robust to how
// bytes are split into reads. An element larger than kMaxElementBytes is an
// error, so a misbehaving server cannot make the bench buffer without bound.
//
// Events are views into the scanner's buffer, valid until the next feed(),
// restart() or take_rest(). Loop-affine: one scanner per session, used only
// by the thread that owns the session.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace parley::bench {

class StreamScanner {
public:
    static constexpr size_t kMaxElementBytes = 1 << 20;

    enum class Kind { stream_open, element, stream_close };
    struct Event {
        Kind kind;
        std::string_view text;  // the whole header, element or closing tag
    };

    void feed(std::string_view data);
    // The next complete event, or false when more input is needed (or the
    // input is malformed: then failed() is true and error() says why).
    bool next(Event& ev);
    bool failed() const { return !error_.empty(); }
    const std::string& error() const { return error_; }

    // A new stream begins (after <success/>): depth 0 again; bytes not yet
    // handed out stay buffered, since they belong to the new stream.
    void restart();
    // The bytes not yet handed out (after <proceed/> they are TLS records);
    // the scanner is left empty, as new.
    std::string take_rest();

private:
    enum class State { text, lt, tag, pi, comment, cdata };
    bool close_tag(Event& ev);
    bool fail(std::string why);

    std::string buf_;
    size_t pos_ = 0;       // next byte to scan
    size_t consumed_ = 0;  // bytes before this were handed out and may be dropped
    size_t tag_start_ = 0;
    size_t elem_start_ = 0;
    int depth_ = 0;
    State state_ = State::text;
    char quote_ = 0;
    bool end_tag_ = false;
    std::string error_;
};

// Helpers on one element's text as returned in an Event.

// The element's name without its prefix: "features" for <stream:features>.
std::string_view local_name(std::string_view el);
// The raw (not entity-decoded) value of an attribute of the start tag.
std::optional<std::string_view> attr(std::string_view el, std::string_view name);
// `el` cut to at most `max` bytes, for error messages.
std::string excerpt(std::string_view el, size_t max = 300);

}  // namespace parley::bench

// xml::StreamParser: the incremental parser of one inbound XMPP stream.
//
// Bytes go in through feed() as they arrive, in pieces of any size; events
// come out through a StreamHandler: the stream root's start tag
// (on_stream_open), each complete direct child of the root as an Element
// tree (on_stanza), and </stream:stream> (on_stream_close). Text at stream
// level (whitespace keepalives) is ignored. Built on expat, namespace-aware.
//
// RFC 6120 §11 restrictions are enforced and end the stream with a ParseError
// (below); after any error the parser delivers nothing more until reset().
// Limits (StreamLimits): a stanza, or whatever is pending since the last
// stanza boundary (a partial stanza or start tag, stray text), may not exceed
// max_stanza_bytes, counted from its first byte that is not whitespace (the
// stream header counts too, from the start of the stream); elements may not
// nest deeper than max_depth, counting the stanza itself as depth 1; the tree
// a stanza builds may not take more than max_tree_bytes (so that many tiny
// elements cannot turn a small stanza into a large tree). set_limits()
// changes them between stanzas (after authentication).
//
// Stream restarts (RFC 6120 §4.3.3): a handler that calls
// restart_after_current() from on_stanza makes feed() return right after
// that stanza's end tag, with FeedResult::consumed = the bytes of this
// buffer up to and including it; the parser then waits for a new stream
// header (reset() is implied and may be called again). The caller feeds the
// rest of the buffer, e.g. to TLS after <starttls/>.
//
// Memory: an expat parser costs ~11 KB plus its input buffer. Whenever a
// feed() ends at a stanza boundary with nothing pending (only whitespace
// since the last stanza), the expat parser is freed; the next feed() makes a
// new one primed with a synthetic copy of the stream's start tag carrying the
// same namespace declarations, so the new parser sees the same context. This
// is invisible to the handler and to byte counts.
//
// Handlers must not throw through expat: an exception from a handler stops
// parsing and is rethrown from feed() once expat has returned. A handler may
// not destroy the parser. Loop-affine: used by the owning worker only.
#pragma once

#include <expat.h>

#include <cstddef>
#include <exception>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xml/element.hpp"

namespace parley::xml {

// How much element tree a stanza may build per byte of its byte limit. Text
// builds ~1 byte of tree per byte read, a roster-like list of items with
// attributes ~9, 200 KB of "<a/>" ~39 (measured with mallinfo2).
inline constexpr size_t kTreeBytesPerStanzaByte = 12;

struct StreamLimits {
    size_t max_stanza_bytes = 262144;
    size_t max_depth = 32;
    // The memory one stanza's tree may take while it is built, as counted by
    // the parser: every element, attribute and text node at its size in the
    // tree, plus the heap blocks of every name, namespace URI, value and
    // text (an estimate within ~10% of the allocator's figure).
    size_t max_tree_bytes = 262144 * kTreeBytesPerStanzaByte;

    // Limits for a stream whose stanzas may be `stanza_bytes` long: the tree
    // limit is derived from it.
    static StreamLimits for_stanza_bytes(size_t stanza_bytes, size_t depth) {
        return StreamLimits{stanza_bytes, depth, stanza_bytes * kTreeBytesPerStanzaByte};
    }
};

struct StreamHeader {
    std::string name;        // local name of the root, "stream"
    std::string ns;          // its namespace URI, xml::kStreamNs for a good stream
    std::string default_ns;  // the default namespace declared on it, e.g. jabber:client
    // Attributes of the root in document order: "to", "from", "version",
    // "id", xml:lang (QName{kXmlNs, "lang"}), others with their namespace.
    std::vector<Attribute> attrs;
    // The value of an unqualified attribute ("to", "version"), or empty.
    std::string_view attr(std::string_view local) const;
};

class StreamHandler {
public:
    virtual ~StreamHandler();
    virtual void on_stream_open(const StreamHeader& header) = 0;
    virtual void on_stanza(Element stanza) = 0;
    virtual void on_stream_close() = 0;
};

// Why parsing stopped; xmpp::from_parse_error() maps each to an RFC 6120
// §4.9.3 stream error condition (in brackets).
enum class ParseError {
    none,
    not_well_formed,       // malformed XML, invalid UTF-8, junk after the root [not-well-formed]
    restricted_xml,        // DOCTYPE/DTD, entity declaration or reference other than the
                           // five predefined, comment, processing instruction [restricted-xml]
    unsupported_encoding,  // an XML declaration naming an encoding other than UTF-8 [unsupported-encoding]
    bad_namespace_prefix,  // a prefix that is not declared [bad-namespace-prefix]
    too_large,             // over StreamLimits::max_stanza_bytes [policy-violation]
    too_deep,              // over StreamLimits::max_depth [policy-violation]
};
std::string_view parse_error_name(ParseError e);

struct FeedResult {
    ParseError error = ParseError::none;
    std::string text;     // human-readable detail of the error, for logs and <text/>
    size_t consumed = 0;  // bytes of this buffer used; < len only after restart_after_current()
};

class StreamParser {
public:
    StreamParser(StreamHandler& handler, StreamLimits limits);
    ~StreamParser();
    StreamParser(const StreamParser&) = delete;
    StreamParser& operator=(const StreamParser&) = delete;

    FeedResult feed(const char* data, size_t len);
    FeedResult feed(std::string_view data) { return feed(data.data(), data.size()); }
    // A fresh parser expecting a new stream header (after a stream restart).
    // From inside a handler it acts as restart_after_current().
    void reset();
    // From on_stanza: stop right after the current stanza (see above).
    void restart_after_current();

    // New limits, from the next event on (e.g. larger after authentication).
    void set_limits(StreamLimits limits) { limits_ = limits; }
    const StreamLimits& limits() const { return limits_; }

    // For tests and metrics: whether an expat parser is allocated now.
    bool holds_expat() const { return expat_ != nullptr; }
    // Keep the expat parser at stanza boundaries instead of giving its
    // memory back: for a parser that reads many stored elements in a row
    // (xml::parse_element), not for a client's stream that sits idle.
    void keep_expat_when_idle(bool keep) { keep_idle_ = keep; }
    // Between two stanzas of an open stream: no error, not closed, nothing
    // of a next stanza (or text) buffered.
    bool at_boundary() const {
        return header_seen_ && !closed_ && error_ == ParseError::none && !stanza_ && content_start_ < 0;
    }

private:
    struct ExpatDeleter {
        void operator()(XML_Parser p) const { XML_ParserFree(p); }
    };
    using ExpatPtr = std::unique_ptr<XML_ParserStruct, ExpatDeleter>;
    struct Decl {
        std::string prefix;  // empty for the default namespace
        std::string uri;
    };

    // expat callbacks (trampolines; never throw)
    static void XMLCALL on_start(void* self, const XML_Char* name, const XML_Char** atts);
    static void XMLCALL on_end(void* self, const XML_Char* name);
    static void XMLCALL on_text(void* self, const XML_Char* s, int len);
    static void XMLCALL on_ns_start(void* self, const XML_Char* prefix, const XML_Char* uri);
    static void XMLCALL on_xml_decl(void* self, const XML_Char* version, const XML_Char* encoding, int standalone);
    static void XMLCALL on_doctype(void* self, const XML_Char* name, const XML_Char* sysid, const XML_Char* pubid,
                                   int has_internal_subset);
    static void XMLCALL on_entity_decl(void* self, const XML_Char* name, int is_pe, const XML_Char* value, int len,
                                       const XML_Char* base, const XML_Char* sysid, const XML_Char* pubid,
                                       const XML_Char* notation);
    static void XMLCALL on_comment(void* self, const XML_Char* data);
    static void XMLCALL on_pi(void* self, const XML_Char* target, const XML_Char* data);
    static void XMLCALL on_skipped_entity(void* self, const XML_Char* name, int is_pe);

    void start_element(const XML_Char* name, const XML_Char** atts);
    void end_element();
    void text(const XML_Char* s, int len);
    void after_handler(long long event_end);
    void map_expat_error();
    bool create_expat(bool primed);
    void fail(ParseError e, std::string text);
    void stop_expat();
    bool check_size(long long upto);
    long long event_end() const;
    void reset_state();
    bool add_tree_bytes(size_t n);

    StreamHandler& handler_;
    StreamLimits limits_;
    ExpatPtr expat_;
    // Stream context, kept across the release of the expat parser.
    bool header_seen_ = false;     // the root start tag was parsed
    bool closed_ = false;          // </stream:stream> seen
    bool keep_idle_ = false;       // keep_expat_when_idle()
    std::string root_qname_;       // "stream:stream" as written, for the priming tag
    std::vector<Decl> root_decls_; // namespace declarations on the root
    std::vector<Decl> pending_decls_;
    // Per expat parser.
    bool root_open_ = false;       // this expat parser has seen the root start tag
    bool priming_ = false;         // parsing our synthetic start tag
    long long fed_ = 0;            // bytes given to this expat parser so far
    long long boundary_ = 0;       // expat byte index just after the last stanza (or the header)
    // expat byte index of the first byte after boundary_ that is not
    // whitespace (a stanza's start tag, a partial token, stray text), or -1:
    // limits count from here, so keepalives between stanzas cost nothing.
    long long content_start_ = 0;
    // Per stanza.
    std::unique_ptr<Element> stanza_;
    std::vector<Element*> stack_;  // open elements of the stanza; back() is the innermost
    size_t tree_bytes_ = 0;        // the stanza's tree so far, as counted against max_tree_bytes
    // Per feed.
    bool in_feed_ = false;
    bool stopped_ = false;         // expat was asked to stop; ignore further callbacks
    bool restart_ = false;
    long long restart_at_ = -1;    // expat byte index of the end of the restart stanza
    ParseError error_ = ParseError::none;
    std::string error_text_;
    std::exception_ptr exception_;
};

}  // namespace parley::xml

#include "xml/stream_parser.hpp"

#include <algorithm>
#include <climits>
#include <cstring>
#include <utility>

#include "xml/serializer.hpp"

namespace parley::xml {

namespace {

// expat joins URI, local name and prefix with this; it cannot occur in XML.
constexpr char kSep = '\x01';

struct SplitName {
    std::string_view uri;
    std::string_view local;
    std::string_view prefix;
};

// expat with triplets gives "uri SEP local SEP prefix", "uri SEP local" or "local".
SplitName split(const XML_Char* name) {
    std::string_view s(name);
    SplitName q;
    const size_t a = s.find(kSep);
    if (a == std::string_view::npos) {
        q.local = s;
        return q;
    }
    q.uri = s.substr(0, a);
    std::string_view rest = s.substr(a + 1);
    const size_t b = rest.find(kSep);
    if (b == std::string_view::npos) {
        q.local = rest;
    } else {
        q.local = rest.substr(0, b);
        q.prefix = rest.substr(b + 1);
    }
    return q;
}

// An attribute's name as expat gives it, URI and local name kept apart.
xml::QName attr_name(const XML_Char* name) {
    const SplitName q = split(name);
    return xml::QName{std::string(q.uri), std::string(q.local)};
}

// The tree's memory as the allocator sees it (calibrated with mallinfo2
// against real trees: within ~10% for tiny elements, roster-like lists and
// long text). A heap block costs ~16 bytes beyond what it holds; libstdc++
// keeps strings of up to 15 bytes inside the object; nodes and attributes
// live in vectors, whose slack from growth is amortised into the 16.
constexpr size_t kBlockOverhead = 16;
constexpr size_t heap_bytes(size_t n) { return n > 15 ? n + 1 + kBlockOverhead : 0; }
constexpr size_t kNodeCost = sizeof(Element::Node) + kBlockOverhead;
constexpr size_t kAttrCost = sizeof(Attribute) + kBlockOverhead;

bool is_xml_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool iequals_ascii(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i], y = b[i];
        if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
        if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
        if (x != y) return false;
    }
    return true;
}

}  // namespace

StreamHandler::~StreamHandler() = default;

std::string_view StreamHeader::attr(std::string_view local) const {
    for (const Attribute& a : attrs)
        if (a.name.ns.empty() && a.name.local == local) return a.value;
    return {};
}

std::string_view parse_error_name(ParseError e) {
    switch (e) {
        case ParseError::none: return "none";
        case ParseError::not_well_formed: return "not-well-formed";
        case ParseError::restricted_xml: return "restricted-xml";
        case ParseError::unsupported_encoding: return "unsupported-encoding";
        case ParseError::bad_namespace_prefix: return "bad-namespace-prefix";
        case ParseError::too_large: return "too-large";
        case ParseError::too_deep: return "too-deep";
    }
    return "unknown";
}

StreamParser::StreamParser(StreamHandler& handler, StreamLimits limits) : handler_(handler), limits_(limits) {}

StreamParser::~StreamParser() = default;

// Trampolines: expat is C; nothing may unwind through it.
#define PARLEY_XML_GUARD(body)                                  \
    auto* p = static_cast<StreamParser*>(self);                 \
    if (p->stopped_) return;                                    \
    try {                                                       \
        body;                                                   \
    } catch (...) {                                             \
        p->exception_ = std::current_exception();               \
        p->stop_expat();                                        \
    }

void XMLCALL StreamParser::on_start(void* self, const XML_Char* name, const XML_Char** atts) {
    PARLEY_XML_GUARD(p->start_element(name, atts))
}
void XMLCALL StreamParser::on_end(void* self, const XML_Char*) { PARLEY_XML_GUARD(p->end_element()) }
void XMLCALL StreamParser::on_text(void* self, const XML_Char* s, int len) { PARLEY_XML_GUARD(p->text(s, len)) }
void XMLCALL StreamParser::on_ns_start(void* self, const XML_Char* prefix, const XML_Char* uri) {
    PARLEY_XML_GUARD(p->pending_decls_.push_back(Decl{prefix ? prefix : "", uri ? uri : ""}))
}
void XMLCALL StreamParser::on_xml_decl(void* self, const XML_Char*, const XML_Char* encoding, int) {
    // RFC 6120 §11.6: UTF-8 only. expat is told the input is UTF-8, so it
    // would otherwise ignore a declaration saying something else.
    PARLEY_XML_GUARD(if (encoding && !iequals_ascii(encoding, "UTF-8")) p->fail(
        ParseError::unsupported_encoding, std::string("the stream must be UTF-8, not ") + encoding))
}
void XMLCALL StreamParser::on_doctype(void* self, const XML_Char*, const XML_Char*, const XML_Char*, int) {
    PARLEY_XML_GUARD(p->fail(ParseError::restricted_xml, "a document type declaration is not allowed"))
}
void XMLCALL StreamParser::on_entity_decl(void* self, const XML_Char*, int, const XML_Char*, int, const XML_Char*,
                                          const XML_Char*, const XML_Char*, const XML_Char*) {
    PARLEY_XML_GUARD(p->fail(ParseError::restricted_xml, "an entity declaration is not allowed"))
}
void XMLCALL StreamParser::on_comment(void* self, const XML_Char*) {
    PARLEY_XML_GUARD(p->fail(ParseError::restricted_xml, "a comment is not allowed"))
}
void XMLCALL StreamParser::on_pi(void* self, const XML_Char*, const XML_Char*) {
    PARLEY_XML_GUARD(p->fail(ParseError::restricted_xml, "a processing instruction is not allowed"))
}
void XMLCALL StreamParser::on_skipped_entity(void* self, const XML_Char*, int) {
    PARLEY_XML_GUARD(p->fail(ParseError::restricted_xml, "an entity reference is not allowed"))
}

#undef PARLEY_XML_GUARD

bool StreamParser::create_expat(bool primed) {
    // The protocol encoding is fixed to UTF-8: expat then ignores an
    // encoding declaration, which on_xml_decl checks instead.
    expat_.reset(XML_ParserCreateNS("UTF-8", kSep));
    if (!expat_) return false;
    XML_Parser x = expat_.get();
    XML_SetUserData(x, this);
    XML_SetReturnNSTriplet(x, 1);
    XML_SetElementHandler(x, &StreamParser::on_start, &StreamParser::on_end);
    XML_SetCharacterDataHandler(x, &StreamParser::on_text);
    XML_SetStartNamespaceDeclHandler(x, &StreamParser::on_ns_start);
    XML_SetXmlDeclHandler(x, &StreamParser::on_xml_decl);
    XML_SetStartDoctypeDeclHandler(x, &StreamParser::on_doctype);
    XML_SetEntityDeclHandler(x, &StreamParser::on_entity_decl);
    XML_SetCommentHandler(x, &StreamParser::on_comment);
    XML_SetProcessingInstructionHandler(x, &StreamParser::on_pi);
    XML_SetSkippedEntityHandler(x, &StreamParser::on_skipped_entity);
    XML_SetParamEntityParsing(x, XML_PARAM_ENTITY_PARSING_NEVER);
#if (defined(HAVE_DECL_XML_SETREPARSEDEFERRALENABLED) && HAVE_DECL_XML_SETREPARSEDEFERRALENABLED) || \
    XML_MAJOR_VERSION > 2 || (XML_MAJOR_VERSION == 2 && XML_MINOR_VERSION >= 6)
    // A stanza must be delivered as soon as its end tag is here, not when
    // enough further input has arrived.
    XML_SetReparseDeferralEnabled(x, XML_FALSE);
#endif
    root_open_ = false;
    fed_ = 0;
    boundary_ = 0;
    content_start_ = primed ? -1 : 0;
    if (!primed) return true;

    // The same root start tag and namespace declarations as the stream's.
    std::string prime = "<" + root_qname_;
    for (const Decl& d : root_decls_) {
        prime.append(d.prefix.empty() ? " xmlns" : " xmlns:" + d.prefix);
        prime.append("='");
        append_escaped_attr(prime, d.uri);
        prime.push_back('\'');
    }
    prime.push_back('>');
    priming_ = true;
    stopped_ = false;
    const XML_Status st = XML_Parse(x, prime.data(), static_cast<int>(prime.size()), XML_FALSE);
    priming_ = false;
    pending_decls_.clear();
    if (st != XML_STATUS_OK || !root_open_) {
        expat_.reset();
        return false;
    }
    fed_ = static_cast<long long>(prime.size());
    boundary_ = fed_;
    return true;
}

void StreamParser::reset_state() {
    expat_.reset();
    header_seen_ = false;
    closed_ = false;
    root_qname_.clear();
    root_decls_.clear();
    pending_decls_.clear();
    root_open_ = false;
    priming_ = false;
    fed_ = 0;
    boundary_ = 0;
    content_start_ = 0;
    stanza_.reset();
    stack_.clear();
    tree_bytes_ = 0;
    stopped_ = false;
    restart_ = false;
    restart_at_ = -1;
    error_ = ParseError::none;
    error_text_.clear();
}

void StreamParser::reset() {
    if (in_feed_) {
        restart_after_current();
        return;
    }
    reset_state();
}

void StreamParser::restart_after_current() {
    if (in_feed_) restart_ = true;
}

void StreamParser::stop_expat() {
    if (stopped_) return;
    stopped_ = true;
    if (expat_ && in_feed_) XML_StopParser(expat_.get(), XML_FALSE);
}

void StreamParser::fail(ParseError e, std::string text) {
    if (error_ == ParseError::none) {
        error_ = e;
        error_text_ = std::move(text);
    }
    stanza_.reset();
    stack_.clear();
    tree_bytes_ = 0;
    stop_expat();
}

bool StreamParser::add_tree_bytes(size_t n) {
    tree_bytes_ += n;
    if (tree_bytes_ <= limits_.max_tree_bytes) return true;
    fail(ParseError::too_large,
         "a stanza builds more than " + std::to_string(limits_.max_tree_bytes) + " bytes of element tree");
    return false;
}

long long StreamParser::event_end() const {
    return static_cast<long long>(XML_GetCurrentByteIndex(expat_.get())) + XML_GetCurrentByteCount(expat_.get());
}

bool StreamParser::check_size(long long upto) {
    if (priming_ || content_start_ < 0 || upto - content_start_ <= static_cast<long long>(limits_.max_stanza_bytes))
        return true;
    fail(ParseError::too_large, "a stanza is larger than " + std::to_string(limits_.max_stanza_bytes) + " bytes");
    return false;
}

// A handler asked for a restart: stop right after the event it saw.
void StreamParser::after_handler(long long end) {
    if (!restart_ || stopped_) return;
    restart_at_ = end;
    stop_expat();
}

void StreamParser::start_element(const XML_Char* name, const XML_Char** atts) {
    std::vector<Decl> decls = std::move(pending_decls_);
    pending_decls_.clear();
    const SplitName q = split(name);
    const long long end = event_end();

    if (!root_open_) {
        root_open_ = true;
        if (priming_) return;
        header_seen_ = true;
        root_qname_ = q.prefix.empty() ? std::string(q.local) : std::string(q.prefix) + ":" + std::string(q.local);
        root_decls_ = std::move(decls);
        if (!check_size(end)) return;
        boundary_ = end;
        content_start_ = -1;
        StreamHeader h;
        h.name = std::string(q.local);
        h.ns = std::string(q.uri);
        for (const Decl& d : root_decls_)
            if (d.prefix.empty()) h.default_ns = d.uri;
        for (const XML_Char** a = atts; a && a[0]; a += 2) h.attrs.emplace_back(attr_name(a[0]), a[1]);
        handler_.on_stream_open(h);
        after_handler(end);
        return;
    }
    if (content_start_ < 0) content_start_ = static_cast<long long>(XML_GetCurrentByteIndex(expat_.get()));
    if (!check_size(end)) return;
    if (!stanza_) tree_bytes_ = 0;
    size_t cost = kNodeCost + heap_bytes(q.local.size()) + heap_bytes(q.uri.size());
    for (const XML_Char** a = atts; a && a[0]; a += 2) {
        const SplitName an = split(a[0]);
        cost += kAttrCost + heap_bytes(an.uri.size()) + heap_bytes(an.local.size()) + heap_bytes(std::strlen(a[1]));
    }
    if (!add_tree_bytes(cost)) return;
    Element* el;
    if (!stanza_) {
        stanza_ = std::make_unique<Element>(std::string(q.local), std::string(q.uri));
        el = stanza_.get();
    } else {
        if (stack_.size() + 1 > limits_.max_depth) {
            fail(ParseError::too_deep, "elements are nested deeper than " + std::to_string(limits_.max_depth));
            return;
        }
        el = &stack_.back()->add_child(std::string(q.local), std::string(q.uri));
    }
    for (const XML_Char** a = atts; a && a[0]; a += 2) el->set_attr(attr_name(a[0]), a[1]);
    stack_.push_back(el);
}

void StreamParser::end_element() {
    const long long end = event_end();
    if (stack_.empty()) {
        // </stream:stream>: expat has checked that it matches the root.
        closed_ = true;
        handler_.on_stream_close();
        after_handler(end);
        stop_expat();
        return;
    }
    stack_.pop_back();
    if (!stack_.empty()) return;
    if (!check_size(end)) return;
    boundary_ = end;
    content_start_ = -1;
    Element stanza = std::move(*stanza_);
    stanza_.reset();
    handler_.on_stanza(std::move(stanza));
    after_handler(end);
}

void StreamParser::text(const XML_Char* s, int len) {
    if (len <= 0) return;
    if (stack_.empty()) {
        // Text at stream level (whitespace keepalives) carries nothing, but
        // stray text counts against the limit like a pending stanza. expat
        // reports each newline as an event of its own, so the offset of the
        // first other character here is its offset in the input too.
        if (content_start_ < 0) {
            for (int i = 0; i < len; ++i) {
                if (!is_xml_space(s[i])) {
                    content_start_ = static_cast<long long>(XML_GetCurrentByteIndex(expat_.get())) + i;
                    break;
                }
            }
        }
        check_size(event_end());
        return;
    }
    if (!check_size(event_end())) return;
    // A new text node, or more of the last one.
    const auto& nodes = stack_.back()->nodes();
    const size_t n = static_cast<size_t>(len);
    if (!add_tree_bytes(n + (nodes.empty() || !nodes.back().is_text() ? kNodeCost : 0))) return;
    stack_.back()->add_text(std::string(s, n));
}

void StreamParser::map_expat_error() {
    const XML_Error code = XML_GetErrorCode(expat_.get());
    ParseError e = ParseError::not_well_formed;
    switch (code) {
        case XML_ERROR_UNDEFINED_ENTITY:
        case XML_ERROR_RECURSIVE_ENTITY_REF:
        case XML_ERROR_BINARY_ENTITY_REF:
        case XML_ERROR_ATTRIBUTE_EXTERNAL_ENTITY_REF:
        case XML_ERROR_EXTERNAL_ENTITY_HANDLING:
        case XML_ERROR_ENTITY_DECLARED_IN_PE:
        case XML_ERROR_NOT_STANDALONE:
            e = ParseError::restricted_xml;
            break;
        case XML_ERROR_UNBOUND_PREFIX:
            e = ParseError::bad_namespace_prefix;
            break;
        case XML_ERROR_UNKNOWN_ENCODING:
        case XML_ERROR_INCORRECT_ENCODING:
            e = ParseError::unsupported_encoding;
            break;
        default:
            break;
    }
    const char* what = XML_ErrorString(code);
    fail(e, what ? what : "malformed XML");
}

FeedResult StreamParser::feed(const char* data, size_t len) {
    FeedResult r;
    if (error_ != ParseError::none) {
        r.error = error_;
        r.text = error_text_;
        return r;
    }
    // A restart that was not followed by reset() still restarts.
    if (restart_) reset_state();
    r.consumed = len;
    if (closed_ || len == 0) return r;

    if (!header_seen_ && (!expat_ || fed_ < 2)) {
        // A fresh stream: refuse UTF-16 and UTF-32 by their BOM or their
        // zero bytes, rather than as garbled UTF-8. Checked byte by byte so
        // that the verdict does not depend on how the input was split.
        const long long start = expat_ ? fed_ : 0;
        for (long long i = start; i < 2 && static_cast<size_t>(i - start) < len; ++i) {
            const char c = data[i - start];
            if (c == '\0' || (i == 0 && (c == '\xFE' || c == '\xFF'))) {
                expat_.reset();
                error_ = ParseError::unsupported_encoding;
                error_text_ = "the stream must be UTF-8";
                r.error = error_;
                r.text = error_text_;
                return r;
            }
        }
    }
    if (!expat_) {
        if (!create_expat(header_seen_)) {
            error_ = ParseError::not_well_formed;
            error_text_ = "cannot create an XML parser";
            r.error = error_;
            r.text = error_text_;
            return r;
        }
    }

    const long long base = fed_;
    in_feed_ = true;
    stopped_ = false;
    XML_Status st = XML_STATUS_OK;
    for (size_t off = 0; off < len && !stopped_ && st == XML_STATUS_OK;) {
        const size_t n = std::min<size_t>(len - off, INT_MAX / 2);
        st = XML_Parse(expat_.get(), data + off, static_cast<int>(n), XML_FALSE);
        if (st == XML_STATUS_ERROR && !stopped_) map_expat_error();
        off += n;
    }
    in_feed_ = false;

    if (exception_) {
        std::exception_ptr ex = std::move(exception_);
        exception_ = nullptr;
        reset_state();
        error_ = ParseError::not_well_formed;
        error_text_ = "the stream handler failed";
        std::rethrow_exception(ex);
    }
    if (error_ != ParseError::none) {
        expat_.reset();
        r.error = error_;
        r.text = error_text_;
        return r;
    }
    if (restart_) {
        // Asked outside any event that ends (cannot happen through the
        // handler interface): the whole buffer counts as used.
        const long long used = restart_at_ < 0 ? static_cast<long long>(len) : restart_at_ - base;
        r.consumed = used < 0 ? 0 : std::min(len, static_cast<size_t>(used));
        reset_state();
        return r;
    }
    if (closed_) {
        expat_.reset();
        return r;
    }
    fed_ = base + static_cast<long long>(len);

    // What is left since the last boundary: whitespace only, or a partial
    // stanza (or start tag, or text) that counts against the limit.
    if (content_start_ < 0) {
        const size_t from = boundary_ > base ? static_cast<size_t>(boundary_ - base) : 0;
        for (size_t i = from; i < len; ++i) {
            if (!is_xml_space(data[i])) {
                content_start_ = base + static_cast<long long>(i);
                break;
            }
        }
    }
    if (root_open_ && !stanza_ && content_start_ < 0) {
        // Idle at a stanza boundary: give the expat parser's memory back.
        if (!keep_idle_) expat_.reset();
        return r;
    }
    if (content_start_ >= 0 && fed_ - content_start_ > static_cast<long long>(limits_.max_stanza_bytes)) {
        fail(ParseError::too_large, "a stanza is larger than " + std::to_string(limits_.max_stanza_bytes) + " bytes");
        expat_.reset();
        r.error = error_;
        r.text = error_text_;
    }
    return r;
}

}  // namespace parley::xml

#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <random>
#include <stdexcept>

#include "xml/serializer.hpp"
#include "xml/stream_parser.hpp"

using parley::xml::Element;
using parley::xml::FeedResult;
using parley::xml::ParseError;
using parley::xml::StreamHeader;
using parley::xml::StreamLimits;
using parley::xml::StreamParser;

namespace {

const std::string kHeader =
    "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
    "to='example.com' version='1.0' xml:lang='en'>";

// Records every event as one line of text, stanzas serialized.
struct Recorder : parley::xml::StreamHandler {
    std::vector<std::string> events;
    std::vector<Element> stanzas;
    std::vector<StreamHeader> headers;
    StreamParser* parser = nullptr;
    std::string restart_on;  // stanza name that asks for a restart
    bool throw_on_stanza = false;

    void on_stream_open(const StreamHeader& h) override {
        headers.push_back(h);
        std::string e = "open " + h.name + " " + h.ns + " " + h.default_ns;
        for (const auto& a : h.attrs)
            e += " " + (a.name.ns == parley::xml::kXmlNs ? "xml:" : a.name.ns.empty() ? "" : "{" + a.name.ns + "}") +
                 a.name.local + "=" + a.value;
        events.push_back(e);
    }
    void on_stanza(Element s) override {
        if (throw_on_stanza) throw std::runtime_error("handler failed");
        events.push_back("stanza " + parley::xml::to_string(s, "jabber:client"));
        if (!restart_on.empty() && s.name() == restart_on && parser) parser->restart_after_current();
        stanzas.push_back(std::move(s));
    }
    void on_stream_close() override { events.push_back("close"); }
};

struct Outcome {
    std::vector<std::string> events;
    ParseError error = ParseError::none;
};

// Feeds `input` in pieces of `step` bytes (0: all at once).
Outcome run(const std::string& input, size_t step = 0, StreamLimits limits = {}) {
    Recorder r;
    StreamParser p(r, limits);
    Outcome o;
    size_t n = step == 0 ? input.size() : step;
    for (size_t off = 0; off < input.size(); off += n) {
        FeedResult f = p.feed(input.data() + off, std::min(n, input.size() - off));
        if (f.error != ParseError::none) {
            o.error = f.error;
            break;
        }
    }
    o.events = r.events;
    return o;
}

// The same outcome whether fed whole, byte by byte or in random pieces.
Outcome run_all_splits(const std::string& input, StreamLimits limits = {}) {
    Outcome whole = run(input, 0, limits);
    Outcome bytes = run(input, 1, limits);
    BOOST_TEST((whole.error == bytes.error), "xml parser: byte-by-byte feeding gives the same error for " << input);
    BOOST_TEST(whole.events == bytes.events, "xml parser: byte-by-byte feeding gives the same events");
    std::mt19937 rng(42);
    for (int round = 0; round < 5; ++round) {
        Recorder r;
        StreamParser p(r, limits);
        ParseError err = ParseError::none;
        for (size_t off = 0; off < input.size();) {
            size_t n = std::min<size_t>(1 + rng() % 17, input.size() - off);
            FeedResult f = p.feed(input.data() + off, n);
            off += n;
            if (f.error != ParseError::none) {
                err = f.error;
                break;
            }
        }
        BOOST_TEST((err == whole.error), "xml parser: random splits give the same error");
        BOOST_TEST(r.events == whole.events, "xml parser: random splits give the same events");
    }
    return whole;
}

ParseError error_of(const std::string& input, StreamLimits limits = {}) { return run_all_splits(input, limits).error; }

}  // namespace

BOOST_AUTO_TEST_SUITE(xml_stream_parser)

BOOST_AUTO_TEST_CASE(a_stream_yields_header_stanzas_and_close) {
    Outcome o = run_all_splits(kHeader +
                               "<message to='juliet@example.com' type='chat'><body>Art thou &lt;not&gt; "
                               "&amp;&apos;&quot;&#x263A;</body><x xmlns='urn:x' xml:lang='fr'/></message>\n  "
                               "<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq></stream:stream>");
    BOOST_TEST((o.error == ParseError::none));
    BOOST_REQUIRE_EQUAL(o.events.size(), 4u);
    BOOST_TEST(o.events[0] ==
               "open stream http://etherx.jabber.org/streams jabber:client to=example.com version=1.0 xml:lang=en");
    BOOST_TEST(o.events[1] ==
               "stanza <message to='juliet@example.com' type='chat'><body>Art thou &lt;not&gt; &amp;'\"\xE2\x98\xBA"
               "</body><x xmlns='urn:x' xml:lang='fr'/></message>");
    BOOST_TEST(o.events[2] == "stanza <iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>");
    BOOST_TEST(o.events[3] == "close");
}

BOOST_AUTO_TEST_CASE(stanza_trees_carry_namespaces_and_attribute_names) {
    Recorder r;
    StreamParser p(r, {});
    auto f = p.feed(kHeader + "<message xmlns:e='urn:e' e:a='1' xml:lang='de'><e:x/><y xmlns='urn:y'><z/></y>"
                              "<stream:features/></message>");
    BOOST_TEST((f.error == ParseError::none));
    BOOST_REQUIRE_EQUAL(r.stanzas.size(), 1u);
    const Element& m = r.stanzas[0];
    BOOST_TEST(m.ns() == "jabber:client");
    BOOST_TEST(m.attr_or(parley::xml::kXmlNs, "lang") == "de", "xml parser: xml:lang is in the XML namespace");
    BOOST_TEST(m.attr_or("urn:e", "a") == "1", "xml parser: a foreign attribute keeps its namespace URI");
    BOOST_TEST(m.attr("a") == nullptr, "xml parser: a foreign attribute is not an unqualified one");
    BOOST_TEST(m.child("x", "urn:e") != nullptr, "xml parser: prefixed child resolved");
    BOOST_REQUIRE(m.child("y", "urn:y") != nullptr);
    BOOST_TEST(m.child("y", "urn:y")->child("z", "urn:y") != nullptr, "xml parser: default namespace inherited");
    BOOST_TEST(m.child("features", "http://etherx.jabber.org/streams") != nullptr, "xml parser: root prefix visible");
}

BOOST_AUTO_TEST_CASE(parse_serialize_parse_round_trips) {
    const std::string body = "<message to='a@b' id='x&amp;y'><body>a &lt; b &amp; c</body>"
                             "<x xmlns='urn:x' xmlns:p='urn:p' p:q='v'><p:i>text</p:i><j xmlns=''/></x></message>"
                             "<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>";
    Recorder r1;
    StreamParser p1(r1, {});
    BOOST_TEST((p1.feed(kHeader + body).error == ParseError::none));
    std::string again;
    for (const auto& s : r1.stanzas) parley::xml::serialize(s, again, "jabber:client");
    Recorder r2;
    StreamParser p2(r2, {});
    BOOST_TEST((p2.feed(kHeader + again).error == ParseError::none));
    BOOST_REQUIRE_EQUAL(r1.stanzas.size(), 2u);
    BOOST_REQUIRE_EQUAL(r2.stanzas.size(), 2u);
    BOOST_TEST((r1.stanzas[0] == r2.stanzas[0]), "xml: parse -> serialize -> parse gives the same tree");
    BOOST_TEST((r1.stanzas[1] == r2.stanzas[1]), "xml: the stream: prefix round-trips");
}

BOOST_AUTO_TEST_CASE(restricted_xml_is_refused) {
    BOOST_TEST((error_of("<?xml version='1.0'?><!DOCTYPE stream>" + kHeader) == ParseError::restricted_xml),
               "xml parser: DOCTYPE");
    BOOST_TEST((error_of("<!DOCTYPE s [<!ELEMENT s ANY>]><s/>") == ParseError::restricted_xml),
               "xml parser: internal subset");
    BOOST_TEST((error_of("<!DOCTYPE s [<!ENTITY a 'b'>]><s>&a;</s>") == ParseError::restricted_xml),
               "xml parser: entity declaration");
    BOOST_TEST((error_of(kHeader + "<message>&lol;</message>") == ParseError::restricted_xml),
               "xml parser: undefined entity reference");
    BOOST_TEST((error_of(kHeader + "<message><!-- hi --></message>") == ParseError::restricted_xml),
               "xml parser: comment in a stanza");
    BOOST_TEST((error_of(kHeader + "<!-- hi -->") == ParseError::restricted_xml), "xml parser: comment at stream level");
    BOOST_TEST((error_of("<!-- hi -->" + kHeader) == ParseError::restricted_xml), "xml parser: comment in the prolog");
    BOOST_TEST((error_of(kHeader + "<message><?php x?></message>") == ParseError::restricted_xml),
               "xml parser: processing instruction");
    BOOST_TEST((error_of("<?xml-stylesheet href='a'?>" + kHeader) == ParseError::restricted_xml),
               "xml parser: processing instruction in the prolog");
    BOOST_TEST((error_of(kHeader + "<message><body><![CDATA[<ok>]]>&amp;&#65;</body></message>") == ParseError::none),
               "xml parser: CDATA, predefined entities and character references are fine");
}

BOOST_AUTO_TEST_CASE(malformed_xml_is_not_well_formed) {
    BOOST_TEST((error_of(kHeader + "<message><body>hi</message>") == ParseError::not_well_formed),
               "xml parser: mismatched tags");
    BOOST_TEST((error_of(kHeader + "<message><body>hi</body></stream:stream>") == ParseError::not_well_formed),
               "xml parser: unclosed element at stream close");
    BOOST_TEST((error_of(kHeader + "<message a='1' a='2'/>") == ParseError::not_well_formed),
               "xml parser: duplicate attribute");
    BOOST_TEST((error_of(kHeader + "<message>a & b</message>") == ParseError::not_well_formed), "xml parser: bare &");
    BOOST_TEST((error_of(kHeader + "<message>\x01</message>") == ParseError::not_well_formed),
               "xml parser: a control character");
    BOOST_TEST((error_of(kHeader + "<message><?xml version='1.0'?></message>") != ParseError::none),
               "xml parser: a misplaced XML declaration");
    BOOST_TEST((error_of(kHeader + "<a:b/>") == ParseError::bad_namespace_prefix), "xml parser: undeclared prefix");
}

BOOST_AUTO_TEST_CASE(invalid_utf8_is_not_well_formed) {
    BOOST_TEST((error_of(kHeader + "<message><body>\xC3\x28</body></message>") == ParseError::not_well_formed),
               "xml parser: bad continuation byte");
    BOOST_TEST((error_of(kHeader + "<message><body>\xC0\xAF</body></message>") == ParseError::not_well_formed),
               "xml parser: overlong encoding");
    BOOST_TEST((error_of(kHeader + "<message><body>\xED\xA0\x80</body></message>") == ParseError::not_well_formed),
               "xml parser: encoded surrogate");
    BOOST_TEST((error_of(kHeader + "<message to='\xFF'/>") == ParseError::not_well_formed),
               "xml parser: invalid byte in an attribute");
}

BOOST_AUTO_TEST_CASE(encodings_other_than_utf8_are_unsupported) {
    BOOST_TEST((error_of("<?xml version='1.0' encoding='ISO-8859-1'?>" + kHeader.substr(21)) ==
                ParseError::unsupported_encoding),
               "xml parser: ISO-8859-1 declaration");
    BOOST_TEST((error_of("<?xml version='1.0' encoding='utf-8'?>" + kHeader.substr(21)) == ParseError::none),
               "xml parser: a UTF-8 declaration in any case is fine");
    BOOST_TEST((error_of(std::string("\xFF\xFE<\0s\0", 6)) == ParseError::unsupported_encoding), "xml parser: UTF-16 BOM");
    BOOST_TEST((error_of(std::string("<\0s\0", 4)) == ParseError::unsupported_encoding), "xml parser: UTF-16 without BOM");
    BOOST_TEST((error_of("\xEF\xBB\xBF" + kHeader.substr(21)) == ParseError::none), "xml parser: UTF-8 BOM is fine");
}

BOOST_AUTO_TEST_CASE(stanza_size_limit) {
    StreamLimits l;
    l.max_stanza_bytes = 100;
    // The header counts against the limit too; this one is under it.
    const std::string shortHeader =
        "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>";
    const std::string fits = "<message><body>" + std::string(100 - 32, 'a') + "</body></message>";
    BOOST_REQUIRE_EQUAL(fits.size(), 100u);
    BOOST_TEST((error_of(shortHeader + fits + fits, l) == ParseError::none), "xml parser: a stanza of exactly the limit");
    BOOST_TEST((error_of(shortHeader + "<message><body>" + std::string(100, 'a') + "</body></message>", l) ==
                ParseError::too_large),
               "xml parser: a complete stanza over the limit");
    BOOST_TEST((error_of(shortHeader + "<message><body>" + std::string(200, 'a'), l) == ParseError::too_large),
               "xml parser: a partial stanza over the limit");
    BOOST_TEST((error_of(shortHeader + "<message to='" + std::string(200, 'a'), l) == ParseError::too_large),
               "xml parser: a start tag that never ends");
    BOOST_TEST((error_of("<stream:stream xmlns:stream='http://etherx.jabber.org/streams' a='" + std::string(200, 'a'),
                         l) == ParseError::too_large),
               "xml parser: an endless stream header");
    BOOST_TEST((error_of(shortHeader + std::string(1000, ' ') + fits, l) == ParseError::none),
               "xml parser: whitespace keepalives do not add up");
    BOOST_TEST((error_of(shortHeader + " \n " + std::string(150, 'j') + fits, l) == ParseError::too_large),
               "xml parser: stray text at stream level counts like a pending stanza");
    BOOST_TEST((error_of(shortHeader + "\r\n  jj\n" + std::string(60, ' ') + "<message/>", l) == ParseError::none),
               "xml parser: a little stray text is ignored");
}

BOOST_AUTO_TEST_CASE(depth_limit) {
    StreamLimits l;
    l.max_depth = 4;
    BOOST_TEST((error_of(kHeader + "<a><b><c><d/></c></b></a>", l) == ParseError::none), "xml parser: depth 4 is fine");
    BOOST_TEST((error_of(kHeader + "<a><b><c><d><e/></d></c></b></a>", l) == ParseError::too_deep),
               "xml parser: depth 5 is too deep");
}

BOOST_AUTO_TEST_CASE(nothing_is_delivered_after_an_error) {
    Recorder r;
    StreamParser p(r, {});
    FeedResult f = p.feed(kHeader + "<message><!-- x --></message><message/>");
    BOOST_TEST((f.error == ParseError::restricted_xml));
    BOOST_TEST(!f.text.empty(), "xml parser: an error says what was wrong");
    BOOST_TEST(r.stanzas.empty());
    f = p.feed("<message/>");
    BOOST_TEST((f.error == ParseError::restricted_xml), "xml parser: the error is sticky");
    BOOST_TEST(r.stanzas.empty(), "xml parser: nothing after an error");
    p.reset();
    f = p.feed(kHeader + "<message/>");
    BOOST_TEST((f.error == ParseError::none), "xml parser: reset() starts afresh");
    BOOST_TEST(r.stanzas.size() == 1u);
}

BOOST_AUTO_TEST_CASE(restart_after_current_reports_the_bytes_used) {
    for (const std::string& starttls : {std::string("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"),
                                       std::string("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'></starttls>")}) {
        Recorder r;
        StreamParser p(r, {});
        r.parser = &p;
        r.restart_on = "starttls";
        const std::string first = kHeader + " <message/>" + starttls;
        const std::string after = "\x16\x03\x01 not xml at all <";
        const std::string input = first + after;
        FeedResult f = p.feed(input);
        BOOST_TEST((f.error == ParseError::none));
        BOOST_TEST(f.consumed == first.size(), "xml parser: consumed ends right after the restart stanza");
        BOOST_TEST(r.stanzas.size() == 2u, "xml parser: nothing parsed past the restart");
        p.reset();
        f = p.feed(kHeader + "<iq/>");
        BOOST_TEST((f.error == ParseError::none), "xml parser: a new stream header after the restart");
        BOOST_TEST(r.headers.size() == 2u);
        BOOST_TEST(r.stanzas.size() == 3u);

        // Byte by byte: the restart comes on the last byte of the stanza.
        Recorder rb;
        StreamParser pb(rb, {});
        rb.parser = &pb;
        rb.restart_on = "starttls";
        size_t at = 0;
        for (; at < input.size(); ++at) {
            FeedResult g = pb.feed(input.data() + at, 1);
            BOOST_REQUIRE((g.error == ParseError::none));
            if (rb.stanzas.size() == 2u) {
                BOOST_TEST(g.consumed == 1u);
                break;
            }
        }
        BOOST_TEST(at + 1 == first.size(), "xml parser: restart on the stanza's last byte");
    }
}

BOOST_AUTO_TEST_CASE(restart_then_feed_the_rest_like_the_transport) {
    // After SASL success the client sends its new header in the same packet.
    Recorder r;
    StreamParser p(r, {});
    r.parser = &p;
    r.restart_on = "auth";
    const std::string input = kHeader + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AGE=</auth>" + kHeader +
                              "<iq type='set' id='b'/>";
    const char* data = input.data();
    size_t len = input.size();
    while (len > 0) {
        FeedResult f = p.feed(data, len);
        BOOST_REQUIRE((f.error == ParseError::none));
        if (f.consumed == len) break;
        p.reset();
        data += f.consumed;
        len -= f.consumed;
    }
    BOOST_TEST(r.headers.size() == 2u, "xml parser: the second header is parsed by a fresh parser");
    BOOST_REQUIRE_EQUAL(r.stanzas.size(), 2u);
    BOOST_TEST(r.stanzas[1].name() == "iq");
}

BOOST_AUTO_TEST_CASE(idle_release_keeps_the_stream_context) {
    Recorder r;
    StreamParser p(r, {});
    const std::string header =
        "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
        "xmlns:db='jabber:server:dialback' xmlns:e='urn:e&amp;x' version='1.0'>";
    BOOST_TEST((p.feed(header).error == ParseError::none));
    BOOST_TEST(!p.holds_expat(), "xml parser: released right after the header");
    BOOST_TEST((p.feed("<db:result to='a' from='b'>key</db:result>\n ").error == ParseError::none));
    BOOST_TEST(!p.holds_expat(), "xml parser: released at a stanza boundary with whitespace after");
    BOOST_TEST((p.feed("<message><e:x/>").error == ParseError::none));
    BOOST_TEST(p.holds_expat(), "xml parser: kept while a stanza is partial");
    BOOST_TEST((p.feed("</message><mess").error == ParseError::none));
    BOOST_TEST(p.holds_expat(), "xml parser: kept while a start tag is partial");
    BOOST_TEST((p.feed("age/>").error == ParseError::none));
    BOOST_TEST(!p.holds_expat());
    BOOST_TEST((p.feed("</stream:stream>").error == ParseError::none), "xml parser: the close tag matches the primed root");
    BOOST_REQUIRE_EQUAL(r.stanzas.size(), 3u);
    BOOST_TEST(r.stanzas[0].name() == "result");
    BOOST_TEST(r.stanzas[0].ns() == "jabber:server:dialback", "xml parser: root prefix kept across release");
    BOOST_TEST(r.stanzas[0].text() == "key");
    BOOST_TEST(r.stanzas[1].ns() == "jabber:server", "xml parser: default namespace kept across release");
    BOOST_TEST(r.stanzas[1].child("x", "urn:e&x") != nullptr, "xml parser: escaped namespace URI re-declared");
    BOOST_TEST(r.events.back() == "close");
    BOOST_TEST(r.headers.size() == 1u, "xml parser: priming does not re-open the stream");
}

BOOST_AUTO_TEST_CASE(idle_release_keeps_size_and_restart_accounting) {
    // The primed parser sees a synthetic header as long as the real one;
    // neither it nor its bytes may count for the stanza after it.
    const std::string header = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
                               "xmlns:long='urn:" + std::string(80, 'l') + "'>";
    const std::string st = "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>";
    StreamLimits l;
    l.max_stanza_bytes = header.size() + 5;
    Recorder r;
    StreamParser p(r, l);
    r.parser = &p;
    r.restart_on = "starttls";
    BOOST_TEST((p.feed(header).error == ParseError::none));
    BOOST_TEST(!p.holds_expat());
    FeedResult f = p.feed(st + "TLS");
    BOOST_TEST((f.error == ParseError::none), "xml parser: the priming tag does not count against the limit");
    BOOST_TEST(f.consumed == st.size(), "xml parser: consumed excludes the priming tag");
    BOOST_TEST(r.stanzas.size() == 1u);
}

BOOST_AUTO_TEST_CASE(text_at_stream_level_is_ignored_and_close_ends_parsing) {
    Outcome o = run_all_splits(kHeader + "  junk text  <message/></stream:stream><more/>");
    BOOST_TEST((o.error == ParseError::none), "xml parser: bytes after the close are ignored");
    BOOST_REQUIRE_EQUAL(o.events.size(), 3u);
    BOOST_TEST(o.events[1] == "stanza <message/>");
    BOOST_TEST(o.events[2] == "close");
}

BOOST_AUTO_TEST_CASE(a_handler_exception_leaves_feed_not_expat) {
    Recorder r;
    r.throw_on_stanza = true;
    StreamParser p(r, {});
    BOOST_CHECK_THROW(p.feed(kHeader + "<message/>"), std::runtime_error);
    BOOST_TEST((p.feed("<message/>").error != ParseError::none), "xml parser: unusable after a handler failed");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(xml_stream_parser_tree_limit)

// Many tiny elements: a small stanza in bytes, a large tree (issue 13).
BOOST_AUTO_TEST_CASE(many_tiny_elements_hit_the_tree_limit_before_the_byte_limit) {
    std::string many;
    for (int i = 0; i < 50000; ++i) many += "<a/>";  // 200 KB, under the 256 KiB byte limit
    Recorder r;
    StreamParser p(r, StreamLimits{});
    FeedResult f = p.feed(kHeader + "<message>" + many + "</message>");
    BOOST_TEST((f.error == ParseError::too_large), "xml parser: 200 KB of <a/> must be refused for its tree");
    BOOST_TEST(f.text.find("element tree") != std::string::npos, "xml parser: the text names the tree: " << f.text);
    BOOST_TEST(r.stanzas.empty());
}

BOOST_AUTO_TEST_CASE(long_namespace_uris_copied_into_every_element_count) {
    // Each child carries its own copy of a long inherited namespace URI.
    const std::string uri(4000, 'u');
    std::string kids;
    for (int i = 0; i < 2000; ++i) kids += "<b/>";
    Recorder r;
    StreamParser p(r, StreamLimits::for_stanza_bytes(65536, 32));
    FeedResult f = p.feed(kHeader + "<message><x xmlns='" + uri + "'>" + kids + "</x></message>");
    BOOST_TEST((f.error == ParseError::too_large), "xml parser: 8 MB of copied URIs from 12 KB of input");
}

BOOST_AUTO_TEST_CASE(ordinary_large_stanzas_pass) {
    // A roster-like list and a large text body, each near the byte limit.
    std::string items;
    while (items.size() < 200000)
        items += "<item jid='user" + std::to_string(items.size()) +
                 "@example.com' name='A Person' subscription='both'><group>Friends</group></item>";
    Recorder r;
    StreamParser p(r, StreamLimits{});
    FeedResult f = p.feed(kHeader + "<iq type='set' id='r'><query xmlns='jabber:iq:roster'>" + items + "</query></iq>");
    BOOST_TEST((f.error == ParseError::none), "xml parser: a 200 KB roster is accepted: " << f.text);
    f = p.feed("<message><body>" + std::string(250000, 'x') + "</body></message>");
    BOOST_TEST((f.error == ParseError::none), "xml parser: a 250 KB body is accepted: " << f.text);
    BOOST_TEST(r.stanzas.size() == 2u);
}

BOOST_AUTO_TEST_CASE(limits_change_between_stanzas) {
    Recorder r;
    StreamParser p(r, StreamLimits::for_stanza_bytes(10000, 32));
    const std::string big = "<message><body>" + std::string(20000, 'x') + "</body></message>";
    BOOST_TEST((p.feed(kHeader + "<presence/>").error == ParseError::none));
    p.set_limits(StreamLimits::for_stanza_bytes(65536, 32));
    BOOST_TEST((p.feed(big).error == ParseError::none), "xml parser: the larger limit applies to the next stanza");
    Recorder r2;
    StreamParser small(r2, StreamLimits::for_stanza_bytes(10000, 32));
    BOOST_TEST((small.feed(kHeader + big).error == ParseError::too_large));
}

BOOST_AUTO_TEST_SUITE_END()

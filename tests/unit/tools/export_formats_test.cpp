#define BOOST_TEST_DYN_LINK
#include "tools/parleyctl/export_formats.hpp"

#include <boost/test/unit_test.hpp>

#include <random>

#include "tools/parleyctl/json_value.hpp"
#include "xml/parse_element.hpp"
#include "xml/serializer.hpp"
#include "xmpp/namespaces.hpp"

using namespace parley;
using namespace parley::ctl::export_format;

namespace {

// Text as a message body may hold it: ASCII with the characters every
// format escapes, line breaks, spaces at line ends, and UTF-8 of 2 to 4
// bytes.
std::string random_text(std::mt19937& rng, size_t max_len) {
    static const std::vector<std::string> kPieces = {
        "a", "Z", "0", " ", "  ", "\t", "\n", "=", "\"", ",", "'", "<", ">", "&", "\\", ";", ".", "é",
        "€", "😀", "中", "x=3D", "\r\n", "--", "=?utf-8?b?", "]]>", "</body>"};
    std::uniform_int_distribution<size_t> len(0, max_len), pick(0, kPieces.size() - 1);
    std::string out;
    const size_t n = len(rng);
    for (size_t i = 0; i < n; ++i) out += kPieces[pick(rng)];
    return out;
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// RFC 2045 §6.7 decoding, strict: what a mail reader does.
std::optional<std::string> qp_decode(const std::string& in) {
    std::string out;
    for (size_t i = 0; i < in.size(); ++i) {
        if (in[i] == '=') {
            if (in.compare(i + 1, 2, "\r\n") == 0) {
                i += 2;
                continue;
            }
            if (i + 2 >= in.size() || hexval(in[i + 1]) < 0 || hexval(in[i + 2]) < 0) return std::nullopt;
            out += static_cast<char>(hexval(in[i + 1]) * 16 + hexval(in[i + 2]));
            i += 2;
        } else if (in[i] == '\r') {
            if (in.compare(i, 2, "\r\n") != 0) return std::nullopt;
            out += '\n';
            ++i;
        } else {
            out += in[i];
        }
    }
    return out;
}

// RFC 4180 parsing of one document into rows of fields.
std::vector<std::vector<std::string>> csv_parse(const std::string& in) {
    std::vector<std::vector<std::string>> rows(1);
    std::string field;
    bool quoted = false, had = false;
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (quoted) {
            if (c == '"' && i + 1 < in.size() && in[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
        } else if (c == '"') {
            quoted = had = true;
        } else if (c == ',') {
            rows.back().push_back(field);
            field.clear();
        } else if (c == '\r' && i + 1 < in.size() && in[i + 1] == '\n') {
            rows.back().push_back(field);
            field.clear();
            rows.emplace_back();
            ++i;
        } else {
            field += c;
        }
    }
    if (had && rows.back().empty()) rows.pop_back();
    return rows;
}

Message message(std::string body) {
    Message m;
    m.id = 0x0192345678900001ull;
    m.time_ms = 1'764'756'000'250;  // 2025-12-03T10:00:00.250Z
    m.from = "alice@example.org/phone";
    m.to = "bob@example.org";
    m.type = "chat";
    m.origin = "local_client";
    m.outcome = "delivered";
    m.views = {{"alice@example.org", "bob@example.org"}, {"bob@example.org", "alice@example.org"}};
    xml::Element e("message", std::string(xmpp::kNsClient));
    e.set_attr("from", m.from);
    e.set_attr("to", m.to);
    e.set_attr("type", m.type);
    e.add_child("body", std::string(xmpp::kNsClient)).add_text(body);
    m.stanza = xml::to_string(e, xmpp::kNsClient);
    m.body = std::move(body);
    return m;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tools_export_formats)

BOOST_AUTO_TEST_CASE(times) {
    BOOST_TEST(iso_time(1'764'756'000'250) == "2025-12-03T10:00:00.250Z");
    BOOST_TEST(mail_date(1'764'756'000'250) == "Wed, 03 Dec 2025 10:00:00 +0000");
    BOOST_TEST(day_of(1'764'756'000'250) == "2025-12-03");
}

BOOST_AUTO_TEST_CASE(quoted_printable_round_trips_with_short_lines) {
    std::mt19937 rng(7);
    for (int round = 0; round < 2000; ++round) {
        const std::string text = random_text(rng, round < 1000 ? 40 : 400);
        const std::string qp = quoted_printable(text);
        // What a strict reader gets back is the text, with CRLF for each '\n'
        // and a lone CR kept (it was encoded as =0D).
        std::string expected;
        for (char c : text) expected += c;
        auto back = qp_decode(qp);
        BOOST_REQUIRE_MESSAGE(back, "not decodable: " << qp);
        BOOST_REQUIRE_EQUAL(*back, expected);
        size_t line = 0;
        for (size_t i = 0; i < qp.size(); ++i) {
            const auto c = static_cast<unsigned char>(qp[i]);
            if (qp.compare(i, 2, "\r\n") == 0) {
                // No space or tab right before a line break (it would be lost).
                BOOST_REQUIRE(i == 0 || (qp[i - 1] != ' ' && qp[i - 1] != '\t'));
                line = 0;
                ++i;
                continue;
            }
            BOOST_REQUIRE_MESSAGE(c == ' ' || c == '\t' || (c >= 33 && c <= 126), "raw byte in " << qp);
            BOOST_REQUIRE_LE(++line, 76u);
        }
        BOOST_REQUIRE(qp.empty() || (qp.back() != ' ' && qp.back() != '\t'));
    }
}

BOOST_AUTO_TEST_CASE(csv_fields_round_trip_one_row_per_message) {
    std::mt19937 rng(11);
    std::string doc = csv_header();
    std::vector<std::string> bodies;
    for (int i = 0; i < 500; ++i) {
        bodies.push_back(random_text(rng, 60));
        doc += csv_row(message(bodies.back()));
    }
    const auto rows = csv_parse(doc);
    BOOST_REQUIRE_EQUAL(rows.size(), bodies.size() + 1);
    BOOST_TEST(rows[0] == (std::vector<std::string>{"id", "time", "from", "to", "type", "origin", "outcome", "body"}),
               boost::test_tools::per_element());
    for (size_t i = 0; i < bodies.size(); ++i) {
        BOOST_REQUIRE_EQUAL(rows[i + 1].size(), 8u);
        BOOST_REQUIRE_EQUAL(rows[i + 1][7], bodies[i]);
        BOOST_REQUIRE_EQUAL(rows[i + 1][0], "0192345678900001");
        BOOST_REQUIRE_EQUAL(rows[i + 1][2], "alice@example.org/phone");
    }
}

BOOST_AUTO_TEST_CASE(a_json_line_is_one_line_that_parses_back) {
    std::mt19937 rng(13);
    for (int i = 0; i < 500; ++i) {
        const Message m = message(random_text(rng, 60));
        const std::string line = jsonl_line(m);
        BOOST_REQUIRE_EQUAL(line.find('\n'), line.size() - 1);
        auto v = ctl::JsonValue::parse(std::string_view(line).substr(0, line.size() - 1));
        BOOST_REQUIRE(v);
        BOOST_REQUIRE_EQUAL(v->str("body"), *m.body);
        BOOST_REQUIRE_EQUAL(v->str("stanza"), m.stanza);
        BOOST_REQUIRE_EQUAL(v->str("id"), "0192345678900001");
        BOOST_REQUIRE_EQUAL(v->str("time"), "2025-12-03T10:00:00.250Z");
        BOOST_REQUIRE_EQUAL(v->get("views")->items().size(), 2u);
    }
    Message none = message("x");
    none.body.reset();
    auto v = ctl::JsonValue::parse(jsonl_line(none).substr(0, jsonl_line(none).size() - 1));
    BOOST_REQUIRE(v);
    BOOST_TEST(v->get("body")->is(ctl::JsonValue::Kind::null));
}

BOOST_AUTO_TEST_CASE(an_xml_result_is_one_element_with_the_stanza_in_jabber_client) {
    std::mt19937 rng(17);
    for (int i = 0; i < 300; ++i) {
        std::string body = random_text(rng, 60);
        for (char& c : body)
            if (c == '\r') c = ' ';  // XML normalizes a CR in text to LF
        const Message m = message(body);
        auto stanza = parse_stanza(m.stanza);
        BOOST_REQUIRE(stanza);
        const std::string r = xml_result(m, *stanza);
        auto back = xml::parse_element(r, "urn:xmpp:pie:0#mam", 16);
        BOOST_REQUIRE_MESSAGE(back, r);
        BOOST_REQUIRE_EQUAL(back->name(), "result");
        BOOST_REQUIRE_EQUAL(back->ns(), "urn:xmpp:mam:2");
        BOOST_REQUIRE_EQUAL(back->attr_or("id"), "0192345678900001");
        const xml::Element* fwd = back->child("forwarded", "urn:xmpp:forward:0");
        BOOST_REQUIRE(fwd);
        BOOST_REQUIRE(fwd->child("delay", "urn:xmpp:delay"));
        BOOST_REQUIRE_EQUAL(fwd->child("delay", "urn:xmpp:delay")->attr_or("stamp"), "2025-12-03T10:00:00.250Z");
        const xml::Element* msg = fwd->child("message", xmpp::kNsClient);
        BOOST_REQUIRE(msg);
        BOOST_REQUIRE_EQUAL(body_of(*msg).value_or("<none>"), body);
    }
}

BOOST_AUTO_TEST_CASE(the_html_page_is_well_formed_and_escapes_every_text) {
    std::mt19937 rng(19);
    std::string page = html_head("Export <case> & \"more\"", "scope 'x'");
    page += html_day("2025-12-03");
    std::vector<std::string> bodies;
    for (int i = 0; i < 200; ++i) {
        std::string body = random_text(rng, 40);
        for (char& c : body)
            if (c == '\r') c = ' ';
        bodies.push_back(body);
        page += html_row(message(body));
    }
    Message none = message("x");
    none.body.reset();
    page += html_row(none) + html_tail(201);
    const std::string doctype = "<!DOCTYPE html>\n";
    BOOST_REQUIRE_EQUAL(page.compare(0, doctype.size(), doctype), 0);
    // The rest is one XML element (the parser refuses DTDs: the doctype goes).
    auto doc = xml::parse_element(std::string_view(page).substr(doctype.size()), "", 16);
    BOOST_REQUIRE_MESSAGE(doc, doc.status().to_string());
    BOOST_TEST(doc->name() == "html");
    const xml::Element* body = doc->child("body", "http://www.w3.org/1999/xhtml");
    BOOST_REQUIRE(body);
    const xml::Element* table = body->child("table", "http://www.w3.org/1999/xhtml");
    BOOST_REQUIRE(table);
    std::vector<std::string> cells;
    for (const xml::Element& tr : table->children()) {
        const xml::Element* last = nullptr;
        for (const xml::Element& td : tr.children()) last = &td;
        if (last && last->attr_or("class") == "body") cells.push_back(last->text());
    }
    BOOST_TEST(cells == bodies, boost::test_tools::per_element());
    BOOST_TEST(page.find("<case>") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(mail_addresses_and_headers) {
    BOOST_TEST(mail_address("alice@example.org/phone") == "alice@example.org");
    BOOST_TEST(mail_address("o.brien@example.org") == "o.brien@example.org");
    BOOST_TEST(mail_address("a,b@example.org") == "\"a,b\"@example.org");
    BOOST_TEST(mail_address("a..b@example.org") == "\"a..b\"@example.org");
    BOOST_TEST(mail_address("a\\b@example.org") == "\"a\\\\b\"@example.org");
    BOOST_TEST(mail_address("example.org") == "unknown@example.org");
    BOOST_TEST(header_text("plain words") == "plain words");
    const std::string encoded = header_text(std::string(30, 'x') + "é中😀" + std::string(60, 'y'));
    BOOST_TEST(encoded.find("=?utf-8?b?") == 0u);
    size_t pos = 0;
    while (pos < encoded.size()) {  // every encoded-word within 75 characters
        size_t end = encoded.find("\r\n ", pos);
        if (end == std::string::npos) end = encoded.size();
        BOOST_TEST(end - pos <= 75u);
        pos = end + 3;
    }
}

BOOST_AUTO_TEST_CASE(eml_files_are_named_by_day_and_conversation) {
    const Message m = message("hi");
    const auto conv = conversation_of(m);
    BOOST_TEST(conv.first == "alice@example.org");
    BOOST_TEST(conv.second == "bob@example.org");
    BOOST_TEST(eml_name("2025-12-03", conversation_of(m)) == "2025-12-03/alice@example.org__bob@example.org.eml");
    BOOST_TEST(eml_name("2025-12-03", {"a/b@x", "c d@x"}) == "2025-12-03/a%2Fb@x__c%20d@x.eml");
    const std::string longname = eml_name("2025-12-03", {std::string(300, 'a') + "@x", "b@x"});
    BOOST_TEST(longname.size() < 230u);
    BOOST_TEST(longname != eml_name("2025-12-03", {std::string(300, 'a') + "@y", "b@x"}));
    const std::string head = eml_head(m, "CASE-1");
    BOOST_TEST(head.find("From: alice@example.org\r\nTo: bob@example.org\r\n") == 0u);
    BOOST_TEST(head.find("Date: Wed, 03 Dec 2025 10:00:00 +0000\r\n") != std::string::npos);
    BOOST_TEST(head.find("X-Parley-Case: CASE-1\r\n") != std::string::npos);
    BOOST_TEST(head.substr(head.size() - 4) == "\r\n\r\n");
    BOOST_TEST(eml_text(m) == "[10:00:00.250Z] alice@example.org/phone to bob@example.org (chat, 0192345678900001):\n"
                              "    hi\n");
}

BOOST_AUTO_TEST_CASE(a_stored_body_is_read_as_the_parsed_stanza_gives_it) {
    // Property: for any stanza the serializer wrote, the quick reading is
    // either "parse it" or exactly body_of() of the tree; for the messages
    // an archive holds (bodies, with or without xml:lang, beside other
    // children and attributes) it decides.
    std::mt19937 rng(20261204);
    auto coin = [&](int in) { return std::uniform_int_distribution<int>(0, in - 1)(rng) == 0; };
    const std::vector<std::string> kNs = {std::string(xmpp::kNsClient), "urn:xmpp:x", "jabber:x:oob"};
    size_t decided = 0;
    for (int round = 0; round < 4000; ++round) {
        const bool odd = coin(4);  // roots and children the quick reading may refuse
        xml::Element m(coin(8) ? "presence" : "message", odd && coin(3) ? "urn:other" : std::string(xmpp::kNsClient));
        m.set_attr("from", "a@b.test/" + random_text(rng, 3));
        m.set_attr("type", coin(2) ? "chat" : random_text(rng, 4));
        if (coin(3)) m.set_attr(xml::QName{"urn:attr", "x"}, random_text(rng, 3));
        const int children = std::uniform_int_distribution<int>(0, 4)(rng);
        for (int c = 0; c < children; ++c) {
            const int kind = std::uniform_int_distribution<int>(0, 5)(rng);
            if (kind <= 2) {
                xml::Element& b = m.add_child("body", odd && coin(2) ? kNs[1 + coin(2)] : kNs[0]);
                if (coin(2)) b.set_attr(xml::xml_lang(), coin(2) ? "en" : "de");
                if (coin(4)) b.set_attr("a", random_text(rng, 4));
                b.add_text(random_text(rng, 12));
                if (odd && coin(3)) b.add_child("span", "urn:x");
            } else if (kind == 3) {
                // a body further down is not the message's
                m.add_child("forwarded", "urn:xmpp:forward:0")
                    .add_child("message", std::string(xmpp::kNsClient))
                    .add_child("body", std::string(xmpp::kNsClient))
                    .add_text(random_text(rng, 5));
            } else if (kind == 4) {
                m.add_text(random_text(rng, 4));
            } else {
                m.add_child("origin-id", "urn:xmpp:sid:0").set_attr("id", random_text(rng, 5));
            }
        }
        const std::string stored = xml::to_string(m, xmpp::kNsClient);
        const auto quick = stored_body(stored);
        const auto tree = xml::parse_element(stored, xmpp::kNsClient, 16);
        BOOST_TEST_REQUIRE(tree.is_ok());
        if (quick) {
            ++decided;
            BOOST_TEST((*quick == body_of(tree.value())), "export: the quick body of " << stored);
        } else {
            BOOST_TEST(odd, "export: an archive's plain message is read without a parse: " << stored);
        }
    }
    BOOST_TEST(decided > 2500u);
    // Not one stanza, or not what the serializer writes: parse it.
    for (const char* refused : {"", "<message>", "<message><body>a</body>", "<message/><message/>",
                                "<message><!-- x --><body>a</body></message>", "<message><body>&nbsp;</body></message>",
                                "<message xmlns='urn:x'><body>a</body></message>", "text",
                                "<message><body a=\"1\">a</body></message>", "<message><body\n>hi</body></message>",
                                "<message><body xmlns='jabber:client'>hi</body></message>",
                                "<message><ns1:body xmlns:ns1='jabber:client'>hi</ns1:body></message>",
                                "<message><body>a\r\nb</body></message>", "<message><a></b><body>x</body></message>",
                                "<message>&nbsp;<body>x</body></message>", "<message><x a='<'/><body>x</body></message>",
                                "<message><x a='1' a='2'/><body>x</body></message>",
                                "<message><body>\xff</body></message>", "<message><body>a\x01</body></message>",
                                "<message>]]&gt;]]><body>x</body></message>"})
        BOOST_TEST(!stored_body(refused).has_value(), "export: no quick body for " << refused);
    BOOST_TEST((stored_body("<message/>") == std::optional<std::optional<std::string>>(std::optional<std::string>())));
    BOOST_TEST((stored_body("<message><body xml:lang='en'>a</body><body>b &amp; c&#13;</body></message>") ==
                std::optional<std::optional<std::string>>(std::string("b & c\r"))));
}

BOOST_AUTO_TEST_SUITE_END()

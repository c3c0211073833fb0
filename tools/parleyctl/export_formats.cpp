#include "export_formats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>

#include "archive/crypto/keys.hpp"
#include "module/control_json.hpp"
#include "modules/archive/journal_service.hpp"
#include "xml/parse_element.hpp"
#include "xml/serializer.hpp"
#include "xmpp/datetime.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::ctl::export_format {

namespace {

using module::json_string;
using module::append_json_string;

constexpr const char* kNsPie = "urn:xmpp:pie:0";
constexpr const char* kNsPieMam = "urn:xmpp:pie:0#mam";
constexpr const char* kNsMam = "urn:xmpp:mam:2";
constexpr const char* kNsForward = "urn:xmpp:forward:0";
constexpr const char* kNsDelay = "urn:xmpp:delay";
// What a stored stanza may nest (the stream's own limit is far lower).
constexpr size_t kStanzaDepth = 64;

std::tm utc(uint64_t unix_ms) {
    const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
    std::tm tm{};
    gmtime_r(&t, &tm);
    return tm;
}

std::string_view bare(std::string_view jid) {
    const size_t slash = jid.find('/');
    return slash == std::string_view::npos ? jid : jid.substr(0, slash);
}

bool atext(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) != std::string_view::npos ||
           c >= 0x80;  // RFC 6532: UTF-8 is atext
}

bool dot_atom(std::string_view s) {
    if (s.empty() || s.front() == '.' || s.back() == '.') return false;
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c == '.') {
            if (s[i - 1] == '.') return false;
        } else if (!atext(c)) {
            return false;
        }
    }
    return true;
}

const char* const kWeekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
const char* const kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                               "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

std::string base64(std::string_view in) {
    static const char* const kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 3 <= in.size(); i += 3) {
        const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16 |
                           static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8 |
                           static_cast<unsigned char>(in[i + 2]);
        for (int s = 18; s >= 0; s -= 6) out += kAlphabet[(v >> s) & 63];
    }
    if (i < in.size()) {
        uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
        if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
        out += kAlphabet[(v >> 18) & 63];
        out += kAlphabet[(v >> 12) & 63];
        out += i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

// The length of the UTF-8 sequence that starts with c (1 for a stray byte).
size_t utf8_length(unsigned char c) {
    if (c >= 0xf0) return 4;
    if (c >= 0xe0) return 3;
    if (c >= 0xc0) return 2;
    return 1;
}

std::string stanza_id(uint64_t id) { return archive::stanza_id_text(id); }

}  // namespace

std::string iso_time(uint64_t unix_ms) { return xmpp::format_datetime(unix_ms); }

std::string mail_date(uint64_t unix_ms) {
    const std::tm tm = utc(unix_ms);
    return fmt::format("{}, {:02} {} {:04} {:02}:{:02}:{:02} +0000", kWeekdays[tm.tm_wday], tm.tm_mday,
                       kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

std::string day_of(uint64_t unix_ms) { return xmpp::format_date(unix_ms); }

// JSON Lines

std::string jsonl_line(const Message& m) {
    std::string out;
    out.reserve(m.stanza.size() * 2 + 256);
    auto field = [&out](std::string_view name, std::string_view value) {
        out += name;
        append_json_string(out, value);
    };
    field("{\"id\":", stanza_id(m.id));
    field(",\"time\":", iso_time(m.time_ms));
    field(",\"from\":", m.from);
    field(",\"to\":", m.to);
    field(",\"type\":", m.type);
    field(",\"origin\":", m.origin);
    field(",\"outcome\":", m.outcome);
    out += ",\"views\":[";
    for (size_t i = 0; i < m.views.size(); ++i) {
        field(i ? ",{\"owner\":" : "{\"owner\":", m.views[i].first);
        field(",\"peer\":", m.views[i].second);
        out += '}';
    }
    out += ']';
    if (m.body) field(",\"body\":", *m.body);
    else out += ",\"body\":null";
    field(",\"stanza\":", m.stanza);
    out += "}\n";
    return out;
}

// CSV

std::string csv_field(std::string_view value) {
    std::string out;
    out.reserve(value.size() + 2);
    out += '"';
    for (char c : value) {
        if (c == '"') out += '"';
        out += c;
    }
    out += '"';
    return out;
}

std::string csv_header() { return "\"id\",\"time\",\"from\",\"to\",\"type\",\"origin\",\"outcome\",\"body\"\r\n"; }

std::string csv_row(const Message& m) {
    std::string out = csv_field(stanza_id(m.id)) + ',' + csv_field(iso_time(m.time_ms)) + ',';
    for (const std::string* f : {&m.from, &m.to, &m.type, &m.origin, &m.outcome}) {
        out += csv_field(*f);
        out += ',';
    }
    // A message without a body (a receipt, a chat state) has an empty cell.
    out += csv_field(m.body ? *m.body : std::string());
    out += "\r\n";
    return out;
}

// EML

std::string quoted_printable(std::string_view text) {
    std::string out;
    out.reserve(text.size() + text.size() / 8 + 8);
    size_t line = 0;  // characters on the current encoded line
    auto emit = [&](std::string_view piece) {
        // A soft break keeps the line at 76 with its '='.
        if (line + piece.size() > 75) {
            out += "=\r\n";
            line = 0;
        }
        out += piece;
        line += piece.size();
    };
    for (size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '\n') {
            out += "\r\n";
            line = 0;
            continue;
        }
        const bool line_end = i + 1 == text.size() || text[i + 1] == '\n';
        if ((c >= 33 && c <= 126 && c != '=') || ((c == ' ' || c == '\t') && !line_end)) {
            emit(std::string_view(text.data() + i, 1));
        } else if (c >= 0x80) {
            // A whole UTF-8 sequence on one line, so that a reader decoding
            // line by line never sees half a character.
            const size_t n = std::min(utf8_length(c), text.size() - i);
            std::string seq;
            for (size_t k = 0; k < n; ++k) seq += fmt::format("={:02X}", static_cast<unsigned char>(text[i + k]));
            emit(seq);
            i += n - 1;
        } else {
            emit(fmt::format("={:02X}", c));
        }
    }
    return out;
}

std::string mail_address(std::string_view jid) {
    jid = bare(jid);
    const size_t at = jid.find('@');
    if (at == std::string_view::npos) return "unknown@" + std::string(jid);
    const std::string_view local = jid.substr(0, at), domain = jid.substr(at + 1);
    if (dot_atom(local)) return std::string(jid);
    std::string out = "\"";
    for (char c : local) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"@" + std::string(domain);
}

std::string header_text(std::string_view text) {
    bool plain = true;
    for (char c : text) plain = plain && static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f;
    if (plain) return std::string(text);
    // Encoded-words of at most 75 characters (RFC 2047 §2), each holding
    // whole UTF-8 characters (§5: no split multi-byte character); folded
    // with CRLF SP between them.
    std::string out;
    size_t i = 0;
    while (i < text.size()) {
        size_t j = i;
        while (j < text.size()) {
            const size_t n = std::min(utf8_length(static_cast<unsigned char>(text[j])), text.size() - j);
            if ((j + n - i + 2) / 3 * 4 > 75 - 12) break;  // "=?utf-8?b?" + "?="
            j += n;
        }
        if (j == i) j = i + 1;
        if (!out.empty()) out += "\r\n ";
        std::string chunk(text.substr(i, j - i));
        for (char& c : chunk)
            if (c == '\r' || c == '\n') c = ' ';
        out += "=?utf-8?b?" + base64(chunk) + "?=";
        i = j;
    }
    return out;
}

std::pair<std::string, std::string> conversation_of(const Message& m) {
    std::string a(bare(m.from)), b(bare(m.to));
    if (b < a) std::swap(a, b);
    return {a, b};
}

std::string eml_head(const Message& first, const std::string& case_id) {
    const auto [a, b] = conversation_of(first);
    const std::string from(bare(first.from)), to = from == a ? b : a;
    const std::string day = day_of(first.time_ms);
    std::string h;
    h += "From: " + mail_address(from) + "\r\n";
    h += "To: " + mail_address(to) + "\r\n";
    h += "Date: " + mail_date(first.time_ms) + "\r\n";
    h += "Subject: " + header_text("XMPP conversation between " + a + " and " + b + " on " + day) + "\r\n";
    // Unique per conversation-day of this archive: the day and the first id.
    h += "Message-ID: <" + stanza_id(first.id) + "." + day + "@parley-archive.invalid>\r\n";
    if (!case_id.empty()) h += "X-Parley-Case: " + header_text(case_id) + "\r\n";
    h += "X-Parley-Conversation: " + header_text(a + " " + b) + "\r\n";
    h += "MIME-Version: 1.0\r\n";
    h += "Content-Type: text/plain; charset=utf-8\r\n";
    h += "Content-Transfer-Encoding: quoted-printable\r\n\r\n";
    return h;
}

std::string eml_text(const Message& m) {
    std::string out = "[" + iso_time(m.time_ms).substr(11) + "] " + m.from + " to " + m.to + " (" + m.type +
                      ", " + stanza_id(m.id) + ")";
    if (!m.body) return out + ": no body\n";
    out += ":\n";
    size_t start = 0;
    const std::string& body = *m.body;
    while (start <= body.size()) {
        size_t nl = body.find('\n', start);
        if (nl == std::string::npos) nl = body.size();
        out += "    " + body.substr(start, nl - start) + "\n";
        start = nl + 1;
    }
    return out;
}

std::string eml_name(const std::string& day, const std::pair<std::string, std::string>& c) {
    auto part = [](std::string_view jid) {
        std::string out;
        for (char ch : jid) {
            const auto u = static_cast<unsigned char>(ch);
            if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || ch == '.' ||
                ch == '@' || ch == '_' || ch == '-')
                out += ch;
            else
                out += fmt::format("%{:02X}", u);
        }
        return out;
    };
    std::string name = part(c.first) + "__" + part(c.second);
    if (name.size() > 200) {
        const archive::Digest d = archive::sha256(c.first + '\0' + c.second);
        std::string hex;
        for (size_t i = 0; i < 8; ++i) hex += fmt::format("{:02x}", d[i]);
        name = name.substr(0, 180) + "~" + hex;
    }
    return day + "/" + name + ".eml";
}

// XEP-0227

std::string xml_head() { return "<?xml version='1.0' encoding='UTF-8'?>\n<server-data xmlns='" + std::string(kNsPie) + "'>\n"; }

std::string xml_tail() { return "</server-data>\n"; }

std::string xml_host_open(std::string_view domain) {
    std::string out = "  <host jid='";
    xml::append_escaped_attr(out, domain);
    return out + "'>\n";
}

std::string xml_host_close() { return "  </host>\n"; }

std::string xml_user_open(std::string_view node) {
    std::string out = "    <user name='";
    xml::append_escaped_attr(out, node);
    return out + "'>\n      <archive xmlns='" + std::string(kNsPieMam) + "'>\n";
}

std::string xml_user_close() { return "      </archive>\n    </user>\n"; }

std::string xml_result(const Message& m, const xml::Element& stanza) {
    std::string out = "        <result xmlns='" + std::string(kNsMam) + "' id='" + stanza_id(m.id) +
                      "'><forwarded xmlns='" + kNsForward + "'><delay xmlns='" + kNsDelay + "' stamp='" +
                      iso_time(m.time_ms) + "'/>";
    // Serialized with the default namespace of <forwarded/>, the stanza
    // declares jabber:client itself.
    xml::serialize(stanza, out, kNsForward);
    out += "</forwarded></result>\n";
    return out;
}

// HTML

std::string html_escape(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default:
                // Control characters are not allowed in XML 1.0 nor shown by
                // browsers; the archive cannot hold them (XML text), but a
                // polyglot page must not break on one either.
                if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t')
                    out += "\xEF\xBF\xBD";
                else
                    out += c;
        }
    }
    return out;
}

std::string html_head(std::string_view title, std::string_view scope_line) {
    return "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n"
           "<meta charset=\"utf-8\"/>\n<title>" +
           html_escape(title) +
           "</title>\n<style>\nbody{font-family:sans-serif;margin:2em}\ntable{border-collapse:collapse;width:100%}\n"
           "td,th{border-bottom:1px solid #ddd;padding:.3em;text-align:left;vertical-align:top}\n"
           ".body{white-space:pre-wrap}\n.meta{color:#666;font-size:.85em}\n</style>\n</head>\n<body>\n<h1>" +
           html_escape(title) + "</h1>\n<p class=\"meta\">" + html_escape(scope_line) + "</p>\n<table>\n";
}

std::string html_day(std::string_view day) {
    return "<tr><th colspan=\"4\"><h2 id=\"d" + html_escape(day) + "\">" + html_escape(day) + "</h2></th></tr>\n";
}

std::string html_row(const Message& m) {
    std::string out = "<tr id=\"m" + stanza_id(m.id) + "\"><td class=\"meta\">" + iso_time(m.time_ms).substr(11, 12) +
                      "</td><td>" + html_escape(m.from) + "</td><td>" + html_escape(m.to) + "</td><td";
    if (m.body)
        out += " class=\"body\">" + html_escape(*m.body);
    else
        out += " class=\"meta\">(" + html_escape(m.type) + ", no body)";
    return out + "</td></tr>\n";
}

std::string html_tail(uint64_t messages) {
    return "</table>\n<p class=\"meta\">" + std::to_string(messages) + " message" + (messages == 1 ? "" : "s") +
           ".</p>\n</body>\n</html>\n";
}

// Parsing

Result<xml::Element> parse_stanza(std::string_view stored) {
    auto e = xml::parse_element(stored, xmpp::kNsClient, kStanzaDepth);
    if (!e) return Status::error("corrupt", "a stored stanza does not parse (" + e.status().message() + ")");
    return e;
}

namespace {

// Text as the serializer escapes it, unescaped; nullopt for a reference
// outside the serializer's set.
std::optional<std::string> unescape_stored(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        const size_t amp = text.find('&', i);
        if (amp == std::string_view::npos) {
            out.append(text.substr(i));
            break;
        }
        out.append(text.substr(i, amp - i));
        const std::string_view rest = text.substr(amp);
        static constexpr std::pair<std::string_view, char> kRefs[] = {
            {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&apos;", '\''}, {"&quot;", '"'},
            {"&#13;", '\r'}, {"&#9;", '\t'}, {"&#10;", '\n'}};
        bool known = false;
        for (const auto& [ref, c] : kRefs) {
            if (rest.starts_with(ref)) {
                out.push_back(c);
                i = amp + ref.size();
                known = true;
                break;
            }
        }
        if (!known) return std::nullopt;
    }
    return out;
}

}  // namespace

namespace {

// A name as the serializer writes one: ASCII name characters or UTF-8
// (the parser checked them when the stanza came in); ':' only where allowed.
bool plain_name(std::string_view n, bool colon) {
    if (n.empty()) return false;
    for (char ch : n) {
        const auto c = static_cast<unsigned char>(ch);
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                        c == '-' || c == '.' || c >= 0x80 || (colon && c == ':');
        if (!ok) return false;
    }
    return !(n[0] >= '0' && n[0] <= '9') && n[0] != '-' && n[0] != '.' && n[0] != ':';
}

// The names of a start tag's attributes ("a='1' xml:lang='en'" as the
// serializer writes them: one space before each, values in single quotes
// with no raw quote, '<' or unknown reference; no name twice); nullopt for
// anything else.
std::optional<std::vector<std::string_view>> stored_attr_names(std::string_view attrs) {
    std::vector<std::string_view> names;
    size_t i = 0;
    while (i < attrs.size()) {
        if (attrs[i] != ' ') return std::nullopt;
        const size_t eq = attrs.find("='", i);
        if (eq == std::string_view::npos) return std::nullopt;
        const size_t close = attrs.find('\'', eq + 2);
        if (close == std::string_view::npos) return std::nullopt;
        const std::string_view name = attrs.substr(i + 1, eq - i - 1);
        const std::string_view value = attrs.substr(eq + 2, close - eq - 2);
        if (!plain_name(name, true) || value.find('<') != std::string_view::npos || !unescape_stored(value) ||
            std::find(names.begin(), names.end(), name) != names.end())
            return std::nullopt;
        names.push_back(name);
        i = close + 1;
    }
    return names;
}

// Text the parser takes as it is: valid UTF-8, no control character but tab
// and line feed (a raw CR would be read as LF), no "]]>" (the serializer
// escapes '>').
bool plain_text(std::string_view s) {
    if (s.find("]]>") != std::string_view::npos) return false;
    for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            if (c < 0x20 && c != '\t' && c != '\n') return false;
            ++i;
            continue;
        }
        const size_t n = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
        if (n == 0 || i + n > s.size()) return false;
        uint32_t cp = c & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07);
        for (size_t k = 1; k < n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (b & 0x3F);
        }
        static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
        if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
            return false;
        i += n;
    }
    return true;
}

}  // namespace

std::optional<std::optional<std::string>> stored_body(std::string_view s) {
    using Answer = std::optional<std::optional<std::string>>;
    constexpr size_t kMaxDepth = 64;  // as parse_stanza allows
    if (s.empty() || s[0] != '<' || !plain_text(s)) return std::nullopt;
    // One tag at a time: '>' is never raw inside a tag (values are escaped)
    // nor '<' in text; every text between tags must unescape.
    struct Tag {
        std::string_view name;
        std::vector<std::string_view> attrs;
        bool closing = false, empty = false;
    };
    size_t p = 0;
    auto next_tag = [&](size_t from) -> std::optional<Tag> {
        const size_t lt = s.find('<', from);
        if (lt == std::string_view::npos || lt + 1 >= s.size()) return std::nullopt;
        if (!unescape_stored(s.substr(from, lt - from))) return std::nullopt;
        const size_t gt = s.find('>', lt);
        if (gt == std::string_view::npos) return std::nullopt;
        Tag t;
        std::string_view inner = s.substr(lt + 1, gt - lt - 1);
        if (inner.find('<') != std::string_view::npos) return std::nullopt;
        p = gt + 1;
        if (inner.starts_with('/')) {
            t.closing = true;
            t.name = inner.substr(1);
            return t;
        }
        if (inner.ends_with('/')) {
            t.empty = true;
            inner.remove_suffix(1);
        }
        const size_t sp = std::min(inner.find(' '), inner.size());
        t.name = inner.substr(0, sp);
        // No prefixed element names: the serializer writes them only for
        // the stream's and the xml namespace, which a stored stanza has not.
        if (!plain_name(t.name, false)) return std::nullopt;
        auto attrs = stored_attr_names(inner.substr(sp));
        if (!attrs) return std::nullopt;
        t.attrs = std::move(*attrs);
        return t;
    };
    auto has = [](const Tag& t, std::string_view name) {
        return std::find(t.attrs.begin(), t.attrs.end(), name) != t.attrs.end();
    };
    auto root = next_tag(0);
    // Only a stanza in jabber:client, as stored, is read here.
    if (!root || root->closing || has(*root, "xmlns")) return std::nullopt;
    if (root->empty) return p == s.size() ? Answer(std::optional<std::string>()) : std::nullopt;
    std::vector<std::string_view> open{root->name};
    std::optional<std::string> answer;
    bool found = false;  // answer is a body without xml:lang
    while (!open.empty()) {
        auto t = next_tag(p);
        if (!t) return std::nullopt;
        if (t->closing) {
            if (t->name != open.back()) return std::nullopt;
            open.pop_back();
            continue;
        }
        if (open.size() == 1 && t->name == "body") {
            // A body in another namespace, or declaring its own: parse it.
            if (has(*t, "xmlns")) return std::nullopt;
            std::optional<std::string> text = std::string();
            if (!t->empty) {
                const size_t close = s.find('<', p);
                if (close == std::string_view::npos || s.substr(close, 7) != "</body>") return std::nullopt;
                text = unescape_stored(s.substr(p, close - p));
                if (!text) return std::nullopt;
                p = close + 7;
            }
            // The first without xml:lang, else the first; the rest is
            // still read to the end (one element, nothing unknown).
            if (!found && !has(*t, "xml:lang")) {
                answer = std::move(text);
                found = true;
            } else if (!found && !answer) {
                answer = std::move(text);
            }
            continue;
        }
        if (!t->empty) {
            if (open.size() == kMaxDepth) return std::nullopt;
            open.push_back(t->name);
        }
    }
    if (p != s.size()) return std::nullopt;  // not one element
    return Answer(std::move(answer));
}

std::optional<std::string> body_of(const xml::Element& stanza) {
    const xml::Element* first = nullptr;
    for (const xml::Element& c : stanza.children()) {
        if (c.name() != "body" || c.ns() != xmpp::kNsClient) continue;
        if (!first) first = &c;
        if (!c.attr(xml::kXmlNs, "lang")) return c.text();
    }
    if (!first) return std::nullopt;
    return first->text();
}

}  // namespace parley::ctl::export_format

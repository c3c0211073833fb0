// The file formats of `parleyctl archive export`: how one archived message
// is written in each, and the encodings they need.
//
//   JSON Lines   one object per message and line (RFC 8259 text, '\n' ends it)
//   CSV          RFC 4180: every field quoted, CRLF row ends, header row first
//   EML          RFC 5322 + MIME (RFC 2045): one text/plain message per
//                conversation-day, quoted-printable UTF-8 body, a transcript
//   XML          XEP-0227 (urn:xmpp:pie:0) with each user's archive as
//                XEP-0313 <result/> elements in urn:xmpp:pie:0#mam
//   HTML         one transcript page, polyglot (well-formed XML as well as
//                HTML5), every text escaped
//
// Everything here is a pure function of its arguments, exposed for the unit
// tests; archive_export.cpp drives them. Message carries what the journal
// holds of one record, already decoded. Any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"
#include "xml/element.hpp"

namespace parley::ctl::export_format {

struct Message {
    uint64_t id = 0;       // the record id (stanza_id_text() is the stanza-id)
    uint64_t time_ms = 0;  // when it was archived, ms since the epoch
    std::string from, to, type, origin, outcome;
    std::vector<std::pair<std::string, std::string>> views;  // (owner, peer)
    std::optional<std::string> body;
    std::string stanza;  // the exact XML as routed (stored form: default namespace jabber:client)
};

// "2026-12-03T10:00:00.250Z"
std::string iso_time(uint64_t unix_ms);
// RFC 5322 date-time in UTC: "Thu, 03 Dec 2026 10:00:00 +0000"
std::string mail_date(uint64_t unix_ms);
// "2026-12-03"
std::string day_of(uint64_t unix_ms);

// One line of JSON Lines, '\n' included.
std::string jsonl_line(const Message& m);

// The CSV header row and one row, CRLF included.
std::string csv_header();
std::string csv_row(const Message& m);
std::string csv_field(std::string_view value);

// Quoted-printable (RFC 2045 §6.7) of UTF-8 text whose line breaks are
// '\n': each becomes a CRLF hard break; encoded lines are at most 76
// characters (soft breaks "=\r\n"), trailing spaces and tabs are encoded,
// and so is every byte outside printable ASCII, '=' and a lone CR.
std::string quoted_printable(std::string_view text);

// An RFC 5322 addr-spec for a bare JID: the JID itself when its local part
// is a dot-atom, else with the local part quoted. Non-ASCII stays UTF-8
// (RFC 6532). A domain JID (no local part) is "postmaster@domain"-free: it
// is shown as the domain in a display name and "unknown@domain".
std::string mail_address(std::string_view bare_jid);
// An unstructured header value: as is when printable ASCII, else one or
// more RFC 2047 encoded-words (UTF-8, base64).
std::string header_text(std::string_view text);

// The conversation a message belongs to: its two parties' bare JIDs in
// sorted order (a message to oneself: twice the same).
std::pair<std::string, std::string> conversation_of(const Message& m);

// The headers and the blank line of the EML file of one conversation-day,
// which `first` opens (From is its sender, To the other party).
std::string eml_head(const Message& first, const std::string& case_id);
// The transcript lines a message adds to its conversation-day's body
// (plain text, '\n' line breaks; quoted_printable() encodes it).
std::string eml_text(const Message& m);

// A file name for a conversation-day: "DAY/A__B.eml" with every byte other
// than [A-Za-z0-9.@_-] as %XX, shortened (with a digest) past 200 bytes.
std::string eml_name(const std::string& day, const std::pair<std::string, std::string>& conversation);

// XEP-0227: the file's start and end, a user's archive start and end, and
// one <result/> (the stanza, parsed from its stored form, serialized again
// inside <forwarded/> so that it declares jabber:client, with a <delay/> of
// the archive time).
std::string xml_head();
std::string xml_tail();
std::string xml_host_open(std::string_view domain);
std::string xml_host_close();
std::string xml_user_open(std::string_view node);  // <user><archive>
std::string xml_user_close();
std::string xml_result(const Message& m, const xml::Element& stanza);

// The HTML transcript: page start (title and scope line escaped), a day
// heading, one message row, page end.
std::string html_head(std::string_view title, std::string_view scope_line);
std::string html_day(std::string_view day);
std::string html_row(const Message& m);
std::string html_tail(uint64_t messages);
std::string html_escape(std::string_view text);

// A stored stanza parsed back (xml::parse_element in jabber:client); code
// "corrupt" when the text is not one well-formed stanza.
Result<xml::Element> parse_stanza(std::string_view stored);
// Its body: the first <body/> in jabber:client without xml:lang, else the
// first; nullopt when it has none.
std::optional<std::string> body_of(const xml::Element& stanza);
// The same body read straight from a stored stanza, without building its
// tree, for exports that need nothing else of it. The archive stores what
// xml::serialize wrote (jabber:client the default namespace), whose form is
// plain: no comments, CDATA, DTD or entity but the five and character
// references; a body as a direct child of the root, text only. Anything
// else (another root namespace, a body with child elements, a reference it
// does not know, text that is not one stanza) is not guessed at: the outer
// nullopt says "parse it" (parse_stanza, then body_of).
std::optional<std::optional<std::string>> stored_body(std::string_view stored);

}  // namespace parley::ctl::export_format

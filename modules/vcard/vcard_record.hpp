// The pieces of mod_vcard that need no host: the XEP-0153 photo hash of a
// vCard, the stored form of a vCard record, and reading the stored vCard
// back into an element.
//
// A record (the value under an account's bare JID in "vcard.cards", schema
// version 1; doc/storage.md) is: u8 length of the photo hash (0 or 40), the
// hash (lower-case hex SHA-1), then the vCard element as XML text, written by
// the serializer with jabber:client as the default namespace (so it carries
// xmlns='vcard-temp'). The hash comes first so that the presence hook reads
// it without touching the rest (an LMDB read is a view into the map).
//
// Pure functions: any thread.
#pragma once

#include <string>
#include <string_view>

#include "errors/status.hpp"
#include "xml/element.hpp"

namespace parley::mod_vcard {

inline constexpr const char* kNsVcard = "vcard-temp";
inline constexpr const char* kNsUpdate = "vcard-temp:x:update";
inline constexpr size_t kHashHexLength = 40;

// Base64 as vCards carry it in BINVAL: whitespace anywhere is ignored (clients
// wrap lines at 76 or 64 characters) and the padding may be left out; any
// other character outside the alphabet, a '=' before the end, or a length
// that cannot be base64 is refused (code "bad-request").
Result<std::string> decode_binval(std::string_view text);

// XEP-0153 §3: the SHA-1 of the image data of PHOTO/BINVAL (decoded), as 40
// lower-case hex digits; "" when the vCard has no PHOTO or its BINVAL is
// absent or empty (an EXTVAL is no image data). Code "bad-request" when the
// BINVAL is not base64.
Result<std::string> photo_hash(const xml::Element& vcard);

// Lower-case hex SHA-1 of `data` (GnuTLS).
std::string sha1_hex(std::string_view data);

std::string encode_record(std::string_view hash, std::string_view xml);
struct RecordView {
    std::string_view hash;  // "" or 40 hex digits
    std::string_view xml;
};
// Views into `data`; code "corrupt" when it is not a record.
Result<RecordView> decode_record(std::string_view data);

// The stored XML text back as the <vCard xmlns='vcard-temp'/> element; code
// "corrupt" when it is not exactly one such element.
Result<xml::Element> parse_vcard(std::string_view xml);

}  // namespace parley::mod_vcard

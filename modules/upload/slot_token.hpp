// Upload slots as signed tokens, and the checks on what a slot may name.
//
// A slot (XEP-0363 §4) is granted on an XMPP worker and used later on the
// HTTP thread, possibly after a restart: the PUT request itself carries
// what was granted. The token in its Authorization header is
// "Bearer BASE64(payload).HEX(mac)": the payload holds the time of the
// grant, the expiry, the size, the owner's bare JID and the content type; the mac is HMAC-SHA256
// under the module's secret over a version label, the slot id and file
// name (taken from the URL), and the payload. Any change to any of them is
// refused; the mac is compared in constant time. The file name and content
// type cannot hold a newline (check_filename, check_content_type), so the
// fields cannot run into each other. The time of the grant lets the store
// refuse the slots of an account deleted after they were granted
// (FileStore::forget_owner); tokens of payload version 1, signed before it
// was added, still verify, with `issued_ms` 0.
//
// Plain functions and values: any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "errors/status.hpp"

namespace parley::mod_upload {

// What a token vouches for.
struct SlotGrant {
    std::string slot_id;       // 32 lowercase hex digits (new_slot_id)
    std::string filename;      // as the client asked (check_filename)
    uint64_t size = 0;         // the exact number of bytes the PUT must carry
    std::string content_type;  // empty when the request named none
    int64_t expires = 0;       // Unix time after which the PUT is refused
    std::string owner;         // bare JID of the account that asked
    int64_t issued_ms = 0;     // Unix time of the grant in milliseconds (0: a version 1 token has none)
    friend bool operator==(const SlotGrant&, const SlotGrant&) = default;
};

// The Authorization header's value for grant: "Bearer TOKEN".
std::string sign_token(std::string_view secret, const SlotGrant& grant);

// Checks the Authorization header's value against the slot id and file name
// of the URL at time `now`; the grant it vouches for, or an error with code
// "malformed" (not a token of ours), "forged" (the mac does not match: a
// field, the slot or the name was changed, or another secret signed it) or
// "expired".
Result<SlotGrant> verify_token(std::string_view secret, std::string_view authorization, std::string_view slot_id,
                               std::string_view filename, int64_t now);

// A file name a slot may carry: 1-255 bytes of UTF-8, no '/', '\\', NUL or
// other control character, no "..", not ".". Error code "invalid" with the
// reason.
Status check_filename(std::string_view name);
// A content type as "type/subtype" with optional parameters: printable
// ASCII, at most 255 bytes. Error code "invalid".
Status check_content_type(std::string_view type);

// Percent-encodes every byte but RFC 3986's unreserved characters.
std::string percent_encode(std::string_view s);
// Decodes %XX escapes (a malformed escape is an error, code "invalid").
Result<std::string> percent_decode(std::string_view s);

bool valid_slot_id(std::string_view id);
// 128 random bits as 32 lowercase hex digits (GnuTLS's nonce generator).
std::string new_slot_id();
// 32 random bytes from GnuTLS's key generator, as 64 hex digits.
std::string new_secret();

// Equality of two strings whose time does not depend on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace parley::mod_upload

#include "slot_token.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <charconv>
#include <vector>

#include "xmpp/base64.hpp"
#include "xmpp/hex.hpp"

namespace parley::mod_upload {

namespace {

constexpr std::string_view kLabel = "parley-upload-token-v1";
constexpr std::string_view kBearer = "Bearer ";

std::string mac(std::string_view secret, std::string_view slot_id, std::string_view filename,
                std::string_view payload) {
    std::string msg;
    msg.reserve(kLabel.size() + slot_id.size() + filename.size() + payload.size() + 3);
    msg.append(kLabel).append("\n").append(slot_id).append("\n").append(filename).append("\n").append(payload);
    unsigned char out[32];
    int rc = gnutls_hmac_fast(GNUTLS_MAC_SHA256, secret.data(), secret.size(), msg.data(), msg.size(), out);
    if (rc < 0) return {};  // never equal to a real mac
    return xmpp::hex(out, sizeof out);
}

// Version 2: "2", the time of the grant in milliseconds, then version 1's
// fields (expiry, size, owner, content type). Version 1 had no grant time.
std::string payload_of(const SlotGrant& g) {
    return "2\n" + std::to_string(g.issued_ms) + "\n" + std::to_string(g.expires) + "\n" + std::to_string(g.size) +
           "\n" + g.owner + "\n" + g.content_type;
}

template <class T>
bool parse_number(std::string_view s, T& out) {
    if (s.empty()) return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    for (size_t i = 0; i <= s.size(); ++i)
        if (i == s.size() || s[i] == sep) {
            out.push_back(s.substr(start, i - start));
            start = i + 1;
        }
    return out;
}

// One UTF-8 sequence at s[i]: its length, or 0 when it is not well formed.
size_t utf8_length(std::string_view s, size_t i) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return 0;
    for (size_t k = 1; k < n; ++k)
        if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
    if (n == 2 && c < 0xC2) return 0;  // overlong
    return n;
}

}  // namespace

std::string sign_token(std::string_view secret, const SlotGrant& g) {
    const std::string payload = payload_of(g);
    return std::string(kBearer) + xmpp::base64_encode(payload) + "." + mac(secret, g.slot_id, g.filename, payload);
}

Result<SlotGrant> verify_token(std::string_view secret, std::string_view authorization, std::string_view slot_id,
                               std::string_view filename, int64_t now) {
    if (authorization.substr(0, kBearer.size()) != kBearer)
        return Status::error("malformed", "no Bearer token");
    std::string_view token = authorization.substr(kBearer.size());
    const size_t dot = token.rfind('.');
    if (dot == std::string_view::npos) return Status::error("malformed", "a token is PAYLOAD.MAC");
    auto payload = xmpp::base64_decode(token.substr(0, dot));
    if (!payload) return Status::error("malformed", "the token's payload is not base64");
    const std::string expected = mac(secret, slot_id, filename, *payload);
    // The mac first, in constant time, before anything in the payload is
    // believed.
    if (expected.empty() || !constant_time_equal(expected, token.substr(dot + 1)))
        return Status::error("forged", "the token does not match this slot");
    auto fields = split(*payload, '\n');
    SlotGrant g;
    // Version 1 (5 fields) was signed before the time of the grant was
    // added: it still verifies, as granted at time 0.
    size_t at = 1;
    if (fields.size() == 6 && fields[0] == "2") {
        if (!parse_number(fields[1], g.issued_ms)) return Status::error("malformed", "the token's grant time");
        at = 2;
    } else if (fields.size() != 5 || fields[0] != "1") {
        return Status::error("malformed", "the token's payload is not of a known version");
    }
    if (!parse_number(fields[at], g.expires) || !parse_number(fields[at + 1], g.size))
        return Status::error("malformed", "the token's payload is not of this version");
    g.slot_id = std::string(slot_id);
    g.filename = std::string(filename);
    g.owner = std::string(fields[at + 2]);
    g.content_type = std::string(fields[at + 3]);
    if (now > g.expires) return Status::error("expired", "the slot has expired");
    return g;
}

Status check_filename(std::string_view name) {
    if (name.empty()) return Status::error("invalid", "the file name is empty");
    if (name.size() > 255) return Status::error("invalid", "the file name is longer than 255 bytes");
    if (name == "." || name.find("..") != std::string_view::npos)
        return Status::error("invalid", "the file name must not hold '..' or be '.'");
    for (size_t i = 0; i < name.size();) {
        const auto c = static_cast<unsigned char>(name[i]);
        if (c == '/' || c == '\\') return Status::error("invalid", "the file name must not hold '/' or '\\'");
        if (c < 0x20 || c == 0x7F) return Status::error("invalid", "the file name must not hold control characters");
        const size_t n = utf8_length(name, i);
        if (n == 0) return Status::error("invalid", "the file name is not UTF-8");
        i += n;
    }
    return Status::ok();
}

Status check_content_type(std::string_view type) {
    if (type.empty() || type.size() > 255) return Status::error("invalid", "the content type is empty or too long");
    for (char ch : type) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c >= 0x7F) return Status::error("invalid", "the content type must be printable ASCII");
    }
    const size_t slash = type.find('/');
    if (slash == 0 || slash == std::string_view::npos || slash + 1 >= type.size() || type[slash + 1] == ';' ||
        type[slash + 1] == ' ')
        return Status::error("invalid", "the content type is not TYPE/SUBTYPE");
    return Status::ok();
}

std::string percent_encode(std::string_view s) {
    static const char* d = "0123456789ABCDEF";
    std::string out;
    for (char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(d[c >> 4]);
            out.push_back(d[c & 15]);
        }
    }
    return out;
}

Result<std::string> percent_decode(std::string_view s) {
    auto val = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            out.push_back(s[i]);
            continue;
        }
        if (i + 2 >= s.size()) return Status::error("invalid", "a cut-off % escape");
        const int hi = val(s[i + 1]), lo = val(s[i + 2]);
        if (hi < 0 || lo < 0) return Status::error("invalid", "a malformed % escape");
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
    }
    return out;
}

bool valid_slot_id(std::string_view id) {
    if (id.size() != 32) return false;
    for (char c : id)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

std::string new_slot_id() { return xmpp::random_hex(16); }
std::string new_secret() { return xmpp::random_hex(32, GNUTLS_RND_KEY); }

bool constant_time_equal(std::string_view a, std::string_view b) {
    // The length of a mac is public; only the bytes must not leak.
    if (a.size() != b.size()) return false;
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff = diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i]));
    return diff == 0;
}

}  // namespace parley::mod_upload

#include "vcard_record.hpp"

#include <gnutls/crypto.h>

#include <array>

#include "xml/parse_element.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_vcard {

namespace {

int base64_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

bool is_space(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

}  // namespace

Result<std::string> decode_binval(std::string_view text) {
    std::string out;
    out.reserve(text.size() / 4 * 3 + 3);
    uint32_t acc = 0;
    int bits = 0;
    size_t chars = 0;  // alphabet characters, padding excluded
    bool padding = false;
    for (unsigned char c : text) {
        if (is_space(c)) continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        const int v = base64_value(c);
        if (v < 0) return Status::error("bad-request", "a character that is not base64");
        if (padding) return Status::error("bad-request", "base64 data after its padding");
        acc = (acc << 6) | static_cast<uint32_t>(v);
        bits += 6;
        ++chars;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xff));
        }
    }
    // One character alone cannot encode a byte.
    if (chars % 4 == 1) return Status::error("bad-request", "base64 data of an impossible length");
    return out;
}

std::string sha1_hex(std::string_view data) {
    std::array<unsigned char, 20> digest{};
    gnutls_hash_fast(GNUTLS_DIG_SHA1, data.data(), data.size(), digest.data());
    static const char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * digest.size());
    for (unsigned char b : digest) {
        out.push_back(kHex[b >> 4]);
        out.push_back(kHex[b & 0x0f]);
    }
    return out;
}

Result<std::string> photo_hash(const xml::Element& vcard) {
    const xml::Element* photo = vcard.child("PHOTO", kNsVcard);
    if (!photo) return std::string();
    const xml::Element* binval = photo->child("BINVAL", kNsVcard);
    if (!binval) return std::string();
    auto data = decode_binval(binval->text());
    if (!data) return Status::error("bad-request", "the BINVAL of PHOTO is not base64: " + data.status().message());
    if (data.value().empty()) return std::string();
    return sha1_hex(data.value());
}

std::string encode_record(std::string_view hash, std::string_view xml) {
    std::string out;
    out.reserve(1 + hash.size() + xml.size());
    out.push_back(static_cast<char>(hash.size()));
    out.append(hash);
    out.append(xml);
    return out;
}

Result<RecordView> decode_record(std::string_view data) {
    if (data.empty()) return Status::error("corrupt", "an empty vCard record");
    const size_t n = static_cast<unsigned char>(data[0]);
    if (n != 0 && n != kHashHexLength) return Status::error("corrupt", "a vCard record with a bad hash length");
    if (data.size() < 1 + n) return Status::error("corrupt", "a truncated vCard record");
    RecordView v{data.substr(1, n), data.substr(1 + n)};
    for (char c : v.hash)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return Status::error("corrupt", "a vCard record with a hash that is not hex");
    return v;
}

Result<xml::Element> parse_vcard(std::string_view text) {
    // The record was a child of an iq the stream parser took, so it fits in
    // the limits parse_element() derives from its size.
    auto e = xml::parse_element(text, xmpp::kNsClient, 64);
    if (!e) {
        if (e.status().code() == "not-one-element")
            return Status::error("corrupt", "a stored vCard that is not one element");
        return Status::error("corrupt", "a stored vCard that does not parse: " + e.status().message());
    }
    if (e->name() != "vCard" || e->ns() != kNsVcard) return Status::error("corrupt", "a stored element that is not a vCard");
    return std::move(e.value());
}

}  // namespace parley::mod_vcard

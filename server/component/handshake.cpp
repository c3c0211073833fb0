#include "component/handshake.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "store/scram.hpp"

namespace parley::component {

std::string handshake_digest(std::string_view stream_id, std::string_view secret) {
    std::string input;
    input.reserve(stream_id.size() + secret.size());
    input.append(stream_id);
    input.append(secret);
    unsigned char digest[20];
    const int rc = gnutls_hash_fast(GNUTLS_DIG_SHA1, input.data(), input.size(), digest);
    gnutls_memset(input.data(), 0, input.size());
    if (rc < 0) return {};  // never equal to a 40-character offer
    static const char* hex = "0123456789abcdef";
    std::string out;
    out.reserve(40);
    for (unsigned char c : digest) {
        out.push_back(hex[c >> 4]);
        out.push_back(hex[c & 15]);
    }
    return out;
}

bool handshake_matches(std::string_view stream_id, std::string_view secret,
                       std::string_view offered) {
    const std::string_view ws = " \t\r\n";
    const auto first = offered.find_first_not_of(ws);
    offered = first == std::string_view::npos ? std::string_view{} : offered.substr(first);
    offered = offered.substr(0, offered.find_last_not_of(ws) + 1);
    std::string lower(offered);
    for (char& c : lower)
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    const std::string expected = handshake_digest(stream_id, secret);
    // The length is public (40); only the contents are compared in constant time.
    return !expected.empty() && lower.size() == expected.size() &&
           store::scram::constant_time_equal(lower, expected);
}

xml::Element translate_ns(const xml::Element& e, std::string_view from, std::string_view to) {
    xml::Element out(e.name(), e.ns() == from ? std::string(to) : e.ns());
    for (const auto& a : e.attrs()) out.set_attr(a.name, a.value);
    for (const auto& n : e.nodes()) {
        if (n.is_text())
            out.add_text(n.text());
        else
            out.add_child(translate_ns(n.element(), from, to));
    }
    return out;
}

}  // namespace parley::component

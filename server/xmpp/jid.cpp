#include "xmpp/jid.hpp"

#include <arpa/inet.h>
#include <idna.h>
#include <stringprep.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

namespace parley::xmpp {

namespace {

constexpr size_t kMaxPart = 1023;     // RFC 7622 §3.2-3.4, after preparation
constexpr size_t kMaxInput = 4096;    // before preparation: bounds the work on hostile input

Status malformed(std::string what) { return Status::error("jid-malformed", std::move(what)); }

// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF.
bool valid_utf8(std::string_view s) {
    size_t i = 0;
    while (i < s.size()) {
        const unsigned char c = static_cast<unsigned char>(s[i]);
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            ++i;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;  // truncated sequence
        for (size_t k = 1; k <= n; ++k) {
            const unsigned char d = static_cast<unsigned char>(s[i + k]);
            if ((d & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

// Runs one stringprep profile; the result is never empty or over kMaxPart.
Result<std::string> prep(std::string_view in, const Stringprep_profile* profile, Stringprep_profile_flags flags,
                         const char* part) {
    if (in.empty()) return malformed(std::string("the ") + part + " is empty");
    if (in.size() > kMaxInput) return malformed(std::string("the ") + part + " is too long");
    if (in.find('\0') != std::string_view::npos || !valid_utf8(in))
        return malformed(std::string("the ") + part + " is not valid UTF-8");
    // Case folding and NFKC can lengthen a string; grow until it fits.
    std::vector<char> buf;
    for (size_t size = in.size() * 3 + 16;; size *= 2) {
        buf.assign(size, '\0');
        std::copy(in.begin(), in.end(), buf.begin());
        const int rc = stringprep(buf.data(), buf.size(), flags, profile);
        if (rc == STRINGPREP_OK) break;
        if (rc != STRINGPREP_TOO_SMALL_BUFFER || size > kMaxInput * 64)
            return malformed(std::string("the ") + part + " is not allowed: " +
                             stringprep_strerror(static_cast<Stringprep_rc>(rc)));
    }
    std::string out(buf.data());
    if (out.empty()) return malformed(std::string("the ") + part + " is empty after preparation");
    if (out.size() > kMaxPart) return malformed(std::string("the ") + part + " is longer than 1023 bytes");
    return out;
}

// The fast paths below give exactly what the stringprep profiles give for
// the inputs they accept (printable ASCII), without libidn; anything else
// takes the full path. tests/unit/xmpp/jid_test.cpp and the JID fuzz target
// compare both paths.
bool g_fast_paths = true;

bool lower_printable_ascii(std::string_view in, std::string& out, std::string_view forbidden, bool space_ok) {
    if (in.empty() || in.size() > kMaxPart) return false;
    out.resize(in.size());
    for (size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c < 0x20 || c > 0x7E || (c == ' ' && !space_ok) || forbidden.find(c) != std::string_view::npos)
            return false;
        out[i] = c;
    }
    return true;
}

Result<std::string> prep_node(std::string_view node) {
    if (g_fast_paths) {
        // Nodeprep of printable ASCII: case folding only; space, controls and
        // the characters of RFC 6122 appendix A.5 are prohibited.
        std::string out;
        if (lower_printable_ascii(node, out, "\"&'/:<>@", false)) {
            for (char& c : out)
                if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            return out;
        }
    }
    auto r = prep(node, stringprep_xmpp_nodeprep, STRINGPREP_NO_UNASSIGNED, "localpart");
    if (!r) return r;
    // Nodeprep prohibits these (RFC 6122 appendix A.5); checked here as well
    // because a JID containing them could not be parsed back.
    if (r->find_first_of(" \"&'/:<>@") != std::string::npos) return malformed("the localpart contains a forbidden character");
    return r;
}

Result<std::string> prep_resource(std::string_view resource) {
    if (g_fast_paths) {
        // Resourceprep of printable ASCII (space included) is the identity.
        std::string out;
        if (lower_printable_ascii(resource, out, {}, true)) return out;
    }
    return prep(resource, stringprep_xmpp_resourceprep, Stringprep_profile_flags(0), "resourcepart");
}

// Letters, digits, hyphens and dots only, each label 1..63 bytes without a
// hyphen at either end: then nameprep is case folding and ToASCII with the
// STD3 rules accepts it unchanged. Anything else: the full path decides.
bool fast_ldh_domain(std::string_view d, std::string& out) {
    if (d.empty() || d.size() > kMaxPart) return false;
    out.assign(d);
    size_t label = 0;
    for (size_t i = 0; i <= out.size(); ++i) {
        if (i == out.size() || out[i] == '.') {
            if (label == 0 || label > 63) return false;
            if (out[i - 1] == '-' || out[i - label] == '-') return false;
            label = 0;
            continue;
        }
        char& c = out[i];
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        else if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
        ++label;
    }
    return true;
}

void lower_ascii(std::string& s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
}

Result<std::string> prep_domain(std::string_view domain) {
    if (!domain.empty() && domain.back() == '.') domain.remove_suffix(1);  // RFC 7622 §3.2: one trailing dot
    if (domain.empty()) return malformed("the domainpart is empty");
    if (domain.size() > kMaxInput) return malformed("the domainpart is too long");
    if (domain.front() == '[') {
        // An IPv6 literal (RFC 3986 IP-literal without IPvFuture).
        if (domain.size() < 3 || domain.back() != ']') return malformed("the IPv6 literal is not closed");
        std::string inner(domain.substr(1, domain.size() - 2));
        in6_addr a{};
        if (inet_pton(AF_INET6, inner.c_str(), &a) != 1) return malformed("the IPv6 literal is not an address");
        char text[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &a, text, sizeof text);
        return "[" + std::string(text) + "]";
    }
    if (g_fast_paths) {
        std::string fast;
        if (fast_ldh_domain(domain, fast)) return fast;
    }
    auto r = prep(domain, stringprep_nameprep, STRINGPREP_NO_UNASSIGNED, "domainpart");
    if (!r) return r;
    std::string d = std::move(r.value());
    lower_ascii(d);
    // Every label non-empty; ToASCII checks label lengths and the STD3 rules.
    if (d.front() == '.' || d.back() == '.' || d.find("..") != std::string::npos)
        return malformed("the domainpart has an empty label");
    char* ascii = nullptr;
    const int rc = idna_to_ascii_8z(d.c_str(), &ascii, IDNA_USE_STD3_ASCII_RULES);
    std::unique_ptr<char, decltype(&std::free)> hold(ascii, &std::free);
    if (rc != IDNA_SUCCESS) return malformed(std::string("the domainpart is not a valid domain name: ") + idna_strerror(static_cast<Idna_rc>(rc)));
    return d;
}

}  // namespace

Result<std::string> domain_to_ascii(std::string_view domain) {
    if (std::all_of(domain.begin(), domain.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; }))
        return std::string(domain);
    char* ascii = nullptr;
    const int rc = idna_to_ascii_8z(std::string(domain).c_str(), &ascii, IDNA_USE_STD3_ASCII_RULES);
    std::unique_ptr<char, decltype(&std::free)> hold(ascii, &std::free);
    if (rc != IDNA_SUCCESS)
        return Status::error("jid-malformed", std::string("not a valid domain name: ") +
                                                  idna_strerror(static_cast<Idna_rc>(rc)));
    return std::string(ascii);
}

namespace detail {
void set_fast_paths(bool on) { g_fast_paths = on; }
}  // namespace detail

Result<Jid> Jid::make(std::string_view node, std::string_view domain, std::string_view resource) {
    Jid j;
    if (!node.empty()) {
        auto n = prep_node(node);
        if (!n) return n.status();
        j.node_ = std::move(n.value());
    }
    auto d = prep_domain(domain);
    if (!d) return d.status();
    j.domain_ = std::move(d.value());
    if (!resource.empty()) {
        auto r = prep_resource(resource);
        if (!r) return r.status();
        j.resource_ = std::move(r.value());
    }
    return j;
}

Result<Jid> Jid::parse(std::string_view text) {
    // RFC 7622 §3.1: the resource starts at the first '/', then the node
    // ends at the first '@' of what precedes it.
    std::string_view rest = text;
    std::string_view resource;
    if (const size_t slash = rest.find('/'); slash != std::string_view::npos) {
        resource = rest.substr(slash + 1);
        rest = rest.substr(0, slash);
        if (resource.empty()) return malformed("the resourcepart is empty");
    }
    std::string_view node;
    if (const size_t at = rest.find('@'); at != std::string_view::npos) {
        node = rest.substr(0, at);
        rest = rest.substr(at + 1);
        if (node.empty()) return malformed("the localpart is empty");
    }
    return make(node, rest, resource);
}

Jid Jid::bare() const {
    Jid j;
    j.node_ = node_;
    j.domain_ = domain_;
    return j;
}

Result<Jid> Jid::with_resource(std::string_view resource) const {
    if (domain_.empty()) return malformed("no domainpart");
    auto r = prep_resource(resource);
    if (!r) return r.status();
    Jid j = bare();
    j.resource_ = std::move(r.value());
    return j;
}

std::string Jid::bare_str() const {
    if (node_.empty()) return domain_;
    std::string s;
    s.reserve(node_.size() + 1 + domain_.size());
    s.append(node_).push_back('@');
    s.append(domain_);
    return s;
}

std::string Jid::str() const {
    std::string s = bare_str();
    if (!resource_.empty()) s.append("/").append(resource_);
    return s;
}

}  // namespace parley::xmpp

// xmpp::Jid: an XMPP address (RFC 7622), always in prepared form.
//
// A Jid is [node@]domain[/resource]. parse() and make() prepare each part,
// so two Jids naming the same entity compare equal. Preparation uses
// libidn's stringprep profiles of RFC 6122 as the documented interim for
// PRECIS (RFC 7622 §3): nodeprep for the localpart, nameprep (then
// lowercasing) for a domain name, resourceprep for the resourcepart.
// Unassigned code points are refused in the node and the domain (they are
// stored identifiers) and allowed in the resource, which PRECIS's
// FreeformClass treats liberally. The domain loses one trailing dot, must
// pass IDNA ToASCII with the STD3 rules (labels 1..63, letters, digits,
// hyphens) or be an IP literal ("192.0.2.1", "[2001:db8::1]"). Each part is
// 1..1023 bytes after preparation; a part over 4096 bytes before
// preparation is refused without trying. Failures are Status "jid-malformed".
//
// A default-constructed Jid is empty (no domain): "no address". Value type:
// any thread.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "errors/status.hpp"

namespace parley::xmpp {

class Jid {
public:
    Jid() = default;

    static Result<Jid> parse(std::string_view text);
    // Empty node or resource means none; the domain is required.
    static Result<Jid> make(std::string_view node, std::string_view domain, std::string_view resource = {});

    const std::string& node() const { return node_; }
    const std::string& domain() const { return domain_; }
    const std::string& resource() const { return resource_; }
    bool has_node() const { return !node_.empty(); }
    bool has_resource() const { return !resource_.empty(); }
    bool is_bare() const { return resource_.empty(); }
    bool empty() const { return domain_.empty(); }

    Jid bare() const;
    // This bare JID with a (prepared) resource; an empty resource is refused.
    Result<Jid> with_resource(std::string_view resource) const;

    std::string str() const;       // node@domain/resource
    std::string bare_str() const;  // node@domain

    friend bool operator==(const Jid&, const Jid&) = default;
    friend std::strong_ordering operator<=>(const Jid&, const Jid&) = default;

private:
    std::string node_;
    std::string domain_;
    std::string resource_;
};

// A prepared domainpart (Jid::domain()) as DNS names it: IDNA ToASCII
// (A-labels, "xn--..."); ASCII domains come back unchanged.
Result<std::string> domain_to_ascii(std::string_view domain);

namespace detail {
// Tests only, never while other threads parse JIDs: turns the printable-ASCII
// fast paths off, so that both paths can be compared.
void set_fast_paths(bool on);
}  // namespace detail

}  // namespace parley::xmpp

template <>
struct std::hash<parley::xmpp::Jid> {
    size_t operator()(const parley::xmpp::Jid& j) const noexcept {
        const std::hash<std::string> h;
        size_t v = h(j.node());
        v ^= h(j.domain()) + 0x9e3779b97f4a7c15ULL + (v << 6) + (v >> 2);
        v ^= h(j.resource()) + 0x9e3779b97f4a7c15ULL + (v << 6) + (v >> 2);
        return v;
    }
};

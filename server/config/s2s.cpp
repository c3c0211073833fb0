#include "config/s2s.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace parley::config {

const S2sRoute* Config::find_route(std::string_view domain) const {
    for (const auto& r : s2s.routes)
        if (r.domain.size() == domain.size() &&
            std::equal(r.domain.begin(), r.domain.end(), domain.begin(), [](char a, char b) {
                return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
            }))
            return &r;
    return nullptr;
}

namespace detail {

namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool ip_literal(const std::string& a) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, a.c_str(), buf) == 1 || inet_pton(AF_INET6, a.c_str(), buf) == 1;
}

void read_route(TomlReader& r, const toml::table& t, std::map<std::string, int>& seen, Config& cfg) {
    S2sRoute route;
    r.walk(t, "s2s.route.",
           {
               {"domain",
                [&](const toml::node& v, const std::string& k) {
                    std::string d;
                    if (!r.string(v, k, d)) return;
                    std::transform(d.begin(), d.end(), d.begin(), ascii_lower);
                    if (!valid_domain(d)) return r.error(line_of(v), k, fmt::format("'{}' is not a domain name", d));
                    auto [it, fresh] = seen.emplace(d, line_of(v));
                    if (!fresh)
                        return r.error(line_of(v), k,
                                       fmt::format("'{}' already has a route (line {})", d, it->second));
                    route.domain = d;
                }},
               {"host",
                [&](const toml::node& v, const std::string& k) {
                    std::string h;
                    if (!r.string(v, k, h)) return;
                    // An address: a route exists to avoid name lookups.
                    if (!ip_literal(h))
                        return r.error(line_of(v), k, fmt::format("'{}' is not an IPv4 or IPv6 address", h));
                    route.host = h;
                }},
               r.integer_field("port", 1, 65535, route.port),
               r.boolean_field("direct_tls", route.direct_tls),
           });
    for (const char* name : {"domain", "host"})
        if (!t.contains(name))
            r.error(line_of(t), std::string("s2s.route.") + name, "missing (required in every [[s2s.route]])");
    if (!route.domain.empty() && !route.host.empty()) cfg.s2s.routes.push_back(std::move(route));
}

}  // namespace

void read_s2s(TomlReader& r, const toml::table& t, Config& cfg) {
    auto& s = cfg.s2s;
    std::map<std::string, int> seen;
    r.walk(t, "s2s.",
           {
               r.boolean_field("enabled", s.enabled),
               {"address",
                [&](const toml::node& n, const std::string& k) {
                    std::string a;
                    if (!r.string(n, k, a)) return;
                    if (!ip_literal(a))
                        return r.error(line_of(n), k, fmt::format("'{}' is not an IPv4 or IPv6 address", a));
                    s.address = a;
                }},
               r.integer_field("port", 0, 65535, s.port),
               r.integer_field("direct_tls_port", 0, 65535, s.direct_tls_port),
               r.path_field("ca_file", s.ca_file),
               r.boolean_field("dialback", s.dialback),
               r.integer_field("handshake_timeout_s", 1, 3600, s.handshake_timeout_s),
               r.integer_field("idle_timeout_s", 0, 86400, s.idle_timeout_s),
               r.integer_field("queue_max_stanzas", 1, 1000000, s.queue_max_stanzas),
               r.integer_field("queue_timeout_s", 1, 3600, s.queue_timeout_s),
               r.integer_field("max_read_bytes_per_s", 0, int64_t{1} << 40, s.max_read_bytes_per_s),
               {"route",
                [&](const toml::node& n, const std::string& k) {
                    const auto* a = n.as_array();
                    if (!a) return r.wrong_type(n, k, "an array of tables ([[s2s.route]])");
                    for (const auto& e : *a)
                        if (const toml::table* rt = r.table(e, k)) read_route(r, *rt, seen, cfg);
                }},
           });
    if (s.port != 0 && s.port == s.direct_tls_port)
        r.error(line_of(t), "s2s", fmt::format("port and direct_tls_port are both {}", s.port));
}

void check_s2s(TomlReader& r, const toml::table& root, Config& cfg) {
    const toml::node* n = root.get("s2s");
    std::erase_if(cfg.s2s.routes, [&](const S2sRoute& route) {
        if (!cfg.find_host(route.domain) && !cfg.find_component(route.domain)) return false;
        r.error(n ? line_of(*n) : 0, "s2s.route.domain",
                fmt::format("'{}' is served here; a route is for another server's domain", route.domain));
        return true;
    });
}

}  // namespace detail
}  // namespace parley::config

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

// "ip", "ip:port" or "[ipv6]:port": what c-ares takes as a server.
bool dns_server(const std::string& s) {
    if (ip_literal(s)) return true;
    std::string host, port;
    if (!s.empty() && s.front() == '[') {
        const size_t close = s.find(']');
        if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':') return false;
        host = s.substr(1, close - 1);
        port = s.substr(close + 2);
        unsigned char buf[sizeof(in6_addr)];
        if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return false;
    } else {
        const size_t colon = s.rfind(':');
        if (colon == std::string::npos) return false;
        host = s.substr(0, colon);
        port = s.substr(colon + 1);
        unsigned char buf[sizeof(in_addr)];
        if (inet_pton(AF_INET, host.c_str(), buf) != 1) return false;
    }
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos) return false;
    const unsigned long p = std::stoul(port);
    return p >= 1 && p <= 65535;
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
               r.boolean_field("bidi", s.bidi),
               r.boolean_field("stream_management", s.stream_management),
               r.integer_field("handshake_timeout_s", 1, 3600, s.handshake_timeout_s),
               r.integer_field("idle_timeout_s", 0, 86400, s.idle_timeout_s),
               r.integer_field("queue_max_stanzas", 1, 1000000, s.queue_max_stanzas),
               r.integer_field("queue_timeout_s", 1, 3600, s.queue_timeout_s),
               r.integer_field("max_read_bytes_per_s", 0, int64_t{1} << 40, s.max_read_bytes_per_s),
               {"dns_servers",
                [&](const toml::node& n, const std::string& k) {
                    const auto* a = n.as_array();
                    if (!a) return r.wrong_type(n, k, "an array of strings");
                    s.dns_servers.clear();
                    for (const auto& e : *a) {
                        std::string v;
                        if (!r.string(e, k, v)) continue;
                        if (!dns_server(v))
                            r.error(line_of(e), k,
                                    fmt::format("'{}' is not an address, address:port or [IPv6 address]:port", v));
                        else
                            s.dns_servers.push_back(v);
                    }
                }},
               r.integer_field("dns_timeout_ms", 100, 60000, s.dns_timeout_ms),
               r.integer_field("dns_tries", 1, 10, s.dns_tries),
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

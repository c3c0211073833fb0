#include "config/config.hpp"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "config/components.hpp"
#include "config/s2s.hpp"
#include "config/toml_reader.hpp"

// The installed module directory comes from the build (Makefile.am); a
// standalone build of this file falls back to the usual prefix.
#ifndef PARLEY_MODULE_DIR
#define PARLEY_MODULE_DIR "/usr/local/lib/parley/modules"
#endif

namespace parley::config {

const char* const kKnownMechanisms[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS",
                                        "SCRAM-SHA-1", "PLAIN"};
const size_t kKnownMechanismCount = sizeof(kKnownMechanisms) / sizeof(kKnownMechanisms[0]);

namespace {

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

bool ascii_iequal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

}  // namespace

const VirtualHost* Config::find_host(std::string_view domain) const {
    for (const auto& h : hosts)
        if (ascii_iequal(h.domain, domain)) return &h;
    return nullptr;
}

const Component* Config::find_component(std::string_view domain) const {
    for (const auto& c : components)
        if (ascii_iequal(c.domain, domain)) return &c;
    return nullptr;
}

bool valid_domain(const std::string& d) {
    // front() and back() of an empty string are undefined: test it first.
    if (d.empty() || d.size() > 1023 || d.front() == '.' || d.back() == '.' || d.find("..") != std::string::npos)
        return false;
    for (unsigned char c : d)
        if (c <= ' ' || c == 0x7f || std::strchr("@/\\\"'<>:", c)) return false;
    return true;
}

Result<ServiceDomain> service_domain(const Section& section, const std::string& key, std::string_view example) {
    ServiceDomain s;
    s.domain = section.get_string(key, "");
    for (auto& c : s.domain)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const size_t dot = s.domain.find('.');
    if (!valid_domain(s.domain) || dot == std::string::npos || dot == 0 || dot + 1 >= s.domain.size())
        return Status::error("config", section.where(key) + ": '" + s.domain + "' is not a subdomain such as " +
                                           std::string(example));
    s.parent = s.domain.substr(dot + 1);
    return s;
}

namespace {

namespace fs = std::filesystem;
using detail::line_of;
using detail::toml_type_name;
using Reader = detail::TomlReader;
using Node = toml::node;
using Key = std::string;

bool valid_module_name(const std::string& n) {
    return !n.empty() &&
           n.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") == std::string::npos;
}

void read_log(Reader& r, const toml::table& t, Config& cfg) {
    r.walk(t, "log.",
           {
               {"level",
                [&](const Node& n, const Key& k) {
                    std::string level;
                    if (!r.string(n, k, level)) return;
                    if (level != "debug" && level != "info" && level != "warn" && level != "error")
                        return r.error(
                            line_of(n), k,
                            fmt::format("'{}' is not one of debug, info, warn, error", level));
                    cfg.log.level = level;
                }},
               r.path_field("file", cfg.log.file),
           });
}

void read_c2s(Reader& r, const toml::table& t, Config& cfg) {
    auto& c = cfg.c2s;
    r.walk(t, "c2s.",
           {
               {"address",
                [&](const Node& n, const Key& k) {
                    std::string a;
                    if (!r.string(n, k, a)) return;
                    unsigned char buf[sizeof(in6_addr)];
                    if (inet_pton(AF_INET, a.c_str(), buf) != 1 &&
                        inet_pton(AF_INET6, a.c_str(), buf) != 1)
                        return r.error(line_of(n), k,
                                       fmt::format("'{}' is not an IPv4 or IPv6 address", a));
                    c.address = a;
                }},
               r.integer_field("starttls_port", 0, 65535, c.starttls_port),
               r.integer_field("direct_tls_port", 0, 65535, c.direct_tls_port),
               r.boolean_field("require_encryption", c.require_encryption),
               r.integer_field("handshake_timeout_s", 1, 3600, c.handshake_timeout_s),
           });
    if (c.starttls_port == 0 && c.direct_tls_port == 0)
        r.error(line_of(t), "c2s",
                "starttls_port and direct_tls_port are both 0: clients could not connect");
    if (c.starttls_port != 0 && c.starttls_port == c.direct_tls_port)
        r.error(line_of(t), "c2s",
                fmt::format("starttls_port and direct_tls_port are both {}", c.starttls_port));
}

void read_limits(Reader& r, const toml::table& t, Config& cfg) {
    auto& l = cfg.limits;
    r.walk(t, "limits.",
           {
               // RFC 6120 section 13.12: servers accept stanzas of at least 10000 bytes.
               r.integer_field("max_stanza_bytes", 10000, int64_t{64} << 20, l.max_stanza_bytes),
               r.integer_field("max_depth", 4, 1000, l.max_depth),
               r.integer_field("max_send_queue_bytes", int64_t{64} << 10, int64_t{1} << 30,
                               l.max_send_queue_bytes),
               r.integer_field("max_sessions_per_account", 1, 10000, l.max_sessions_per_account),
               r.integer_field("max_read_bytes_per_s", 0, int64_t{1} << 30, l.max_read_bytes_per_s),
               r.integer_field("max_stanza_bytes_before_auth", 4096, int64_t{64} << 20,
                               l.max_stanza_bytes_before_auth),
               r.integer_field("max_unauthenticated_connections", 1, 10000000, l.max_unauthenticated_connections),
               r.integer_field("max_connections_per_address", 1, 10000000, l.max_connections_per_address),
               r.integer_field("max_unauthenticated_connections_per_address", 1, 10000000,
                               l.max_unauthenticated_connections_per_address),
           });
    if (l.max_stanza_bytes_before_auth > l.max_stanza_bytes)
        r.error(line_of(t), "limits.max_stanza_bytes_before_auth",
                fmt::format("{} is more than max_stanza_bytes ({})", l.max_stanza_bytes_before_auth,
                            l.max_stanza_bytes));
    if (l.max_read_bytes_per_s != 0 && l.max_read_bytes_per_s < 1024)
        r.error(line_of(t), "limits.max_read_bytes_per_s", "must be 0 (no limit) or at least 1024");
}

void read_mechanisms(Reader& r, const Node& n, const Key& k, Config& cfg) {
    std::vector<std::string> list;
    if (!r.string_list(n, k, list)) return;
    if (list.empty()) return r.error(line_of(n), k, "must name at least one mechanism");
    const auto* begin = kKnownMechanisms;
    const auto* end = kKnownMechanisms + kKnownMechanismCount;
    std::vector<std::string> out;
    bool ok = true;
    for (auto m : list) {
        std::transform(m.begin(), m.end(), m.begin(), ascii_upper);
        if (std::find(begin, end, m) == end) {
            r.error(
                line_of(n), k,
                fmt::format("unknown mechanism '{}' (known: {})", m, fmt::join(begin, end, ", ")));
            ok = false;
        } else if (std::find(out.begin(), out.end(), m) != out.end()) {
            r.error(line_of(n), k, fmt::format("mechanism '{}' is listed twice", m));
            ok = false;
        }
        out.push_back(m);
    }
    if (ok) cfg.sasl.mechanisms = std::move(out);
}

void read_sasl(Reader& r, const toml::table& t, Config& cfg) {
    auto& s = cfg.sasl;
    r.walk(t, "sasl.",
           {
               {"mechanisms", [&](const Node& n, const Key& k) { read_mechanisms(r, n, k, cfg); }},
               r.integer_field("failure_delay_ms", 0, 60000, s.failure_delay_ms),
               r.integer_field("failure_delay_max_ms", 0, 600000, s.failure_delay_max_ms),
               // RFC 7677 section 4: at least 4096 iterations.
               r.integer_field("scram_iterations", 4096, 10000000, s.scram_iterations),
               r.integer_field("max_queued_password_checks", 1, 100000, s.max_queued_password_checks),
               r.boolean_field("plus_on_tls13", s.plus_on_tls13),
           });
    if (s.failure_delay_max_ms < s.failure_delay_ms)
        r.error(line_of(t), "sasl.failure_delay_max_ms",
                fmt::format("{} is less than failure_delay_ms ({})", s.failure_delay_max_ms,
                            s.failure_delay_ms));
}

void read_host(Reader& r, const toml::table& t, std::map<std::string, int>& seen, Config& cfg) {
    VirtualHost h;
    r.walk(t, "virtual_host.",
           {
               {"domain",
                [&](const Node& v, const Key& k) {
                    std::string d;
                    if (!r.string(v, k, d)) return;
                    std::transform(d.begin(), d.end(), d.begin(), ascii_lower);
                    if (!valid_domain(d))
                        return r.error(line_of(v), k, fmt::format("'{}' is not a domain name", d));
                    auto [it, fresh] = seen.emplace(d, line_of(v));
                    if (!fresh)
                        return r.error(
                            line_of(v), k,
                            fmt::format("'{}' is already a virtual host (line {})", d, it->second));
                    h.domain = d;
                }},
               r.path_field("certificate", h.certificate),
               r.path_field("key", h.key),
           });
    bool complete = true;
    for (auto [name, value] :
         {std::pair{"domain", &h.domain}, {"certificate", &h.certificate}, {"key", &h.key}}) {
        complete = complete && !value->empty();
        // A key present but wrong has been reported already.
        if (value->empty() && !t.contains(name))
            r.error(line_of(t), std::string("virtual_host.") + name,
                    "missing (required in every [[virtual_host]])");
    }
    if (complete) cfg.hosts.push_back(std::move(h));
}

void read_hosts(Reader& r, const Node& n, Config& cfg) {
    const auto* a = n.as_array();
    if (!a) return r.wrong_type(n, "virtual_host", "an array of tables ([[virtual_host]])");
    std::map<std::string, int> seen;  // domain -> line
    for (const auto& e : *a)
        if (const toml::table* t = r.table(e, "virtual_host")) read_host(r, *t, seen, cfg);
}

void read_options(Reader& r, const toml::table& t, Section& s, int depth);

// A table nested in s under rel (its path inside [modules.NAME]).
Section nested_section(Reader& r, const toml::table& t, const Section& s, const std::string& rel,
                       int depth) {
    Section n;
    n.file = s.file;
    n.name = s.name;
    n.line = line_of(t);
    n.path = rel;
    read_options(r, t, n, depth);
    return n;
}

// One module option as written: a string, integer or boolean, a list of
// strings, of integers or of tables, or a table. rel is its path inside
// [modules.NAME] ("tier[2].auth"); depth that of the table holding it.
bool module_value(Reader& r, const toml::node& n, const Section& s, const std::string& rel,
                  int depth, OptionValue& out) {
    const std::string key = "modules." + s.name + "." + rel;
    out.line = line_of(n);
    if (const auto* str = n.as_string()) {
        out.value = str->get();
    } else if (const auto* i = n.as_integer()) {
        out.value = i->get();
    } else if (const auto* b = n.as_boolean()) {
        out.value = b->get();
    } else if (const auto* t = n.as_table()) {
        if (depth >= kMaxOptionDepth) {
            r.error(line_of(n), key,
                    fmt::format("module options nest at most {} tables deep", kMaxOptionDepth));
            return false;
        }
        out.value = std::make_shared<const Section>(nested_section(r, *t, s, rel, depth + 1));
    } else if (const auto* a = n.as_array()) {
        // The first element says what the list holds; `[]` is read as an
        // empty list of strings, which fits any list option.
        if (a->empty() || a->front().is_string()) {
            std::vector<std::string> list;
            if (!r.string_list(n, key, list)) return false;
            out.value = std::move(list);
        } else if (a->front().is_integer()) {
            std::vector<int64_t> list;
            bool ok = true;
            for (const auto& e : *a) {
                if (const auto* i = e.as_integer()) {
                    list.push_back(i->get());
                } else {
                    r.error(line_of(e), key,
                            fmt::format("expected a list of integers, found {} in it",
                                        toml_type_name(e)));
                    ok = false;
                }
            }
            if (!ok) return false;
            out.value = std::move(list);
        } else if (a->front().is_table()) {
            if (depth >= kMaxOptionDepth) {
                r.error(line_of(n), key,
                        fmt::format("module options nest at most {} tables deep", kMaxOptionDepth));
                return false;
            }
            std::vector<Section> list;
            bool ok = true;
            for (size_t i = 0; i < a->size(); ++i) {
                const toml::node& e = *a->get(i);
                const std::string erel = fmt::format("{}[{}]", rel, i);
                if (const auto* t = e.as_table()) {
                    list.push_back(nested_section(r, *t, s, erel, depth + 1));
                } else {
                    r.error(line_of(e), "modules." + s.name + "." + erel,
                            fmt::format("expected a table (all elements of {} must be tables), "
                                        "got {}",
                                        rel, toml_type_name(e)));
                    ok = false;
                }
            }
            if (!ok) return false;
            out.value = std::move(list);
        } else {
            std::string what = toml_type_name(a->front());  // "a float": "float"
            what = what.substr(what.find(' ') + 1);
            r.error(line_of(n), key,
                    fmt::format("a list of {}s is not a module option type (string, integer, "
                                "boolean, table, or a list of strings, integers or tables)",
                                what));
            return false;
        }
    } else {
        r.error(line_of(n), key,
                fmt::format("{} is not a module option type (string, integer, boolean, table, "
                            "or a list of strings, integers or tables)",
                            toml_type_name(n)));
        return false;
    }
    return true;
}

void read_options(Reader& r, const toml::table& t, Section& s, int depth) {
    for (const auto& [k, v] : t) {
        const std::string name(k.str());
        OptionValue ov;
        if (module_value(r, v, s, s.path.empty() ? name : s.path + "." + name, depth, ov))
            s.values.emplace(name, std::move(ov));
    }
}

void read_module_section(Reader& r, const std::string& name, const toml::node& n,
                         const std::string& key, Config& cfg) {
    const toml::table* t = n.as_table();
    if (!t)
        return r.wrong_type(n, key,
                            fmt::format("a table [modules.{}] of the module's options", name));
    if (!valid_module_name(name))
        return r.error(line_of(n), key,
                       fmt::format("'{}' is not a module name ([a-z0-9_]+)", name));
    Section s;
    s.file = r.file();
    s.name = name;
    s.line = line_of(*t);
    read_options(r, *t, s, 0);
    cfg.module_sections.emplace(name, std::move(s));
}

void read_module_names(Reader& r, const toml::node& n, const std::string& key, Config& cfg) {
    std::vector<std::string> names;
    if (!r.string_list(n, key, names)) return;
    for (const auto& m : names) {
        if (!valid_module_name(m)) {
            r.error(line_of(n), key, fmt::format("'{}' is not a module name ([a-z0-9_]+)", m));
        } else if (std::find(cfg.modules.begin(), cfg.modules.end(), m) != cfg.modules.end()) {
            r.error(line_of(n), key, fmt::format("module '{}' is listed twice", m));
        } else {
            cfg.modules.push_back(m);
        }
    }
}

// `modules` is either a list of names, or a table holding that list as
// `enabled` beside one [modules.NAME] table per module with options (TOML
// cannot have a key that is both a list and a table).
void read_modules(Reader& r, const toml::node& n, Config& cfg) {
    if (n.is_array()) return read_module_names(r, n, "modules", cfg);
    const toml::table* t = n.as_table();
    if (!t) return r.wrong_type(n, "modules", "a list of module names or a table");
    for (const auto& [k, v] : *t) {
        const std::string name(k.str());
        if (name == "enabled")
            read_module_names(r, v, "modules.enabled", cfg);
        else
            read_module_section(r, name, v, "modules." + name, cfg);
    }
}

Status parse_error_status(const std::string& path, const toml::parse_error& e) {
    std::string msg = fmt::format("{}:{}:{}: {}", path, e.source().begin.line,
                                  e.source().begin.column, e.description());
    if (e.description().find("'modules") != std::string_view::npos)
        msg +=
            " (with [modules.NAME] tables, list the modules as 'enabled = [...]' under [modules]; "
            "see parley.toml(5))";
    return Status::error("config", msg);
}

}  // namespace

Result<Config> load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in)
        return Status::error("config",
                             fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
    std::ostringstream content;
    content << in.rdbuf();
    if (in.bad())
        return Status::error("config",
                             fmt::format("{}: cannot read: {}", path, std::strerror(errno)));

    toml::table root;
    try {
        root = toml::parse(content.str(), std::string_view(path));
    } catch (const toml::parse_error& e) {
        return parse_error_status(path, e);
    }

    std::error_code ec;
    fs::path absolute = fs::absolute(fs::path(path), ec);
    Reader r(path, ec ? fs::path(path).parent_path() : absolute.parent_path());

    Config cfg;
    cfg.path = path;
    cfg.workers = std::clamp(std::thread::hardware_concurrency(), 1u, 256u);
    cfg.module_dir = PARLEY_MODULE_DIR;
    bool have_data_dir = false;
    size_t host_entries = 0;
    // Reads a sub-table with fn, or reports that the value is not a table.
    auto table = [&](const char* name, void (*fn)(Reader&, const toml::table&, Config&)) {
        return Reader::Field{name, [&r, &cfg, fn](const Node& n, const Key& k) {
                                 if (const auto* t = r.table(n, k)) fn(r, *t, cfg);
                             }};
    };
    r.walk(root, "",
           {
               r.integer_field("workers", 1, 256, cfg.workers),
               {"data_dir",
                [&](const Node& n, const Key& k) { have_data_dir = r.path(n, k, cfg.data_dir); }},
               r.path_field("module_dir", cfg.module_dir),
               r.path_field("control_socket", cfg.control_socket),
               {"modules", [&](const Node& n, const Key&) { read_modules(r, n, cfg); }},
               table("log", read_log),
               table("c2s", read_c2s),
               table("limits", read_limits),
               table("sasl", read_sasl),
               {"virtual_host",
                [&](const Node& n, const Key&) {
                    const auto* a = n.as_array();
                    host_entries = a ? a->size() : 1;  // not an array: reported as the wrong type
                    read_hosts(r, n, cfg);
                }},
               {"component", [&](const Node& n, const Key&) { detail::read_components(r, n, cfg); }},
               table("component_listener", detail::read_component_listener),
               table("s2s", detail::read_s2s),
           });
    detail::check_components(r, root, cfg);
    detail::check_s2s(r, root, cfg);

    if (!have_data_dir && !root.contains("data_dir"))
        r.error(0, "data_dir", "missing: the directory of the server's state (required)");
    if (host_entries == 0)
        r.error(
            0, "virtual_host",
            "missing: at least one [[virtual_host]] with domain, certificate and key is required");
    for (const auto& [name, section] : cfg.module_sections)
        if (std::find(cfg.modules.begin(), cfg.modules.end(), name) == cfg.modules.end())
            r.error(
                section.line, "modules." + name,
                fmt::format("module '{}' has options but is not enabled: add it to modules.enabled",
                            name));
    if (cfg.control_socket.empty() && have_data_dir)
        cfg.control_socket = cfg.data_dir + "/parleyd.sock";
    if (cfg.control_socket.size() >= sizeof(sockaddr_un::sun_path)) {
        const auto* node = root.get("control_socket");
        r.error(node ? line_of(*node) : 0, "control_socket",
                fmt::format("'{}' is longer than a Unix socket path may be ({} bytes); set a "
                            "shorter control_socket",
                            cfg.control_socket, sizeof(sockaddr_un::sun_path) - 1));
    }
    if (r.failed()) return Status::error("config", r.message());
    return cfg;
}

std::vector<std::string> restart_only_changes(const Config& running, const Config& next) {
    // The listening sockets, the worker threads, the stores and the control
    // socket are made once at start; everything else is read again at reload.
    std::vector<std::string> out;
    if (running.workers != next.workers) out.push_back("workers");
    if (running.data_dir != next.data_dir) out.push_back("data_dir");
    if (running.control_socket != next.control_socket) out.push_back("control_socket");
    if (running.c2s.address != next.c2s.address) out.push_back("c2s.address");
    if (running.c2s.starttls_port != next.c2s.starttls_port) out.push_back("c2s.starttls_port");
    if (running.c2s.direct_tls_port != next.c2s.direct_tls_port) out.push_back("c2s.direct_tls_port");
    // Components: the set of domains (each worker routes them from its
    // start) and the listener. Their secrets are read again at reload.
    std::vector<std::string> a, b;
    for (const auto& c : running.components) a.push_back(c.domain);
    for (const auto& c : next.components) b.push_back(c.domain);
    std::sort(a.begin(), a.end());
    std::sort(b.begin(), b.end());
    if (a != b) out.push_back("component");
    const auto& la = running.component_listener;
    const auto& lb = next.component_listener;
    if (la.address != lb.address) out.push_back("component_listener.address");
    if (la.port != lb.port) out.push_back("component_listener.port");
    if (la.allow_non_loopback != lb.allow_non_loopback) out.push_back("component_listener.allow_non_loopback");
    // The s2s listeners; routes, trust, dialback and timeouts are read again.
    if (running.s2s.enabled != next.s2s.enabled) out.push_back("s2s.enabled");
    if (running.s2s.address != next.s2s.address) out.push_back("s2s.address");
    if (running.s2s.port != next.s2s.port) out.push_back("s2s.port");
    if (running.s2s.direct_tls_port != next.s2s.direct_tls_port) out.push_back("s2s.direct_tls_port");
    // Each worker's resolver is made at its start.
    if (running.s2s.dns_servers != next.s2s.dns_servers) out.push_back("s2s.dns_servers");
    if (running.s2s.dns_timeout_ms != next.s2s.dns_timeout_ms) out.push_back("s2s.dns_timeout_ms");
    if (running.s2s.dns_tries != next.s2s.dns_tries) out.push_back("s2s.dns_tries");
    return out;
}

}  // namespace parley::config

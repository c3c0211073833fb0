#include "config/components.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>

namespace parley::config {

namespace {

constexpr size_t kMaxSecretBytes = 1024;

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

Result<std::string> read_secret_file(const std::string& path) {
    // Opened first and checked through the descriptor, so that what is
    // checked is what is read.
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return Status::error("secret",
                             fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
    struct stat st {};
    std::string out;
    Status s = Status::ok();
    if (::fstat(fd, &st) != 0) {
        s = Status::error("secret", fmt::format("{}: cannot stat: {}", path, std::strerror(errno)));
    } else if (!S_ISREG(st.st_mode)) {
        s = Status::error("secret", fmt::format("{}: not a regular file", path));
    } else if ((st.st_mode & 077) != 0) {
        s = Status::error("secret",
                          fmt::format("{}: mode {:04o} lets group or others at the secret; "
                                      "chmod 600 it",
                                      path, st.st_mode & 07777));
    } else {
        char buf[kMaxSecretBytes + 2];
        size_t got = 0;
        for (;;) {
            ssize_t n = ::read(fd, buf + got, sizeof buf - got);
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) {
                s = Status::error("secret",
                                  fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
                break;
            }
            if (n == 0 || (got += static_cast<size_t>(n)) == sizeof buf) break;
        }
        if (s) {
            out.assign(buf, got);
            ::explicit_bzero(buf, sizeof buf);
            // The first line is the secret (an editor's final newline is not part of it).
            if (auto nl = out.find('\n'); nl != std::string::npos) {
                if (out.find_first_not_of("\r\n", nl) != std::string::npos)
                    s = Status::error("secret", fmt::format("{}: more than one line", path));
                out.resize(nl);
            }
            if (!out.empty() && out.back() == '\r') out.pop_back();
            if (s && out.empty()) s = Status::error("secret", fmt::format("{}: empty", path));
            if (s && out.size() > kMaxSecretBytes)
                s = Status::error("secret",
                                  fmt::format("{}: longer than {} bytes", path, kMaxSecretBytes));
        }
    }
    ::close(fd);
    if (!s) {
        ::explicit_bzero(out.data(), out.size());
        return s;
    }
    return out;
}

bool is_loopback(const std::string& address) {
    unsigned char a[sizeof(in6_addr)];
    if (inet_pton(AF_INET, address.c_str(), a) == 1) return a[0] == 127;
    if (inet_pton(AF_INET6, address.c_str(), a) != 1) return false;
    static const unsigned char loopback6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const unsigned char mapped4[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(a, loopback6, 16) == 0) return true;
    return std::memcmp(a, mapped4, 12) == 0 && a[12] == 127;
}

namespace detail {

namespace {

void read_component(TomlReader& r, const toml::table& t, std::map<std::string, int>& seen,
                    Config& cfg) {
    Component c;
    int secret_line = 0;
    r.walk(t, "component.",
           {
               {"domain",
                [&](const toml::node& v, const std::string& k) {
                    std::string d;
                    if (!r.string(v, k, d)) return;
                    std::transform(d.begin(), d.end(), d.begin(), ascii_lower);
                    if (!valid_domain(d))
                        return r.error(line_of(v), k, fmt::format("'{}' is not a domain name", d));
                    auto [it, fresh] = seen.emplace(d, line_of(v));
                    if (!fresh)
                        return r.error(
                            line_of(v), k,
                            fmt::format("'{}' is already a component (line {})", d, it->second));
                    c.domain = d;
                }},
               {"secret_file",
                [&](const toml::node& v, const std::string& k) {
                    if (r.path(v, k, c.secret_file)) secret_line = line_of(v);
                }},
           });
    for (const char* name : {"domain", "secret_file"})
        if (!t.contains(name))
            r.error(line_of(t), std::string("component.") + name,
                    "missing (required in every [[component]])");
    if (c.domain.empty() || c.secret_file.empty()) return;
    auto secret = read_secret_file(c.secret_file);
    if (!secret) return r.error(secret_line, "component.secret_file", secret.status().message());
    c.secret = std::move(secret.value());
    cfg.components.push_back(std::move(c));
}

}  // namespace

void read_components(TomlReader& r, const toml::node& n, Config& cfg) {
    const auto* a = n.as_array();
    if (!a) return r.wrong_type(n, "component", "an array of tables ([[component]])");
    std::map<std::string, int> seen;  // domain -> line
    for (const auto& e : *a)
        if (const toml::table* t = r.table(e, "component")) read_component(r, *t, seen, cfg);
}

void read_component_listener(TomlReader& r, const toml::table& t, Config& cfg) {
    auto& l = cfg.component_listener;
    r.walk(t, "component_listener.",
           {
               {"address",
                [&](const toml::node& n, const std::string& k) {
                    std::string a;
                    if (!r.string(n, k, a)) return;
                    unsigned char buf[sizeof(in6_addr)];
                    if (inet_pton(AF_INET, a.c_str(), buf) != 1 &&
                        inet_pton(AF_INET6, a.c_str(), buf) != 1)
                        return r.error(line_of(n), k,
                                       fmt::format("'{}' is not an IPv4 or IPv6 address", a));
                    l.address = a;
                }},
               r.integer_field("port", 1, 65535, l.port),
               r.boolean_field("allow_non_loopback", l.allow_non_loopback),
               r.integer_field("handshake_timeout_s", 1, 3600, l.handshake_timeout_s),
           });
}

void check_components(TomlReader& r, const toml::table& root, Config& cfg) {
    const toml::node* listener = root.get("component_listener");
    const int listener_line = listener ? line_of(*listener) : 0;
    // A component serving a virtual host's domain would take the host's
    // stanzas (RFC 6120 addresses the domain, not a process).
    const auto* list = root.get("component");
    std::erase_if(cfg.components, [&](const Component& c) {
        if (!cfg.find_host(c.domain)) return false;
        r.error(
            list ? line_of(*list) : 0, "component.domain",
            fmt::format("'{}' is a virtual host; a component needs a domain of its own", c.domain));
        return true;
    });
    const auto& l = cfg.component_listener;
    if (!l.allow_non_loopback && !is_loopback(l.address))
        r.error(
            listener_line, "component_listener.address",
            fmt::format(
                "'{}' is not a loopback address: components authenticate with a SHA-1 handshake "
                "over plain TCP; set allow_non_loopback = true only on a private network",
                l.address));
    if (!cfg.components.empty() &&
        (l.port == cfg.c2s.starttls_port || l.port == cfg.c2s.direct_tls_port))
        r.error(listener_line, "component_listener.port",
                fmt::format("{} is a c2s port too", l.port));
}

}  // namespace detail
}  // namespace parley::config

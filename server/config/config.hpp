// The server configuration: parley.toml(5) read into plain values.
//
// load() parses one TOML file with toml++, checks every key, type and range
// against the schema of the core (below) and returns a Config, or one Status
// (code "config") listing every problem found, one per line, each naming
// FILE:LINE and the key. Nothing is started or opened here: certificates,
// modules and the store are checked by their owners. Relative paths in the
// file are resolved against the file's directory. A module's own table,
// `[modules.NAME]`, is kept raw as a Section for the module's schema
// (config/schema.hpp) to check. doc/parley.toml.5.md documents every key.
//
// A Config is a value: built once per load, then shared read-only
// (shared_ptr<const Config>) and swapped as a whole at reload. Any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.hpp"
#include "errors/status.hpp"

namespace parley::config {

struct VirtualHost {
    std::string domain;       // lowercased
    std::string certificate;  // absolute path of the PEM certificate chain
    std::string key;          // absolute path of the PEM private key
};

// An external component (XEP-0114): a trusted process serving `domain`,
// connected to the component listener with a shared secret.
struct Component {
    std::string domain;       // lowercased; never a virtual host
    std::string secret_file;  // absolute path; mode 0600 or stricter
    std::string secret;       // its content without the trailing newline; never logged
};

// A static server-to-server route: `domain` is reached at host:port, not
// through DNS.
struct S2sRoute {
    std::string domain;  // lowercased
    std::string host;    // an IP address
    uint16_t port = 5269;
    bool direct_tls = false;  // TLS from the first byte (XEP-0368) instead of STARTTLS
};

// The SASL mechanisms parleyd knows, strongest first.
extern const char* const kKnownMechanisms[];
extern const size_t kKnownMechanismCount;

struct Config {
    std::string path;  // the file as given to load()
    unsigned workers = 1;
    std::string data_dir;
    std::string module_dir;
    std::vector<std::string> modules;  // in the order written
    std::map<std::string, Section> module_sections;
    std::vector<VirtualHost> hosts;  // at least one

    struct C2s {
        std::string address = "0.0.0.0";
        uint16_t starttls_port = 5222;    // 0 disables
        uint16_t direct_tls_port = 5223;  // XEP-0368; 0 disables
        bool require_encryption = true;
        unsigned handshake_timeout_s = 60;
    } c2s;

    struct Limits {
        size_t max_stanza_bytes = 262144;
        // Before authentication (SASL and the stream restarts around it):
        // what an anonymous peer may make the server hold per connection.
        size_t max_stanza_bytes_before_auth = 10000;
        // Connection counts (net/connection_limiter.hpp): in total before
        // authentication; per client address (IPv4, or IPv6 /64); before
        // authentication per address.
        size_t max_unauthenticated_connections = 1000;
        size_t max_connections_per_address = 500;
        size_t max_unauthenticated_connections_per_address = 32;
        size_t max_depth = 32;
        size_t max_send_queue_bytes = size_t{4} << 20;
        size_t max_sessions_per_account = 16;
        // What one connection may send us, on average (token bucket whose
        // depth is the larger of this and max_stanza_bytes); reading pauses
        // while it is over. 0: no limit.
        size_t max_read_bytes_per_s = 262144;
    } limits;

    struct Log {
        std::string level = "info";
        std::string file;  // empty: standard error
    } log;

    struct Sasl {
        std::vector<std::string> mechanisms = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256",
                                               "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"};
        uint64_t failure_delay_ms = 250;
        uint64_t failure_delay_max_ms = 8000;
        uint32_t scram_iterations = 4096;
        // Password checks (PLAIN's PBKDF2) queued or running on libuv's
        // thread pool per worker; past it a new one is refused with
        // <temporary-auth-failure/>.
        uint32_t max_queued_password_checks = 32;
        // SCRAM-*-PLUS on TLS 1.3 with tls-exporter (RFC 9266). Off: no
        // channel binding on TLS 1.3, for clients that bind with tls-unique
        // there (CPython's ssl: slixmpp 1.8) and so cannot use SCRAM at all
        // where -PLUS is offered.
        bool plus_on_tls13 = true;
    } sasl;

    std::string control_socket;  // default data_dir + "/parleyd.sock"

    // XEP-0114 components ([[component]]) and their listener, which is
    // opened only when at least one component is configured.
    std::vector<Component> components;
    struct ComponentListener {
        std::string address = "127.0.0.1";
        uint16_t port = 5347;
        // The protocol is plain TCP with a SHA-1 handshake: off loopback only
        // when the operator says so.
        bool allow_non_loopback = false;
        unsigned handshake_timeout_s = 30;
    } component_listener;

    // Server-to-server federation ([s2s]). Streams are always encrypted
    // (STARTTLS or direct TLS); a peer proves its domain with a certificate
    // (SASL EXTERNAL, XEP-0178) or, where allowed, with dialback (XEP-0220).
    struct S2s {
        bool enabled = false;
        std::string address = "0.0.0.0";
        uint16_t port = 5269;            // inbound STARTTLS; 0: none (outbound only)
        uint16_t direct_tls_port = 0;    // inbound direct TLS (XEP-0368); 0: none
        std::string ca_file;             // CAs for peers' certificates; empty: the system's store
        bool dialback = true;            // accept and use dialback when a certificate does not prove a domain
        bool bidi = true;                // XEP-0288 bidirectional streams, both roles
        bool stream_management = true;   // XEP-0198 acks on server streams, both roles
        unsigned handshake_timeout_s = 30;  // connect, TLS and authentication, each way
        unsigned idle_timeout_s = 600;   // a link without traffic is closed; 0: never
        size_t queue_max_stanzas = 1000;   // waiting for one remote domain's link
        unsigned queue_timeout_s = 60;   // how long a stanza may wait for it
        // What one authenticated incoming stream may send (it carries a
        // whole domain's traffic; before authentication [limits]
        // max_read_bytes_per_s applies); 0: no limit.
        size_t max_read_bytes_per_s = size_t{64} << 20;
        // Finding a remote server without a route: DNS SRV, then A/AAAA
        // (c-ares). The name servers ("ip", "ip:port", "[ipv6]:port");
        // empty: those of /etc/resolv.conf. Restart only.
        std::vector<std::string> dns_servers;
        unsigned dns_timeout_ms = 2000;  // per query and server, before the next try
        unsigned dns_tries = 2;
        std::vector<S2sRoute> routes;
    } s2s;
    // The static route for a remote domain (ASCII case-insensitive), or nullptr.
    const S2sRoute* find_route(std::string_view domain) const;

    // The component serving domain (ASCII case-insensitive), or nullptr.
    const Component* find_component(std::string_view domain) const;

    // The virtual host serving domain (ASCII case-insensitive), or nullptr.
    const VirtualHost* find_host(std::string_view domain) const;
};

// Reads and checks the file. On error the Status message lists every
// problem, one per line, as "FILE:LINE: KEY: what is wrong" (a TOML syntax
// error as "FILE:LINE:COLUMN: parser message").
Result<Config> load(const std::string& path);

// Whether d can be a virtual host's domain: not empty, at most 1023 bytes,
// no empty label, no space, control byte or character JIDs reserve.
bool valid_domain(const std::string& d);

// A module's service domain, a subdomain of a virtual host (upload.example.org,
// conference.example.org): the option `key` of `section`, lower-cased, and
// the domain it is under. An error naming the option when it is not one.
struct ServiceDomain {
    std::string domain;  // conference.example.org
    std::string parent;  // example.org
};
Result<ServiceDomain> service_domain(const Section& section, const std::string& key, std::string_view example);

// The keys that a reload cannot apply (they take effect on restart), among
// those that differ between the running config and the one just read,
// named as in the file ("workers", "c2s.starttls_port"); empty when none
// differ. parley.toml(5) "RELOAD" lists them.
std::vector<std::string> restart_only_changes(const Config& running, const Config& next);

}  // namespace parley::config

// Reading the XEP-0114 parts of parley.toml(5): the [[component]] tables,
// the [component_listener] table, and the checks that need the whole file
// (a component's domain is not a virtual host; the listener stays on
// loopback unless allowed). Internal to server/config (config.cpp calls
// it), except read_secret_file() and is_loopback(), which tests and the
// daemon use too. Any thread; no state.
#pragma once

#include <string>

#include "config/config.hpp"
#include "config/toml_reader.hpp"

namespace parley::config {

// Reads a shared secret from `path`: a regular file that neither its group
// nor others may read or write (mode 0600 or stricter), holding the secret
// on its first line (a trailing newline, and CR, are dropped); at most 1024
// bytes, not empty. The error names the path and what is wrong, never the
// content.
Result<std::string> read_secret_file(const std::string& path);

// Whether `address` (an IP literal) is a loopback address: 127.0.0.0/8,
// ::1, or ::ffff:127.0.0.0/104.
bool is_loopback(const std::string& address);

namespace detail {

// `component`: the array of tables; appends to cfg.components.
void read_components(TomlReader& r, const toml::node& n, Config& cfg);
void read_component_listener(TomlReader& r, const toml::table& t, Config& cfg);
// After the whole file was read: domains that are virtual hosts, a
// listener off loopback without allow_non_loopback.
void check_components(TomlReader& r, const toml::table& root, Config& cfg);

}  // namespace detail
}  // namespace parley::config

// Reading the server-to-server parts of parley.toml(5): the [s2s] table and
// its [[s2s.route]] entries (static routes: a remote domain reached at a
// fixed host and port, for air-gapped sites and tests, never through DNS).
// Internal to server/config (config.cpp calls it). Any thread; no state.
#pragma once

#include "config/config.hpp"
#include "config/toml_reader.hpp"

namespace parley::config::detail {

void read_s2s(TomlReader& r, const toml::table& t, Config& cfg);
// After the whole file was read: a route to one of our own domains.
void check_s2s(TomlReader& r, const toml::table& root, Config& cfg);

}  // namespace parley::config::detail

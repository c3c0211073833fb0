// Logging for parleyd, parleyctl and modules.
//
// One process-wide sink (stderr or a file), set once at start and changed
// only at reload; each line is written with a single write(2) so lines from
// several workers never interleave. Any thread.
//
// Never pass a password, a SASL payload, a token or a key to these functions:
// log the account and the outcome, not the secret.
#pragma once

#include <fmt/core.h>

#include <string>
#include <string_view>

namespace parley::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Parses "debug", "info", "warn", "error"; false when unknown.
bool parse_level(std::string_view name, Level& out);
void set_level(Level level);
Level level();
// Opens (append) the file as the sink; empty path means stderr.
bool set_file(const std::string& path, std::string& error);
void write(Level level, std::string_view subsystem, std::string_view message);

template <typename... Args>
void at(Level lvl, std::string_view subsystem, fmt::format_string<Args...> f, Args&&... args) {
    if (lvl < level()) return;
    write(lvl, subsystem, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(std::string_view s, fmt::format_string<Args...> f, Args&&... a) { at(Level::debug, s, f, std::forward<Args>(a)...); }
template <typename... Args>
void info(std::string_view s, fmt::format_string<Args...> f, Args&&... a) { at(Level::info, s, f, std::forward<Args>(a)...); }
template <typename... Args>
void warn(std::string_view s, fmt::format_string<Args...> f, Args&&... a) { at(Level::warn, s, f, std::forward<Args>(a)...); }
template <typename... Args>
void error(std::string_view s, fmt::format_string<Args...> f, Args&&... a) { at(Level::error, s, f, std::forward<Args>(a)...); }

}  // namespace parley::log

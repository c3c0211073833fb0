// Logging for parleyd, parleyctl and modules.
//
// One process-wide sink (stderr or a file), set once at start and changed
// only at reload. Every line is escaped at the sink (escape() below), so text
// that came from a client (a JID, a resource, an error text) can never split
// one log line into two or forge a line of its own, whichever caller logged
// it. Any thread.
//
// parleyd runs a logging thread (start_thread): write() then formats the line
// and puts it in a bounded queue, never waiting for the disk or a full pipe,
// so a slow log never stalls a worker loop. When the queue is full the line
// is dropped and counted; the logging thread writes how many lines were
// dropped as soon as it catches up, and stop_thread() writes everything still
// queued and the total dropped since start (giving up on a sink that takes
// nothing for a few seconds). Without the thread (parleyctl,
// unit tests) write() writes synchronously. Each line goes out in whole
// write(2) calls, so lines never interleave.
//
// Never pass a password, a SASL payload, a token or a key to these functions:
// log the account and the outcome, not the secret.
#pragma once

#include <fmt/core.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
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

// What write() does to a message: printable ASCII and valid UTF-8 stay as
// they are; a backslash becomes "\\"; \n, \r, \t become "\n", "\r", "\t";
// other control bytes (C0, DEL) and bytes that are not valid UTF-8 become
// "\xHH"; C1 controls, the Unicode line and paragraph separators and the
// bidirectional overrides (which can make a terminal show a line other than
// the one written) become "\u{HHHH}".
std::string escape(std::string_view text);

// The logging thread's queue bounds, by default.
inline constexpr size_t kQueueLines = 16384;
inline constexpr size_t kQueueBytes = size_t{8} << 20;
// Starts the logging thread (once; main thread). Lines queued past either
// bound are dropped and counted.
void start_thread(size_t max_lines = kQueueLines, size_t max_bytes = kQueueBytes);
// Writes every queued line, then the total of dropped lines if any, and
// stops the thread; later writes are synchronous again. A sink that takes
// nothing for `wait` is given up on (what it did not take is counted as
// dropped), so a stopped reader of stderr cannot keep parleyd from exiting.
// Main thread.
void stop_thread(std::chrono::milliseconds wait = std::chrono::seconds(5));
// Lines dropped because the queue was full, since the process started.
uint64_t dropped();

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

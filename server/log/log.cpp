#include "log/log.hpp"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <thread>
#include <vector>

namespace parley::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_fd{2};
std::mutex g_fd_mutex;  // guards replacing g_fd and writing to it

// The logging thread's state. Writers hold `mutex` only to append a line.
struct Queue {
    std::mutex mutex;
    std::condition_variable wake;
    std::vector<std::string> lines;
    size_t bytes = 0;
    size_t max_lines = 0;
    size_t max_bytes = 0;
    uint64_t dropped_unreported = 0;
    bool running = false;   // the thread takes the lines
    bool stopping = false;
    std::thread thread;
};
Queue g_queue;
std::atomic<uint64_t> g_dropped{0};

const char* level_name(Level l) {
    switch (l) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
    }
    return "?";
}

std::string format_line(Level l, std::string_view subsystem, std::string_view message) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    return fmt::format("{}.{:03d}Z {} [{}] {}\n", stamp, static_cast<int>(ts.tv_nsec / 1000000), level_name(l),
                       escape(subsystem), escape(message));
}

// Writes all of `data` to the sink (a short write to a pipe is continued).
void sink_write(std::string_view data) {
    std::lock_guard<std::mutex> lock(g_fd_mutex);
    const int fd = g_fd.load();
    while (!data.empty()) {
        ssize_t n = ::write(fd, data.data(), data.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return;  // nowhere to report it; the line is lost
        data.remove_prefix(static_cast<size_t>(n));
    }
}

// When the logging thread must give up on a sink that takes nothing
// (steady_clock nanoseconds; 0: never).
std::atomic<int64_t> g_give_up_at{0};

bool past_give_up() {
    const int64_t at = g_give_up_at.load();
    return at != 0 && std::chrono::steady_clock::now().time_since_epoch().count() >= at;
}

// The logging thread's write: waits for the sink to take data, in pieces no
// larger than a pipe takes without blocking, so that stop_thread() can make
// it give up on a sink that never drains (a stopped reader of stderr)
// instead of keeping the process from exiting. Returns what was not written.
std::string_view thread_write(std::string_view data) {
    std::lock_guard<std::mutex> lock(g_fd_mutex);
    const int fd = g_fd.load();
    // A regular file is always "ready": write it in one piece.
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        while (!data.empty()) {
            ssize_t n = ::write(fd, data.data(), data.size());
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            data.remove_prefix(static_cast<size_t>(n));
        }
        return data;
    }
    while (!data.empty()) {
        pollfd p{fd, POLLOUT, 0};
        const int ready = ::poll(&p, 1, 100);
        if (ready < 0 && errno != EINTR) break;
        if (ready <= 0) {
            if (past_give_up()) break;
            continue;
        }
        if (p.revents & (POLLERR | POLLNVAL)) break;
        ssize_t n = ::write(fd, data.data(), std::min<size_t>(data.size(), PIPE_BUF));
        if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (n <= 0) break;
        data.remove_prefix(static_cast<size_t>(n));
    }
    return data;
}

// Counts the lines of `rest` (whole or begun) as dropped.
void drop_unwritten(std::string_view rest) {
    if (rest.empty()) return;
    uint64_t n = static_cast<uint64_t>(std::count(rest.begin(), rest.end(), '\n'));
    g_dropped.fetch_add(std::max<uint64_t>(n, 1));
}

std::string dropped_line(uint64_t n, bool total) {
    return format_line(Level::warn, "log",
                       total ? fmt::format("{} log line(s) were dropped in all since start: the log could not keep up", n)
                             : fmt::format("{} log line(s) dropped: the log could not keep up", n));
}

// How long the logging thread gathers lines before one write.
constexpr std::chrono::milliseconds kCoalesce{10};

void run_thread() {
    std::vector<std::string> batch;
    std::string out;
    for (;;) {
        uint64_t dropped = 0;
        bool stop = false;
        {
            std::unique_lock<std::mutex> lock(g_queue.mutex);
            g_queue.wake.wait(lock, [] { return !g_queue.lines.empty() || g_queue.stopping; });
            // Let a few more lines come before writing: a busy server then
            // wakes this thread at most ~100 times a second, not once per
            // line (every wake-up is a context switch taken from a worker).
            g_queue.wake.wait_for(lock, kCoalesce, [] { return g_queue.stopping; });
            batch.swap(g_queue.lines);
            g_queue.bytes = 0;
            dropped = g_queue.dropped_unreported;
            g_queue.dropped_unreported = 0;
            stop = g_queue.stopping && batch.empty();
        }
        if (stop) return;
        // The whole batch at once (one write(2) to a file), in order, and
        // without the queue's mutex held while the sink may block.
        out.clear();
        for (const auto& l : batch) out += l;
        if (dropped > 0) out += dropped_line(dropped, false);
        drop_unwritten(thread_write(out));
        batch.clear();
        if (out.capacity() > (size_t{1} << 20)) std::string().swap(out);
    }
}

void put_hex(std::string& out, unsigned char c) {
    static const char* digits = "0123456789abcdef";
    out += "\\x";
    out += digits[c >> 4];
    out += digits[c & 15];
}

// The length of the valid UTF-8 sequence at s[i] (2-4), or 0.
size_t utf8_length(std::string_view s, size_t i) {
    auto at = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    const unsigned char c = at(i);
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;  // no overlong forms
        if (c == 0xed) hi = 0x9f;  // no surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;  // nothing past U+10FFFF
    } else return 0;
    if (i + n > s.size()) return 0;
    if (at(i + 1) < lo || at(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if (at(i + k) < 0x80 || at(i + k) > 0xbf) return 0;
    return n;
}

uint32_t decode(std::string_view s, size_t i, size_t n) {
    auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(s[k])); };
    uint32_t cp = at(i) & (n == 2 ? 0x1f : n == 3 ? 0x0f : 0x07);
    for (size_t k = 1; k < n; ++k) cp = (cp << 6) | (at(i + k) & 0x3f);
    return cp;
}

// Code points a terminal or log viewer may treat as a line break, or that
// reorder what is shown.
bool dangerous(uint32_t cp) {
    return (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

}  // namespace

std::string escape(std::string_view text) {
    // Most messages need nothing: return them as they are.
    size_t i = 0;
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c < 0x20 || c == 0x7f || c == '\\' || c >= 0x80) break;
        ++i;
    }
    if (i == text.size()) return std::string(text);
    std::string out(text.substr(0, i));
    out.reserve(text.size() + 16);
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f) {
            if (c == '\\') out += "\\\\";
            else out += static_cast<char>(c);
            ++i;
        } else if (c == '\n') {
            out += "\\n";
            ++i;
        } else if (c == '\r') {
            out += "\\r";
            ++i;
        } else if (c == '\t') {
            out += "\\t";
            ++i;
        } else if (c < 0x80) {
            put_hex(out, c);
            ++i;
        } else if (size_t n = utf8_length(text, i); n == 0) {
            put_hex(out, c);
            ++i;
        } else {
            const uint32_t cp = decode(text, i, n);
            if (dangerous(cp)) out += fmt::format("\\u{{{:04x}}}", cp);
            else out.append(text.substr(i, n));
            i += n;
        }
    }
    return out;
}

bool parse_level(std::string_view name, Level& out) {
    if (name == "debug") out = Level::debug;
    else if (name == "info") out = Level::info;
    else if (name == "warn") out = Level::warn;
    else if (name == "error") out = Level::error;
    else return false;
    return true;
}

void set_level(Level l) { g_level.store(static_cast<int>(l)); }
Level level() { return static_cast<Level>(g_level.load(std::memory_order_relaxed)); }

bool set_file(const std::string& path, std::string& error) {
    int fd = 2;
    if (!path.empty()) {
        fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (fd < 0) {
            error = fmt::format("open {}: {}", path, std::strerror(errno));
            return false;
        }
    }
    std::lock_guard<std::mutex> lock(g_fd_mutex);
    int old = g_fd.exchange(fd);
    if (old > 2) ::close(old);
    return true;
}

void write(Level l, std::string_view subsystem, std::string_view message) {
    std::string line = format_line(l, subsystem, message);
    {
        std::unique_lock<std::mutex> lock(g_queue.mutex);
        if (g_queue.running) {
            if (g_queue.lines.size() >= g_queue.max_lines || g_queue.bytes + line.size() > g_queue.max_bytes) {
                ++g_queue.dropped_unreported;
                g_dropped.fetch_add(1, std::memory_order_relaxed);
                return;
            }
            g_queue.bytes += line.size();
            const bool was_empty = g_queue.lines.empty();
            g_queue.lines.push_back(std::move(line));
            lock.unlock();
            // The thread waits only on an empty queue.
            if (was_empty) g_queue.wake.notify_one();
            return;
        }
    }
    sink_write(line);
}

void start_thread(size_t max_lines, size_t max_bytes) {
    std::lock_guard<std::mutex> lock(g_queue.mutex);
    if (g_queue.running) return;
    g_queue.max_lines = max_lines;
    g_queue.max_bytes = max_bytes;
    g_queue.stopping = false;
    g_queue.running = true;
    g_queue.thread = std::thread(run_thread);
}

void stop_thread(std::chrono::milliseconds wait) {
    {
        std::lock_guard<std::mutex> lock(g_queue.mutex);
        if (!g_queue.running) return;
        g_queue.stopping = true;
    }
    g_give_up_at.store((std::chrono::steady_clock::now() + wait).time_since_epoch().count());
    g_queue.wake.notify_one();
    g_queue.thread.join();
    std::string rest;
    {
        // Lines written between the thread's last batch and here.
        std::lock_guard<std::mutex> lock(g_queue.mutex);
        g_queue.running = false;
        g_queue.stopping = false;
        for (const auto& l : g_queue.lines) rest += l;
        g_queue.lines.clear();
        g_queue.bytes = 0;
        g_queue.dropped_unreported = 0;
    }
    drop_unwritten(thread_write(rest));
    if (uint64_t n = g_dropped.load(); n > 0) thread_write(dropped_line(n, true));
    g_give_up_at.store(0);
}

uint64_t dropped() { return g_dropped.load(); }

}  // namespace parley::log

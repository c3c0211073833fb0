#include "log/log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <mutex>

namespace parley::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::atomic<int> g_fd{2};
std::mutex g_fd_mutex;  // guards replacing g_fd

const char* level_name(Level l) {
    switch (l) {
        case Level::debug: return "debug";
        case Level::info: return "info";
        case Level::warn: return "warn";
        case Level::error: return "error";
    }
    return "?";
}

}  // namespace

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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    std::string line = fmt::format("{}.{:03d}Z {} [{}] {}\n", stamp, static_cast<int>(ts.tv_nsec / 1000000),
                                   level_name(l), subsystem, message);
    std::lock_guard<std::mutex> lock(g_fd_mutex);
    ssize_t rc = ::write(g_fd.load(), line.data(), line.size());
    (void)rc;
}

}  // namespace parley::log

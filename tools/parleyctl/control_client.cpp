#include "control_client.hpp"

#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace parley::ctl {

Result<std::string> control_request(const std::string& socket_path, const std::string& line, int timeout_ms) {
    sockaddr_un addr{};
    if (socket_path.size() >= sizeof addr.sun_path)
        return Status::error("invalid", "control socket path too long: " + socket_path);
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return Status::error("io", std::string("socket: ") + std::strerror(errno));
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        int e = errno;
        ::close(fd);
        if (e == ENOENT || e == ECONNREFUSED) return Status::error("not-running", "parleyd is not running");
        return Status::error("io", "connect " + socket_path + ": " + std::strerror(e));
    }
    std::string out = line + "\n";
    size_t off = 0;
    while (off < out.size()) {
        ssize_t n = ::write(fd, out.data() + off, out.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ::close(fd);
            return Status::error("io", std::string("write: ") + std::strerror(errno));
        }
        off += static_cast<size_t>(n);
    }
    std::string reply;
    char buf[4096];
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        int pr = ::poll(&p, 1, timeout_ms);
        if (pr == 0) {
            ::close(fd);
            return Status::error("timeout", "parleyd did not answer on " + socket_path);
        }
        if (pr < 0 && errno == EINTR) continue;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        reply.append(buf, static_cast<size_t>(n));
        if (reply.size() > (1u << 24)) break;  // 16 MiB: a long session list fits
    }
    ::close(fd);
    while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.pop_back();
    if (reply.empty()) return Status::error("io", "parleyd closed the control socket without answering");
    return reply;
}

std::string control_arg(const std::string& a) {
    std::string out;
    for (unsigned char c : a) {
        if (c == '%' || c <= 0x20 || c == 0x7f) out += fmt::format("%{:02X}", c);
        else out += static_cast<char>(c);
    }
    return out;
}

std::string who_runs() {
    const passwd* pw = ::getpwuid(::getuid());
    return fmt::format("parleyctl:{}", pw && pw->pw_name ? std::string(pw->pw_name) : std::to_string(::getuid()));
}

}  // namespace parley::ctl

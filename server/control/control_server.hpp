// ControlServer: parleyd's local control socket, used by parleyctl.
//
// A Unix stream socket (mode 0600) in the data directory by default. A client
// writes one request line and reads one JSON line back, then the server
// closes. Requests: "status", "kick BAREJID" (ends that account's sessions,
// used after an account is deleted or its password changed), "reload".
// The full admin protocol (roles, audit) is a later capability; this socket
// only carries what parleyctl needs now. Main thread only.
#pragma once

#include <uv.h>

#include <string>

#include "errors/status.hpp"

namespace parley::daemon {
class Daemon;
}

namespace parley::control {

class ControlServer {
public:
    ControlServer(daemon::Daemon& daemon, uv_loop_t* loop) : daemon_(daemon), loop_(loop) {}
    Status listen(const std::string& path);
    void close();
    // Answers one request line; exposed for tests.
    std::string handle(const std::string& line);

private:
    struct Client;
    static void on_connection(uv_stream_t* server, int status);
    daemon::Daemon& daemon_;
    uv_loop_t* loop_;
    uv_pipe_t* pipe_ = nullptr;
    std::string path_;
};

}  // namespace parley::control

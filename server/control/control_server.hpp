// ControlServer: parleyd's local control socket, used by parleyctl.
//
// A Unix stream socket (mode 0600) in the data directory by default. A client
// writes one request line and reads one JSON line back, then the server
// closes. Requests: "status"; "kick [admin] JID" (ends the sessions a JID
// names: every session of an account for a bare JID, after it was deleted
// or its password changed, or one session for a full JID; "admin" says in
// the stream error that an administrator ended it); "session list [BAREJID]"
// (the bound sessions, of one account or all, at most kMaxListedSessions,
// with each one's address, TLS and login time asked of its worker);
// "reload"; any other request "NAME args..." goes to the module that serves
// NAME (module::Host::control_command) on worker 0, whose answer comes back
// to this thread through an async handle (within kModuleTimeoutMs, or the
// client gets an error).
// The full admin protocol (roles, audit) is a later capability; this socket
// only carries what parleyctl needs now.
//
// Only parleyd's own user and root may use it: besides the socket's mode,
// each client's credentials (SO_PEERCRED) are checked, so a socket made
// reachable by mistake (a permissive directory, a chmod) still refuses
// others. A client that has not sent its request line within
// kClientTimeoutMs is dropped, and close() drops every client, so no client
// can keep parleyd from exiting. listen() replaces a stale socket of an
// earlier run but refuses to remove anything else at the path. Main thread
// only.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <sys/socket.h>
#include <sys/types.h>
#include <unordered_set>

#include "errors/status.hpp"

namespace parley::daemon {
class Daemon;
}

namespace parley::control {

class ControlServer {
public:
    static constexpr uint64_t kClientTimeoutMs = 5000;
    static constexpr uint64_t kModuleTimeoutMs = 10000;
    struct Mailbox;
    // A listing stays under what parleyctl reads (16 MiB) even with JIDs of
    // the longest kind; the answer says how many there were in all.
    static constexpr size_t kMaxListedSessions = 2000;
    // How long a listing waits for the workers' details.
    static constexpr int kDetailsWaitMs = 2000;

    ControlServer(daemon::Daemon& daemon, uv_loop_t* loop) : daemon_(daemon), loop_(loop) {}
    Status listen(const std::string& path);
    // Stops listening, drops every client and removes the socket (only if
    // the path still holds the socket listen() made).
    void close();
    // Answers one request line; exposed for tests.
    std::string handle(const std::string& line);

    // Answers a core request now, or hands a module's to worker 0 (nullopt:
    // the answer comes later to `client_id`).
    std::optional<std::string> dispatch(const std::string& line, uint64_t client_id, const ucred& peer);

private:
    struct Client;
    static void on_mail(uv_async_t* async);
    std::string sessions_json(const std::string& arg);
    static void on_connection(uv_stream_t* server, int status);
    daemon::Daemon& daemon_;
    uv_loop_t* loop_;
    uv_pipe_t* pipe_ = nullptr;
    std::string path_;
    dev_t dev_ = 0;  // identity of the socket file listen() made
    ino_t ino_ = 0;
    std::unordered_set<Client*> clients_;
    std::shared_ptr<Mailbox> mailbox_;
    uint64_t next_client_ = 0;
};

}  // namespace parley::control

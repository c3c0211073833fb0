#include "control/control_server.hpp"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <future>
#include <map>
#include <mutex>
#include <vector>

#include "c2s/session.hpp"
#include "daemon/daemon.hpp"
#include "loop/account_purge.hpp"
#include "loop/end_sessions.hpp"
#include "loop/worker.hpp"
#include "module/control_json.hpp"
#include "sessions/local_session.hpp"
#include "log/log.hpp"
#include "xmpp/jid.hpp"

namespace parley::control {

// The one escaper of the control protocol, shared with modules' replies.
using module::json_escape;

namespace {

// Module requests carry their arguments percent-encoded (parleyctl encodes
// '%', spaces and control characters), so an argument may hold a space.
std::string percent_decode(std::string_view s) {
    auto hex = [](char c) -> int {
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'a' && c <= 'f') return c - 'a' + 10;
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

std::string error_json(std::string_view text) { return fmt::format("{{\"ok\":false,\"error\":\"{}\"}}", json_escape(text)); }

}  // namespace

// Answers from the workers to this thread. Any thread may post(); after
// close() (the server is going away) posts are dropped.
struct ControlServer::Mailbox {
    std::mutex mutex;
    uv_async_t* async = nullptr;  // nullptr once closed
    std::vector<std::pair<uint64_t, std::string>> answers;
    void post(uint64_t client, std::string json) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!async) return;
        answers.emplace_back(client, std::move(json));
        uv_async_send(async);
    }
};

namespace {

// Answers a module's request once: with the module's reply, or, if the
// module dropped it unanswered, with an error.
class ReplyOnce {
public:
    ReplyOnce(std::shared_ptr<ControlServer::Mailbox> box, uint64_t client, std::string cmd)
        : box_(std::move(box)), client_(client), cmd_(std::move(cmd)) {}
    ~ReplyOnce() {
        if (!done_) box_->post(client_, error_json("module command '" + cmd_ + "' gave no answer"));
    }
    void reply(Result<std::string> r) {
        if (done_) return;
        done_ = true;
        if (!r) {
            box_->post(client_, error_json(r.status().message()));
            return;
        }
        const std::string& fields = r.value();
        if (fields.size() < 2 || fields.front() != '{' || fields.back() != '}') {
            box_->post(client_, error_json("module command '" + cmd_ + "' answered with something not a JSON object"));
            return;
        }
        box_->post(client_, fields == "{}" ? std::string("{\"ok\":true}") : "{\"ok\":true," + fields.substr(1));
    }

private:
    std::shared_ptr<ControlServer::Mailbox> box_;
    uint64_t client_;
    std::string cmd_;
    bool done_ = false;
};

}  // namespace

struct ControlServer::Client {
    uint64_t id = 0;
    uv_pipe_t pipe{};
    uv_timer_t timer{};  // drops a client that stays silent
    int open_handles = 2;
    ControlServer* server = nullptr;
    std::string in;
    bool answered = false;  // its request was read: later input is ignored
    bool replied = false;   // its answer is being written
    bool permitted = true;  // its peer credentials are parleyd's user or root
    ucred peer{};           // as the kernel gave them (SO_PEERCRED)
    struct Write {
        uv_write_t req{};
        std::string data;
        Client* client;
    };
    void close() {
        if (server) {
            server->clients_.erase(this);
            server = nullptr;
        }
        auto done = [](uv_handle_t* h) {
            auto* c = static_cast<Client*>(h->data);
            if (--c->open_handles == 0) delete c;
        };
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&pipe))) uv_close(reinterpret_cast<uv_handle_t*>(&pipe), done);
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&timer))) uv_close(reinterpret_cast<uv_handle_t*>(&timer), done);
    }
    // Answers (once) and closes once the answer is written.
    void answer(const std::string& json) {
        answered = true;
        if (replied) return;
        replied = true;
        uv_timer_stop(&timer);
        auto* w = new Write();
        w->client = this;
        w->data = json + "\n";
        w->req.data = w;
        uv_buf_t out = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
        int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&pipe), &out, 1, [](uv_write_t* req, int) {
            auto* w = static_cast<Client::Write*>(req->data);
            w->client->close();
            delete w;
        });
        if (rc != 0) {
            delete w;
            close();
        }
    }
};

Status ControlServer::listen(const std::string& path) {
    path_ = path;
    // A socket left by an earlier run (parleyd.lock says none runs now) is
    // replaced; anything else at the path is not ours to delete.
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            return Status::error("control", fmt::format("control socket {} exists and is not a socket; refusing to "
                                                        "remove it (move it away or set control_socket)",
                                                        path));
        ::unlink(path.c_str());
    } else if (errno != ENOENT) {
        return Status::error("control", fmt::format("control socket {}: {}", path, std::strerror(errno)));
    }
    pipe_ = new uv_pipe_t();
    uv_pipe_init(loop_, pipe_, 0);
    pipe_->data = this;
    mode_t old = ::umask(0077);
    int rc = uv_pipe_bind(pipe_, path.c_str());
    ::umask(old);
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(pipe_), 16, &ControlServer::on_connection);
    if (rc != 0) {
        uv_close(reinterpret_cast<uv_handle_t*>(pipe_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
        pipe_ = nullptr;
        return Status::error("control", fmt::format("control socket {}: {}", path, uv_strerror(rc)));
    }
    ::chmod(path.c_str(), 0600);
    mailbox_ = std::make_shared<Mailbox>();
    mailbox_->async = new uv_async_t();
    uv_async_init(loop_, mailbox_->async, &ControlServer::on_mail);
    mailbox_->async->data = this;
    if (::lstat(path.c_str(), &st) == 0) {
        dev_ = st.st_dev;
        ino_ = st.st_ino;
    }
    return Status::ok();
}

void ControlServer::close() {
    std::vector<Client*> all(clients_.begin(), clients_.end());
    for (Client* c : all) c->close();
    if (mailbox_) {
        std::lock_guard<std::mutex> lock(mailbox_->mutex);
        if (mailbox_->async)
            uv_close(reinterpret_cast<uv_handle_t*>(mailbox_->async),
                     [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
        mailbox_->async = nullptr;
    }
    if (!pipe_) return;
    uv_close(reinterpret_cast<uv_handle_t*>(pipe_), [](uv_handle_t* h) { delete reinterpret_cast<uv_pipe_t*>(h); });
    pipe_ = nullptr;
    // Remove only the socket we made, not whatever replaced it since.
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == dev_ && st.st_ino == ino_)
        ::unlink(path_.c_str());
}

void ControlServer::on_connection(uv_stream_t* server, int status) {
    auto* self = static_cast<ControlServer*>(server->data);
    if (status < 0) return;
    auto* c = new Client();
    c->id = ++self->next_client_;
    c->server = self;
    self->clients_.insert(c);
    uv_pipe_init(self->loop_, &c->pipe, 0);
    c->pipe.data = c;
    uv_timer_init(self->loop_, &c->timer);
    c->timer.data = c;
    if (uv_accept(server, reinterpret_cast<uv_stream_t*>(&c->pipe)) != 0) {
        c->close();
        return;
    }
    uv_timer_start(
        &c->timer,
        [](uv_timer_t* t) {
            log::info("control", "dropped a client that sent no request within {} ms", kClientTimeoutMs);
            static_cast<Client*>(t->data)->close();
        },
        kClientTimeoutMs, 0);
    // Only parleyd's own user and root: the socket's mode is the first
    // guard, this one holds even if the socket was made reachable.
    uv_os_fd_t fd = -1;
    ucred cred{};
    socklen_t len = sizeof cred;
    if (uv_fileno(reinterpret_cast<uv_handle_t*>(&c->pipe), &fd) != 0 ||
        ::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
        log::warn("control", "cannot read a client's credentials: {}", std::strerror(errno));
        c->close();
        return;
    }
    c->peer = cred;
    if (cred.uid != 0 && cred.uid != ::geteuid()) {
        log::warn("control", "refused a client with uid {} (pid {}): only uid {} and root may use the control socket",
                  cred.uid, cred.pid, ::geteuid());
        // Its request is read (and ignored) before the refusal is sent:
        // closing with unread data would reset the connection and lose the
        // answer.
        c->permitted = false;
    }
    uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->pipe),
        [](uv_handle_t*, size_t, uv_buf_t* buf) {
            static thread_local char storage[4096];
            buf->base = storage;
            buf->len = sizeof storage;
        },
        [](uv_stream_t* s, ssize_t n, const uv_buf_t* buf) {
            auto* c = static_cast<Client*>(s->data);
            if (n < 0) {
                c->close();
                return;
            }
            if (c->answered || !c->server) return;
            c->in.append(buf->base, static_cast<size_t>(n));
            auto nl = c->in.find('\n');
            if (nl == std::string::npos && c->in.size() < 4096) return;
            std::string line = c->in.substr(0, nl == std::string::npos ? c->in.size() : nl);
            if (!c->permitted) {
                c->answer(error_json("permission denied: only parleyd's own user and root may use this socket"));
                return;
            }
            if (auto now = c->server->dispatch(line, c->id, c->peer)) {
                c->answer(*now);
                return;
            }
            // A module answers later: wait for it, bounded.
            c->answered = true;
            uv_timer_start(
                &c->timer,
                [](uv_timer_t* t) {
                    auto* c = static_cast<Client*>(t->data);
                    c->answer(error_json("parleyd did not answer in time"));
                },
                kModuleTimeoutMs, 0);
        });
}

void ControlServer::on_mail(uv_async_t* async) {
    auto* self = static_cast<ControlServer*>(async->data);
    std::vector<std::pair<uint64_t, std::string>> answers;
    {
        std::lock_guard<std::mutex> lock(self->mailbox_->mutex);
        answers.swap(self->mailbox_->answers);
    }
    for (auto& [id, json] : answers) {
        for (Client* c : self->clients_)
            if (c->id == id) {
                c->answer(json);
                break;
            }
    }
}

std::optional<std::string> ControlServer::dispatch(const std::string& line, uint64_t client_id, const ucred& peer) {
    std::string cmd = line.substr(0, line.find(' '));
    // The core's requests (as Host::control_command refuses their names to
    // modules); anything else is a module's.
    if (cmd == "status" || cmd == "kick" || cmd == "reload" || cmd == "session" || cmd == "purge" || cmd.empty())
        return handle(line);
    auto& shared = daemon_.shared();
    if (shared.workers.empty() || !mailbox_) return error_json("unknown request '" + cmd + "'");
    std::vector<std::string> args;
    size_t at = cmd.size();
    while (at < line.size()) {
        size_t start = line.find_first_not_of(' ', at);
        if (start == std::string::npos) break;
        size_t end = line.find(' ', start);
        if (end == std::string::npos) end = line.size();
        args.push_back(percent_decode(line.substr(start, end - start)));
        at = end;
    }
    // Who asked, as the kernel says (what the audit log records is what
    // parleyctl says: its user, which only root or parleyd's user can be).
    log::info("control", "request '{}' for a module from uid {} (pid {})", cmd, peer.uid, peer.pid);
    auto box = mailbox_;
    shared.workers[0]->post([box, client_id, cmd, args = std::move(args)](loop::Worker& w) {
        const module::ControlHandler* fn = w.hooks().find_control(cmd);
        if (!fn) {
            box->post(client_id, error_json("unknown request '" + cmd + "'"));
            return;
        }
        auto once = std::make_shared<ReplyOnce>(box, client_id, cmd);
        try {
            (*fn)(args, [once](Result<std::string> r) { once->reply(std::move(r)); });
        } catch (const std::exception& e) {
            log::error("control", "module command '{}' failed: {}", cmd, e.what());
            once->reply(Status::error("internal", "module command '" + cmd + "' failed"));
        }
    });
    return std::nullopt;
}

std::string ControlServer::sessions_json(const std::string& arg) {
    auto& shared = daemon_.shared();
    std::vector<sessions::SessionEntry> list;
    if (arg.empty()) {
        list = shared.registry->all();
    } else {
        auto jid = xmpp::Jid::parse(arg);
        if (!jid || !jid->has_node() || jid->has_resource()) return error_json("sessions takes an account's bare JID");
        list = shared.registry->sessions_of(jid->bare());
    }
    std::sort(list.begin(), list.end(), [](const auto& a, const auto& b) { return a.full_jid < b.full_jid; });
    const size_t total = list.size();
    if (list.size() > kMaxListedSessions) list.resize(kMaxListedSessions);
    // Address, TLS and login time are known only to each session's own
    // worker: ask every worker for its sessions, and wait a bounded time
    // (as a reload waits for the workers).
    std::map<uint64_t, sessions::SessionDetails> details;
    std::vector<std::future<std::vector<std::pair<uint64_t, sessions::SessionDetails>>>> answers;
    std::map<unsigned, std::vector<uint64_t>> by_worker;
    for (const auto& e : list) by_worker[e.ref.worker].push_back(e.ref.session_id);
    for (auto& [w, ids] : by_worker) {
        if (w >= shared.workers.size()) continue;
        auto promise = std::make_shared<std::promise<std::vector<std::pair<uint64_t, sessions::SessionDetails>>>>();
        auto fut = promise->get_future();
        if (shared.workers[w]->post([promise, ids = std::move(ids)](loop::Worker& worker) {
                std::vector<std::pair<uint64_t, sessions::SessionDetails>> out;
                for (uint64_t id : ids)
                    if (auto* s = worker.find_session(id)) out.emplace_back(id, s->details());
                promise->set_value(std::move(out));
            }))
            answers.push_back(std::move(fut));
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kDetailsWaitMs);
    for (auto& fut : answers) {
        if (fut.wait_until(deadline) != std::future_status::ready) continue;
        try {
            for (auto& [id, d] : fut.get()) details[id] = std::move(d);
        } catch (const std::future_error&) {
            // That worker stopped before answering: its sessions show no details.
        }
    }
    std::string out = fmt::format("{{\"ok\":true,\"total\":{},\"truncated\":{},\"sessions\":[", total,
                                  total > list.size() ? "true" : "false");
    bool first = true;
    for (const auto& e : list) {
        if (!first) out += ',';
        first = false;
        out += fmt::format("{{\"jid\":\"{}\",\"worker\":{},\"id\":{},\"available\":{},\"priority\":{}",
                           json_escape(e.full_jid.str()), e.ref.worker, e.ref.session_id,
                           e.available ? "true" : "false", e.priority);
        if (auto it = details.find(e.ref.session_id); it != details.end()) {
            const auto& d = it->second;
            out += fmt::format(",\"connected\":{},\"address\":\"{}\",\"tls\":{},\"since\":{}",
                               d.connected ? "true" : "false", json_escape(d.address), d.tls ? "true" : "false",
                               d.since_unix);
        }
        out += '}';
    }
    out += "]}";
    return out;
}

std::string ControlServer::handle(const std::string& line) {
    auto& shared = daemon_.shared();
    std::string cmd = line, arg;
    if (auto sp = line.find(' '); sp != std::string::npos) {
        cmd = line.substr(0, sp);
        arg = line.substr(sp + 1);
    }
    if (cmd == "status") {
        auto uptime = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - shared.started);
        return fmt::format("{{\"ok\":true,\"version\":\"{}\",\"uptime_s\":{},\"workers\":{},\"sessions\":{}}}",
                           PACKAGE_VERSION, uptime.count(), daemon_.worker_count(), shared.registry->total());
    }
    if (cmd == "kick") {
        // "kick [admin] JID": a bare JID ends every session of the account,
        // a full JID that one session. Without "admin" the text says the
        // account changed (parleyctl user del and passwd); with it, that an
        // administrator ended the session (parleyctl session kick). The
        // JID is the rest of the line: a resource may hold spaces.
        std::string text = "the account was changed or removed by an administrator";
        if (arg.rfind("admin ", 0) == 0) {
            arg = arg.substr(6);
            text = "an administrator ended this session";
        }
        auto jid = xmpp::Jid::parse(arg);
        if (!jid || !jid->has_node()) return error_json("kick needs an account JID or a session's full JID");
        auto sessions = loop::sessions_named(*shared.registry, jid.value());
        const size_t closed = loop::end_sessions(shared, sessions, text);
        log::info("control", "closing {} session(s) of {}", closed, jid->str());
        return fmt::format("{{\"ok\":true,\"closed\":{}}}", closed);
    }
    if (cmd == "purge") {
        // After `parleyctl user del`: worker 0 has the modules remove the
        // deleted accounts' data now rather than at its next round.
        if (!arg.empty()) return error_json("purge takes no argument");
        shared.workers[0]->post([](loop::Worker& w) {
            if (loop::AccountPurge* p = w.account_purge()) p->kick();
        });
        return "{\"ok\":true}";
    }
    if (cmd == "session") {
        if (arg == "list") return sessions_json("");
        if (arg.rfind("list ", 0) == 0) return sessions_json(arg.substr(5));
        return error_json("session takes 'list [BAREJID]'");
    }
    if (cmd == "reload") {
        Status s = daemon_.reload();
        if (!s) return error_json(s.message());
        return "{\"ok\":true}";
    }
    return error_json("unknown request '" + cmd + "'");
}

}  // namespace parley::control

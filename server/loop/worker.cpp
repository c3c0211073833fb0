#include "loop/worker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "c2s/session.hpp"
#include "component/routing.hpp"
#include "component/session.hpp"
#include "s2s/inbound.hpp"
#include "s2s/links.hpp"
#include "log/log.hpp"
#include "loop/account_purge.hpp"
#include "loop/worker_host.hpp"
#include "net/stream_transport.hpp"
#include "router/router.hpp"
#include "sessions/local_session.hpp"
#include "store/writer.hpp"

namespace parley::loop {

struct Worker::Listener {
    uv_tcp_t handle{};
    Worker* worker = nullptr;
    net::TlsSession::Mode mode = net::TlsSession::Mode::starttls;
    enum class Kind { c2s, component, s2s } kind = Kind::c2s;
};

struct Worker::RunningModule {
    std::shared_ptr<const module::LoadedModule> loaded;
    std::unique_ptr<WorkerHost> host;
    std::unique_ptr<module::Module, void (*)(module::Module*)> instance{nullptr, nullptr};
};

// What prepare_reload() did, until commit_reload() or rollback_reload().
struct Worker::PendingReload {
    std::shared_ptr<const config::Config> config;
    std::vector<std::shared_ptr<const module::LoadedModule>> modules;
    std::vector<std::unique_ptr<RunningModule>> started;  // new modules, not yet in modules_
    std::vector<RunningModule*> reloaded;                 // running modules given their new section
};

Worker::Worker(unsigned index, daemon::Shared& shared)
    : index_(index),
      shared_(shared),
      read_buffer_(new char[kReadBufferSize]),
      store_executor_(std::make_unique<store::FunctionExecutor>([this](std::function<void()> fn) {
          return post([fn = std::move(fn)](Worker&) { fn(); });
      })) {}

Worker::~Worker() { join(); }

Status Worker::start(const std::vector<std::shared_ptr<const module::LoadedModule>>& modules) {
    config_ = shared_.config();
    std::promise<Status> started;
    auto fut = started.get_future();
    // By reference: run() uses the list only until it signals `started`,
    // and this waits for that. A copy would keep every module of the first
    // config loaded for the thread's whole life, even once removed by a reload.
    thread_ = std::thread([this, &started, &modules] { run(started, modules); });
    Status s = fut.get();
    if (!s) join();
    return s;
}

void Worker::run(std::promise<Status>& started,
                 const std::vector<std::shared_ptr<const module::LoadedModule>>& modules) {
    uv_loop_init(&loop_);
    uv_async_init(&loop_, &async_, &Worker::on_async);
    async_.data = this;
    uv_prepare_init(&loop_, &prepare_);
    prepare_.data = this;
    uv_prepare_start(&prepare_, &Worker::on_prepare);
    uv_timer_init(&loop_, &shutdown_timer_);
    shutdown_timer_.data = this;
    router_ = std::make_unique<router::Router>(*this);
    s2s_ = std::make_unique<s2s::Links>(*this);

    // Components first: a module asking for a component's domain is refused.
    Status s = component::register_domains(*this, *config_);
    for (const auto& m : modules) {
        if (!s) break;
        s = start_module(m, *config_, modules_);
        if (!s) break;
    }
    if (s) s = open_listeners();
    if (s && index_ == 0 && shared_.accounts) {
        // After the modules started: their purges are registered.
        account_purge_ = std::make_unique<AccountPurge>(*this);
        account_purge_->start();
    }
    if (s) {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        accepting_posts_ = true;
    }
    bool ok = s.is_ok();
    if (!ok) begin_shutdown();
    started.set_value(std::move(s));  // `started` must not be touched after this
    if (ok) log::debug("worker", "worker {} running", index_);
    uv_run(&loop_, UV_RUN_DEFAULT);
    // Drain anything left (closing handles), then close the loop cleanly.
    uv_run(&loop_, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&loop_);
    if (rc != 0) log::warn("worker", "worker {}: loop closed with handles open: {}", index_, uv_err_name(rc));
}

Status Worker::open_listeners() {
    const auto& c = config_->c2s;
    using Kind = Listener::Kind;
    struct Want {
        std::string address;
        uint16_t port;
        net::TlsSession::Mode mode;
        Kind kind;
    };
    std::vector<Want> wanted = {Want{c.address, c.starttls_port, net::TlsSession::Mode::starttls, Kind::c2s},
                                Want{c.address, c.direct_tls_port, net::TlsSession::Mode::direct, Kind::c2s}};
    // XEP-0114: only when a component is configured.
    if (!config_->components.empty())
        wanted.push_back(Want{config_->component_listener.address, config_->component_listener.port,
                              net::TlsSession::Mode::starttls, Kind::component});
    if (const auto& s2s = config_->s2s; s2s.enabled) {
        wanted.push_back(Want{s2s.address, s2s.port, net::TlsSession::Mode::starttls, Kind::s2s});
        wanted.push_back(Want{s2s.address, s2s.direct_tls_port, net::TlsSession::Mode::direct, Kind::s2s});
    }
    for (const Want& w : wanted) {
        if (w.port == 0) continue;
        struct sockaddr_storage addr {};
        int family = AF_INET;
        if (uv_ip4_addr(w.address.c_str(), w.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
            family = AF_INET6;
            if (uv_ip6_addr(w.address.c_str(), w.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
                return Status::error("listen", fmt::format("address '{}' is not an IP address", w.address));
        }
        int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) return Status::error("listen", fmt::format("socket: {}", std::strerror(errno)));
        int one = 1;
        ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        // Each worker binds its own socket; the kernel spreads connections.
        if (::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            int e = errno;
            ::close(fd);
            return Status::error("listen", fmt::format("SO_REUSEPORT: {}", std::strerror(e)));
        }
        socklen_t len = family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
        if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
            int e = errno;
            ::close(fd);
            return Status::error("listen", fmt::format("bind {}:{}: {}", w.address, w.port, std::strerror(e)));
        }
        auto l = std::make_unique<Listener>();
        l->worker = this;
        l->mode = w.mode;
        l->kind = w.kind;
        uv_tcp_init(&loop_, &l->handle);
        l->handle.data = l.get();
        int rc = uv_tcp_open(&l->handle, fd);
        if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->handle), 1024, &Worker::on_connection);
        if (rc != 0) {
            uv_close(reinterpret_cast<uv_handle_t*>(&l->handle), nullptr);
            listeners_.push_back(std::move(l));  // freed after the close completes, with the worker
            return Status::error("listen", fmt::format("listen {}:{}: {}", w.address, w.port, uv_strerror(rc)));
        }
        if (index_ == 0)
            log::info("worker", "listening on {}:{} ({} {})", w.address, w.port,
                      w.kind == Kind::component ? "XEP-0114" : w.kind == Kind::s2s ? "s2s" : "c2s",
                      w.kind == Kind::component                   ? "components"
                      : w.mode == net::TlsSession::Mode::direct ? "direct TLS"
                                                                  : "STARTTLS");
        listeners_.push_back(std::move(l));
    }
    return Status::ok();
}

void Worker::on_connection(uv_stream_t* server, int status) {
    auto* l = static_cast<Listener*>(server->data);
    Worker& w = *l->worker;
    if (status < 0) {
        log::warn("worker", "accept failed: {}", uv_strerror(status));
        return;
    }
    if (w.shutting_down_) return;
    if (l->kind == Listener::Kind::component) {
        Status s = component::Session::accept(w, server);
        if (!s) log::warn("component", "accept failed: {}", s.message());
        return;
    }
    if (l->kind == Listener::Kind::s2s) {
        Status s = s2s::Inbound::accept(w, server, l->mode == net::TlsSession::Mode::direct);
        if (!s) log::warn("s2s", "accept failed: {}", s.message());
        return;
    }
    Status s = c2s::Session::accept(w, server, l->mode);
    if (!s) log::warn("c2s", "accept failed: {}", s.message());
}

Status Worker::start_module(const std::shared_ptr<const module::LoadedModule>& m, const config::Config& cfg,
                            std::vector<std::unique_ptr<RunningModule>>& into) {
    auto rm = std::make_unique<RunningModule>();
    rm->loaded = m;
    // The host (and each of its timers) keeps the library loaded until the
    // last callback the module registered is gone.
    rm->host = std::make_unique<WorkerHost>(*this, m->name(), module::section_for(cfg, m->name()), m);
    rm->instance = m->create_instance();
    rm->host->set_instance(rm->instance.get());
    Status s = Status::ok();
    try {
        s = rm->instance->configure(rm->host->config());
        if (s) s = rm->instance->start(*rm->host);
    } catch (const std::exception& e) {
        s = Status::error("module", e.what());
    } catch (...) {
        s = Status::error("module", "unknown exception");
    }
    if (!s) {
        rm->host->drop_all();
        return Status::error("module", fmt::format("module {} failed to start on worker {}: {}", m->name(), index_,
                                                   s.message()));
    }
    into.push_back(std::move(rm));
    return Status::ok();
}

void Worker::stop_module(RunningModule& rm) {
    try {
        rm.instance->stop();
    } catch (...) {
        log::error("module", "module {} failed to stop cleanly", rm.loaded->name());
    }
    rm.host->drop_all();
    rm.host->set_instance(nullptr);
    rm.instance.reset();
}

void Worker::stop_modules() {
    // Reverse start order: a module stops before the modules it depends on.
    for (auto it = modules_.rbegin(); it != modules_.rend(); ++it) stop_module(**it);
    modules_.clear();
}

std::vector<std::string> Worker::module_names() const {
    std::vector<std::string> out;
    for (const auto& rm : modules_) out.push_back(rm->loaded->name());
    return out;
}

Status Worker::prepare_reload(std::shared_ptr<const config::Config> cfg,
                              const std::vector<std::shared_ptr<const module::LoadedModule>>& modules) {
    rollback_reload();  // never two prepared reloads at once
    if (shutting_down_) return Status::error("reload", fmt::format("worker {} is shutting down", index_));
    pending_reload_ = std::make_unique<PendingReload>();
    PendingReload& p = *pending_reload_;
    p.config = std::move(cfg);
    p.modules = modules;
    for (const auto& m : modules) {
        auto it = std::find_if(modules_.begin(), modules_.end(), [&](const auto& rm) { return rm->loaded == m; });
        Status s = Status::ok();
        if (it != modules_.end()) {
            // Counted before the call: a module that threw half-way through
            // is given its old section again on rollback too.
            p.reloaded.push_back(it->get());
            try {
                s = (*it)->instance->reload(module::section_for(*p.config, m->name()));
            } catch (const std::exception& e) {
                s = Status::error("module", e.what());
            } catch (...) {
                s = Status::error("module", "unknown exception");
            }
            if (!s)
                s = Status::error("module", fmt::format("module {} refused its new settings on worker {}: {}",
                                                        m->name(), index_, s.message()));
        } else {
            s = start_module(m, *p.config, p.started);
        }
        if (!s) {
            rollback_reload();
            return s;
        }
    }
    return Status::ok();
}

void Worker::commit_reload() {
    if (!pending_reload_) return;
    std::unique_ptr<PendingReload> p = std::move(pending_reload_);
    config_ = p->config;
    for (RunningModule* rm : p->reloaded) rm->host->set_section(module::section_for(*config_, rm->loaded->name()));
    // The new set in its dependency order; what is left in modules_ is no
    // longer configured and stops.
    std::vector<std::unique_ptr<RunningModule>> next;
    for (const auto& m : p->modules) {
        auto it = std::find_if(modules_.begin(), modules_.end(), [&](const auto& rm) { return rm && rm->loaded == m; });
        if (it != modules_.end()) {
            next.push_back(std::move(*it));
            continue;
        }
        auto st = std::find_if(p->started.begin(), p->started.end(), [&](const auto& rm) { return rm && rm->loaded == m; });
        if (st != p->started.end()) next.push_back(std::move(*st));
    }
    std::erase_if(modules_, [](const auto& rm) { return !rm; });
    stop_modules();
    modules_ = std::move(next);
}

void Worker::rollback_reload() {
    if (!pending_reload_) return;
    std::unique_ptr<PendingReload> p = std::move(pending_reload_);
    for (auto it = p->started.rbegin(); it != p->started.rend(); ++it) stop_module(**it);
    for (RunningModule* rm : p->reloaded) {
        // The section the module ran with before; it validated then.
        Status s = Status::ok();
        try {
            s = rm->instance->reload(rm->host->config());
        } catch (const std::exception& e) {
            s = Status::error("module", e.what());
        } catch (...) {
            s = Status::error("module", "unknown exception");
        }
        if (!s)
            log::error("module", "module {} on worker {} cannot go back to its old settings: {}", rm->loaded->name(),
                       index_, s.message());
    }
}

Status reload_workers(const std::vector<Worker*>& workers, std::shared_ptr<const config::Config> cfg,
                      const std::vector<std::shared_ptr<const module::LoadedModule>>& modules) {
    std::vector<std::pair<Worker*, std::future<Status>>> prepared;
    Status first = Status::ok();
    for (Worker* w : workers) {
        auto done = std::make_shared<std::promise<Status>>();
        auto result = done->get_future();
        bool posted = w->post([done, cfg, modules](Worker& worker) {
            Status s = Status::error("reload", "internal error");
            try {
                s = worker.prepare_reload(cfg, modules);
            } catch (const std::exception& e) {
                worker.rollback_reload();
                s = Status::error("reload", e.what());
            }
            done->set_value(std::move(s));
        });
        if (!posted) {
            first = Status::error("reload", fmt::format("worker {} is stopping", w->index()));
            break;
        }
        prepared.emplace_back(w, std::move(result));
    }
    for (auto& [w, result] : prepared) {
        Status s = Status::ok();
        try {
            s = result.get();
        } catch (const std::future_error&) {
            // The worker stopped before it ran the request (its inbox was dropped).
            s = Status::error("reload", fmt::format("worker {} stopped during the reload", w->index()));
        }
        if (!s && first) first = s;
    }
    // Commit (or roll back) everywhere, and wait for it: when the reload is
    // reported done, every worker runs the new configuration.
    std::vector<std::future<void>> applied;
    const bool commit = static_cast<bool>(first);
    for (auto& [w, result] : prepared) {
        auto done = std::make_shared<std::promise<void>>();
        auto fut = done->get_future();
        const bool posted = w->post([done, commit](Worker& worker) {
            if (commit) worker.commit_reload();
            else worker.rollback_reload();
            done->set_value();
        });
        if (posted) applied.push_back(std::move(fut));
        else if (first) first = Status::error("reload", fmt::format("worker {} stopped during the reload", w->index()));
    }
    for (auto& fut : applied) {
        try {
            fut.get();
        } catch (const std::future_error&) {
            // The worker stopped before it ran the request: it is going away.
        }
    }
    return first;
}

bool Worker::post(std::function<void(Worker&)> fn) {
    // The wake happens under the inbox lock: maybe_finish_shutdown() stops
    // accepting posts under the same lock before it closes the async handle,
    // so no thread can wake a loop that is closing or closed (libuv aborts
    // in uv_async_send then). uv_async_send only writes to an eventfd.
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    if (!accepting_posts_) return false;
    inbox_.push_back(std::move(fn));
    uv_async_send(&async_);
    return true;
}

void Worker::on_async(uv_async_t* h) { static_cast<Worker*>(h->data)->drain_inbox(); }

void Worker::drain_inbox() {
    // uv_async_send coalesces wakes: take everything queued so far.
    std::vector<std::function<void(Worker&)>> batch;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        batch.swap(inbox_);
    }
    for (auto& fn : batch) {
        try {
            fn(*this);
        } catch (const std::exception& e) {
            log::error("worker", "worker {}: posted task failed: {}", index_, e.what());
        }
    }
}

void Worker::request_shutdown() {
    post([](Worker& w) { w.begin_shutdown(); });
}

void Worker::begin_shutdown() {
    if (shutting_down_) return;
    shutting_down_ = true;
    if (account_purge_) account_purge_->close();
    if (s2s_) s2s_->stop();
    for (auto& l : listeners_)
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&l->handle)))
            uv_close(reinterpret_cast<uv_handle_t*>(&l->handle), nullptr);
    std::vector<net::StreamTransport*> all;
    for (auto& [t, _] : transports_) all.push_back(t);
    for (auto* t : all) t->shutdown_stream();
    // Sessions kept without a connection (for a resumption) end now.
    std::vector<uint64_t> ids;
    for (const auto& [id, s] : sessions_) ids.push_back(id);
    for (uint64_t id : ids)
        if (sessions::LocalSession* s = find_session(id))
            s->end_with(xmpp::StreamErrorCondition::system_shutdown, "the server is shutting down");
    // Modules stop once every connection is gone (maybe_finish_shutdown), so
    // that they see the `closed` event of each session first.
    rollback_reload();
    flush_dirty();
    // Streams get a moment to flush their goodbyes; then they are cut.
    uv_timer_start(&shutdown_timer_, &Worker::on_shutdown_timer, 2000, 0);
    maybe_finish_shutdown();
}

void Worker::on_shutdown_timer(uv_timer_t* t) {
    auto* w = static_cast<Worker*>(t->data);
    w->shutdown_deadline_passed_ = true;
    std::vector<net::StreamTransport*> all;
    for (auto& [tr, _] : w->transports_) all.push_back(tr);
    for (auto* tr : all) tr->close_now();
    w->maybe_finish_shutdown();
}

void Worker::maybe_finish_shutdown() {
    if (!shutting_down_ || !transports_.empty()) return;
    // Stanzas held for a durable write (archive, offline storage) are
    // carried out once their writes complete: wait for them, up to the
    // shutdown deadline.
    if (router_ && router_->waiting() > 0 && !shutdown_deadline_passed_) {
        // Posted: the last release runs inside a module's completion, which
        // must not stop the modules under its own feet.
        router_->set_on_idle([this] { post([](Worker& w) { w.maybe_finish_shutdown(); }); });
        return;
    }
    if (router_) router_->stop();
    stop_modules();
    std::vector<std::function<void(Worker&)>> dropped;
    {
        std::lock_guard<std::mutex> lock(inbox_mutex_);
        accepting_posts_ = false;
        dropped.swap(inbox_);
    }
    dropped.clear();  // outside the lock: a task's destructor may post elsewhere
    auto close = [](auto* h) {
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(h))) uv_close(reinterpret_cast<uv_handle_t*>(h), nullptr);
    };
    close(&async_);
    close(&prepare_);
    uv_timer_stop(&shutdown_timer_);
    close(&shutdown_timer_);
}

void Worker::join() {
    if (thread_.joinable()) thread_.join();
}

void Worker::on_prepare(uv_prepare_t* h) { static_cast<Worker*>(h->data)->flush_dirty(); }

void Worker::mark_dirty(net::StreamTransport* t) { dirty_.push_back(t); }

void Worker::flush_dirty() {
    // flush() may mark more transports dirty (never the same one twice in a
    // row), so walk by index.
    for (size_t i = 0; i < dirty_.size(); ++i) dirty_[i]->flush();
    dirty_.clear();
}

void Worker::add_transport(net::StreamTransport* t) { transports_[t] = true; }

void Worker::forget_transport(net::StreamTransport* t) {
    transports_.erase(t);
    std::erase(dirty_, t);
    if (shutting_down_) maybe_finish_shutdown();
}

void Worker::add_session(uint64_t id, sessions::LocalSession* s) { sessions_[id] = s; }
void Worker::remove_session(uint64_t id) { sessions_.erase(id); }
sessions::LocalSession* Worker::find_session(uint64_t id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
}

WorkerHost* Worker::module_host(std::string_view name) const {
    for (WorkerHost* h : module_hosts_)
        if (h->name() == name) return h;
    return nullptr;
}

void Worker::add_module_host(WorkerHost* h) { module_hosts_.push_back(h); }
void Worker::remove_module_host(WorkerHost* h) { std::erase(module_hosts_, h); }

}  // namespace parley::loop

#include "loop/worker.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "c2s/session.hpp"
#include "log/log.hpp"
#include "loop/worker_host.hpp"
#include "net/stream_transport.hpp"
#include "router/router.hpp"

namespace parley::loop {

struct Worker::Listener {
    uv_tcp_t handle{};
    Worker* worker = nullptr;
    net::TlsSession::Mode mode = net::TlsSession::Mode::starttls;
};

struct Worker::RunningModule {
    std::shared_ptr<const module::LoadedModule> loaded;
    std::unique_ptr<WorkerHost> host;
    std::unique_ptr<module::Module, void (*)(module::Module*)> instance{nullptr, nullptr};
};

Worker::Worker(unsigned index, daemon::Shared& shared)
    : index_(index), shared_(shared), read_buffer_(new char[kReadBufferSize]) {}

Worker::~Worker() { join(); }

Status Worker::start(const std::vector<std::shared_ptr<const module::LoadedModule>>& modules) {
    config_ = shared_.config();
    std::promise<Status> started;
    auto fut = started.get_future();
    thread_ = std::thread([this, &started, modules] { run(started, modules); });
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

    Status s = Status::ok();
    for (const auto& m : modules) {
        s = start_module(m);
        if (!s) break;
    }
    if (s) s = open_listeners();
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
    struct Want {
        uint16_t port;
        net::TlsSession::Mode mode;
    };
    for (Want w : {Want{c.starttls_port, net::TlsSession::Mode::starttls}, Want{c.direct_tls_port, net::TlsSession::Mode::direct}}) {
        if (w.port == 0) continue;
        struct sockaddr_storage addr {};
        int family = AF_INET;
        if (uv_ip4_addr(c.address.c_str(), w.port, reinterpret_cast<sockaddr_in*>(&addr)) != 0) {
            family = AF_INET6;
            if (uv_ip6_addr(c.address.c_str(), w.port, reinterpret_cast<sockaddr_in6*>(&addr)) != 0)
                return Status::error("listen", fmt::format("c2s.address '{}' is not an IP address", c.address));
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
            return Status::error("listen", fmt::format("bind {}:{}: {}", c.address, w.port, std::strerror(e)));
        }
        auto l = std::make_unique<Listener>();
        l->worker = this;
        l->mode = w.mode;
        uv_tcp_init(&loop_, &l->handle);
        l->handle.data = l.get();
        int rc = uv_tcp_open(&l->handle, fd);
        if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&l->handle), 1024, &Worker::on_connection);
        if (rc != 0) {
            uv_close(reinterpret_cast<uv_handle_t*>(&l->handle), nullptr);
            listeners_.push_back(std::move(l));  // freed after the close completes, with the worker
            return Status::error("listen", fmt::format("listen {}:{}: {}", c.address, w.port, uv_strerror(rc)));
        }
        if (index_ == 0)
            log::info("worker", "listening on {}:{} ({})", c.address, w.port,
                      w.mode == net::TlsSession::Mode::direct ? "c2s direct TLS" : "c2s STARTTLS");
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
    auto* session = new c2s::Session(w, l->mode);
    Status s = session->accept_from(server);
    if (!s) log::warn("c2s", "accept failed: {}", s.message());
}

Status Worker::start_module(const std::shared_ptr<const module::LoadedModule>& m) {
    auto rm = std::make_unique<RunningModule>();
    rm->loaded = m;
    rm->host = std::make_unique<WorkerHost>(*this, m->name(), module::section_for(*config_, m->name()));
    rm->instance = m->create_instance();
    Status s = Status::ok();
    try {
        s = rm->instance->configure(rm->host->config());
        if (s) s = rm->instance->start(*rm->host);
    } catch (const std::exception& e) {
        s = Status::error("module", e.what());
    }
    if (!s) {
        rm->host->drop_all();
        return Status::error("module", fmt::format("module {} failed to start: {}", m->name(), s.message()));
    }
    modules_.push_back(std::move(rm));
    return Status::ok();
}

void Worker::stop_module(RunningModule& rm) {
    try {
        rm.instance->stop();
    } catch (...) {
        log::error("module", "module {} failed to stop cleanly", rm.loaded->name());
    }
    rm.host->drop_all();
    rm.instance.reset();
}

void Worker::apply_reload(std::shared_ptr<const config::Config> cfg,
                          const std::vector<std::shared_ptr<const module::LoadedModule>>& modules) {
    config_ = std::move(cfg);
    // Stop modules no longer configured (or replaced by a new build of the file).
    for (auto& rm : modules_) {
        bool keep = std::any_of(modules.begin(), modules.end(), [&](const auto& m) { return m == rm->loaded; });
        if (!keep) stop_module(*rm);
    }
    std::erase_if(modules_, [](const auto& rm) { return !rm->instance; });
    for (const auto& m : modules) {
        auto it = std::find_if(modules_.begin(), modules_.end(), [&](const auto& rm) { return rm->loaded == m; });
        if (it != modules_.end()) {
            auto section = module::section_for(*config_, m->name());
            Status s = (*it)->instance->reload(section);
            if (s) (*it)->host->set_section(std::move(section));
            else log::error("module", "module {} kept its old settings: {}", m->name(), s.message());
        } else {
            Status s = start_module(m);
            if (!s) log::error("module", "{}", s.message());
        }
    }
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
    for (auto& l : listeners_)
        if (!uv_is_closing(reinterpret_cast<uv_handle_t*>(&l->handle)))
            uv_close(reinterpret_cast<uv_handle_t*>(&l->handle), nullptr);
    std::vector<net::StreamTransport*> all;
    for (auto& [t, _] : transports_) all.push_back(t);
    for (auto* t : all) t->shutdown_stream();
    for (auto& rm : modules_) stop_module(*rm);
    modules_.clear();
    flush_dirty();
    // Streams get a moment to flush their goodbyes; then they are cut.
    uv_timer_start(&shutdown_timer_, &Worker::on_shutdown_timer, 2000, 0);
    maybe_finish_shutdown();
}

void Worker::on_shutdown_timer(uv_timer_t* t) {
    auto* w = static_cast<Worker*>(t->data);
    std::vector<net::StreamTransport*> all;
    for (auto& [tr, _] : w->transports_) all.push_back(tr);
    for (auto* tr : all) tr->close_now();
    w->maybe_finish_shutdown();
}

void Worker::maybe_finish_shutdown() {
    if (!shutting_down_ || !transports_.empty()) return;
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

void Worker::add_session(uint64_t id, c2s::Session* s) { sessions_[id] = s; }
void Worker::remove_session(uint64_t id) { sessions_.erase(id); }
c2s::Session* Worker::find_session(uint64_t id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() ? nullptr : it->second;
}

}  // namespace parley::loop

#include "http_server.hpp"

#include <uv.h>

#include <atomic>
#include <ctime>
#include <deque>
#include <list>
#include <mutex>
#include <thread>

#include "log/log.hpp"

namespace parley::mod_upload {

namespace {

constexpr size_t kMaxQueuedBytes = 256 * 1024;
constexpr size_t kChunk = 64 * 1024;
constexpr int64_t kLingerS = 2;  // reading and dropping what follows a refusal

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

Status uv_status(const char* what, int rc) { return Status::error("uv", std::string(what) + ": " + uv_strerror(rc)); }

}  // namespace

struct Conn;

struct HttpServer::Impl {
    uv_loop_t loop{};
    uv_tcp_t listener{};
    uv_async_t stop_async{};
    uv_timer_t sweep{};
    uv_async_t steps_async{};
    std::thread thread;
    std::shared_ptr<const module::TlsServer> tls;
    std::shared_ptr<FileStore> store;
    ListenOptions listen;
    std::mutex mutex;
    std::shared_ptr<const ServeSettings> settings;  // guarded by mutex
    std::list<Conn*> conns;
    int64_t next_purge = 0;
    bool stopping = false;
    std::mutex steps_mutex;
    std::deque<std::function<bool()>> steps;  // guarded by steps_mutex
    bool steps_closed = false;                // guarded by steps_mutex: steps_async is closing

    std::shared_ptr<const ServeSettings> current() {
        std::lock_guard<std::mutex> lock(mutex);
        return settings;
    }
};

// One client connection; deleted from its close callback.
struct Conn {
    uv_tcp_t tcp{};
    HttpServer::Impl* server = nullptr;
    std::list<Conn*>::iterator pos;
    std::unique_ptr<module::TlsStream> tls;
    std::unique_ptr<HttpExchange> exchange;
    int64_t last_active = 0;
    size_t queued = 0;
    bool closing = false;
    bool finished = false;   // the answer is complete: TLS bye queued, input dropped
    bool lingering = false;  // all written and half-closed: waiting for the client to go
};

struct WriteReq {
    uv_write_t req{};
    std::string data;
    Conn* conn = nullptr;
};

namespace {

void close_conn(Conn* c) {
    if (c->closing) return;
    c->closing = true;
    c->exchange.reset();  // an unfinished upload leaves no file
    uv_close(reinterpret_cast<uv_handle_t*>(&c->tcp), [](uv_handle_t* h) {
        auto* conn = static_cast<Conn*>(h->data);
        conn->server->conns.erase(conn->pos);
        delete conn;
    });
}

void pump(Conn* c);

void flush(Conn* c) {
    if (c->closing || !c->tls->has_output()) return;
    auto* w = new WriteReq();
    w->data = c->tls->take_output();
    w->conn = c;
    c->queued += w->data.size();
    uv_buf_t buf = uv_buf_init(w->data.data(), static_cast<unsigned>(w->data.size()));
    int rc = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&c->tcp), &buf, 1, [](uv_write_t* r, int status) {
        auto* w = reinterpret_cast<WriteReq*>(r);
        Conn* c = w->conn;
        c->queued -= w->data.size();
        delete w;
        if (c->closing) return;
        if (status < 0) return close_conn(c);
        c->last_active = unix_now();  // a download in progress is not idle
        pump(c);
    });
    if (rc < 0) {
        c->queued -= w->data.size();
        delete w;
        close_conn(c);
    }
}

// Moves what the exchange has to say into TLS, a download's body as the
// socket drains, and ends the connection once everything is written.
void pump(Conn* c) {
    if (c->closing || !c->exchange) return;
    if (c->tls->handshake_done()) {
        std::string out = c->exchange->take_output();
        if (!out.empty() && !c->tls->write(out)) return close_conn(c);
        while (c->exchange->body_pending() && c->queued < kMaxQueuedBytes) {
            std::string chunk = c->exchange->next_body_chunk(kChunk);
            if (chunk.empty()) {  // a read error: cut the response short
                flush(c);
                return close_conn(c);
            }
            if (!c->tls->write(chunk)) return close_conn(c);
            flush(c);
            if (c->closing) return;
        }
        if (c->exchange->answered() && !c->exchange->body_pending() && !c->finished) {
            c->finished = true;
            c->tls->bye();
        }
    }
    flush(c);
    if (!c->closing && c->finished && !c->lingering && c->queued == 0) {
        // Everything is written. Half-close and keep reading (dropping it)
        // a little while, so that a client still sending a refused body sees
        // the answer rather than a reset.
        c->lingering = true;
        c->last_active = unix_now();
        auto* req = new uv_shutdown_t();
        if (uv_shutdown(req, reinterpret_cast<uv_stream_t*>(&c->tcp), [](uv_shutdown_t* r, int) { delete r; }) < 0) {
            delete req;
            close_conn(c);
        }
    }
}

void on_read(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
    auto* c = static_cast<Conn*>(s->data);
    std::unique_ptr<char[]> owned(buf->base);
    if (c->closing) return;
    if (nread < 0) return close_conn(c);
    if (nread == 0) return;
    if (c->finished) return;  // lingering: dropped
    c->last_active = unix_now();
    std::string plain;
    Status st = c->tls->feed(buf->base, static_cast<size_t>(nread), plain);
    if (!st) {
        flush(c);
        return close_conn(c);
    }
    if (!plain.empty()) c->exchange->feed(plain.data(), plain.size());
    pump(c);
}

void on_connection(uv_stream_t* l, int status) {
    auto* server = static_cast<HttpServer::Impl*>(l->data);
    if (status < 0 || server->stopping) return;
    auto* c = new Conn();
    c->server = server;
    uv_tcp_init(&server->loop, &c->tcp);
    c->tcp.data = c;
    server->conns.push_back(c);
    c->pos = std::prev(server->conns.end());
    if (uv_accept(l, reinterpret_cast<uv_stream_t*>(&c->tcp)) < 0) return close_conn(c);
    auto settings = server->current();
    if (server->conns.size() > server->listen.max_connections) {
        log::warn("upload", "{} connections already; one more refused", server->listen.max_connections);
        return close_conn(c);
    }
    auto tls = server->tls->accept();
    if (!tls) {
        log::warn("upload", "TLS session: {}", tls.status().to_string());
        return close_conn(c);
    }
    c->tls = std::move(tls.value());
    c->exchange = std::make_unique<HttpExchange>(server->store, settings, [] { return unix_now(); });
    c->last_active = unix_now();
    uv_tcp_nodelay(&c->tcp, 1);
    int rc = uv_read_start(
        reinterpret_cast<uv_stream_t*>(&c->tcp),
        [](uv_handle_t*, size_t, uv_buf_t* b) {
            // A buffer per read, freed in on_read: reads are consumed at
            // once, so a connection owns no buffer while idle.
            b->base = new char[kChunk];
            b->len = kChunk;
        },
        on_read);
    if (rc < 0) close_conn(c);
}

void on_sweep(uv_timer_t* t) {
    auto* server = static_cast<HttpServer::Impl*>(t->data);
    auto settings = server->current();
    const int64_t now = unix_now();
    for (auto it = server->conns.begin(); it != server->conns.end();) {
        Conn* c = *it++;  // close_conn erases only in the close callback
        if (!c->closing && now - c->last_active >= (c->lingering ? kLingerS : settings->idle_timeout_s)) close_conn(c);
    }
    if (now >= server->next_purge) {
        server->next_purge = now + settings->purge_interval_s;
        size_t n = server->store->purge(now, settings->max_age_s);
        if (n) log::info("upload", "purged {} expired files", n);
    }
}

// Each queued step once per wake; the unfinished ones go back to the front
// of the queue and wake the loop again, after what it has to do meanwhile.
void run_steps(uv_async_t* a) {
    auto* s = static_cast<HttpServer::Impl*>(a->data);
    std::deque<std::function<bool()>> now;
    {
        std::lock_guard<std::mutex> lock(s->steps_mutex);
        now.swap(s->steps);
    }
    std::deque<std::function<bool()>> again;
    for (auto& step : now) {
        bool finished = true;
        try {
            finished = step();
        } catch (const std::exception& e) {
            log::error("upload", "a disk step failed: {}", e.what());
        }
        if (!finished) again.push_back(std::move(step));
    }
    if (again.empty()) return;
    std::lock_guard<std::mutex> lock(s->steps_mutex);
    if (s->steps_closed) return;
    s->steps.insert(s->steps.begin(), std::make_move_iterator(again.begin()), std::make_move_iterator(again.end()));
    uv_async_send(&s->steps_async);
}

void close_all(HttpServer::Impl* s) {
    s->stopping = true;
    {
        std::lock_guard<std::mutex> lock(s->steps_mutex);
        s->steps_closed = true;
    }
    for (auto it = s->conns.begin(); it != s->conns.end();) {
        Conn* c = *it++;
        close_conn(c);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&s->listener), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&s->sweep), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&s->stop_async), nullptr);
    uv_close(reinterpret_cast<uv_handle_t*>(&s->steps_async), nullptr);
}

}  // namespace

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<HttpServer>> HttpServer::start(const ListenOptions& listen,
                                                      std::shared_ptr<const module::TlsServer> tls,
                                                      std::shared_ptr<FileStore> store,
                                                      std::shared_ptr<const ServeSettings> settings) {
    auto impl = std::make_unique<Impl>();
    Impl* s = impl.get();
    s->tls = std::move(tls);
    s->store = std::move(store);
    s->listen = listen;
    s->settings = std::move(settings);
    s->next_purge = unix_now();
    int rc = uv_loop_init(&s->loop);
    if (rc < 0) return uv_status("uv_loop_init", rc);
    uv_tcp_init(&s->loop, &s->listener);
    s->listener.data = s;
    uv_async_init(&s->loop, &s->stop_async, [](uv_async_t* a) { close_all(static_cast<Impl*>(a->data)); });
    s->stop_async.data = s;
    uv_async_init(&s->loop, &s->steps_async, run_steps);
    s->steps_async.data = s;
    uv_timer_init(&s->loop, &s->sweep);
    s->sweep.data = s;

    sockaddr_storage addr{};
    rc = uv_ip4_addr(listen.address.c_str(), listen.port, reinterpret_cast<sockaddr_in*>(&addr));
    if (rc < 0) rc = uv_ip6_addr(listen.address.c_str(), listen.port, reinterpret_cast<sockaddr_in6*>(&addr));
    if (rc >= 0) rc = uv_tcp_bind(&s->listener, reinterpret_cast<const sockaddr*>(&addr), 0);
    if (rc >= 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(&s->listener), 128, on_connection);
    if (rc < 0) {
        Status err = uv_status(("listen on " + listen.address + ":" + std::to_string(listen.port)).c_str(), rc);
        close_all(s);
        uv_run(&s->loop, UV_RUN_DEFAULT);
        uv_loop_close(&s->loop);
        return err;
    }
    sockaddr_storage bound{};
    int len = sizeof bound;
    uv_tcp_getsockname(&s->listener, reinterpret_cast<sockaddr*>(&bound), &len);
    const uint16_t port = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                             : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
    uv_timer_start(&s->sweep, on_sweep, 1000, 1000);
    s->thread = std::thread([s] {
        uv_run(&s->loop, UV_RUN_DEFAULT);
        // Every handle is closed once close_all ran; the loop ends empty.
        if (uv_loop_close(&s->loop) != 0) log::error("upload", "the HTTP loop ended with handles open");
    });
    auto server = std::unique_ptr<HttpServer>(new HttpServer(std::move(impl)));
    server->port_ = port;
    log::info("upload", "HTTPS on {}:{}", listen.address, port);
    return server;
}

HttpServer::~HttpServer() {
    if (!impl_) return;
    uv_async_send(&impl_->stop_async);
    if (impl_->thread.joinable()) impl_->thread.join();
}

bool HttpServer::run(std::function<bool()> step) {
    std::lock_guard<std::mutex> lock(impl_->steps_mutex);
    if (impl_->steps_closed) return false;
    impl_->steps.push_back(std::move(step));
    uv_async_send(&impl_->steps_async);
    return true;
}

void HttpServer::set_settings(std::shared_ptr<const ServeSettings> settings) {
    std::lock_guard<std::mutex> lock(impl_->mutex);
    impl_->settings = std::move(settings);
}

}  // namespace parley::mod_upload

// The upload service's HTTPS listener: its own thread, its own libuv loop.
//
// start() binds the listener on the calling thread (so that a port in use
// is an error of the module's start, with the address in it), then runs the
// loop on a new thread; the destructor asks the loop to stop (uv_async),
// closes every connection (an unfinished upload leaves no file) and joins
// the thread, so a module that stops or reloads leaves no thread behind.
// Each connection is TLS (a module::TlsStream of the TlsServer the host
// made for the listener's certificate: the server's TLS code and policy) carrying one HttpExchange. Limits: at most
// max_connections at once (more are closed at accept), and a connection
// idle for idle_timeout_s, or mid-handshake that long, is closed. A
// download is read from disk only as the socket drains (at most 256 KiB
// queued per connection), an upload is written as it arrives: memory per
// connection stays bounded whatever the file's size. The same loop purges
// expired files every purge_interval_s, and runs the module's other disk
// work (run(): a deleted account's files) in bounded steps between requests.
//
// Disk I/O is blocking on this thread, which serves nothing else: a slow
// disk slows uploads and downloads, never the XMPP workers.
//
// Thread affinity: start() and the destructor on the owning module's worker;
// set_settings() and run() from any thread; everything else on the HTTP
// thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "errors/status.hpp"
#include "file_store.hpp"
#include "http_exchange.hpp"
#include "module/tls.hpp"

namespace parley::mod_upload {

struct ListenOptions {
    std::string address = "127.0.0.1";
    uint16_t port = 5443;
    size_t max_connections = 256;
    friend bool operator==(const ListenOptions&, const ListenOptions&) = default;
};

class HttpServer {
public:
    static Result<std::unique_ptr<HttpServer>> start(const ListenOptions& listen,
                                                     std::shared_ptr<const module::TlsServer> tls,
                                                     std::shared_ptr<FileStore> store,
                                                     std::shared_ptr<const ServeSettings> settings);
    ~HttpServer();
    HttpServer(const HttpServer&) = delete;
    HttpServer& operator=(const HttpServer&) = delete;

    void set_settings(std::shared_ptr<const ServeSettings> settings);
    // Runs `step` on the HTTP thread, and again on a later turn of its loop
    // while it returns false: blocking disk work in bounded pieces, with
    // requests served in between. False when the server is stopping (step
    // is not run). A step still unfinished when the server stops is dropped
    // without a word: its owner, who joined the thread, finds it unfinished.
    bool run(std::function<bool()> step);
    uint16_t port() const { return port_; }

    struct Impl;

private:
    explicit HttpServer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
    uint16_t port_ = 0;
};

}  // namespace parley::mod_upload

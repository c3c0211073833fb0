// Daemon: parleyd's process-wide life: start, signals, reload, shutdown.
//
// Runs on the main thread with its own libuv loop, which handles signals
// (SIGTERM/SIGINT: shut down; SIGHUP: reload) and the control socket. The
// workers do all network and stanza work. Main thread only.
#pragma once

#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "control/control_server.hpp"
#include "daemon/shared.hpp"
#include "loop/worker.hpp"
#include "module/services.hpp"

namespace parley::daemon {

class Daemon {
public:
    explicit Daemon(std::string config_path) : config_path_(std::move(config_path)) {}
    ~Daemon();
    // Loads everything and runs until shut down. Returns the exit code.
    int run();
    // Re-reads the config and modules; on any error the old ones stay.
    Status reload();
    void request_shutdown();
    Shared& shared() { return shared_; }
    unsigned worker_count() const { return static_cast<unsigned>(workers_.size()); }

private:
    Status start();
    // Takes an exclusive lock on data_dir/parleyd.lock (holding our pid).
    Status lock_data_dir(const std::string& dir);
    static void on_signal(uv_signal_t* h, int signum);

    std::string config_path_;
    uv_loop_t loop_{};
    uv_signal_t sigterm_{}, sigint_{}, sighup_{};
    Shared shared_;
    std::unique_ptr<store::Env> env_;
    std::unique_ptr<store::AccountStore> accounts_;
    std::unique_ptr<sessions::LocalRegistry> registry_;
    std::unique_ptr<sasl::LoginThrottle> throttle_;
    std::vector<std::shared_ptr<const module::LoadedModule>> modules_;
    std::unique_ptr<module::ServiceSet> services_;
    std::vector<std::unique_ptr<loop::Worker>> workers_;
    std::unique_ptr<control::ControlServer> control_;
    bool shutting_down_ = false;
    int lock_fd_ = -1;
};

// Builds the TLS context from the virtual hosts' certificates.
Result<std::shared_ptr<const net::TlsContext>> make_tls(const config::Config& cfg);
// Builds each virtual host's TLS client context for s2s (empty when s2s is off).
Result<std::shared_ptr<const Shared::S2sClients>> make_s2s_clients(const config::Config& cfg);

}  // namespace parley::daemon

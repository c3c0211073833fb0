// Shared: the state every worker may read, owned by the daemon.
//
// The config and the TLS context are immutable snapshots swapped as a whole
// at reload (readers take a shared_ptr copy under a mutex). The account
// store, registry, login throttle and connection limiter are thread-safe
// objects. The worker
// list is fixed before the first worker starts. Any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <mutex>
#include <string_view>
#include <vector>

#include "component/directory.hpp"
#include "config/config.hpp"
#include "net/connection_limiter.hpp"
#include "net/tls.hpp"
#include "sasl/sasl_server.hpp"
#include "sessions/registry.hpp"
#include "store/accounts.hpp"

namespace parley::loop {
class Worker;
}
namespace parley::module {
class ServiceSet;
}

namespace parley::daemon {

class Shared {
public:
    std::shared_ptr<const config::Config> config() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return config_;
    }
    void set_config(std::shared_ptr<const config::Config> c) {
        std::lock_guard<std::mutex> lock(mutex_);
        config_ = std::move(c);
    }
    std::shared_ptr<const net::TlsContext> tls() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return tls_;
    }
    void set_tls(std::shared_ptr<const net::TlsContext> t) {
        std::lock_guard<std::mutex> lock(mutex_);
        tls_ = std::move(t);
    }

    // Server-to-server: the TLS client context of each virtual host (its
    // certificate, shown to peers for SASL EXTERNAL; the CAs of [s2s]
    // ca_file), swapped as a whole at reload; empty unless s2s is enabled.
    using S2sClients = std::map<std::string, std::shared_ptr<const net::TlsContext>>;
    std::shared_ptr<const S2sClients> s2s_clients() const {
        std::lock_guard<std::mutex> lock(mutex_);
        return s2s_clients_;
    }
    void set_s2s_clients(std::shared_ptr<const S2sClients> c) {
        std::lock_guard<std::mutex> lock(mutex_);
        s2s_clients_ = std::move(c);
    }

    uint64_t next_session_id() { return next_session_id_.fetch_add(1) + 1; }
    // The dialback secret (s2s/dialback.hpp): made before the workers start,
    // constant after; never logged.
    std::string dialback_secret;

    store::AccountStore* accounts = nullptr;
    sessions::Registry* registry = nullptr;
    sasl::LoginThrottle* throttle = nullptr;
    std::shared_ptr<net::ConnectionLimiter> limiter;
    module::ServiceSet* services = nullptr;  // process-wide services of modules; null in some tests
    std::vector<loop::Worker*> workers;
    // Where each connected XEP-0114 component runs (thread-safe itself).
    component::Directory components;
    std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const config::Config> config_;
    std::shared_ptr<const net::TlsContext> tls_;
    std::shared_ptr<const S2sClients> s2s_clients_ = std::make_shared<const S2sClients>();
    std::atomic<uint64_t> next_session_id_{0};
};

}  // namespace parley::daemon

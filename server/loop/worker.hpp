// Worker: one thread running one libuv loop.
//
// A worker accepts its own connections (one SO_REUSEPORT listener socket per
// worker and port), owns them for their whole life, runs one instance of
// every module, and routes what its sessions send. Other threads reach it
// only through post(): a self-contained function queued in its inbox and run
// on its loop (MPSC queue + uv_async_t; a wake drains the whole queue).
//
// Writes are coalesced per loop iteration: transports mark themselves dirty
// and the worker flushes them all in its uv_prepare callback, just before the
// loop polls again.
//
// Thread affinity: post(), index() and join() from any thread; everything
// else only on the worker's own loop thread.
#pragma once

#include <uv.h>

#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "daemon/shared.hpp"
#include "hooks/hook_table.hpp"
#include "module/loader.hpp"

namespace parley::net {
class StreamTransport;
}
namespace parley::sessions {
class LocalSession;
}
namespace parley::store {
class Executor;
}
namespace parley::router {
class Router;
}
namespace parley::s2s {
class Links;
}

namespace parley::loop {

class WorkerHost;
class AccountPurge;

class Worker {
public:
    Worker(unsigned index, daemon::Shared& shared);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Starts the thread: opens listeners, starts modules. Returns once the
    // worker is running, or the first error (then the thread has ended).
    Status start(const std::vector<std::shared_ptr<const module::LoadedModule>>& modules);
    // Any thread. Runs fn on this worker's loop. Returns false (fn is not
    // run) once the worker has stopped or is in its final teardown; safe to
    // call at any time until the Worker is destroyed. Tasks still queued when
    // the worker stops are destroyed without running.
    bool post(std::function<void(Worker&)> fn);
    // Any thread: asks the worker to end every stream with <system-shutdown/>,
    // stop modules and leave its loop; join() waits for the thread.
    void request_shutdown();
    void join();

    unsigned index() const { return index_; }
    uv_loop_t* loop() { return &loop_; }
    daemon::Shared& shared() { return shared_; }
    hooks::HookTable& hooks() { return hooks_; }
    router::Router& router() { return *router_; }
    s2s::Links& s2s() { return *s2s_; }
    const config::Config& config() const { return *config_; }  // this worker's snapshot

    // The read buffer every connection of this worker reads into (no idle
    // connection owns one).
    char* read_buffer() { return read_buffer_.get(); }
    size_t read_buffer_size() const { return kReadBufferSize; }

    // Where the completions of this worker's store writes run: its inbox.
    store::Executor& store_executor() { return *store_executor_; }

    void mark_dirty(net::StreamTransport* t);
    void forget_transport(net::StreamTransport* t);
    void add_transport(net::StreamTransport* t);

    void add_session(uint64_t id, sessions::LocalSession* s);
    void remove_session(uint64_t id);
    sessions::LocalSession* find_session(uint64_t id) const;
    template <class Fn>
    void for_each_session(Fn&& fn) const {
        for (const auto& [id, s] : sessions_) fn(*s);
    }
    // Worker 0's purge of deleted accounts (nullptr elsewhere, and before
    // the worker runs or once it shuts down).
    AccountPurge* account_purge() { return account_purge_.get(); }
    // The host of the running module `name` on this worker, or nullptr.
    // Each WorkerHost registers itself for its lifetime.
    WorkerHost* module_host(std::string_view name) const;
    void add_module_host(WorkerHost* h);
    void remove_module_host(WorkerHost* h);
    size_t session_count() const { return sessions_.size(); }
    bool shutting_down() const { return shutting_down_; }
    size_t connection_count() const { return transports_.size(); }

    // Reload (SIGHUP) in two phases, driven for all workers by
    // reload_workers() below. Loop thread only. prepare_reload() gives each
    // running module that stays its new section (Module::reload) and starts
    // the modules that are new, in `modules` order (dependency order); on the
    // first failure it undoes what it did and returns the error.
    // commit_reload() then adopts the config, stops the modules no longer
    // configured and keeps the new order; rollback_reload() undoes a
    // successful prepare (new modules stopped, reconfigured ones given their
    // old section again). Both do nothing without a prepared reload.
    Status prepare_reload(std::shared_ptr<const config::Config> cfg,
                          const std::vector<std::shared_ptr<const module::LoadedModule>>& modules);
    void commit_reload();
    void rollback_reload();
    // Loop thread: the names of the running modules, in start order.
    std::vector<std::string> module_names() const;

private:
    static constexpr size_t kReadBufferSize = 64 * 1024;
    struct Listener;
    struct RunningModule;
    struct PendingReload;

    void run(std::promise<Status>& started, const std::vector<std::shared_ptr<const module::LoadedModule>>& modules);
    Status open_listeners();
    // Starts an instance of m with its section of cfg; appends it to `into`.
    Status start_module(const std::shared_ptr<const module::LoadedModule>& m, const config::Config& cfg,
                        std::vector<std::unique_ptr<RunningModule>>& into);
    void stop_module(RunningModule& rm);
    void stop_modules();
    void drain_inbox();
    void flush_dirty();
    void begin_shutdown();
    void maybe_finish_shutdown();

    static void on_async(uv_async_t* h);
    static void on_prepare(uv_prepare_t* h);
    static void on_connection(uv_stream_t* server, int status);
    static void on_shutdown_timer(uv_timer_t* t);

    unsigned index_;
    daemon::Shared& shared_;
    std::shared_ptr<const config::Config> config_;
    uv_loop_t loop_{};
    uv_async_t async_{};
    uv_prepare_t prepare_{};
    uv_timer_t shutdown_timer_{};
    std::thread thread_;
    std::mutex inbox_mutex_;
    std::vector<std::function<void(Worker&)>> inbox_;
    bool accepting_posts_ = false;  // guarded by inbox_mutex_
    bool shutting_down_ = false;
    bool shutdown_deadline_passed_ = false;
    std::unique_ptr<char[]> read_buffer_;
    hooks::HookTable hooks_;
    std::unique_ptr<router::Router> router_;
    std::unique_ptr<s2s::Links> s2s_;
    std::vector<std::unique_ptr<Listener>> listeners_;
    std::vector<std::unique_ptr<RunningModule>> modules_;  // in start (dependency) order
    std::unique_ptr<PendingReload> pending_reload_;
    std::unique_ptr<AccountPurge> account_purge_;  // worker 0
    std::vector<net::StreamTransport*> dirty_;
    std::unordered_map<net::StreamTransport*, bool> transports_;
    std::unordered_map<uint64_t, sessions::LocalSession*> sessions_;
    std::vector<WorkerHost*> module_hosts_;
    std::unique_ptr<store::Executor> store_executor_;
};

// Main thread: applies a reloaded config and module set to every worker,
// all or nothing. Each worker prepares (see Worker::prepare_reload) while
// the caller waits; if every worker prepared, all commit, otherwise all roll
// back and the first error is returned; the caller waits for that too, so a
// reload reported done is in force on every worker. No worker is left with another
// module set or other module settings than the rest. A worker that is
// stopping counts as a failure. The wait is for the workers to drain their
// inboxes up to the request, which they do between two loop iterations.
Status reload_workers(const std::vector<Worker*>& workers, std::shared_ptr<const config::Config> cfg,
                      const std::vector<std::shared_ptr<const module::LoadedModule>>& modules);

}  // namespace parley::loop

// ServiceSet: the process-wide services of the loaded modules (module::Service).
//
// The daemon starts them in the modules' dependency order before any worker
// starts its module instances, and stops them in reverse order after every
// worker has stopped; a reload starts the services of new modules and
// reloads the others before the workers switch, and stops the services of
// removed modules only after the workers have committed (so no module still
// running can hold a stopped service). find() is the lookup behind
// Host::service(): any thread, under a shared lock (modules look their
// services up once, at start, not per stanza). Everything else: the
// daemon's thread.
#pragma once

#include <memory>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "module/loader.hpp"
#include "module/module_api.hpp"

namespace parley::module {

class ServiceSet {
public:
    ServiceSet();
    ~ServiceSet();  // stops what still runs
    ServiceSet(const ServiceSet&) = delete;
    ServiceSet& operator=(const ServiceSet&) = delete;

    // Starts the service of each module that provides one, in order. On the
    // first failure the ones started are stopped and the error returned.
    Status start(const std::vector<std::shared_ptr<const LoadedModule>>& modules, const config::Config& cfg,
                 unsigned workers);
    // Reload, phase one: new modules' services start, running ones get their
    // new section. On failure everything is undone and the error returned.
    Status prepare_reload(const std::vector<std::shared_ptr<const LoadedModule>>& modules, const config::Config& cfg);
    // Phase two, after the workers committed: services of modules no longer
    // configured stop. rollback_reload() undoes a successful prepare instead.
    void commit_reload();
    void rollback_reload();
    void stop_all();

    Service* find(std::string_view name) const;
    std::vector<std::string> names() const;

private:
    struct Running;
    class HostImpl;
    Status start_one(const std::shared_ptr<const LoadedModule>& m, const config::Config& cfg,
                     std::vector<std::unique_ptr<Running>>& into);
    static void stop_one(Running& r);

    mutable std::shared_mutex mutex_;  // guards running_ against find()
    std::vector<std::unique_ptr<Running>> running_;  // start order
    unsigned workers_ = 1;
    // A prepared reload.
    std::vector<std::unique_ptr<Running>> started_;
    std::vector<std::pair<Running*, config::Section>> reloaded_;  // with the section to go back to
    std::vector<std::shared_ptr<const LoadedModule>> next_;
    bool prepared_ = false;
};

}  // namespace parley::module

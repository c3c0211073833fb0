#include "module/services.hpp"

#include <algorithm>
#include <mutex>

#include "log/log.hpp"

namespace parley::module {

class ServiceSet::HostImpl final : public ServiceHost {
public:
    HostImpl(const ServiceSet& set, config::Section section) : set_(set), section_(std::move(section)) {}
    const config::Section& config() const override { return section_; }
    unsigned worker_count() const override { return set_.workers_; }
    Service* service(std::string_view name) const override { return set_.find(name); }
    void set_section(config::Section s) { section_ = std::move(s); }

private:
    const ServiceSet& set_;
    config::Section section_;
};

struct ServiceSet::Running {
    // Declared first, destroyed last: the library outlives its service object.
    std::shared_ptr<const LoadedModule> loaded;
    std::unique_ptr<HostImpl> host;
    Service* service = nullptr;
    std::string name;
    bool stopped = false;
    ~Running() {
        if (service) loaded->descriptor().destroy_service(service);
    }
};

namespace {

template <class Fn>
Status guarded(const std::string& what, Fn fn) {
    try {
        return fn();
    } catch (const std::exception& e) {
        return Status::error("module", fmt::format("{}: {}", what, e.what()));
    } catch (...) {
        return Status::error("module", fmt::format("{}: unknown exception", what));
    }
}

}  // namespace

ServiceSet::ServiceSet() = default;
ServiceSet::~ServiceSet() {
    rollback_reload();
    stop_all();
}

Status ServiceSet::start_one(const std::shared_ptr<const LoadedModule>& m, const config::Config& cfg,
                             std::vector<std::unique_ptr<Running>>& into) {
    const Descriptor& d = m->descriptor();
    if (!d.create_service) return Status::ok();
    if (!d.service_name || !d.destroy_service)
        return Status::error("module", fmt::format("module {} has a service factory but no service name or deleter",
                                                   m->name()));
    if (find(d.service_name))
        return Status::error("module", fmt::format("module {}: service {} is provided by another module already",
                                                   m->name(), d.service_name));
    auto r = std::make_unique<Running>();
    r->loaded = m;
    r->name = d.service_name;
    r->host = std::make_unique<HostImpl>(*this, section_for(cfg, m->name()));
    r->service = d.create_service();
    if (!r->service) return Status::error("module", fmt::format("module {} created no service", m->name()));
    Status s = guarded(fmt::format("service {} of module {}", r->name, m->name()),
                       [&] { return r->service->start(*r->host); });
    if (!s) {
        r->stopped = true;  // a service that failed to start is not stopped
        return Status::error("module", fmt::format("service {} of module {} failed to start: {}", r->name, m->name(),
                                                   s.message()));
    }
    log::info("module", "service {} of module {} started", r->name, m->name());
    std::unique_lock<std::shared_mutex> lock(mutex_);
    into.push_back(std::move(r));
    return Status::ok();
}

void ServiceSet::stop_one(Running& r) {
    if (r.stopped) return;
    r.stopped = true;
    try {
        r.service->stop();
    } catch (...) {
        log::error("module", "service {} failed to stop cleanly", r.name);
    }
}

Status ServiceSet::start(const std::vector<std::shared_ptr<const LoadedModule>>& modules, const config::Config& cfg,
                         unsigned workers) {
    workers_ = workers;
    for (const auto& m : modules) {
        Status s = start_one(m, cfg, running_);
        if (!s) {
            stop_all();
            return s;
        }
    }
    return Status::ok();
}

Status ServiceSet::prepare_reload(const std::vector<std::shared_ptr<const LoadedModule>>& modules,
                                  const config::Config& cfg) {
    rollback_reload();
    prepared_ = true;
    next_ = modules;
    for (const auto& m : modules) {
        auto it = std::find_if(running_.begin(), running_.end(), [&](const auto& r) { return r->loaded == m; });
        Status s = Status::ok();
        if (it != running_.end()) {
            Running& r = **it;
            reloaded_.emplace_back(&r, r.host->config());
            config::Section next = section_for(cfg, m->name());
            s = guarded(fmt::format("service {}", r.name), [&] { return r.service->reload(next); });
            if (s) r.host->set_section(std::move(next));
        } else {
            s = start_one(m, cfg, started_);
        }
        if (!s) {
            rollback_reload();
            return s;
        }
    }
    return Status::ok();
}

void ServiceSet::commit_reload() {
    if (!prepared_) return;
    prepared_ = false;
    reloaded_.clear();
    std::vector<std::unique_ptr<Running>> keep, gone;
    {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        for (auto& r : running_) {
            const bool stays = std::find(next_.begin(), next_.end(), r->loaded) != next_.end();
            (stays ? keep : gone).push_back(std::move(r));
        }
        for (auto& r : started_) keep.push_back(std::move(r));
        running_ = std::move(keep);
        started_.clear();
    }
    for (auto it = gone.rbegin(); it != gone.rend(); ++it) stop_one(**it);
    next_.clear();
}

void ServiceSet::rollback_reload() {
    if (!prepared_) return;
    prepared_ = false;
    std::vector<std::unique_ptr<Running>> started;
    {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        started.swap(started_);
    }
    for (auto it = started.rbegin(); it != started.rend(); ++it) stop_one(**it);
    for (auto& [r, old] : reloaded_) {
        Status s = guarded(fmt::format("service {}", r->name), [&] { return r->service->reload(old); });
        if (!s) log::error("module", "service {} cannot go back to its old settings: {}", r->name, s.message());
        else r->host->set_section(old);
    }
    reloaded_.clear();
    next_.clear();
}

void ServiceSet::stop_all() {
    std::vector<std::unique_ptr<Running>> all;
    {
        std::unique_lock<std::shared_mutex> lock(mutex_);
        all.swap(running_);
    }
    for (auto it = all.rbegin(); it != all.rend(); ++it) stop_one(**it);
    // Destroyed in reverse start order too.
    while (!all.empty()) all.pop_back();
}

Service* ServiceSet::find(std::string_view name) const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    for (const auto& list : {&running_, &started_})
        for (const auto& r : *list)
            if (r->name == name && !r->stopped) return r->service;
    return nullptr;
}

std::vector<std::string> ServiceSet::names() const {
    std::shared_lock<std::shared_mutex> lock(mutex_);
    std::vector<std::string> out;
    for (const auto& r : running_) out.push_back(r->name);
    return out;
}

}  // namespace parley::module

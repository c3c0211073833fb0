#include "loop/worker_host.hpp"

#include "log/log.hpp"
#include "loop/worker.hpp"
#include "loop/module_database.hpp"
#include "module/services.hpp"
#include "router/router.hpp"
#include "sessions/local_session.hpp"

namespace parley::loop {

// A timer lives on the heap and is deleted from its close callback.
struct WorkerHost::Timer {
    uv_timer_t handle{};
    WorkerHost* host = nullptr;
    module::TimerId id = 0;
    bool repeating = false;
    // Declared before fn, so destroyed after it: the library stays loaded
    // while fn's destructor (the module's code) runs.
    std::shared_ptr<const void> library;
    std::function<void()> fn;
};

WorkerHost::WorkerHost(Worker& worker, std::string module_name, config::Section section,
                       std::shared_ptr<const void> library)
    : worker_(worker), name_(std::move(module_name)), library_(std::move(library)), section_(std::move(section)) {
    worker_.add_module_host(this);
}

WorkerHost::~WorkerHost() {
    drop_all();
    worker_.remove_module_host(this);
}

unsigned WorkerHost::worker_index() const { return worker_.index(); }
std::string_view WorkerHost::server_version() const { return PACKAGE_VERSION; }

void WorkerHost::hook(module::HookPoint point, int priority, module::StanzaHook fn) {
    worker_.hooks().add_hook(name_, point, priority, std::move(fn));
}

Status WorkerHost::iq_handler(module::IqTarget target, std::string_view type, std::string_view ns,
                              std::string_view element, module::IqHandler fn) {
    return worker_.hooks().add_iq(name_, target, type, ns, element, std::move(fn));
}

void WorkerHost::on_session(module::SessionEvent event, module::SessionEventHandler fn) {
    worker_.hooks().add_session_handler(name_, event, std::move(fn));
}

void WorkerHost::disco_feature(std::string feature) { worker_.hooks().add_feature(name_, std::move(feature)); }
void WorkerHost::disco_identity(module::DiscoIdentity identity) {
    worker_.hooks().add_identity(name_, std::move(identity));
}
std::vector<std::string> WorkerHost::disco_features() const { return worker_.hooks().features(); }
std::vector<module::DiscoIdentity> WorkerHost::disco_identities() const { return worker_.hooks().identities(); }

bool WorkerHost::is_local_domain(std::string_view domain) const { return worker_.config().find_host(domain) != nullptr; }

void WorkerHost::send(xml::Element stanza) { worker_.router().route_from_server(std::move(stanza)); }

module::TimerId WorkerHost::add_timer(uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) {
    auto* t = new Timer();
    t->host = this;
    t->id = ++next_timer_;
    t->repeating = repeat_ms != 0;
    t->library = library_;
    t->fn = std::move(fn);
    uv_timer_init(worker_.loop(), &t->handle);
    t->handle.data = t;
    uv_timer_start(&t->handle, &WorkerHost::on_timer, delay_ms, repeat_ms);
    timers_[t->id] = t;
    return t->id;
}

static void close_timer(uv_timer_t* h) {
    uv_timer_stop(h);
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* hh) { delete static_cast<WorkerHost::Timer*>(hh->data); });
}

void WorkerHost::cancel_timer(module::TimerId id) {
    auto it = timers_.find(id);
    if (it == timers_.end()) return;
    Timer* t = it->second;
    timers_.erase(it);
    close_timer(&t->handle);
}

void WorkerHost::on_timer(uv_timer_t* h) {
    auto* t = static_cast<Timer*>(h->data);
    WorkerHost* host = t->host;
    module::TimerId id = t->id;
    try {
        t->fn();
    } catch (const std::exception& e) {
        log::error("module", "timer of module {} failed: {}", host->name_, e.what());
    } catch (...) {
        log::error("module", "timer of module {} failed", host->name_);
    }
    // A one-shot timer is done; the callback may already have cancelled it.
    if (!t->repeating) host->cancel_timer(id);
}

void WorkerHost::on_routed(int priority, module::RoutedHook fn) {
    worker_.hooks().add_routed(name_, priority, std::move(fn));
}

void WorkerHost::on_unavailable(int priority, module::UnavailableHandler fn) {
    worker_.hooks().add_unavailable(name_, priority, std::move(fn));
}

Status WorkerHost::domain_handler(std::string_view vhost, std::string_view domain, module::DomainHandler fn) {
    const auto& cfg = worker_.config();
    if (!cfg.find_host(vhost))
        return Status::error("invalid", fmt::format("{} is not a virtual host of this server", vhost));
    // Prepared like any JID's domain, so that lookups by a stanza's 'to' match.
    auto j = xmpp::Jid::parse(domain);
    if (!j || j->has_node() || j->has_resource() || j->domain().empty())
        return Status::error("invalid", fmt::format("'{}' is not a domain", domain));
    if (cfg.find_host(j->domain()))
        return Status::error("invalid", fmt::format("{} is a virtual host, not a domain a module can own", domain));
    return worker_.hooks().add_domain(name_, std::string(vhost), j->domain(), std::move(fn));
}

std::vector<std::string> WorkerHost::domains_of(std::string_view vhost) const { return worker_.hooks().domains_of(vhost); }

std::vector<module::SessionInfo> WorkerHost::sessions_of(const xmpp::Jid& bare_jid) const {
    return worker_.shared().registry->sessions_of(bare_jid.bare());
}

std::vector<module::SessionInfo> WorkerHost::all_sessions() const { return worker_.shared().registry->all(); }

void WorkerHost::send_to_session(const module::SessionInfo& session, xml::Element stanza, module::Delivery how) {
    worker_.router().deliver(session, std::move(stanza), how);
}

bool WorkerHost::keep_session(uint64_t session_id, uint64_t keep_ms, size_t max_queued) {
    sessions::LocalSession* s = worker_.find_session(session_id);
    return s && s->keep(keep_ms, max_queued);
}

module::SessionSlot* WorkerHost::slot(uint64_t session_id) {
    sessions::LocalSession* s = worker_.find_session(session_id);
    return s ? s->slot(this) : nullptr;
}

bool WorkerHost::set_slot(uint64_t session_id, std::unique_ptr<module::SessionSlot> slot) {
    sessions::LocalSession* s = worker_.find_session(session_id);
    if (!s) return false;
    s->set_slot(this, std::move(slot));
    return true;
}

void WorkerHost::on_session_output(module::OutputObserver fn) {
    worker_.hooks().add_output_observer(name_, std::move(fn));
}

bool WorkerHost::end_session(uint64_t session_id, xmpp::StreamErrorCondition condition, std::string_view text) {
    sessions::LocalSession* s = worker_.find_session(session_id);
    if (!s) return false;
    s->end_with(condition, text);
    return true;
}

unsigned WorkerHost::worker_count() const { return static_cast<unsigned>(worker_.shared().workers.size()); }

bool WorkerHost::post(unsigned worker, std::function<void(module::Host&)> fn) {
    const auto& workers = worker_.shared().workers;
    if (worker >= workers.size()) return false;
    // The function is the module's code: it keeps the library loaded until
    // it has run or been dropped (members are destroyed in reverse order:
    // fn first, then the library reference).
    struct Task {
        std::shared_ptr<const void> library;
        std::string name;
        std::function<void(module::Host&)> fn;
    };
    auto task = std::make_shared<Task>(Task{library_, name_, std::move(fn)});
    return workers[worker]->post([task](Worker& w) {
        // Only a host whose module runs: a failed start leaves a host without one.
        if (WorkerHost* h = w.module_host(task->name); h && h->instance_) task->fn(*h);
    });
}

void WorkerHost::send_iq(xml::Element iq, uint64_t timeout_ms, module::IqReplyHandler fn) {
    worker_.router().send_iq(std::move(iq), timeout_ms, std::move(fn));
}

module::Service* WorkerHost::service(std::string_view name) const {
    return worker_.shared().services ? worker_.shared().services->find(name) : nullptr;
}

void WorkerHost::stream_feature(module::StreamStage stage, module::FeatureProvider fn) {
    worker_.hooks().add_stream_feature(name_, stage, std::move(fn));
}

Status WorkerHost::nonza(module::StreamStage stage, std::string_view ns, std::string_view name,
                         module::NonzaHandler fn) {
    return worker_.hooks().add_nonza(name_, stage, ns, name, std::move(fn));
}

Result<std::shared_ptr<module::Database>> WorkerHost::open_database(const module::DatabaseSpec& spec) {
    return ModuleDatabase::open(worker_, name_, spec, library_);
}

void WorkerHost::drop_all() {
    worker_.hooks().drop(name_);
    worker_.for_each_session([this](sessions::LocalSession& s) { s.drop_slot(this); });
    for (auto& [id, t] : timers_) close_timer(&t->handle);
    timers_.clear();
}

}  // namespace parley::loop

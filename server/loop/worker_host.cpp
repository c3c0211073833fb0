#include "loop/worker_host.hpp"

#include <algorithm>
#include <chrono>

#include "log/log.hpp"
#include "loop/host_accounts.hpp"
#include "loop/host_invitations.hpp"
#include "loop/host_tls.hpp"
#include "loop/worker.hpp"
#include "loop/module_database.hpp"
#include "module/services.hpp"
#include "router/router.hpp"
#include "s2s/links.hpp"
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

std::string WorkerHost::data_dir() const { return worker_.shared().config()->data_dir; }

std::optional<config::VirtualHost> WorkerHost::virtual_host(std::string_view domain) const {
    auto cfg = worker_.shared().config();
    const config::VirtualHost* h = cfg->find_host(domain);
    if (!h) return std::nullopt;
    return *h;
}
std::string_view WorkerHost::server_version() const { return PACKAGE_VERSION; }

uint64_t WorkerHost::uptime_seconds() const {
    const auto up = std::chrono::steady_clock::now() - worker_.shared().started;
    return static_cast<uint64_t>(std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(up).count()));
}

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

void WorkerHost::on_account_deleted(module::AccountDeletedHandler fn) {
    worker_.hooks().add_account_deleted(name_, std::move(fn));
}

void WorkerHost::disco_feature(std::string feature) { worker_.hooks().add_feature(name_, std::move(feature)); }
void WorkerHost::disco_identity(module::DiscoIdentity identity) {
    worker_.hooks().add_identity(name_, std::move(identity));
}
std::vector<std::string> WorkerHost::disco_features() const { return worker_.hooks().features(); }
std::vector<module::DiscoIdentity> WorkerHost::disco_identities() const { return worker_.hooks().identities(); }
Status WorkerHost::control_command(std::string name, module::ControlHandler fn) {
    if (worker_.index() != 0) return Status::error("invalid", "control commands are registered on worker 0");
    bool valid = !name.empty() && name[0] >= 'a' && name[0] <= 'z';
    for (char c : name) valid = valid && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
    if (!valid) return Status::error("invalid", "control command name '" + name + "' is not [a-z][a-z0-9-]*");
    if (name == "status" || name == "kick" || name == "reload" || name == "session" || name == "purge")
        return Status::error("exists", "'" + name + "' is a request of parleyd itself");
    return worker_.hooks().add_control(name_, name, std::move(fn));
}

void WorkerHost::account_disco_feature(std::string feature) {
    worker_.hooks().add_account_feature(name_, std::move(feature));
}
void WorkerHost::account_disco_identity(module::DiscoIdentity identity) {
    worker_.hooks().add_account_identity(name_, std::move(identity));
}
void WorkerHost::account_disco_items(module::AccountItemsProvider fn) {
    worker_.hooks().add_account_items(name_, std::move(fn));
}
void WorkerHost::account_disco_nodes(module::AccountNodeDisco fn) {
    worker_.hooks().add_account_nodes(name_, std::move(fn));
}
bool WorkerHost::account_disco_node(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) {
    return worker_.hooks().account_node(req, std::move(r));
}
std::vector<std::string> WorkerHost::account_disco_features() const { return worker_.hooks().account_features(); }
std::vector<module::DiscoIdentity> WorkerHost::account_disco_identities() const {
    return worker_.hooks().account_identities();
}
std::vector<module::DiscoItem> WorkerHost::account_disco_item_list(const xmpp::Jid& account,
                                                                   const xmpp::Jid& requester) const {
    return worker_.hooks().account_items(account, requester);
}

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

void WorkerHost::s2s_gate(module::S2sGate fn) { worker_.hooks().add_s2s_gate(name_, std::move(fn)); }

size_t WorkerHost::s2s_close(std::function<bool(const module::S2sAuth& link)> which, std::string_view text) {
    return worker_.s2s().close_matching(which, text);
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
    auto all = worker_.shared().registry->sessions_of(bare_jid.bare());
    std::erase_if(all, [](const module::SessionInfo& s) { return s.ending; });
    return all;
}

std::vector<module::SessionInfo> WorkerHost::all_sessions() const {
    auto all = worker_.shared().registry->all();
    std::erase_if(all, [](const module::SessionInfo& s) { return s.ending; });
    return all;
}

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
    // As in post(): the handler is the module's code, so it keeps the library
    // loaded until it has run or been dropped (fn is destroyed first). The
    // router may call it after the module stopped (a timeout, or nullptr at
    // the worker's stop): the module guards its own state.
    struct Reply {
        std::shared_ptr<const void> library;
        module::IqReplyHandler fn;
    };
    auto reply = std::make_shared<Reply>(Reply{library_, std::move(fn)});
    worker_.router().send_iq(std::move(iq), timeout_ms, [reply](const xml::Element* r) {
        if (reply->fn) reply->fn(r);
    });
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

module::Accounts& WorkerHost::accounts() {
    if (!accounts_) accounts_ = std::make_unique<HostAccounts>(worker_, library_);
    return *accounts_;
}

Result<std::shared_ptr<const module::TlsServer>> WorkerHost::tls_server(const module::TlsIdentity& identity) const {
    return make_tls_server(identity);
}

Result<module::Invitations*> WorkerHost::invitations() {
    if (!invitations_) {
        auto opened = HostInvitations::open(worker_, library_);
        if (!opened) return opened.status();
        invitations_ = std::move(opened.value());
    }
    return static_cast<module::Invitations*>(invitations_.get());
}

void WorkerHost::drop_all() {
    accounts_.reset();
    invitations_.reset();
    worker_.hooks().drop(name_);
    worker_.for_each_session([this](sessions::LocalSession& s) { s.drop_slot(this); });
    for (auto& [id, t] : timers_) close_timer(&t->handle);
    timers_.clear();
}

}  // namespace parley::loop

// WorkerHost: the module::Host a module instance sees on one worker.
//
// Registrations go into the worker's HookTable under the module's name, so
// stop() can drop them all; timers are libuv timers owned here and closed at
// stop. A timer's callback is code of the module's library and is destroyed
// only in the timer's close callback, a loop iteration later: each timer
// therefore holds `library` (the module's LoadedModule), so the library is
// not unloaded before its last timer is closed. Loop-affine: only the owning
// worker.
#pragma once

#include <uv.h>

#include <map>
#include <memory>
#include <string>

#include "module/module_api.hpp"

namespace parley::loop {

class Worker;
class HostAccounts;
class HostInvitations;

class WorkerHost final : public module::Host {
public:
    WorkerHost(Worker& worker, std::string module_name, config::Section section,
               std::shared_ptr<const void> library = nullptr);
    ~WorkerHost() override;

    unsigned worker_index() const override;
    const config::Section& config() const override { return section_; }
    std::string_view server_version() const override;
    uint64_t uptime_seconds() const override;
    void hook(module::HookPoint point, int priority, module::StanzaHook fn) override;
    Status iq_handler(module::IqTarget target, std::string_view type, std::string_view ns, std::string_view element,
                      module::IqHandler fn) override;
    void on_session(module::SessionEvent event, module::SessionEventHandler fn) override;
    void on_account_deleted(module::AccountDeletedHandler fn) override;
    void disco_feature(std::string feature) override;
    void disco_identity(module::DiscoIdentity identity) override;
    std::vector<std::string> disco_features() const override;
    std::vector<module::DiscoIdentity> disco_identities() const override;
    Status control_command(std::string name, module::ControlHandler fn) override;
    void account_disco_feature(std::string feature) override;
    void account_disco_identity(module::DiscoIdentity identity) override;
    void account_disco_items(module::AccountItemsProvider fn) override;
    void account_disco_nodes(module::AccountNodeDisco fn) override;
    bool account_disco_node(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) override;
    std::vector<std::string> account_disco_features() const override;
    std::vector<module::DiscoIdentity> account_disco_identities() const override;
    std::vector<module::DiscoItem> account_disco_item_list(const xmpp::Jid& account,
                                                           const xmpp::Jid& requester) const override;
    bool is_local_domain(std::string_view domain) const override;
    void send(xml::Element stanza) override;
    module::TimerId add_timer(uint64_t delay_ms, uint64_t repeat_ms, std::function<void()> fn) override;
    void cancel_timer(module::TimerId id) override;

    void on_routed(int priority, module::RoutedHook fn) override;
    void on_unavailable(int priority, module::UnavailableHandler fn) override;
    Status domain_handler(std::string_view vhost, std::string_view domain, module::DomainHandler fn) override;
    std::vector<std::string> domains_of(std::string_view vhost) const override;
    std::vector<module::SessionInfo> sessions_of(const xmpp::Jid& bare_jid) const override;
    std::vector<module::SessionInfo> all_sessions() const override;
    void send_to_session(const module::SessionInfo& session, xml::Element stanza, module::Delivery how) override;
    bool keep_session(uint64_t session_id, uint64_t keep_ms, size_t max_queued) override;
    module::SessionSlot* slot(uint64_t session_id) override;
    bool set_slot(uint64_t session_id, std::unique_ptr<module::SessionSlot> slot) override;
    void on_session_output(module::OutputObserver fn) override;
    bool end_session(uint64_t session_id, xmpp::StreamErrorCondition condition, std::string_view text) override;
    unsigned worker_count() const override;
    bool post(unsigned worker, std::function<void(module::Host&)> fn) override;
    module::Module& instance() override { return *instance_; }
    void send_iq(xml::Element iq, uint64_t timeout_ms, module::IqReplyHandler fn) override;
    module::Service* service(std::string_view name) const override;
    Result<std::shared_ptr<module::Database>> open_database(const module::DatabaseSpec& spec) override;
    module::Accounts& accounts() override;
    Result<module::Invitations*> invitations() override;
    std::string data_dir() const override;
    std::optional<config::VirtualHost> virtual_host(std::string_view domain) const override;
    Result<std::shared_ptr<const module::TlsServer>> tls_server(const module::TlsIdentity& identity) const override;
    void s2s_gate(module::S2sGate fn) override;
    size_t s2s_close(std::function<bool(const module::S2sAuth& link)> which, std::string_view text) override;
    void stream_feature(module::StreamStage stage, module::FeatureProvider fn) override;
    Status nonza(module::StreamStage stage, std::string_view ns, std::string_view name, module::NonzaHandler fn) override;

    void set_instance(module::Module* m) { instance_ = m; }
    const std::string& name() const { return name_; }
    void set_section(config::Section s) { section_ = std::move(s); }
    // Drops every registration and timer of this module.
    void drop_all();

    struct Timer;

private:
    static void on_timer(uv_timer_t* t);
    Worker& worker_;
    std::string name_;
    std::shared_ptr<const void> library_;
    module::Module* instance_ = nullptr;
    config::Section section_;
    std::map<module::TimerId, Timer*> timers_;
    module::TimerId next_timer_ = 0;
    // Made at the first accounts() call; dropped with the registrations, so
    // no account completion reaches a stopped module.
    std::unique_ptr<HostAccounts> accounts_;
    // The same for invitations (their database handle): made at the first
    // invitations() call, dropped with the registrations.
    std::unique_ptr<HostInvitations> invitations_;
};

}  // namespace parley::loop

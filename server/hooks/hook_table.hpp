// HookTable: one worker's registrations of every running module.
//
// Stanza hooks per hook point (higher priority first), iq handlers keyed by
// (target, type, namespace, element), session event handlers, session output
// observers, and the disco features and identities. Every entry records its owner (the module name) so
// that stopping a module drops all it registered, and disco then advertises
// only what is loaded. Loop-affine: only the owning worker touches it.
#pragma once

#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "module/module_api.hpp"

namespace parley::hooks {

class HookTable {
public:
    void add_hook(const std::string& owner, module::HookPoint point, int priority, module::StanzaHook fn);
    // Runs the hooks of `point` in priority order until one handles or rejects.
    // A hook that throws is logged and treated as a reject with internal-server-error.
    // `decided_by`, if given, receives the name of the module that handled or rejected.
    module::HookResult run(module::HookPoint point, module::StanzaContext& ctx,
                           std::string* decided_by = nullptr) const;
    bool has_hooks(module::HookPoint point) const;

    // Routed hooks: all run, in priority order; one that throws is logged
    // and skipped (it cannot undo what others did).
    void add_routed(const std::string& owner, int priority, module::RoutedHook fn);
    bool has_routed() const { return !routed_.empty(); }
    void run_routed(module::RoutedContext& ctx) const;
    // Unavailable handlers, in priority order until one handles or rejects;
    // `decided_by` receives that module's name.
    void add_unavailable(const std::string& owner, int priority, module::UnavailableHandler fn);
    bool has_unavailable() const { return !unavailable_.empty(); }
    module::HookResult run_unavailable(module::RoutedContext& ctx, std::string* decided_by) const;

    // Domain handlers, keyed by domain (lower case, as JIDs prepare it).
    Status add_domain(const std::string& owner, std::string vhost, std::string domain, module::DomainHandler fn);
    // The handler owning `domain`, or nullptr; `owner` receives its module.
    const module::DomainHandler* find_domain(std::string_view domain, std::string* owner = nullptr) const;
    bool has_domains() const { return !domains_.empty(); }
    std::vector<std::string> domains_of(std::string_view vhost) const;

    Status add_iq(const std::string& owner, module::IqTarget target, std::string_view type, std::string_view ns,
                  std::string_view element, module::IqHandler fn);
    const module::IqHandler* find_iq(module::IqTarget target, std::string_view type, std::string_view ns,
                                     std::string_view element) const;

    void add_session_handler(const std::string& owner, module::SessionEvent event, module::SessionEventHandler fn);
    void fire(module::SessionEvent event, const module::SessionInfo& session) const;

    // Output observers (module::OutputObserver), in registration order; one
    // that throws is logged and the others still run.
    void add_output_observer(const std::string& owner, module::OutputObserver fn);
    bool has_output_observers() const { return !output_observers_.empty(); }
    void observe_output(uint64_t session_id, const xml::Element& stanza) const;

    // Stream features and nonzas.
    void add_stream_feature(const std::string& owner, module::StreamStage stage, module::FeatureProvider fn);
    // Appends what each provider of `stage` offers (a provider that throws adds nothing).
    void stream_features(module::StreamStage stage, const module::StreamInfo& info, xml::Element& features) const;
    Status add_nonza(const std::string& owner, module::StreamStage stage, std::string_view ns, std::string_view name,
                     module::NonzaHandler fn);
    const module::NonzaHandler* find_nonza(module::StreamStage stage, std::string_view ns, std::string_view name) const;

    void add_feature(const std::string& owner, std::string feature);
    void add_identity(const std::string& owner, module::DiscoIdentity identity);
    std::vector<std::string> features() const;
    std::vector<module::DiscoIdentity> identities() const;
    // An account's disco (module::Host::account_disco_*).
    void add_account_feature(const std::string& owner, std::string feature);
    void add_account_identity(const std::string& owner, module::DiscoIdentity identity);
    void add_account_items(const std::string& owner, module::AccountItemsProvider fn);
    void add_account_nodes(const std::string& owner, module::AccountNodeDisco fn);
    bool account_node(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) const;
    std::vector<std::string> account_features() const;
    std::vector<module::DiscoIdentity> account_identities() const;
    std::vector<module::DiscoItem> account_items(const xmpp::Jid& account, const xmpp::Jid& requester) const;

    // Control commands (module::Host::control_command); refused when taken.
    Status add_control(const std::string& owner, const std::string& name, module::ControlHandler fn);
    const module::ControlHandler* find_control(std::string_view name) const;

    // Purges of deleted accounts (module::Host::on_account_deleted), in
    // registration order, each with its module's name.
    void add_account_deleted(const std::string& owner, module::AccountDeletedHandler fn);
    const std::vector<std::pair<std::string, module::AccountDeletedHandler>>& account_deleted() const {
        return account_deleted_;
    }

    // s2s gates (module::Host::s2s_gate): the first refusal, with its
    // module's name in `decided_by`; nullopt when every gate allows.
    void add_s2s_gate(const std::string& owner, module::S2sGate fn);
    bool has_s2s_gates() const { return !s2s_gates_.empty(); }
    std::optional<std::string> check_s2s(const module::S2sAuth& auth, std::string* decided_by = nullptr) const;
    void drop(const std::string& owner);

private:
    struct Hook {
        std::string owner;
        module::HookPoint point;
        int priority;
        uint64_t seq;  // registration order breaks priority ties
        module::StanzaHook fn;
    };
    using IqKey = std::tuple<int, std::string, std::string, std::string>;
    struct Iq {
        std::string owner;
        module::IqHandler fn;
    };
    template <class Fn>
    struct Ranked {
        std::string owner;
        int priority;
        uint64_t seq;
        Fn fn;
    };
    struct Domain {
        std::string owner;
        std::string vhost;
        module::DomainHandler fn;
    };
    std::vector<Hook> hooks_;  // kept sorted: point, priority desc, seq
    std::vector<Ranked<module::RoutedHook>> routed_;             // priority desc, seq
    std::vector<Ranked<module::UnavailableHandler>> unavailable_;  // priority desc, seq
    std::map<std::string, Domain, std::less<>> domains_;
    struct Feature {
        std::string owner;
        module::StreamStage stage;
        module::FeatureProvider fn;
    };
    std::vector<Feature> stream_features_;
    using NonzaKey = std::tuple<int, std::string, std::string>;
    std::map<NonzaKey, std::pair<std::string, module::NonzaHandler>> nonzas_;
    std::map<IqKey, Iq> iqs_;
    std::vector<std::tuple<std::string, module::SessionEvent, module::SessionEventHandler>> session_handlers_;
    std::vector<std::pair<std::string, module::OutputObserver>> output_observers_;
    std::vector<std::pair<std::string, std::string>> features_;
    std::vector<std::pair<std::string, module::DiscoIdentity>> identities_;
    std::vector<std::pair<std::string, std::string>> account_features_;
    std::vector<std::pair<std::string, module::DiscoIdentity>> account_identities_;
    std::vector<std::pair<std::string, module::AccountItemsProvider>> account_items_;
    std::vector<std::pair<std::string, module::AccountNodeDisco>> account_nodes_;
    std::map<std::string, std::pair<std::string, module::ControlHandler>, std::less<>> controls_;
    std::vector<std::pair<std::string, module::AccountDeletedHandler>> account_deleted_;
    std::vector<std::pair<std::string, module::S2sGate>> s2s_gates_;
    uint64_t seq_ = 0;
};

}  // namespace parley::hooks

// HookTable: one worker's registrations of every running module.
//
// Stanza hooks per hook point (higher priority first), iq handlers keyed by
// (target, type, namespace, element), session event handlers, and the disco
// features and identities. Every entry records its owner (the module name) so
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
    module::HookResult run(module::HookPoint point, module::StanzaContext& ctx) const;
    bool has_hooks(module::HookPoint point) const;

    Status add_iq(const std::string& owner, module::IqTarget target, std::string_view type, std::string_view ns,
                  std::string_view element, module::IqHandler fn);
    const module::IqHandler* find_iq(module::IqTarget target, std::string_view type, std::string_view ns,
                                     std::string_view element) const;

    void add_session_handler(const std::string& owner, module::SessionEvent event, module::SessionEventHandler fn);
    void fire(module::SessionEvent event, const xmpp::Jid& full_jid) const;

    void add_feature(const std::string& owner, std::string feature);
    void add_identity(const std::string& owner, module::DiscoIdentity identity);
    std::vector<std::string> features() const;
    std::vector<module::DiscoIdentity> identities() const;

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
    std::vector<Hook> hooks_;  // kept sorted: point, priority desc, seq
    std::map<IqKey, Iq> iqs_;
    std::vector<std::tuple<std::string, module::SessionEvent, module::SessionEventHandler>> session_handlers_;
    std::vector<std::pair<std::string, std::string>> features_;
    std::vector<std::pair<std::string, module::DiscoIdentity>> identities_;
    uint64_t seq_ = 0;
};

}  // namespace parley::hooks

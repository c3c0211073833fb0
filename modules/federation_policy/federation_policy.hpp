// mod_federation_policy: federation on the organisation's terms
// (modules/federation_policy/README.md). Each remote domain falls in a tier
// (policy.hpp); the module enforces it at every seam s2s offers:
//   - the s2s gate: a blocked domain is refused on every stream and link;
//     a tier that requires a certificate refuses dialback;
//   - stanza_in, for stanzas from remote servers: kinds, size and rate;
//   - the routed hook, for stanzas to remote domains: kinds and size (a
//     refused stanza bounces to its local sender with policy-violation
//     naming the tier and the rule).
// `parleyctl federation show|allow|deny|tier|clear|explain` reads and
// changes the rules at run time; changes are stored in the module's
// database (they survive restarts, and win over the config's rules for the
// same domain) and end at once every link the change blocks. A reload
// applies the config's rules the same way. Every refusal is counted, logged
// and written to the archive's audit log when the archive module runs.
//
// One instance per worker; the run-time rules and the counters are shared by
// the instances (the library is loaded once), under a mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "module/module_api.hpp"
#include "policy.hpp"

namespace parley::mod_federation_policy {

class FederationPolicy final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

private:
    Placement placement(std::string_view domain);
    std::optional<std::string> on_gate(const module::S2sAuth& auth);
    module::HookResult on_in(module::StanzaContext& c);
    void on_routed(module::RoutedContext& c);
    bool over_rate(const std::string& domain, const Tier& tier);
    void refused(const std::string& domain, const std::string& action, const std::string& scope,
                 const std::string& why);
    void control(const std::vector<std::string>& args, module::ControlReply reply);
    void change(const std::string& pattern, const std::string& tier, const std::string& who,
                module::ControlReply reply);
    // Ends, on every worker, the links of domains that are now blocked.
    void close_blocked();

    module::Host* host_ = nullptr;
    std::shared_ptr<const Settings> settings_;
    std::shared_ptr<module::Database> db_;
    struct Bucket {
        double tokens = 0;
        uint64_t at_ms = 0;
    };
    std::unordered_map<std::string, Bucket> buckets_;  // inbound rate, per remote domain
};

}  // namespace parley::mod_federation_policy

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
// One instance per worker. What they share (the settings, the run-time
// rules, the counts) is the module's process-wide service, Policy.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "federation_service.hpp"
#include "module/module_api.hpp"
#include "policy.hpp"

namespace parley::mod_federation_policy {

// Refusals per remote domain since parleyd started.
struct Counts {
    uint64_t streams = 0, inbound = 0, outbound = 0, rate = 0;
};

// The service: settings (swapped whole at reload), run-time rules (loaded
// from the module's database by the first instance that starts, then
// changed by parleyctl), counts. Any thread.
class Policy final : public FederationService {
public:
    using Rules = std::map<std::string, std::string>;  // pattern -> tier, set at run time

    Status start(module::ServiceHost& host) override;
    Status reload(const config::Section& section) override;
    std::string tier_of(std::string_view domain) const override;

    std::shared_ptr<const Settings> settings() const;
    std::shared_ptr<const Rules> rules() const;
    Placement place(std::string_view domain) const;
    // Whether the run-time rules were loaded; load_rules() sets them once.
    bool rules_loaded() const;
    void load_rules(Rules rules);
    void set_rule(const std::string& pattern, const std::string& tier);  // "" removes
    void count(const std::string& domain, const std::string& action);
    // The inbound rate of `domain` under `tier`, for the whole server (a
    // token bucket; every worker draws from it): true when over it.
    bool over_rate(const std::string& domain, const Tier& tier, uint64_t now_ms);
    Counts counts_of(const std::string& domain) const;
    std::map<std::string, Counts> counts() const;

private:
    mutable std::mutex mutex_;
    std::shared_ptr<const Settings> settings_;
    std::shared_ptr<const Rules> rules_ = std::make_shared<const Rules>();
    bool loaded_ = false;
    std::map<std::string, Counts> counts_;
    struct Bucket {
        double tokens = 0;
        uint64_t at_ms = 0;
    };
    std::mutex buckets_mutex_;  // apart from mutex_: taken for every stanza in
    std::unordered_map<std::string, Bucket> buckets_;
};

class FederationPolicy final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

    Placement placement(std::string_view domain) const { return policy_->place(domain); }

private:
    std::optional<std::string> on_gate(const module::S2sAuth& auth);
    module::HookResult on_in(module::StanzaContext& c);
    void on_routed(module::RoutedContext& c);
    void refused(const std::string& domain, const std::string& action, const std::string& scope,
                 const std::string& why);
    void control(const std::vector<std::string>& args, module::ControlReply reply);
    void change(const std::string& pattern, const std::string& tier, const std::string& who,
                module::ControlReply reply);
    // Ends, on every worker, the links of domains that are now blocked,
    // and those proven by dialback alone where the tier now requires a
    // certificate.
    void close_blocked();

    module::Host* host_ = nullptr;
    Policy* policy_ = nullptr;
    std::shared_ptr<module::Database> db_;
};

}  // namespace parley::mod_federation_policy

// The federation policy's process-wide service ("parley.federation/1"): the
// tier of a remote domain, for other modules (the content policy's rules
// scoped to tiers). Provided by mod_federation_policy; every method is safe
// from any thread.
#pragma once

#include <string>
#include <string_view>

#include "module/module_api.hpp"

namespace parley::mod_federation_policy {

class FederationService : public module::Service {
public:
    static constexpr const char* kServiceName = "parley.federation/1";
    // The name of the tier `domain` (another server's domain) is in now.
    virtual std::string tier_of(std::string_view domain) const = 0;
};

}  // namespace parley::mod_federation_policy

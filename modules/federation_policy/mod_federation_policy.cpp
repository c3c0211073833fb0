// The exported descriptor of mod_federation_policy.so.
#include "federation_policy.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "federation_policy",
                                     PACKAGE_VERSION,
                                     "Federation tiers per remote domain: who may federate, how, and what may cross",
                                     kDeps,
                                     nullptr,
                                     0,
                                     mod_federation_policy::kOptions,
                                     mod_federation_policy::kOptionCount,
                                     []() -> module::Module* { return new mod_federation_policy::FederationPolicy(); },
                                     [](module::Module* m) { delete m; },
                                     mod_federation_policy::FederationService::kServiceName,
                                     []() -> module::Service* { return new mod_federation_policy::Policy(); },
                                     [](module::Service* s) { delete s; }};

}  // namespace

PARLEY_MODULE(kDescriptor)

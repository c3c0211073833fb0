// The exported descriptor of mod_disco.so.
#include "service_discovery.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "disco",
                                     PACKAGE_VERSION,
                                     "XEP-0030 Service Discovery of the server",
                                     kDeps,
                                     mod_disco::kXeps,
                                     mod_disco::kXepCount,
                                     mod_disco::kOptions,
                                     mod_disco::kOptionCount,
                                     []() -> module::Module* { return new mod_disco::ServiceDiscovery(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

// The exported descriptor of mod_time.so.
#include "entity_time.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "time",
                                     PACKAGE_VERSION,
                                     "XEP-0202 Entity Time: the server's clock and time zone",
                                     kDeps,
                                     mod_time::kXeps,
                                     mod_time::kXepCount,
                                     nullptr,
                                     0,
                                     []() -> module::Module* { return new mod_time::EntityTime(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

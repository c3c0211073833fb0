// The exported descriptor of mod_blocking.so.
#include "blocking.hpp"

namespace {

using namespace parley;

// Uses the roster module's service when it runs, but works without it (then
// no contact may see a user's presence), so it is not a dependency.
const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "blocking",
                                     PACKAGE_VERSION,
                                     "XEP-0191 Blocking Command: blocked JIDs get nothing from a user and reach them with nothing",
                                     kDeps,
                                     mod_blocking::kXeps,
                                     mod_blocking::kXepCount,
                                     mod_blocking::kOptions,
                                     mod_blocking::kOptionCount,
                                     []() -> module::Module* { return new mod_blocking::Blocking(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

// The exported descriptor of mod_carbons.so.
#include "carbons.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "carbons",
                                     PACKAGE_VERSION,
                                     "XEP-0280 Message Carbons: every client of a user sees both sides of a chat",
                                     kDeps,
                                     mod_carbons::kXeps,
                                     mod_carbons::kXepCount,
                                     nullptr,
                                     0,
                                     []() -> module::Module* { return new mod_carbons::Carbons(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

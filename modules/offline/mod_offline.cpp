// The exported descriptor of mod_offline.so.
#include "offline.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "offline",
                                     PACKAGE_VERSION,
                                     "XEP-0160 offline messages: stored durably, delivered at the next login",
                                     kDeps,
                                     mod_offline::kXeps,
                                     mod_offline::kXepCount,
                                     mod_offline::kOptions,
                                     mod_offline::kOptionCount,
                                     []() -> module::Module* { return new mod_offline::Offline(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

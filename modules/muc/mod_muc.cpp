// The exported descriptor of mod_muc.so.
#include "muc.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "muc",
                                     PACKAGE_VERSION,
                                     "XEP-0045 Multi-User Chat: group chat rooms on a subdomain (first part)",
                                     kDeps,
                                     mod_muc::kXeps,
                                     mod_muc::kXepCount,
                                     mod_muc::kOptions,
                                     mod_muc::kOptionCount,
                                     []() -> module::Module* { return new mod_muc::Muc(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

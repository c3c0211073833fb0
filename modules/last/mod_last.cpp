// The exported descriptor of mod_last.so.
#include "last_activity.hpp"

namespace {

using namespace parley;

// Whose presence a requester may see comes from the rosters (roster/1).
const char* const kDeps[] = {"roster", nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "last",
                                     PACKAGE_VERSION,
                                     "XEP-0012 Last Activity of the server and of accounts, for their contacts",
                                     kDeps,
                                     mod_last::kXeps,
                                     mod_last::kXepCount,
                                     nullptr,
                                     0,
                                     []() -> module::Module* { return new mod_last::LastActivity(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

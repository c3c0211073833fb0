// The exported descriptor of mod_mam.so.
#include "mam.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {"archive", nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "mam",
                                     PACKAGE_VERSION,
                                     "Message Archive Management (XEP-0313) over the compliance journal",
                                     kDeps,
                                     mod_mam::kXeps,
                                     mod_mam::kXepCount,
                                     nullptr,
                                     0,
                                     []() -> module::Module* { return new mod_mam::Mam(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr,
                                     nullptr,
                                     nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

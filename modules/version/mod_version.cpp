// The exported descriptor of mod_version.so.
#include "software_version.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "version",
                                     PACKAGE_VERSION,
                                     "XEP-0092 Software Version of the server",
                                     kDeps,
                                     mod_version::kXeps,
                                     mod_version::kXepCount,
                                     mod_version::kOptions,
                                     mod_version::kOptionCount,
                                     []() -> module::Module* { return new mod_version::SoftwareVersion(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

// The exported descriptor of mod_upload.so.
#include "upload.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "upload",
                                     PACKAGE_VERSION,
                                     "XEP-0363 HTTP File Upload: slots over XMPP, files over HTTPS",
                                     kDeps,
                                     mod_upload::kXeps,
                                     mod_upload::kXepCount,
                                     mod_upload::kOptions,
                                     mod_upload::kOptionCount,
                                     []() -> module::Module* { return new mod_upload::Upload(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

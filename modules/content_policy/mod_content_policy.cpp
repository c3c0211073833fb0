// The exported descriptor of mod_content_policy.so.
#include "content_policy.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "content_policy",
                                     PACKAGE_VERSION,
                                     "Data-loss prevention: content rules that flag, redact or block messages",
                                     kDeps,
                                     nullptr,
                                     0,
                                     mod_content_policy::kOptions,
                                     mod_content_policy::kOptionCount,
                                     []() -> module::Module* { return new mod_content_policy::ContentPolicy(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

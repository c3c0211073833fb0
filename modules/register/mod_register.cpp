// The exported descriptor of mod_register.so.
#include "register.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "register",
                                     PACKAGE_VERSION,
                                     "XEP-0077 In-Band Registration: accounts, invitations, password change",
                                     kDeps,
                                     mod_register::kXeps,
                                     mod_register::kXepCount,
                                     mod_register::kOptions,
                                     mod_register::kOptionCount,
                                     []() -> module::Module* { return new mod_register::Register(); },
                                     [](module::Module* m) { delete m; },
                                     mod_register::RateLimits::kServiceName,
                                     []() -> module::Service* { return new mod_register::RateLimits(); },
                                     [](module::Service* s) { delete s; }};

}  // namespace

PARLEY_MODULE(kDescriptor)

// The exported descriptor of mod_ping.so.
#include "ping.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "ping",
                                     PACKAGE_VERSION,
                                     "XEP-0199 XMPP Ping: the server answers pings",
                                     kDeps,
                                     mod_ping::kXeps,
                                     mod_ping::kXepCount,
                                     nullptr,
                                     0,
                                     []() -> module::Module* { return new mod_ping::Ping(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

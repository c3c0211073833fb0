// The exported descriptor of mod_csi.so.
#include "client_state.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "csi",
                                     PACKAGE_VERSION,
                                     "XEP-0352 Client State Indication: presence and chat states wait while inactive",
                                     kDeps,
                                     mod_csi::kXeps,
                                     mod_csi::kXepCount,
                                     mod_csi::kOptions,
                                     mod_csi::kOptionCount,
                                     []() -> module::Module* { return new mod_csi::ClientState(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

// The exported descriptor of mod_vcard.so.
#include "vcard.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "vcard",
                                     PACKAGE_VERSION,
                                     "XEP-0054 vcard-temp with XEP-0153 photo hashes in presence",
                                     kDeps,
                                     mod_vcard::kXeps,
                                     mod_vcard::kXepCount,
                                     mod_vcard::kOptions,
                                     mod_vcard::kOptionCount,
                                     []() -> module::Module* { return new mod_vcard::Vcard(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

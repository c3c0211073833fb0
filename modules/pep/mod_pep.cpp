// The exported descriptor of mod_pep.so.
#include "pep.hpp"

namespace {

using namespace parley;

// The roster module provides "roster/1" (contacts for the presence access
// model). It is looked up, not required: without it only owners read their
// nodes.
const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "pep",
                                     PACKAGE_VERSION,
                                     "XEP-0163 PEP with caps filtering, XEP-0402/0048 bookmarks, XEP-0049 private storage",
                                     kDeps,
                                     mod_pep::kXeps,
                                     mod_pep::kXepCount,
                                     mod_pep::kOptions,
                                     mod_pep::kOptionCount,
                                     []() -> module::Module* { return new mod_pep::Pep(); },
                                     [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

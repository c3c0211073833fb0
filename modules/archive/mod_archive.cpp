// The exported descriptor of mod_archive.so.
#include "archiver.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "archive",
                                     PACKAGE_VERSION,
                                     "the compliance journal: every message archived once, sealed and hash-chained",
                                     kDeps,
                                     mod_archive::kXeps,
                                     mod_archive::kXepCount,
                                     mod_archive::kOptions,
                                     mod_archive::kOptionCount,
                                     []() -> module::Module* { return new mod_archive::Archiver(); },
                                     [](module::Module* m) { delete m; },
                                     archive::JournalService::kServiceName,
                                     []() -> module::Service* { return new mod_archive::Service(); },
                                     [](module::Service* s) { delete s; }};

}  // namespace

PARLEY_MODULE(kDescriptor)

// The exported descriptor of mod_roster.so.
#include "roster.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "roster",
                                     PACKAGE_VERSION,
                                     "RFC 6121 rosters, presence subscriptions and presence broadcast",
                                     kDeps,
                                     mod_roster::kXeps,
                                     mod_roster::kXepCount,
                                     mod_roster::kOptions,
                                     mod_roster::kOptionCount,
                                     []() -> module::Module* { return new mod_roster::Roster(); },
                                     [](module::Module* m) { delete m; },
                                     roster::RosterService::kServiceName,
                                     []() -> module::Service* { return new mod_roster::Service(); },
                                     [](module::Service* s) { delete s; }};

}  // namespace

PARLEY_MODULE(kDescriptor)

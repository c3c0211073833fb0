// The exported descriptor of mod_sm.so: the per-worker module and the
// process-wide directory of resumable sessions.
#include "resumption_directory.hpp"
#include "stream_management.hpp"

namespace {

using namespace parley;

const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{module::kAbiVersion,
                                     "sm",
                                     PACKAGE_VERSION,
                                     "XEP-0198 Stream Management: acknowledgements and resumption on any worker",
                                     kDeps,
                                     mod_sm::kXeps,
                                     mod_sm::kXepCount,
                                     mod_sm::kOptions,
                                     mod_sm::kOptionCount,
                                     []() -> module::Module* { return new mod_sm::StreamManagement(); },
                                     [](module::Module* m) { delete m; },
                                     mod_sm::ResumptionDirectory::kServiceName,
                                     []() -> module::Service* { return new mod_sm::ResumptionDirectory(); },
                                     [](module::Service* s) { delete s; }};

}  // namespace

PARLEY_MODULE(kDescriptor)

// A test module built "for another ABI": the loader must refuse it.
#include "module/module_api.hpp"

namespace {

using namespace parley;

const module::Descriptor kDescriptor{
    module::kAbiVersion + 998, "testbadabi", "1.0", "wrong ABI", nullptr, nullptr, 0, nullptr, 0,
    []() -> module::Module* { return nullptr; }, [](module::Module*) {}, nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

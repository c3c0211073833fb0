// A well-formed test module for the loader tests: one option, one feature.
#include "module/module_api.hpp"

namespace {

using namespace parley;

class TestGood final : public module::Module {
public:
    Status configure(const config::Section& s) override {
        if (s.get_string("greeting", "hello") == "forbidden") return Status::error("config", "greeting 'forbidden' is not allowed");
        return Status::ok();
    }
    Status start(module::Host& host) override {
        host.disco_feature("urn:parley:test:good");
        return Status::ok();
    }
};

const config::OptionSpec kOptions[] = {
    {"greeting", config::OptionType::string, "hello", "what to say"},
};
const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{
    module::kAbiVersion, "testgood", "1.0", "a module for the loader tests", kDeps, nullptr, 0,
    kOptions, 1, []() -> module::Module* { return new TestGood(); }, [](module::Module* m) { delete m; },
                                     nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

// A well-formed test module for the loader tests: one option, a list of
// tables with a defaulted option, one feature.
#include "module/module_api.hpp"

#include <iterator>

namespace {

using namespace parley;

class TestGood final : public module::Module {
public:
    Status configure(const config::Section& s) override {
        if (s.get_string("greeting", "hello") == "forbidden") return Status::error("config", "greeting 'forbidden' is not allowed");
        // The schema's default must have been filled in before configure().
        for (const config::Section& rule : s.tables("rule"))
            if (!rule.has("action")) return Status::error("config", rule.where("action") + ": no default filled in");
        return Status::ok();
    }
    Status start(module::Host& host) override {
        host.disco_feature("urn:parley:test:good");
        return Status::ok();
    }
};

const char* const kActions[] = {"allow", "deny", nullptr};
const config::OptionSpec kRule[] = {
    {.name = "action", .type = config::OptionType::string, .default_value = "allow", .help = "what to do",
     .choices = kActions},
};
const config::OptionSpec kOptions[] = {
    {"greeting", config::OptionType::string, "hello", "what to say"},
    config::table_list_option("rule", "rules", kRule),
};
const char* const kDeps[] = {nullptr};

const module::Descriptor kDescriptor{
    module::kAbiVersion, "testgood", "1.0", "a module for the loader tests", kDeps, nullptr, 0,
    kOptions, std::size(kOptions), []() -> module::Module* { return new TestGood(); }, [](module::Module* m) { delete m; },
    nullptr, nullptr, nullptr};

}  // namespace

PARLEY_MODULE(kDescriptor)

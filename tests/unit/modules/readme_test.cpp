#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fstream>
#include <sstream>

#include "../modules/disco/service_discovery.hpp"
#include "../modules/version/software_version.hpp"

using namespace parley;

namespace {

std::string read_readme(const std::string& module) {
    std::ifstream in(std::string(PARLEY_TEST_SRCDIR) + "/modules/" + module + "/README.md");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// Every option of the schema is documented in the module's README, with its
// default: the docs are checked against the schema, not kept by memory.
void check(const std::string& module, const config::OptionSpec* specs, size_t count) {
    const std::string doc = read_readme(module);
    BOOST_REQUIRE_MESSAGE(!doc.empty(), "modules: no README for " << module);
    for (size_t i = 0; i < count; ++i) {
        const std::string name = std::string("`") + specs[i].name + "`";
        BOOST_TEST(doc.find(name) != std::string::npos, "modules: " << module << " README misses option " << name);
        std::string dflt = specs[i].default_value;
        if (specs[i].type == config::OptionType::string) dflt = "\"" + dflt + "\"";
        BOOST_TEST(doc.find("`" + dflt + "`") != std::string::npos,
                   "modules: " << module << " README misses the default " << dflt << " of " << name);
    }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_readme)

BOOST_AUTO_TEST_CASE(readmes_document_every_option_with_its_default) {
    check("disco", mod_disco::kOptions, mod_disco::kOptionCount);
    check("version", mod_version::kOptions, mod_version::kOptionCount);
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include <fmt/format.h>

#include <boost/test/unit_test.hpp>

#include "../modules/disco/service_discovery.hpp"
#include "../modules/roster/roster.hpp"
#include "../modules/offline/offline.hpp"
#include "../modules/vcard/vcard.hpp"
#include "../modules/version/software_version.hpp"
#include "../modules/upload/upload.hpp"
#include "modules/archive/archiver.hpp"
#include "modules/content_policy/policy.hpp"
#include "modules/federation_policy/policy.hpp"
#include "support/option_docs.hpp"

using namespace parley;

namespace {

// Every option of the schema, nested ones by their path, is documented in
// the module's README with its default: the docs are checked against the
// schema, not kept by memory.
void check(const std::string& module, const config::OptionSpec* specs, size_t count) {
    const std::string doc =
        test::read_text(std::string(PARLEY_TEST_SRCDIR) + "/modules/" + module + "/README.md");
    BOOST_REQUIRE_MESSAGE(!doc.empty(), "modules: no README for " << module);
    const auto missing = test::undocumented_options(doc, specs, count);
    BOOST_TEST(missing.empty(),
               "modules: " << module << " README: " << fmt::format("{}", fmt::join(missing, "; ")));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_readme)

BOOST_AUTO_TEST_CASE(readmes_document_every_option_with_its_default) {
    check("disco", mod_disco::kOptions, mod_disco::kOptionCount);
    check("version", mod_version::kOptions, mod_version::kOptionCount);
    check("roster", mod_roster::kOptions, mod_roster::kOptionCount);
    check("offline", mod_offline::kOptions, mod_offline::kOptionCount);
    check("archive", mod_archive::kOptions, mod_archive::kOptionCount);
    check("vcard", mod_vcard::kOptions, mod_vcard::kOptionCount);
    check("upload", mod_upload::kOptions, mod_upload::kOptionCount);
    check("content_policy", mod_content_policy::kOptions, mod_content_policy::kOptionCount);
    check("federation_policy", mod_federation_policy::kOptions, mod_federation_policy::kOptionCount);
}

BOOST_AUTO_TEST_SUITE_END()

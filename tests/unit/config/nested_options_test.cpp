#define BOOST_TEST_DYN_LINK
#include <fmt/format.h>

#include <boost/test/unit_test.hpp>
#include <iterator>
#include <string>

#include "config/config.hpp"
#include "support/option_docs.hpp"
#include "support/temp_dir.hpp"

using namespace parley;

namespace {

// The example schema of doc/modules.md "Nested options": a federation
// policy with a list of tiers, each with a list of rules, and a nested
// retention table.
const char* const kAuth[] = {"pki", "dialback", nullptr};
const char* const kKinds[] = {"message", "presence", "iq", nullptr};
const char* const kActions[] = {"allow", "deny", nullptr};
const char* const kPolicies[] = {"allow", "deny", nullptr};

const config::OptionSpec kRule[] = {
    {.name = "kind",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "the stanza kind the rule is about",
     .required = true,
     .choices = kKinds},
    {.name = "action",
     .type = config::OptionType::string,
     .default_value = "allow",
     .help = "what to do with it",
     .choices = kActions},
};
const config::OptionSpec kTier[] = {
    {.name = "name",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "the tier's name, used in logs",
     .required = true},
    {"domains", config::OptionType::string_list, "[]",
     "remote domains in the tier; *.example.org for its subdomains"},
    {.name = "auth",
     .type = config::OptionType::string,
     .default_value = "pki",
     .help = "how a server of the tier must authenticate",
     .choices = kAuth},
    {"max_stanza_bytes", config::OptionType::integer, "65536", "largest stanza taken", 10000,
     16777216},
    config::table_list_option("rule", "what may cross, by stanza kind", kRule),
};
const config::OptionSpec kRetentionDefault[] = {
    {"keep_days", config::OptionType::integer, "2555", "days a message is kept", 1, 36500},
};
const config::OptionSpec kRetention[] = {
    config::table_option("default", "the rule for whatever no other rule names", kRetentionDefault),
};
const config::OptionSpec kExample[] = {
    {.name = "default",
     .type = config::OptionType::string,
     .default_value = "deny",
     .help = "for a domain in no tier",
     .choices = kPolicies},
    {"ports", config::OptionType::integer_list, "[5269]", "ports tried", 1, 65535},
    config::table_list_option("tier", "the tiers of remote domains", kTier),
    config::table_option("retention", "how long messages are kept", kRetention),
};
constexpr size_t kExampleCount = std::size(kExample);

const std::string kHost = R"(
[[virtual_host]]
domain = "example.org"
certificate = "c.pem"
key = "k.pem"
)";

const std::string kHead = R"(data_dir = "d"
[modules]
enabled = ["federation_policy"]
)";  // 3 lines: the module's own table starts on line 4

struct NestedFixture {
    test::TempDir dir;
    std::string path = dir.sub("parley.toml");

    // The module's section as read from kHead + body, which must load.
    config::Section section(const std::string& body) {
        dir.write("parley.toml", kHead + body + kHost);
        auto r = config::load(path);
        BOOST_REQUIRE_MESSAGE(r.is_ok(), "config: must load: " << r.status().to_string());
        auto it = r.value().module_sections.find("federation_policy");
        if (it != r.value().module_sections.end()) return it->second;
        config::Section s;
        s.file = path;
        s.name = "federation_policy";
        return s;
    }
    // The message of a load that must fail.
    std::string load_error(const std::string& body) {
        dir.write("parley.toml", kHead + body + kHost);
        auto r = config::load(path);
        BOOST_REQUIRE_MESSAGE(!r.is_ok(), "config: must be refused:\n" << body);
        return r.status().message();
    }
    std::string validate(const config::Section& s) {
        Status st = config::validate_section(s, kExample, kExampleCount);
        return st.is_ok() ? "" : st.message();
    }
    std::string at(int line) const { return fmt::format("{}:{}:", path, line); }
};

bool has(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(config_nested_options, NestedFixture)

BOOST_AUTO_TEST_CASE(valid_nested_options_read_back_with_their_lines) {
    const config::Section s = section(R"(
[modules.federation_policy]
default = "allow"
ports = [5269, 5270]

[[modules.federation_policy.tier]]
name = "trusted"
domains = ["a.example", "*.b.example"]
auth = "pki"
max_stanza_bytes = 65536

[[modules.federation_policy.tier.rule]]
kind = "message"
action = "deny"

[[modules.federation_policy.tier]]
name = "restricted"
auth = "dialback"

[modules.federation_policy.retention.default]
keep_days = 30
)");
    const std::string problems = validate(s);
    BOOST_TEST(problems.empty(), "config: a valid nested section was refused: " << problems);
    BOOST_TEST(s.get_string("default", "?") == "allow");
    BOOST_TEST((s.get_int_list("ports") == std::vector<int64_t>{5269, 5270}));

    const std::vector<config::Section> tiers = s.tables("tier");
    BOOST_REQUIRE(tiers.size() == 2u);
    BOOST_TEST(tiers[0].line == 9);
    BOOST_TEST(tiers[0].path == "tier[0]");
    BOOST_TEST(tiers[0].get_string("name", "?") == "trusted");
    BOOST_TEST(
        (tiers[0].get_list("domains") == std::vector<std::string>{"a.example", "*.b.example"}));
    BOOST_TEST(tiers[0].get_int("max_stanza_bytes", 0) == 65536);
    BOOST_TEST(tiers[0].values.at("auth").line == 12);
    BOOST_TEST(tiers[1].line == 19);
    BOOST_TEST(tiers[1].get_string("auth", "?") == "dialback");
    BOOST_TEST(tiers[1].key_path("auth") == "modules.federation_policy.tier[1].auth");
    BOOST_TEST(tiers[1].where("auth") == at(21) + " modules.federation_policy.tier[1].auth");
    BOOST_TEST(tiers[1].where("name") == at(20) + " modules.federation_policy.tier[1].name");

    const std::vector<config::Section> rules = tiers[0].tables("rule");
    BOOST_REQUIRE(rules.size() == 1u);
    BOOST_TEST(rules[0].line == 15);
    BOOST_TEST(rules[0].path == "tier[0].rule[0]");
    BOOST_TEST(rules[0].get_string("action", "?") == "deny");
    BOOST_TEST(tiers[1].tables("rule").empty());

    const config::Section keep = s.table("retention").table("default");
    BOOST_TEST(keep.line == 23);
    BOOST_TEST(keep.path == "retention.default");
    BOOST_TEST(keep.get_int("keep_days", 0) == 30);
    BOOST_TEST(keep.where("keep_days") ==
               at(24) + " modules.federation_policy.retention.default.keep_days");
}

BOOST_AUTO_TEST_CASE(every_nested_error_with_its_full_path_and_line) {
    const config::Section s = section(R"([modules.federation_policy]
ports = [5269, 70000]
[[modules.federation_policy.tier]]
domains = ["a.example"]
[[modules.federation_policy.tier]]
name = "x"
atuh = "pki"
[[modules.federation_policy.tier]]
name = "y"
auth = "kerberos"
max_stanza_bytes = 5
[[modules.federation_policy.tier.rule]]
kind = "message"
action = 3
[[modules.federation_policy.tier.rule]]
action = "allow"
[modules.federation_policy.retention.default]
keep_days = "forever"
extra = true
)");
    // In file order, each exactly once; the table header is the line of a
    // required key that is missing from it.
    const std::string expected = fmt::format(
        "{0}:5: modules.federation_policy.ports[1]: 70000 is out of range: must be between 1 and "
        "65535\n"
        "{0}:6: modules.federation_policy.tier[0].name: missing (required)\n"
        "{0}:10: modules.federation_policy.tier[1].atuh: unknown option (did you mean 'auth'?)\n"
        "{0}:13: modules.federation_policy.tier[2].auth: expected one of pki, dialback, got "
        "'kerberos'\n"
        "{0}:14: modules.federation_policy.tier[2].max_stanza_bytes: 5 is out of range: must be "
        "between 10000 and 16777216\n"
        "{0}:17: modules.federation_policy.tier[2].rule[0].action: expected a string, got an "
        "integer\n"
        "{0}:18: modules.federation_policy.tier[2].rule[1].kind: missing (required)\n"
        "{0}:21: modules.federation_policy.retention.default.keep_days: expected an integer, got "
        "a string\n"
        "{0}:22: modules.federation_policy.retention.default.extra: unknown option (known: "
        "keep_days)",
        path);
    BOOST_TEST(validate(s) == expected);
}

BOOST_AUTO_TEST_CASE(required_keys_of_a_table_absent_from_the_file_have_no_line) {
    const config::OptionSpec inner[] = {{.name = "id",
                                         .type = config::OptionType::string,
                                         .default_value = nullptr,
                                         .help = "id",
                                         .required = true}};
    const config::OptionSpec specs[] = {config::table_option("must", "a required table", inner,
                                                             /*required=*/true)};
    config::Section s = section("");  // no [modules.federation_policy] at all
    Status st = config::validate_section(s, specs, 1);
    BOOST_TEST(st.message() == path + ": modules.federation_policy.must: missing (required)");
    // Written but empty: the table's own header is the line of what it lacks.
    s = section("[modules.federation_policy.must]\n");
    st = config::validate_section(s, specs, 1);
    BOOST_TEST(st.message() == at(4) + " modules.federation_policy.must.id: missing (required)");
}

BOOST_AUTO_TEST_CASE(an_absent_table_with_required_keys_stays_absent) {
    // Found by the config fuzz target: made up with its defaults, such a
    // table would lack its required keys and the section would no longer
    // validate.
    const config::OptionSpec inner[] = {{.name = "id",
                                         .type = config::OptionType::string,
                                         .default_value = nullptr,
                                         .help = "id",
                                         .required = true},
                                        {"size", config::OptionType::integer, "3", "size"}};
    const config::OptionSpec specs[] = {config::table_option("opt", "optional table", inner)};
    const config::Section raw = section("[modules.federation_policy]\n");
    BOOST_REQUIRE(config::validate_section(raw, specs, 1).is_ok());
    const config::Section s = config::with_defaults(raw, specs, 1);
    BOOST_TEST(!s.has("opt"));
    BOOST_TEST(s.table("opt").values.empty());
    BOOST_TEST(config::validate_section(s, specs, 1).is_ok());
    // Written, it gets its defaults.
    const config::Section written =
        config::with_defaults(section("[modules.federation_policy.opt]\nid = \"x\"\n"), specs, 1);
    BOOST_TEST(written.table("opt").get_int("size", 0) == 3);
}

BOOST_AUTO_TEST_CASE(defaults_apply_inside_nested_tables) {
    const config::Section raw = section(R"(
[modules.federation_policy]
[[modules.federation_policy.tier]]
name = "plain"
[[modules.federation_policy.tier.rule]]
kind = "presence"
[[modules.federation_policy.tier]]
name = "tight"
auth = "dialback"
max_stanza_bytes = 20000
)");
    BOOST_REQUIRE(validate(raw).empty());
    BOOST_TEST(!raw.tables("tier")[0].has("auth"), "config: the file's section holds what it says");

    const config::Section s = config::with_defaults(raw, kExample, kExampleCount);
    BOOST_TEST(s.get_string("default", "?") == "deny", "config: a bare string default");
    BOOST_TEST((s.get_int_list("ports") == std::vector<int64_t>{5269}));
    BOOST_TEST(s.values.at("ports").line == 0, "config: a default has no line");
    const auto tiers = s.tables("tier");
    BOOST_REQUIRE(tiers.size() == 2u);
    BOOST_TEST(tiers[0].get_string("auth", "?") == "pki");
    BOOST_TEST(tiers[0].get_int("max_stanza_bytes", 0) == 65536);
    BOOST_TEST(tiers[0].get_list("domains").empty());
    BOOST_TEST(tiers[0].line == 6, "config: defaults keep the element's line");
    BOOST_TEST(tiers[0].tables("rule").at(0).get_string("action", "?") == "allow",
               "config: defaults apply two lists deep");
    BOOST_TEST(tiers[1].get_string("auth", "?") == "dialback", "config: a written value stays");
    BOOST_TEST(tiers[1].get_int("max_stanza_bytes", 0) == 20000);
    BOOST_TEST(tiers[1].tables("rule").empty());
    // The retention table is not in the file: it reads as its defaults.
    BOOST_TEST(s.table("retention").table("default").get_int("keep_days", 0) == 2555);
    BOOST_TEST(s.table("retention").table("default").path == "retention.default");
    BOOST_TEST(config::validate_section(s, kExample, kExampleCount).is_ok(),
               "config: a section with its defaults filled in still validates");
}

BOOST_AUTO_TEST_CASE(a_list_of_no_tables) {
    const config::Section raw = section("[modules.federation_policy]\ntier = []\nports = []\n");
    BOOST_TEST(validate(raw).empty(), validate(raw));
    BOOST_TEST(raw.tables("tier").empty());
    const config::Section s = config::with_defaults(raw, kExample, kExampleCount);
    BOOST_TEST(s.tables("tier").empty());
    BOOST_TEST(std::holds_alternative<std::vector<config::Section>>(s.values.at("tier").value),
               "config: [] becomes a list of the schema's type");
    BOOST_TEST(s.get_int_list("ports").empty(),
               "config: a written [] is not replaced by the default");
    BOOST_TEST(s.values.at("ports").line == 6);
}

BOOST_AUTO_TEST_CASE(a_table_where_a_list_is_expected_and_the_reverse) {
    const config::Section s = section(R"([modules.federation_policy]
retention = [{ default = { keep_days = 1 } }]
ports = "5269"
[modules.federation_policy.tier]
name = "x"
)");
    const std::string m = validate(s);
    BOOST_TEST(
        m == fmt::format("{0}:5: modules.federation_policy.retention: expected a table, got a list "
                         "of tables\n"
                         "{0}:6: modules.federation_policy.ports: expected a list of integers, got "
                         "a string\n"
                         "{0}:7: modules.federation_policy.tier: expected a list of tables, got a "
                         "table",
                         path));
    const config::Section scalar =
        section("[modules.federation_policy]\nretention = 3\ntier = 3\n");
    const std::string n = validate(scalar);
    BOOST_TEST(
        has(n, at(5) + " modules.federation_policy.retention: expected a table, got an integer"),
        n);
    BOOST_TEST(
        has(n,
            at(6) + " modules.federation_policy.tier: expected a list of tables, got an integer"),
        n);
}

BOOST_AUTO_TEST_CASE(lists_the_reader_refuses) {
    const std::string m = load_error(R"([modules.federation_policy]
domains = ["a", 1]
ratios = [0.5]
tier = [{ name = "a" }, 3]
numbers = [1, "2"]
)");
    BOOST_TEST(has(m, at(5) + " modules.federation_policy.domains: expected a list of strings, "
                              "found an integer in it"),
               m);
    BOOST_TEST(
        has(m,
            at(6) +
                " modules.federation_policy.ratios: a list of floats is not a module option type"),
        m);
    BOOST_TEST(has(m, at(7) + " modules.federation_policy.tier[1]: expected a table (all elements "
                              "of tier must be tables), got an integer"),
               m);
    BOOST_TEST(has(m, at(8) + " modules.federation_policy.numbers: expected a list of integers, "
                              "found a string in it"),
               m);
}

BOOST_AUTO_TEST_CASE(nesting_is_bounded) {
    // Eight tables deep is allowed, a ninth is not.
    const config::Section ok = section("[modules.federation_policy.a.b.c.d.e.f.g.h]\nx = 1\n");
    BOOST_TEST(ok.table("a")
                   .table("b")
                   .table("c")
                   .table("d")
                   .table("e")
                   .table("f")
                   .table("g")
                   .table("h")
                   .get_int("x", 0) == 1);
    const std::string m = load_error("[modules.federation_policy.a.b.c.d.e.f.g.h.i]\nx = 1\n");
    BOOST_TEST(has(m, at(4) + " modules.federation_policy.a.b.c.d.e.f.g.h.i: module options nest "
                              "at most 8 tables deep"),
               m);
}

BOOST_AUTO_TEST_CASE(a_schema_that_refers_to_itself_ends) {
    // A tree of tables: with_defaults and documented_options stop at the
    // nesting bound instead of looping.
    static config::OptionSpec node[2] = {
        {"label", config::OptionType::string, "leaf", "a label"},
        {.name = "child",
         .type = config::OptionType::table,
         .default_value = nullptr,
         .help = "the next node"},
    };
    node[1].fields = node;
    node[1].field_count = 2;
    config::Section empty = section("");
    const config::Section s = config::with_defaults(empty, node, 2);
    config::Section deepest = s;
    int depth = 0;
    while (deepest.has("child")) {
        deepest = deepest.table("child");
        ++depth;
    }
    BOOST_TEST(depth == config::kMaxOptionDepth);
    BOOST_TEST(deepest.get_string("label", "?") == "leaf");
    BOOST_TEST(config::documented_options(node, 2).size() ==
               static_cast<size_t>(2 * (config::kMaxOptionDepth + 1)));
}

BOOST_AUTO_TEST_CASE(documented_names_of_nested_options) {
    std::vector<std::string> names;
    for (const auto& o : config::documented_options(kExample, kExampleCount))
        names.push_back(o.name);
    BOOST_TEST((names == std::vector<std::string>{
                             "default", "ports", "tier", "tier[].name", "tier[].domains",
                             "tier[].auth", "tier[].max_stanza_bytes", "tier[].rule",
                             "tier[].rule[].kind", "tier[].rule[].action", "retention",
                             "retention.default", "retention.default.keep_days"}));
}

BOOST_AUTO_TEST_CASE(doc_modules_md_documents_its_example) {
    const std::string doc = test::read_text(std::string(PARLEY_TEST_SRCDIR) + "/doc/modules.md");
    BOOST_REQUIRE(has(doc, "## Nested options"));
    const auto missing = test::undocumented_options(doc, kExample, kExampleCount);
    BOOST_TEST(missing.empty(), "doc/modules.md: " << fmt::format("{}", fmt::join(missing, "; ")));
    // The check itself notices a missing row, default, "required" and choice.
    std::string broken = doc;
    for (const char* cut : {"| `tier[].auth` |", "`2555`", "| `tier[].rule[].kind` |"}) {
        const size_t at = broken.find(cut);
        BOOST_REQUIRE(at != std::string::npos);
        broken.replace(at, std::string(cut).size(), "");
    }
    const auto found = test::undocumented_options(broken, kExample, kExampleCount);
    BOOST_TEST(found.size() == 3u, fmt::format("{}", fmt::join(found, "; ")));
}

BOOST_AUTO_TEST_SUITE_END()

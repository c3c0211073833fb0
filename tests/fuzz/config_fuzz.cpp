// libFuzzer target: the configuration loader (server/config) on arbitrary
// file contents, and each module section it reads checked against a schema
// with nested tables and lists of tables, filled with its defaults and read
// back. Any input: no crash, no exception out of load(); an error always
// names the file; a section with its defaults filled in that validated
// still validates.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <string>

#include "config/config.hpp"

namespace {

using parley::config::OptionSpec;
using parley::config::OptionType;
using parley::config::Section;

const char* const kAuth[] = {"pki", "dialback", nullptr};
const OptionSpec kRule[] = {
    {.name = "kind",
     .type = OptionType::string,
     .default_value = nullptr,
     .help = "kind",
     .required = true},
    {"limit", OptionType::integer, "10", "limit", 0, 1000},
    {"ports", OptionType::integer_list, "[1, 2]", "ports", 1, 65535},
};
const OptionSpec kTier[] = {
    {.name = "name",
     .type = OptionType::string,
     .default_value = nullptr,
     .help = "name",
     .required = true},
    {"domains", OptionType::string_list, "[\"a\"]", "domains"},
    {.name = "auth",
     .type = OptionType::string,
     .default_value = "pki",
     .help = "auth",
     .choices = kAuth},
    {"on", OptionType::boolean, "true", "on"},
    parley::config::table_list_option("rule", "rules", kRule),
    parley::config::table_option("limits", "limits", kRule),
};
const OptionSpec kOptions[] = {
    parley::config::table_list_option("tier", "tiers", kTier),
    parley::config::table_option("retention", "retention", kTier),
    {"name", OptionType::string, "x", "name"},
};

// Reads every value the way a module would, down the whole tree.
size_t walk(const Section& s, const OptionSpec* specs, size_t count, int depth) {
    size_t n = s.values.size();
    if (depth > parley::config::kMaxOptionDepth + 1) std::abort();
    for (size_t i = 0; i < count; ++i) {
        const OptionSpec& spec = specs[i];
        n += s.get_string(spec.name, "").size() + s.get_list(spec.name).size() +
             s.get_int_list(spec.name).size() + static_cast<size_t>(s.get_int(spec.name, 0) & 1) +
             s.where(spec.name).size();
        if (spec.type == OptionType::table)
            n += walk(s.table(spec.name), spec.fields, spec.field_count, depth + 1);
        if (spec.type == OptionType::table_list)
            for (const Section& e : s.tables(spec.name))
                n += walk(e, spec.fields, spec.field_count, depth + 1);
    }
    return n;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const std::string path = [] {
        // Under tests/fuzz/run, TMPDIR is the run's own directory, removed after.
        const char* base = std::getenv("TMPDIR");
        std::string tmpl =
            std::string(base && *base ? base : "/tmp") + "/parley-config-fuzz-XXXXXX";
        const char* dir = mkdtemp(tmpl.data());
        if (!dir) std::abort();
        return std::string(dir) + "/parley.toml";
    }();
    FILE* f = std::fopen(path.c_str(), "wb");
    if (!f) std::abort();
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
    auto r = parley::config::load(path);
    if (!r && r.status().message().find(path) == std::string::npos) std::abort();
    if (!r) return 0;
    for (const auto& [name, section] : r.value().module_sections) {
        parley::Status v = parley::config::validate_section(section, kOptions, std::size(kOptions));
        if (!v && v.message().find(path) == std::string::npos) std::abort();
        const Section filled =
            parley::config::with_defaults(section, kOptions, std::size(kOptions));
        if (v && !parley::config::validate_section(filled, kOptions, std::size(kOptions)))
            std::abort();
        if (walk(filled, kOptions, std::size(kOptions), 0) == SIZE_MAX) std::abort();
    }
    return 0;
}

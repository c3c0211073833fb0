// Checks a Markdown page against a module's option schema: every option,
// nested ones by their path (`retention.default.keep_days`, `tier[].auth`,
// config::documented_options), has a table row of its own
// "| `NAME` | ... |" that shows its default (a string quoted, as in TOML) or
// says "required", and names each allowed value. Used by the README tests
// of modules and by the test of doc/modules.md's example. Header-only test
// support; one thread.
#pragma once

#include <fmt/format.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/schema.hpp"

namespace parley::test {

inline std::string read_text(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The row "| `name` | ..." of doc, or "" when there is none.
inline std::string option_row(const std::string& doc, const std::string& name) {
    const std::string start = "| `" + name + "` |";
    size_t at = 0;
    while ((at = doc.find(start, at)) != std::string::npos) {
        if (at == 0 || doc[at - 1] == '\n') return doc.substr(at, doc.find('\n', at) - at);
        at += start.size();
    }
    return "";
}

// What doc fails to say about the schema, one entry per omission; empty
// when everything is documented.
inline std::vector<std::string> undocumented_options(const std::string& doc,
                                                     const config::OptionSpec* specs,
                                                     size_t count) {
    std::vector<std::string> out;
    for (const auto& [name, spec] : config::documented_options(specs, count)) {
        const std::string row = option_row(doc, name);
        if (row.empty()) {
            out.push_back(fmt::format("no row for option `{}`", name));
            continue;
        }
        if (spec->required) {
            if (row.find("required") == std::string::npos)
                out.push_back(fmt::format("`{}` is required but its row does not say so", name));
        } else if (spec->default_value) {
            std::string dflt = spec->default_value;
            if (spec->type == config::OptionType::string && (dflt.empty() || dflt.front() != '"'))
                dflt = "\"" + dflt + "\"";
            if (row.find("`" + dflt + "`") == std::string::npos)
                out.push_back(fmt::format("the row of `{}` misses its default `{}`", name, dflt));
        }
        for (const char* const* c = spec->choices; c && *c; ++c)
            if (row.find(std::string("`") + *c + "`") == std::string::npos)
                out.push_back(
                    fmt::format("the row of `{}` misses the allowed value `{}`", name, *c));
    }
    return out;
}

}  // namespace parley::test

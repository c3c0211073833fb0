// Module option schemas and the sections they check.
//
// A module declares its options as a static array of OptionSpec (name, type,
// default, one line of help, integer range). The loader reads each
// `[modules.NAME]` table of parley.toml into a Section: the raw values with
// the line each came from, so that validate_section can name file, line and
// key for every mistake at once. A module reads its settings through the
// get_* accessors, which fall back to the given default when a key is absent.
// Value types: immutable once built, any thread may read them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include "errors/status.hpp"

namespace parley::config {

enum class OptionType { string, integer, boolean, string_list };

// One value as written in the file, with its 1-based line (0 when unknown).
struct OptionValue {
    std::variant<std::string, int64_t, bool, std::vector<std::string>> value;
    int line = 0;
};

// One option of a module's schema. An aggregate, so that a module can write
// {"greeting", config::OptionType::string, "hello", "what to say"}.
struct OptionSpec {
    const char* name;
    OptionType type;
    const char* default_value;  // as it would be written in TOML, for the docs
    const char* help;           // one line
    int64_t min = INT64_MIN;    // integers only
    int64_t max = INT64_MAX;
};

// The `[modules.NAME]` table of one module.
struct Section {
    std::string file;  // the config file it came from
    std::string name;  // the module name
    int line = 0;      // line of the table header, 0 if the table is absent
    std::map<std::string, OptionValue> values;

    // The value of key, or def when the key is absent or of another type
    // (validate_section has refused the latter before a module sees it).
    std::string get_string(const std::string& key, const std::string& def) const;
    int64_t get_int(const std::string& key, int64_t def) const;
    bool get_bool(const std::string& key, bool def) const;
    std::vector<std::string> get_list(const std::string& key) const;  // empty when absent
};

// Human name of a type, "a string", "an integer", ... for messages.
const char* type_name(OptionType type);

// The candidate closest to word (edit distance at most 2), or "" when none
// is close: used for "did you mean ...?" hints on unknown keys.
std::string closest_name(const std::string& word, const std::vector<std::string>& candidates);

// Checks every value of the section against the schema: unknown keys, wrong
// types and integers out of range. All problems are reported in one Status
// (code "config"), one per line, each as
// "FILE:LINE: [modules.NAME] KEY: what is wrong".
Status validate_section(const Section& section, const OptionSpec* specs, size_t count);

}  // namespace parley::config

// Module option schemas and the sections they check.
//
// A module declares its options as a static array of OptionSpec (name, type,
// default, one line of help, integer range, allowed strings, required). An
// option may itself be a table, or a list of tables, with its own nested
// schema (OptionSpec::fields), to any depth the file has. The loader reads
// each `[modules.NAME]` table of parley.toml into a Section: the raw values
// with the line each came from, nested tables as nested Sections, so that
// validate_section can name file, line and full key for every mistake at
// once ("parley.toml:42: modules.federation_policy.tier[2].auth: ...").
// with_defaults fills in what the schema gives a default for; the host hands
// a module its section with the defaults filled in. A module reads its
// settings through the get_* accessors (which fall back to the given default
// when a key is absent), table() and tables().
// Value types: immutable once built, any thread may read them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "errors/status.hpp"

namespace parley::config {

enum class OptionType {
    string,
    integer,
    boolean,
    string_list,
    integer_list,
    table,       // a TOML table, checked against OptionSpec::fields
    table_list,  // a list of tables ([[...]] or [{...}, ...]), each checked against fields
};

struct Section;

// One value as written in the file, with its 1-based line (0 when unknown,
// or when the value is a default filled in by with_defaults). An empty TOML
// list `[]` is read as an empty list of strings and is accepted for any list
// type.
struct OptionValue {
    std::variant<std::string, int64_t, bool, std::vector<std::string>, std::vector<int64_t>,
                 std::shared_ptr<const Section>, std::vector<Section>>
        value;
    int line = 0;
};

// One option of a module's schema. An aggregate, so that a module can write
// {"greeting", config::OptionType::string, "hello", "what to say"}, or with
// designated initializers for the later members:
// {.name = "tier", .type = config::OptionType::table_list, .default_value = "[]",
//  .help = "...", .fields = kTier, .field_count = std::size(kTier)}.
struct OptionSpec {
    const char* name;
    OptionType type;
    // As it would be written in TOML ("3", "false", "[]", "\"text\""; a string
    // may also be written bare, "text"): shown in the docs and filled in by
    // with_defaults when the key is absent. nullptr: no default. Tables have
    // no default of their own: an absent table is filled with its fields'
    // defaults, an absent list of tables is empty.
    const char* default_value;
    const char* help;         // one line
    int64_t min = INT64_MIN;  // integers and each element of integer lists
    int64_t max = INT64_MAX;
    // Since ABI 2.
    const OptionSpec* fields = nullptr;  // table and table_list: the nested schema
    size_t field_count = 0;
    // Must be written whenever the table holding it is: an absent key is an
    // error. (A table option that is not itself required may be left out
    // altogether; its required fields are then not asked for, and
    // with_defaults leaves it out too.)
    bool required = false;
    // string and each element of string_list: the only values allowed,
    // nullptr-terminated; nullptr: any string.
    const char* const* choices = nullptr;
};

// A table option and a list-of-tables option with their nested schema:
//   const config::OptionSpec kTier[] = {...};
//   const config::OptionSpec kOptions[] = {
//       config::table_list_option("tier", "the federation tiers", kTier), ...};
template <size_t N>
constexpr OptionSpec table_option(const char* name, const char* help, const OptionSpec (&fields)[N],
                                  bool required = false) {
    return {.name = name,
            .type = OptionType::table,
            .default_value = nullptr,
            .help = help,
            .fields = fields,
            .field_count = N,
            .required = required};
}
template <size_t N>
constexpr OptionSpec table_list_option(const char* name, const char* help,
                                       const OptionSpec (&fields)[N], bool required = false) {
    return {.name = name,
            .type = OptionType::table_list,
            .default_value = "[]",
            .help = help,
            .fields = fields,
            .field_count = N,
            .required = required};
}

// The `[modules.NAME]` table of one module, or a table nested in it.
struct Section {
    std::string file;  // the config file it came from
    std::string name;  // the module name
    int line = 0;      // line of the table header, 0 if the table is absent
    std::map<std::string, OptionValue> values;
    // Where this table sits inside [modules.NAME]: "" for the module's own
    // table, "retention.default" for a nested table, "tier[2]" for the third
    // element of a list of tables.
    std::string path;

    // The value of key, or def when the key is absent or of another type
    // (validate_section has refused the latter before a module sees it).
    std::string get_string(const std::string& key, const std::string& def) const;
    int64_t get_int(const std::string& key, int64_t def) const;
    bool get_bool(const std::string& key, bool def) const;
    std::vector<std::string> get_list(const std::string& key) const;  // empty when absent
    std::vector<int64_t> get_int_list(const std::string& key) const;  // empty when absent

    // A nested table; when absent (or not a table), an empty Section with
    // line 0 and the path it would have, so that reading from it gives the
    // defaults.
    Section table(const std::string& key) const;
    // A list of tables, each with its own line and path ("tier[0]", ...);
    // empty when absent.
    std::vector<Section> tables(const std::string& key) const;

    bool has(const std::string& key) const { return values.count(key) != 0; }
    // The full key as written in messages: "modules.NAME.tier[2].auth".
    std::string key_path(const std::string& key) const;
    // "FILE:LINE: modules.NAME.PATH.KEY" for a module's own error messages;
    // the line of the value, or of this table when the key is absent.
    std::string where(const std::string& key) const;
};

// How deep module option tables may nest inside [modules.NAME] (the module's
// own table is depth 0): deeper tables in the file are an error, and
// with_defaults and documented_options stop there, so that a schema that
// refers to itself cannot make them loop.
inline constexpr int kMaxOptionDepth = 8;

// Human name of a type, "a string", "an integer", ... for messages.
const char* type_name(OptionType type);

// The candidate closest to word (edit distance at most 2), or "" when none
// is close: used for "did you mean ...?" hints on unknown keys.
std::string closest_name(const std::string& word, const std::vector<std::string>& candidates);

// Checks every value of the section against the schema, nested tables and
// each element of lists of tables included: unknown keys, wrong types,
// integers out of range, strings not among the choices, required keys
// missing. All problems are reported in one Status (code "config"), one per
// line in file order, each as "FILE:LINE: modules.NAME.KEY: what is wrong"
// where KEY is the full path ("tier[2].auth"); a missing key of a table that
// is absent from the file has no line ("FILE: modules.NAME.KEY: ...").
Status validate_section(const Section& section, const OptionSpec* specs, size_t count);

// The section with the schema's defaults filled in (line 0) for every absent
// key that has one, in nested tables and in each element of lists of tables
// too; an absent table becomes a table of its fields' defaults (unless it
// has a required key: it then stays absent, so that a section that
// validated still validates with its defaults), an absent list of tables an
// empty list, an empty `[]` a list of the schema's type. Values of the
// wrong type are left as they are (validate first).
Section with_defaults(const Section& section, const OptionSpec* specs, size_t count);

// Every option of a schema under the name the docs give it: nested options
// by their path, "retention.default.keep_days", "tier[].auth", each after
// the table that holds it. Module READMEs are checked against this list.
struct DocumentedOption {
    std::string name;
    const OptionSpec* spec;
};
std::vector<DocumentedOption> documented_options(const OptionSpec* specs, size_t count);

}  // namespace parley::config

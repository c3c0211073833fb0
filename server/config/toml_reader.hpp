// TomlReader: typed reading of a parsed toml++ document with error
// collection, for config.cpp (internal to server/config; nothing else
// includes toml++).
//
// Every check that fails is recorded as "FILE:LINE: KEY: what is wrong" and
// reading goes on, so that one load reports every problem in the file; a
// failed read leaves the target unchanged. walk() dispatches the keys of a
// table to their fields and reports the unknown ones with a "did you mean"
// hint. One reader per load, on one thread.
#pragma once

#include <toml++/toml.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace parley::config::detail {

int line_of(const toml::node& n);
int line_of(const toml::key& k);
const char* toml_type_name(const toml::node& n);  // "a string", "a float", ...

class TomlReader {
  public:
    using Handler = std::function<void(const toml::node& value, const std::string& key)>;
    struct Field {
        const char* name;
        Handler read;
    };

    // base: the directory relative paths are resolved against.
    TomlReader(std::string file, std::filesystem::path base)
        : file_(std::move(file)), base_(std::move(base)) {}

    // line 0: the key is missing, so there is no line to name.
    void error(int line, const std::string& key, const std::string& what);
    bool failed() const { return !errors_.empty(); }
    // Every error, one per line, in file order; missing keys last.
    std::string message() const;
    const std::string& file() const { return file_; }
    std::string resolve(const std::string& path) const;

    void wrong_type(const toml::node& n, const std::string& key, const std::string& expected);
    bool string(const toml::node& n, const std::string& key, std::string& out);  // non-empty
    bool path(const toml::node& n, const std::string& key, std::string& out);    // resolved
    bool integer(const toml::node& n, const std::string& key, int64_t min, int64_t max,
                 int64_t& out);
    template <typename T>
    bool integer(const toml::node& n, const std::string& key, int64_t min, int64_t max, T& out) {
        int64_t v = 0;
        if (!integer(n, key, min, max, v)) return false;
        out = static_cast<T>(v);
        return true;
    }
    bool boolean(const toml::node& n, const std::string& key, bool& out);
    bool string_list(const toml::node& n, const std::string& key, std::vector<std::string>& out);
    const toml::table* table(const toml::node& n, const std::string& key);

    // Ready-made fields for the common cases.
    template <typename T>
    Field integer_field(const char* name, int64_t min, int64_t max, T& out) {
        return {name, [this, min, max, &out](const toml::node& n, const std::string& k) {
                    integer(n, k, min, max, out);
                }};
    }
    Field boolean_field(const char* name, bool& out) {
        return {name,
                [this, &out](const toml::node& n, const std::string& k) { boolean(n, k, out); }};
    }
    Field path_field(const char* name, std::string& out) {
        return {name, [this, &out](const toml::node& n, const std::string& k) { path(n, k, out); }};
    }

    // Hands each key of t to its field (the key passed on is prefix + name);
    // an unknown key is an error.
    void walk(const toml::table& t, const std::string& prefix, const std::vector<Field>& fields);

  private:
    std::string file_;
    std::filesystem::path base_;
    std::vector<std::pair<int, std::string>> errors_;  // (line, message)
};

}  // namespace parley::config::detail

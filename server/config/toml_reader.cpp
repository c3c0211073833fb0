#include "config/toml_reader.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <climits>

#include "config/schema.hpp"

namespace parley::config::detail {

int line_of(const toml::node& n) { return static_cast<int>(n.source().begin.line); }
int line_of(const toml::key& k) { return static_cast<int>(k.source().begin.line); }

const char* toml_type_name(const toml::node& n) {
    switch (n.type()) {
        case toml::node_type::table:
            return "a table";
        case toml::node_type::array:
            return "an array";
        case toml::node_type::string:
            return "a string";
        case toml::node_type::integer:
            return "an integer";
        case toml::node_type::floating_point:
            return "a float";
        case toml::node_type::boolean:
            return "a boolean";
        case toml::node_type::date:
            return "a date";
        case toml::node_type::time:
            return "a time";
        case toml::node_type::date_time:
            return "a date-time";
        default:
            return "nothing";
    }
}

void TomlReader::error(int line, const std::string& key, const std::string& what) {
    if (line > 0)
        errors_.emplace_back(line, fmt::format("{}:{}: {}: {}", file_, line, key, what));
    else
        errors_.emplace_back(INT_MAX, fmt::format("{}: {}: {}", file_, key, what));
}

std::string TomlReader::message() const {
    // Tables are walked in key order, not file order: sort by line.
    auto sorted = errors_;
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& e : sorted) out += (out.empty() ? "" : "\n") + e.second;
    return out;
}

std::string TomlReader::resolve(const std::string& path) const {
    std::filesystem::path p(path);
    return (p.is_absolute() ? p : base_ / p).lexically_normal().string();
}

void TomlReader::wrong_type(const toml::node& n, const std::string& key,
                            const std::string& expected) {
    error(line_of(n), key, fmt::format("expected {}, got {}", expected, toml_type_name(n)));
}

bool TomlReader::string(const toml::node& n, const std::string& key, std::string& out) {
    const auto* s = n.as_string();
    if (!s) {
        wrong_type(n, key, "a string");
        return false;
    }
    if (s->get().empty()) {
        error(line_of(n), key, "must not be empty");
        return false;
    }
    out = s->get();
    return true;
}

bool TomlReader::path(const toml::node& n, const std::string& key, std::string& out) {
    std::string p;
    if (!string(n, key, p)) return false;
    out = resolve(p);
    return true;
}

bool TomlReader::integer(const toml::node& n, const std::string& key, int64_t min, int64_t max,
                         int64_t& out) {
    const auto* i = n.as_integer();
    if (!i) {
        wrong_type(n, key, "an integer");
        return false;
    }
    const int64_t v = i->get();
    if (v < min || v > max) {
        error(line_of(n), key,
              fmt::format("{} is out of range: must be between {} and {}", v, min, max));
        return false;
    }
    out = v;
    return true;
}

bool TomlReader::boolean(const toml::node& n, const std::string& key, bool& out) {
    const auto* b = n.as_boolean();
    if (!b) {
        wrong_type(n, key, "a boolean (true or false)");
        return false;
    }
    out = b->get();
    return true;
}

bool TomlReader::string_list(const toml::node& n, const std::string& key,
                             std::vector<std::string>& out) {
    const auto* a = n.as_array();
    if (!a) {
        wrong_type(n, key, "a list of strings");
        return false;
    }
    std::vector<std::string> v;
    bool ok = true;
    for (const auto& e : *a) {
        if (const auto* s = e.as_string()) {
            v.push_back(s->get());
        } else {
            error(line_of(e), key,
                  fmt::format("expected a list of strings, found {} in it", toml_type_name(e)));
            ok = false;
        }
    }
    if (ok) out = std::move(v);
    return ok;
}

const toml::table* TomlReader::table(const toml::node& n, const std::string& key) {
    const auto* t = n.as_table();
    if (!t) wrong_type(n, key, "a table");
    return t;
}

void TomlReader::walk(const toml::table& t, const std::string& prefix,
                      const std::vector<Field>& fields) {
    for (const auto& [k, v] : t) {
        const std::string name(k.str());
        const auto f = std::find_if(fields.begin(), fields.end(),
                                    [&](const Field& x) { return name == x.name; });
        if (f != fields.end()) {
            f->read(v, prefix + name);
            continue;
        }
        std::vector<std::string> known;
        for (const auto& field : fields) known.emplace_back(field.name);
        const std::string near = closest_name(name, known);
        error(line_of(k), prefix + name,
              near.empty() ? fmt::format("unknown key (known here: {})", fmt::join(known, ", "))
                           : fmt::format("unknown key (did you mean '{}'?)", prefix + near));
    }
}

}  // namespace parley::config::detail

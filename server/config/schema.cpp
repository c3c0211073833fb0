#include "config/schema.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace parley::config {

std::string Section::get_string(const std::string& key, const std::string& def) const {
    auto it = values.find(key);
    if (it == values.end()) return def;
    const auto* v = std::get_if<std::string>(&it->second.value);
    return v ? *v : def;
}

int64_t Section::get_int(const std::string& key, int64_t def) const {
    auto it = values.find(key);
    if (it == values.end()) return def;
    const auto* v = std::get_if<int64_t>(&it->second.value);
    return v ? *v : def;
}

bool Section::get_bool(const std::string& key, bool def) const {
    auto it = values.find(key);
    if (it == values.end()) return def;
    const auto* v = std::get_if<bool>(&it->second.value);
    return v ? *v : def;
}

std::vector<std::string> Section::get_list(const std::string& key) const {
    auto it = values.find(key);
    if (it == values.end()) return {};
    const auto* v = std::get_if<std::vector<std::string>>(&it->second.value);
    return v ? *v : std::vector<std::string>{};
}

const char* type_name(OptionType type) {
    switch (type) {
        case OptionType::string:
            return "a string";
        case OptionType::integer:
            return "an integer";
        case OptionType::boolean:
            return "a boolean";
        case OptionType::string_list:
            return "a list of strings";
    }
    return "a value";
}

namespace {

OptionType type_of(const OptionValue& v) {
    switch (v.value.index()) {
        case 0:
            return OptionType::string;
        case 1:
            return OptionType::integer;
        case 2:
            return OptionType::boolean;
        default:
            return OptionType::string_list;
    }
}

size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (size_t j = 1; j <= b.size(); ++j)
            cur[j] = std::min(
                {prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

}  // namespace

std::string closest_name(const std::string& word, const std::vector<std::string>& candidates) {
    std::string best;
    size_t best_distance = 3;
    for (const auto& c : candidates) {
        size_t d = edit_distance(word, c);
        if (d < best_distance) {
            best_distance = d;
            best = c;
        }
    }
    return best;
}

Status validate_section(const Section& section, const OptionSpec* specs, size_t count) {
    std::vector<std::string> known;
    for (size_t i = 0; i < count; ++i) known.emplace_back(specs[i].name);
    std::string errors;
    auto report = [&](const std::string& key, int line, const std::string& what) {
        if (!errors.empty()) errors += "\n";
        errors +=
            fmt::format("{}:{}: [modules.{}] {}: {}", section.file, line, section.name, key, what);
    };
    for (const auto& [key, value] : section.values) {
        const OptionSpec* spec = nullptr;
        for (size_t i = 0; i < count; ++i)
            if (key == specs[i].name) spec = &specs[i];
        if (!spec) {
            std::string what = "unknown option";
            if (known.empty()) {
                what += fmt::format(" (module {} has no options)", section.name);
            } else {
                std::string near = closest_name(key, known);
                what += near.empty() ? fmt::format(" (known: {})", fmt::join(known, ", "))
                                     : fmt::format(" (did you mean '{}'?)", near);
            }
            report(key, value.line, what);
            continue;
        }
        OptionType got = type_of(value);
        if (got != spec->type) {
            report(key, value.line,
                   fmt::format("expected {}, got {}", type_name(spec->type), type_name(got)));
            continue;
        }
        if (got == OptionType::integer) {
            int64_t n = std::get<int64_t>(value.value);
            if (n < spec->min || n > spec->max) {
                std::string range = spec->max == INT64_MAX ? fmt::format("at least {}", spec->min)
                                    : spec->min == INT64_MIN
                                        ? fmt::format("at most {}", spec->max)
                                        : fmt::format("between {} and {}", spec->min, spec->max);
                report(key, value.line, fmt::format("{} is out of range: must be {}", n, range));
            }
        }
    }
    if (!errors.empty()) return Status::error("config", errors);
    return Status::ok();
}

}  // namespace parley::config

#include "config/schema.hpp"

#include <fmt/format.h>
#include <toml++/toml.h>

#include <algorithm>
#include <utility>

namespace parley::config {

namespace {

template <typename T>
const T* find_value(const std::map<std::string, OptionValue>& values, const std::string& key) {
    auto it = values.find(key);
    return it == values.end() ? nullptr : std::get_if<T>(&it->second.value);
}

// A nested table's Section as it would stand in parent: same file and
// module, path extended by key.
Section child_of(const Section& parent, const std::string& key) {
    Section s;
    s.file = parent.file;
    s.name = parent.name;
    s.path = parent.path.empty() ? key : parent.path + "." + key;
    return s;
}

}  // namespace

std::string Section::get_string(const std::string& key, const std::string& def) const {
    const auto* v = find_value<std::string>(values, key);
    return v ? *v : def;
}

int64_t Section::get_int(const std::string& key, int64_t def) const {
    const auto* v = find_value<int64_t>(values, key);
    return v ? *v : def;
}

bool Section::get_bool(const std::string& key, bool def) const {
    const auto* v = find_value<bool>(values, key);
    return v ? *v : def;
}

std::vector<std::string> Section::get_list(const std::string& key) const {
    const auto* v = find_value<std::vector<std::string>>(values, key);
    return v ? *v : std::vector<std::string>{};
}

std::vector<int64_t> Section::get_int_list(const std::string& key) const {
    const auto* v = find_value<std::vector<int64_t>>(values, key);
    return v ? *v : std::vector<int64_t>{};
}

Section Section::table(const std::string& key) const {
    const auto* v = find_value<std::shared_ptr<const Section>>(values, key);
    if (v && *v) return **v;
    return child_of(*this, key);
}

std::vector<Section> Section::tables(const std::string& key) const {
    const auto* v = find_value<std::vector<Section>>(values, key);
    return v ? *v : std::vector<Section>{};
}

std::string Section::key_path(const std::string& key) const {
    return fmt::format("modules.{}.{}{}{}", name, path, path.empty() ? "" : ".", key);
}

std::string Section::where(const std::string& key) const {
    auto it = values.find(key);
    const int l = it != values.end() && it->second.line > 0 ? it->second.line : line;
    return l > 0 ? fmt::format("{}:{}: {}", file, l, key_path(key))
                 : fmt::format("{}: {}", file, key_path(key));
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
        case OptionType::integer_list:
            return "a list of integers";
        case OptionType::table:
            return "a table";
        case OptionType::table_list:
            return "a list of tables";
    }
    return "a value";
}

namespace {

OptionType type_of(const OptionValue& v) {
    return std::visit(
        [](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) return OptionType::string;
            if constexpr (std::is_same_v<T, int64_t>) return OptionType::integer;
            if constexpr (std::is_same_v<T, bool>) return OptionType::boolean;
            if constexpr (std::is_same_v<T, std::vector<std::string>>)
                return OptionType::string_list;
            if constexpr (std::is_same_v<T, std::vector<int64_t>>) return OptionType::integer_list;
            if constexpr (std::is_same_v<T, std::shared_ptr<const Section>>)
                return OptionType::table;
            if constexpr (std::is_same_v<T, std::vector<Section>>) return OptionType::table_list;
        },
        v.value);
}

bool is_list(OptionType t) {
    return t == OptionType::string_list || t == OptionType::integer_list ||
           t == OptionType::table_list;
}

// `[]` says nothing of its elements' type: it fits any list option.
bool is_empty_list(const OptionValue& v) {
    return std::visit(
        [](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::vector<std::string>> ||
                          std::is_same_v<T, std::vector<int64_t>> ||
                          std::is_same_v<T, std::vector<Section>>)
                return x.empty();
            return false;
        },
        v.value);
}

bool fits(const OptionValue& v, const OptionSpec& spec) {
    return type_of(v) == spec.type || (is_list(spec.type) && is_empty_list(v));
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

std::string join_path(const std::string& prefix, const std::string& key) {
    return prefix.empty() ? key : prefix + "." + key;
}

// Every problem found, with its line, to be sorted into file order.
class Problems {
  public:
    explicit Problems(const Section& root) : root_(root) {}
    void add(int line, const std::string& path, const std::string& what) {
        const std::string key = fmt::format("modules.{}.{}", root_.name, path);
        list_.emplace_back(line > 0 ? line : INT32_MAX,
                           line > 0 ? fmt::format("{}:{}: {}: {}", root_.file, line, key, what)
                                    : fmt::format("{}: {}: {}", root_.file, key, what));
    }
    Status status() {
        if (list_.empty()) return Status::ok();
        std::stable_sort(list_.begin(), list_.end(),
                         [](const auto& a, const auto& b) { return a.first < b.first; });
        std::string out;
        for (const auto& p : list_) out += (out.empty() ? "" : "\n") + p.second;
        return Status::error("config", out);
    }
    const Section& root() const { return root_; }

  private:
    const Section& root_;
    std::vector<std::pair<int, std::string>> list_;
};

std::string range_text(const OptionSpec& spec) {
    return spec.max == INT64_MAX   ? fmt::format("at least {}", spec.min)
           : spec.min == INT64_MIN ? fmt::format("at most {}", spec.max)
                                   : fmt::format("between {} and {}", spec.min, spec.max);
}

void check_integer(int64_t n, const OptionSpec& spec, int line, const std::string& path,
                   Problems& p) {
    if (n < spec.min || n > spec.max)
        p.add(line, path, fmt::format("{} is out of range: must be {}", n, range_text(spec)));
}

void check_choice(const std::string& s, const OptionSpec& spec, int line, const std::string& path,
                  Problems& p) {
    if (!spec.choices) return;
    std::vector<std::string> allowed;
    for (const char* const* c = spec.choices; *c; ++c) {
        if (s == *c) return;
        allowed.emplace_back(*c);
    }
    p.add(line, path, fmt::format("expected one of {}, got '{}'", fmt::join(allowed, ", "), s));
}

void check_table(const Section& s, const OptionSpec* specs, size_t count, const std::string& prefix,
                 Problems& p);

void check_value(const OptionValue& v, const OptionSpec& spec, const std::string& path,
                 Problems& p) {
    if (!fits(v, spec)) {
        const char* got = is_empty_list(v) ? "a list" : type_name(type_of(v));
        p.add(v.line, path, fmt::format("expected {}, got {}", type_name(spec.type), got));
        return;
    }
    if (const auto* n = std::get_if<int64_t>(&v.value)) check_integer(*n, spec, v.line, path, p);
    if (const auto* s = std::get_if<std::string>(&v.value)) check_choice(*s, spec, v.line, path, p);
    if (const auto* l = std::get_if<std::vector<int64_t>>(&v.value))
        for (size_t i = 0; i < l->size(); ++i)
            check_integer((*l)[i], spec, v.line, fmt::format("{}[{}]", path, i), p);
    if (const auto* l = std::get_if<std::vector<std::string>>(&v.value))
        for (size_t i = 0; i < l->size(); ++i)
            check_choice((*l)[i], spec, v.line, fmt::format("{}[{}]", path, i), p);
    if (const auto* t = std::get_if<std::shared_ptr<const Section>>(&v.value); t && *t)
        check_table(**t, spec.fields, spec.field_count, path, p);
    if (const auto* l = std::get_if<std::vector<Section>>(&v.value))
        for (size_t i = 0; i < l->size(); ++i)
            check_table((*l)[i], spec.fields, spec.field_count, fmt::format("{}[{}]", path, i), p);
}

// prefix: the path of s inside the module's table ("" for the table itself).
void check_table(const Section& s, const OptionSpec* specs, size_t count, const std::string& prefix,
                 Problems& p) {
    std::vector<std::string> known;
    for (size_t i = 0; i < count; ++i) known.emplace_back(specs[i].name);
    for (const auto& [key, value] : s.values) {
        const std::string path = join_path(prefix, key);
        const OptionSpec* spec = nullptr;
        for (size_t i = 0; i < count; ++i)
            if (key == specs[i].name) spec = &specs[i];
        if (spec) {
            check_value(value, *spec, path, p);
            continue;
        }
        std::string what = "unknown option";
        if (known.empty()) {
            what += prefix.empty() ? fmt::format(" (module {} has no options)", p.root().name)
                                   : fmt::format(" ({} has no options)", prefix);
        } else {
            std::string near = closest_name(key, known);
            what += near.empty() ? fmt::format(" (known: {})", fmt::join(known, ", "))
                                 : fmt::format(" (did you mean '{}'?)", near);
        }
        p.add(value.line, path, what);
    }
    for (size_t i = 0; i < count; ++i)
        if (specs[i].required && !s.has(specs[i].name))
            p.add(s.line, join_path(prefix, specs[i].name), "missing (required)");
}

// The schema's default of a scalar or list option as a value, or nothing
// when the spec has none (or one that does not read as its type).
bool default_of(const OptionSpec& spec, OptionValue& out) {
    if (!spec.default_value) return false;
    const std::string literal = spec.default_value;
    toml::table t;
    try {
        t = toml::parse("v = " + literal);
    } catch (const toml::parse_error&) {
        // A string default may be written bare, as the docs show it.
        if (spec.type != OptionType::string) return false;
        out.value = literal;
        return true;
    }
    const toml::node* n = t.get("v");
    if (!n) return false;
    switch (spec.type) {
        case OptionType::string:
            out.value = n->as_string() ? n->as_string()->get() : literal;
            return true;
        case OptionType::integer:
            if (!n->as_integer()) return false;
            out.value = n->as_integer()->get();
            return true;
        case OptionType::boolean:
            if (!n->as_boolean()) return false;
            out.value = n->as_boolean()->get();
            return true;
        case OptionType::string_list:
        case OptionType::integer_list: {
            const toml::array* a = n->as_array();
            if (!a) return false;
            std::vector<std::string> strings;
            std::vector<int64_t> integers;
            for (const auto& e : *a) {
                if (spec.type == OptionType::string_list && e.as_string())
                    strings.push_back(e.as_string()->get());
                else if (spec.type == OptionType::integer_list && e.as_integer())
                    integers.push_back(e.as_integer()->get());
                else
                    return false;
            }
            if (spec.type == OptionType::string_list)
                out.value = std::move(strings);
            else
                out.value = std::move(integers);
            return true;
        }
        case OptionType::table:
        case OptionType::table_list:
            return false;
    }
    return false;
}

bool has_required(const OptionSpec& table) {
    for (size_t i = 0; i < table.field_count; ++i)
        if (table.fields[i].required) return true;
    return false;
}

Section fill_defaults(const Section& s, const OptionSpec* specs, size_t count, int depth) {
    Section out = s;
    for (size_t i = 0; i < count; ++i) {
        const OptionSpec& spec = specs[i];
        auto it = out.values.find(spec.name);
        if (it == out.values.end()) {
            OptionValue v;
            if (spec.type == OptionType::table) {
                // A table with required keys stays absent: made up, it
                // would lack them and no longer validate.
                if (depth >= kMaxOptionDepth || has_required(spec)) continue;
                v.value = std::make_shared<const Section>(fill_defaults(
                    child_of(out, spec.name), spec.fields, spec.field_count, depth + 1));
            } else if (spec.type == OptionType::table_list) {
                v.value = std::vector<Section>{};
            } else if (!default_of(spec, v)) {
                continue;
            }
            out.values.emplace(spec.name, std::move(v));
            continue;
        }
        OptionValue& v = it->second;
        if (is_empty_list(v)) {
            if (spec.type == OptionType::integer_list) v.value = std::vector<int64_t>{};
            if (spec.type == OptionType::table_list) v.value = std::vector<Section>{};
            if (spec.type == OptionType::string_list) v.value = std::vector<std::string>{};
        } else if (auto* t = std::get_if<std::shared_ptr<const Section>>(&v.value);
                   t && *t && spec.type == OptionType::table) {
            Section child = **t;
            child.file = out.file;
            child.name = out.name;
            child.path = child_of(out, spec.name).path;
            *t = std::make_shared<const Section>(
                fill_defaults(child, spec.fields, spec.field_count, depth + 1));
        } else if (auto* l = std::get_if<std::vector<Section>>(&v.value);
                   l && spec.type == OptionType::table_list) {
            for (size_t k = 0; k < l->size(); ++k) {
                Section& child = (*l)[k];
                child.file = out.file;
                child.name = out.name;
                child.path = child_of(out, fmt::format("{}[{}]", spec.name, k)).path;
                child = fill_defaults(child, spec.fields, spec.field_count, depth + 1);
            }
        }
    }
    return out;
}

void document(const OptionSpec* specs, size_t count, const std::string& prefix, int depth,
              std::vector<DocumentedOption>& out) {
    for (size_t i = 0; i < count; ++i) {
        const OptionSpec& spec = specs[i];
        const std::string name = prefix + spec.name;
        out.push_back({name, &spec});
        if (depth >= kMaxOptionDepth) continue;
        if (spec.type == OptionType::table)
            document(spec.fields, spec.field_count, name + ".", depth + 1, out);
        if (spec.type == OptionType::table_list)
            document(spec.fields, spec.field_count, name + "[].", depth + 1, out);
    }
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
    Problems p(section);
    check_table(section, specs, count, "", p);
    return p.status();
}

Section with_defaults(const Section& section, const OptionSpec* specs, size_t count) {
    return fill_defaults(section, specs, count, 0);
}

std::vector<DocumentedOption> documented_options(const OptionSpec* specs, size_t count) {
    std::vector<DocumentedOption> out;
    document(specs, count, "", 0, out);
    return out;
}

}  // namespace parley::config

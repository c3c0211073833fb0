// JsonValue: a small strict JSON reader for parleyctl, which reads parleyd's
// control answers (one JSON object a line) to print them for people.
//
// Objects, arrays, strings (with every RFC 8259 escape, \u pairs included,
// decoded to UTF-8), numbers (kept as double and as their text), true,
// false, null. Anything else, trailing bytes included, is refused; depth is
// bounded (64). Value type: any thread.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace parley::ctl {

class JsonValue {
public:
    enum class Kind { null, boolean, number, string, array, object };

    static std::optional<JsonValue> parse(std::string_view text);

    Kind kind() const { return kind_; }
    bool is(Kind k) const { return kind_ == k; }
    bool boolean() const { return b_; }
    double number() const { return n_; }
    // The number as written ("12"), or the string's text.
    const std::string& text() const { return s_; }
    const std::vector<JsonValue>& items() const { return items_; }
    // A member of an object, or nullptr.
    const JsonValue* get(const std::string& key) const;

    // Conveniences for printing: a member's text or number, a default when absent.
    std::string str(const std::string& key, const std::string& def = {}) const;
    bool flag(const std::string& key, bool def = false) const;

private:
    friend class JsonParser;
    Kind kind_ = Kind::null;
    bool b_ = false;
    double n_ = 0;
    std::string s_;
    std::vector<JsonValue> items_;
    std::map<std::string, JsonValue> members_;
};


}  // namespace parley::ctl

#include "json_value.hpp"

#include <fmt/format.h>

#include <cstdlib>

namespace parley::ctl {

class JsonParser {
public:
    explicit JsonParser(std::string_view t) : t_(t) {}

    std::optional<JsonValue> document() {
        JsonValue v;
        if (!value(v, 0)) return std::nullopt;
        space();
        if (i_ != t_.size()) return std::nullopt;
        return v;
    }

private:
    static constexpr int kMaxDepth = 64;

    void space() {
        while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
    }
    bool literal(std::string_view word) {
        if (t_.substr(i_, word.size()) != word) return false;
        i_ += word.size();
        return true;
    }
    bool value(JsonValue& v, int depth) {
        if (depth > kMaxDepth) return false;
        space();
        if (i_ >= t_.size()) return false;
        const char c = t_[i_];
        if (c == '{') return object(v, depth);
        if (c == '[') return array(v, depth);
        if (c == '"') {
            v.kind_ = JsonValue::Kind::string;
            return string(v.s_);
        }
        if (literal("true")) return v.kind_ = JsonValue::Kind::boolean, v.b_ = true, true;
        if (literal("false")) return v.kind_ = JsonValue::Kind::boolean, v.b_ = false, true;
        if (literal("null")) return v.kind_ = JsonValue::Kind::null, true;
        return number(v);
    }
    bool number(JsonValue& v) {
        const size_t start = i_;
        if (i_ < t_.size() && t_[i_] == '-') ++i_;
        auto digits = [&] {
            const size_t from = i_;
            while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
            return i_ > from;
        };
        if (i_ < t_.size() && t_[i_] == '0') ++i_;
        else if (!digits()) return false;
        if (i_ < t_.size() && t_[i_] == '.') {
            ++i_;
            if (!digits()) return false;
        }
        if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
            ++i_;
            if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
            if (!digits()) return false;
        }
        v.kind_ = JsonValue::Kind::number;
        v.s_ = std::string(t_.substr(start, i_ - start));
        v.n_ = std::strtod(v.s_.c_str(), nullptr);
        return true;
    }
    bool hex4(uint32_t& out) {
        if (t_.size() - i_ < 4) return false;
        out = 0;
        for (int k = 0; k < 4; ++k) {
            const char h = t_[i_++];
            out <<= 4;
            if (h >= '0' && h <= '9') out |= static_cast<uint32_t>(h - '0');
            else if (h >= 'a' && h <= 'f') out |= static_cast<uint32_t>(h - 'a' + 10);
            else if (h >= 'A' && h <= 'F') out |= static_cast<uint32_t>(h - 'A' + 10);
            else return false;
        }
        return true;
    }
    static void utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }
    bool string(std::string& out) {
        ++i_;  // the opening quote
        while (i_ < t_.size()) {
            const char c = t_[i_++];
            if (c == '"') return true;
            if (static_cast<unsigned char>(c) < 0x20) return false;
            if (c != '\\') {
                out += c;
                continue;
            }
            if (i_ >= t_.size()) return false;
            const char e = t_[i_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp <= 0xDBFF) {
                        uint32_t low = 0;
                        if (!literal("\\u") || !hex4(low) || low < 0xDC00 || low > 0xDFFF) return false;
                        cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                        return false;
                    }
                    utf8(out, cp);
                    break;
                }
                default: return false;
            }
        }
        return false;
    }
    bool array(JsonValue& v, int depth) {
        ++i_;
        v.kind_ = JsonValue::Kind::array;
        space();
        if (i_ < t_.size() && t_[i_] == ']') return ++i_, true;
        for (;;) {
            JsonValue item;
            if (!value(item, depth + 1)) return false;
            v.items_.push_back(std::move(item));
            space();
            if (i_ >= t_.size()) return false;
            if (t_[i_] == ']') return ++i_, true;
            if (t_[i_++] != ',') return false;
        }
    }
    bool object(JsonValue& v, int depth) {
        ++i_;
        v.kind_ = JsonValue::Kind::object;
        space();
        if (i_ < t_.size() && t_[i_] == '}') return ++i_, true;
        for (;;) {
            space();
            std::string key;
            if (i_ >= t_.size() || t_[i_] != '"' || !string(key)) return false;
            space();
            if (i_ >= t_.size() || t_[i_++] != ':') return false;
            JsonValue member;
            if (!value(member, depth + 1)) return false;
            v.members_[std::move(key)] = std::move(member);
            space();
            if (i_ >= t_.size()) return false;
            if (t_[i_] == '}') return ++i_, true;
            if (t_[i_++] != ',') return false;
        }
    }

    std::string_view t_;
    size_t i_ = 0;
};

std::optional<JsonValue> JsonValue::parse(std::string_view text) { return JsonParser(text).document(); }

const JsonValue* JsonValue::get(const std::string& key) const {
    auto it = members_.find(key);
    return it == members_.end() ? nullptr : &it->second;
}

std::string JsonValue::str(const std::string& key, const std::string& def) const {
    const JsonValue* v = get(key);
    if (!v || (!v->is(Kind::string) && !v->is(Kind::number))) return def;
    return v->text();
}

bool JsonValue::flag(const std::string& key, bool def) const {
    const JsonValue* v = get(key);
    return v && v->is(Kind::boolean) ? v->boolean() : def;
}

}  // namespace parley::ctl

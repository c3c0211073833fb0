// JSON text for control socket answers: escaping a string.
//
// The control protocol's answers (parleyctl ... --json) are small flat
// objects written by hand: the control server's own, and the fields a
// module's control command gives its ControlReply (module_api.hpp, "Admin
// commands" in doc/modules.md). This is the one place that escapes what
// goes into them: every string a reply carries (a JID, a name, a text) goes
// through json_string(). Part of the module interface. Pure; any thread.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace parley::module {

// Appends s escaped for a JSON string (without the quotes): runs of
// characters that need no escape are copied whole.
inline void append_json_escaped(std::string& out, std::string_view s) {
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        out.append(s.data() + run, i - run);
        run = i + 1;
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default: out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        }
    }
    out.append(s.data() + run, s.size() - run);
}

inline std::string json_escape(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 8);
    append_json_escaped(out, s);
    return out;
}

// Appends the JSON string literal of s, quotes included.
inline void append_json_string(std::string& out, std::string_view s) {
    out += '"';
    append_json_escaped(out, s);
    out += '"';
}

// A JSON string literal, quotes included.
inline std::string json_string(std::string_view s) {
    std::string out;
    out.reserve(s.size() + 10);
    append_json_string(out, s);
    return out;
}

}  // namespace parley::module

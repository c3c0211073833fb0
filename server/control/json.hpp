// JSON text for the control socket's answers: escaping a string. The
// control protocol's answers are small flat objects written by hand; this is
// the one place that escapes what goes into them. Pure; any thread.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace parley::control {

inline std::string json_escape(std::string_view s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) out += fmt::format("\\u{:04x}", c);
                else out += c;
        }
    }
    return out;
}

// A JSON string literal, quotes included.
inline std::string json_string(std::string_view s) { return "\"" + json_escape(s) + "\""; }

}  // namespace parley::control

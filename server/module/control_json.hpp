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

}  // namespace parley::module

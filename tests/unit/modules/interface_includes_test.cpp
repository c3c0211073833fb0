// Modules see parleyd only through the host interface: every header a file
// under modules/ includes is the module's own (anything under modules/,
// e.g. another module's service interface), a system or library header, or
// one of the headers listed in kInterface below: server headers that make up
// the interface, and the public headers of libparley-archive, the library
// modules link for the compliance archive. A module that reaches past the
// list into server internals (the router, the stores, the stream parser, the
// control server) breaks this test, which names the file, the line and the
// header. To widen the interface, add the header here with the reason, and
// say it in doc/modules.md; better, give the module a seam in
// module_api.hpp or a value-type header that belongs to the interface.
#define BOOST_TEST_DYN_LINK
#include <fmt/format.h>

#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "support/temp_dir.hpp"

namespace fs = std::filesystem;

namespace {

// A header a module may include, as a path from the top of the tree (modules
// name server headers without "server/": -I server), or a folder (ending in
// '/') whose every header it may include, and why it is part of the
// interface.
struct Allowed {
    const char* header;
    const char* why;
};

// The host interface, explicitly. Everything from server/ here is
// module_api.hpp or a value type or pure function the interface is built
// from; none holds state of a running parleyd.
const Allowed kInterface[] = {
    {"server/module/module_api.hpp", "the host interface itself: Host, Module, Descriptor, hooks, seams"},
    {"server/module/control_json.hpp", "JSON string escaping for a control command's ControlReply"},
    {"server/module/tls.hpp", "TlsServer and TlsStream, the TLS of a module's own listener (Host::tls_server)"},
    {"server/errors/status.hpp", "Status and Result<T>, every fallible call of the interface"},
    {"server/errors/stanza_error.hpp",
     "StanzaError, and recipient_unavailable(), the one refusal on an account's behalf"},
    {"server/xmpp/errors.hpp", "stream and stanza errors as elements (StreamErrorCondition of end_session, nonzas)"},
    {"server/xmpp/jid.hpp", "xmpp::Jid, the address value type"},
    {"server/xmpp/namespaces.hpp", "XMPP namespace names"},
    {"server/xmpp/base64.hpp", "base64, a pure function (entity capabilities hashes, upload slot tokens)"},
    {"server/xmpp/hex.hpp", "hex and random hex tokens (upload slot ids and secrets)"},
    {"server/xmpp/datetime.hpp", "XEP-0082 dates and times, pure functions (MAM's start/end fields and stamps)"},
    {"server/xml/element.hpp", "xml::Element, the stanza tree"},
    {"server/xml/serializer.hpp", "an Element as text, for records kept as text"},
    {"server/xml/parse_element.hpp", "text back into one Element, the reverse of the serializer for stored records"},
    {"server/config/config.hpp", "config::Section (a module's own options) and config::VirtualHost"},
    {"server/config/schema.hpp", "config::OptionSpec, the option schema of a Descriptor"},
    {"server/store/env.hpp",
     "store::Txn and MDB_dbi, what Database::read and write hand the module (a module opens its "
     "databases through Host::open_database, never an Env of its own)"},
    {"server/log/log.hpp", "logging"},
    // Not the server: libparley-archive is a library of its own (archive/,
    // DESIGN.md "The compliance archive"), built for the archiving modules
    // (mod_archive, mod_mam) and parleyctl to link; it uses nothing of the
    // server's runtime (archive/local.mk). Its headers are its interface.
    {"archive/", "libparley-archive (journal, retention, holds, audit, search), the library modules link"},
};

// One include line that reaches outside the interface.
struct Reach {
    std::string file;  // relative to the tree's top
    int line;
    std::string header;
    std::string what;  // why it is refused
};

bool is_source(const fs::path& p) {
    const std::string ext = p.extension().string();
    return ext == ".cpp" || ext == ".hpp" || ext == ".h" || ext == ".cc" || ext == ".hh" || ext == ".inc";
}

// `p` relative to `top` when it lies inside it ("server/xml/element.hpp"),
// else empty.
std::string inside(const fs::path& top, const fs::path& p) {
    const fs::path rel = fs::weakly_canonical(p).lexically_relative(top);
    if (rel.empty() || *rel.begin() == "..") return {};
    return rel.generic_string();
}

// The header named by an #include line ("  #  include <a/b.hpp>" too) and
// whether it was quoted; false for any other line. Hand-written rather than
// std::regex, whose GCC 12 code warns under the sanitizers.
bool parse_include(std::string_view line, std::string& header, bool& quoted) {
    auto skip_space = [&line] {
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    };
    skip_space();
    if (line.empty() || line.front() != '#') return false;
    line.remove_prefix(1);
    skip_space();
    if (line.substr(0, 7) != "include") return false;
    line.remove_prefix(7);
    skip_space();
    if (line.empty() || (line.front() != '"' && line.front() != '<')) return false;
    quoted = line.front() == '"';
    line.remove_prefix(1);
    const size_t end = line.find(quoted ? '"' : '>');
    if (end == std::string_view::npos || end == 0) return false;
    header = std::string(line.substr(0, end));
    return true;
}

// Every include of every source file under top/modules that is not allowed.
// An include is resolved as the compiler does with the project's flags
// (-I server -I top): a quoted one first next to the including file, then
// under server/, then under the top; an angle one under server/ and the top
// only, and when found nowhere it is a system or library header.
std::vector<Reach> reaches(const fs::path& top_in) {
    const fs::path top = fs::weakly_canonical(top_in);
    std::vector<Reach> out;
    for (const auto& entry : fs::recursive_directory_iterator(top / "modules")) {
        if (!entry.is_regular_file() || !is_source(entry.path())) continue;
        const std::string file = inside(top, entry.path());
        // The module folder this file is in ("upload" for modules/upload/...).
        const fs::path rel_to_modules = fs::path(file).lexically_relative("modules");
        const std::string module = rel_to_modules.begin()->string();
        std::ifstream in(entry.path());
        std::string text;
        int line = 0;
        while (std::getline(in, text)) {
            ++line;
            std::string header;
            bool quoted = false;
            if (!parse_include(text, header, quoted)) continue;
            std::vector<fs::path> candidates;
            if (quoted) candidates.push_back(entry.path().parent_path() / header);
            candidates.push_back(top / "server" / header);
            candidates.push_back(top / header);
            std::string found;
            for (const auto& c : candidates) {
                std::error_code ec;
                if (fs::is_regular_file(c, ec)) {
                    found = inside(top, c);
                    if (found.empty()) found = "<outside the tree>";
                    break;
                }
            }
            if (found.empty()) {
                // Not in the tree: a system or library header (<vector>,
                // <uv.h>); a quoted one that is nowhere is a mistake.
                if (quoted) out.push_back({file, line, header, "not found in the tree"});
                continue;
            }
            if (found.rfind("modules/", 0) == 0) continue;  // a module's own header
            bool ok = false;
            for (const auto& a : kInterface) {
                const std::string_view h(a.header);
                const bool match = h.back() == '/' ? found.rfind(h, 0) == 0 : found == h;
                if (match) ok = true;
            }
            if (!ok) out.push_back({file, line, header, found + " is not part of the module interface"});
        }
    }
    return out;
}

std::string describe(const std::vector<Reach>& rs) {
    std::string s;
    for (const auto& r : rs) s += fmt::format("\n  {}:{}: #include {}: {}", r.file, r.line, r.header, r.what);
    return s;
}

void write(const parley::test::TempDir& tmp, const std::string& rel, const std::string& content) {
    fs::create_directories(fs::path(tmp.sub(rel)).parent_path());
    tmp.write(rel, content);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_interface_includes)

BOOST_AUTO_TEST_CASE(modules_include_only_the_host_interface) {
    const fs::path top(PARLEY_TEST_SRCDIR);
    BOOST_REQUIRE_MESSAGE(fs::is_directory(top / "modules"), "modules: no modules/ under " << top);
    const auto found = reaches(top);
    BOOST_TEST(found.empty(), "modules: includes outside the host interface (tests/unit/modules/"
                              "interface_includes_test.cpp lists what is allowed):"
                                  << describe(found));
    // The list names real headers, so it cannot silently allow a stale name.
    for (const auto& a : kInterface) {
        const bool folder = std::string_view(a.header).back() == '/';
        BOOST_TEST((folder ? fs::is_directory(top / a.header) : fs::is_regular_file(top / a.header)),
                   "modules: allowed header " << a.header << " does not exist");
    }
}

BOOST_AUTO_TEST_CASE(a_reach_into_the_server_is_found_and_named) {
    parley::test::TempDir tmp;
    for (const char* h : {"module/module_api.hpp", "router/rules.hpp", "store/invites.hpp", "net/tls.hpp",
                          "xml/element.hpp"})
        write(tmp, std::string("server/") + h, "#pragma once\n");
    write(tmp, "archive/journal/journal.hpp", "#pragma once\n");
    write(tmp, "archives/other.hpp", "#pragma once\n");
    write(tmp, "tools/tool.hpp", "#pragma once\n");
    write(tmp, "modules/b/service.hpp", "#pragma once\n");
    write(tmp, "modules/upload/http.hpp", "#pragma once\n#include \"module/module_api.hpp\"\n");
    write(tmp, "modules/a/own.hpp", "#pragma once\n");
    write(tmp, "modules/a/a.cpp",
          "#include \"own.hpp\"\n"                          // 1: its own
          "#include \"../b/service.hpp\"\n"                 // 2: another module's service header
          "#include <vector>\n"                             // 3: the standard library
          "#include \"module/module_api.hpp\"\n"            // 4: the interface
          "  #  include <xml/element.hpp>\n"                // 5: the interface, written oddly
          "#include \"router/rules.hpp\"\n"                 // 6: a reach
          "#include \"../../server/store/invites.hpp\"\n"   // 7: a reach by a relative path
          "#include \"net/tls.hpp\"\n"                      // 8: the server's TLS (modules use module/tls.hpp)
          "#include \"tools/tool.hpp\"\n"                   // 9: elsewhere in the tree
          "#include \"missing.hpp\"\n"                      // 10: nowhere
          "#include \"archive/journal/journal.hpp\"\n"      // 11: the archive library
          "#include \"archives/other.hpp\"\n");             // 12: a folder that only starts alike
    const auto found = reaches(tmp.path());
    std::vector<int> lines;
    for (const auto& r : found) {
        BOOST_TEST(r.file == "modules/a/a.cpp", "modules: " << r.file << " is clean" << describe(found));
        lines.push_back(r.line);
    }
    std::sort(lines.begin(), lines.end());
    BOOST_TEST(lines == (std::vector<int>{6, 7, 8, 9, 10, 12}), "modules: the reaches found:" << describe(found));
}

BOOST_AUTO_TEST_SUITE_END()

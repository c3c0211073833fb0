#include "options.hpp"

#include <cerrno>
#include <cstdlib>
#include <string_view>

namespace parley::bench {

const char* usage_text() {
    return "usage: parley-bench --port P --domain D --ca CA.pem --password PW [options]\n"
           "  --host ADDR          server address (IPv4 or IPv6 literal; default 127.0.0.1)\n"
           "  --port P             the STARTTLS c2s port\n"
           "  --domain D           XMPP domain, also the TLS server name\n"
           "  --peer-port P, --peer-domain D, --peer-host H\n"
           "                       messages mode: the receivers are on this other server (its\n"
           "                       domain D), so every message crosses a server-to-server link\n"
           "  --ca FILE            CA certificate (PEM) the server's certificate must chain to\n"
           "  --users PREFIX       accounts PREFIX0..PREFIX(N-1)@D (default bench)\n"
           "  --password PW        the password all those accounts share\n"
           "  --mech M             SASL mechanism: PLAIN (default) or SCRAM-SHA-256\n"
           "  --sessions N         idle mode: sessions to open (messages: 2*pairs; room: occupants)\n"
           "  --connect-rate R     new connections per second (default 500)\n"
           "  --max-pending M      sessions logging in at once (default 200)\n"
           "  --pid PID            parleyd's pid: memory (VmRSS) and CPU figures\n"
           "  --mode M             what to measure: idle (default), messages or room\n"
           "  --duration S         messages, room: seconds counted (default 10)\n"
           "  --pairs K            messages mode: sender/receiver pairs (default 100)\n"
           "  --window W           messages in flight per sender (default 64; room: until\n"
           "                       the sender's own copy comes back from the room)\n"
           "  --body-bytes B       message body size (default 64)\n"
           "  --settle S           idle mode: seconds to wait before reading RSS (default 3)\n"
           "  --warmup S           messages, room: seconds before counting (default 2)\n"
           "  --login-timeout S    per session, connect to bound (default 30)\n"
           "  --threads T          event loops in the bench (default 1)\n"
           "room mode (XEP-0045 group chat; every session is an occupant of one room):\n"
           "  --room JID           the room (default bench@conference.DOMAIN); session 0 creates it\n"
           "  --occupants N        sessions, all joining the room (default 100)\n"
           "  --senders S          occupants 0..S-1 send groupchat messages (default 10)\n"
           "  --history H          messages said before the last occupant joins (default 0)\n"
           "  --join-concurrency J joins in flight at once (default 50)\n"
           "  --join-timeout S     per join; also the longest the room may stall (default 60)\n";
}

namespace {

bool to_long(std::string_view s, long lo, long hi, long& out) {
    std::string tmp(s);
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(tmp.c_str(), &end, 10);
    if (errno != 0 || end == tmp.c_str() || *end != '\0' || v < lo || v > hi) return false;
    out = v;
    return true;
}

bool to_double(std::string_view s, double lo, double hi, double& out) {
    std::string tmp(s);
    char* end = nullptr;
    errno = 0;
    const double v = std::strtod(tmp.c_str(), &end);
    if (errno != 0 || end == tmp.c_str() || *end != '\0' || !(v >= lo && v <= hi)) return false;
    out = v;
    return true;
}

// The prefix goes into JIDs and XML attributes unescaped, so keep it plain.
bool plain_name(std::string_view s) {
    if (s.empty() || s.size() > 200) return false;
    for (char c : s) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok) return false;
    }
    return true;
}

// node@domain, each part plain: the room's address goes into stanzas as is.
bool plain_bare_jid(std::string_view s) {
    const size_t at = s.find('@');
    return at != std::string_view::npos && plain_name(s.substr(0, at)) && plain_name(s.substr(at + 1));
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, std::string& err) {
    Options o;
    bool sessions_given = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view flag = argv[i];
        if (flag == "--help" || flag == "-h") {
            err.clear();
            return std::nullopt;
        }
        if (i + 1 >= argc) {
            err = "option " + std::string(flag) + " needs a value";
            return std::nullopt;
        }
        const std::string_view v = argv[++i];
        long n = 0;
        double d = 0;
        auto bad = [&](const char* what) {
            err = "option " + std::string(flag) + ": '" + std::string(v) + "' is not " + what;
            return std::nullopt;
        };
        if (flag == "--host") {
            o.host = v;
        } else if (flag == "--port") {
            if (!to_long(v, 1, 65535, n)) return bad("a port");
            o.port = static_cast<int>(n);
        } else if (flag == "--domain") {
            o.domain = v;
        } else if (flag == "--peer-host") {
            o.peer_host = v;
        } else if (flag == "--peer-port") {
            if (!to_long(v, 1, 65535, n)) return bad("a port");
            o.peer_port = static_cast<int>(n);
        } else if (flag == "--peer-domain") {
            if (!plain_name(v)) return bad("a plain lower-case domain");
            o.peer_domain = v;
        } else if (flag == "--ca") {
            o.ca_file = v;
        } else if (flag == "--users") {
            if (!plain_name(v)) return bad("a plain lower-case prefix ([a-z0-9._-])");
            o.user_prefix = v;
        } else if (flag == "--password") {
            o.password = v;
        } else if (flag == "--mech") {
            if (std::string(v) != "PLAIN" && std::string(v) != "SCRAM-SHA-256") return bad("PLAIN or SCRAM-SHA-256");
            o.mech = v;
        } else if (flag == "--sessions") {
            if (!to_long(v, 1, 1000000, n)) return bad("a count from 1 to 1000000");
            o.sessions = static_cast<int>(n);
            sessions_given = true;
        } else if (flag == "--connect-rate") {
            if (!to_double(v, 0.1, 1e6, d)) return bad("a rate from 0.1 to 1e6 per second");
            o.connect_rate = d;
        } else if (flag == "--max-pending") {
            if (!to_long(v, 1, 100000, n)) return bad("a count from 1 to 100000");
            o.max_pending = static_cast<int>(n);
        } else if (flag == "--pid") {
            if (!to_long(v, 1, 1L << 30, n)) return bad("a pid");
            o.pid = n;
        } else if (flag == "--mode") {
            if (v == "idle") o.mode = Mode::idle;
            else if (v == "messages") o.mode = Mode::messages;
            else if (v == "room") o.mode = Mode::room;
            else return bad("idle, messages or room");
        } else if (flag == "--duration") {
            if (!to_double(v, 0.1, 86400, d)) return bad("seconds from 0.1 to 86400");
            o.duration_s = d;
        } else if (flag == "--pairs") {
            if (!to_long(v, 1, 500000, n)) return bad("a count from 1 to 500000");
            o.pairs = static_cast<int>(n);
        } else if (flag == "--window") {
            if (!to_long(v, 1, 100000, n)) return bad("a count from 1 to 100000");
            o.window = static_cast<int>(n);
        } else if (flag == "--body-bytes") {
            if (!to_long(v, 1, 60000, n)) return bad("a size from 1 to 60000");
            o.body_bytes = static_cast<int>(n);
        } else if (flag == "--settle") {
            if (!to_double(v, 0, 3600, d)) return bad("seconds from 0 to 3600");
            o.settle_s = d;
        } else if (flag == "--warmup") {
            if (!to_double(v, 0, 3600, d)) return bad("seconds from 0 to 3600");
            o.warmup_s = d;
        } else if (flag == "--login-timeout") {
            if (!to_double(v, 1, 3600, d)) return bad("seconds from 1 to 3600");
            o.login_timeout_s = d;
        } else if (flag == "--threads") {
            if (!to_long(v, 1, 64, n)) return bad("a count from 1 to 64");
            o.threads = static_cast<int>(n);
        } else if (flag == "--room") {
            if (!plain_bare_jid(v)) return bad("a plain room@service address ([a-z0-9._-])");
            o.room = v;
        } else if (flag == "--occupants") {
            if (!to_long(v, 2, 100000, n)) return bad("a count from 2 to 100000");
            o.occupants = static_cast<int>(n);
        } else if (flag == "--senders") {
            if (!to_long(v, 1, 100000, n)) return bad("a count from 1 to 100000");
            o.senders = static_cast<int>(n);
        } else if (flag == "--history") {
            if (!to_long(v, 0, 100000, n)) return bad("a count from 0 to 100000");
            o.history = static_cast<int>(n);
        } else if (flag == "--join-concurrency") {
            if (!to_long(v, 1, 100000, n)) return bad("a count from 1 to 100000");
            o.join_concurrency = static_cast<int>(n);
        } else if (flag == "--join-timeout") {
            if (!to_double(v, 1, 3600, d)) return bad("seconds from 1 to 3600");
            o.join_timeout_s = d;
        } else {
            err = "unknown option " + std::string(flag);
            return std::nullopt;
        }
    }
    if (o.port == 0) err = "--port is required";
    else if (o.domain.empty()) err = "--domain is required";
    else if (!plain_name(o.domain)) err = "--domain: '" + o.domain + "' is not a plain lower-case domain";
    else if (o.ca_file.empty()) err = "--ca is required";
    else if (o.peer_port != 0 && (o.peer_domain.empty() || o.mode != Mode::messages))
        err = "--peer-port needs --peer-domain and --mode messages";
    else if (o.password.empty()) err = "--password is required";
    if (!err.empty()) return std::nullopt;
    if (o.mode == Mode::messages) {
        if (!sessions_given) o.sessions = 2 * o.pairs;
        if (o.sessions < 2 * o.pairs) {
            err = "--sessions " + std::to_string(o.sessions) + " is fewer than 2 * --pairs";
            return std::nullopt;
        }
    } else if (o.mode == Mode::room) {
        if (sessions_given && o.sessions != o.occupants) {
            err = "--sessions " + std::to_string(o.sessions) + " differs from --occupants " + std::to_string(o.occupants) +
                  " (in room mode every session is an occupant)";
            return std::nullopt;
        }
        o.sessions = o.occupants;
        if (o.senders > o.occupants) {
            err = "--senders " + std::to_string(o.senders) + " is more than --occupants " + std::to_string(o.occupants);
            return std::nullopt;
        }
        if (o.room.empty()) o.room = "bench@conference." + o.domain;
    } else if (!sessions_given) {
        err = "--sessions is required in idle mode";
        return std::nullopt;
    }
    return o;
}

}  // namespace parley::bench

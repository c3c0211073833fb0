// parley-bench's command line: what to connect to, how many sessions, which
// measurement. parse_options() checks every value before anything starts and
// says which option is wrong. Plain data: any thread once parsed.
#pragma once

#include <optional>
#include <string>

namespace parley::bench {

enum class Mode { idle, messages, room };

struct Options {
    std::string host = "127.0.0.1";  // an IPv4 or IPv6 address, not a name
    int port = 0;
    std::string domain;               // the XMPP domain; also the TLS name (SNI)
    std::string ca_file;
    std::string user_prefix = "bench";  // accounts PREFIX0 .. PREFIX(N-1)
    std::string password;
    std::string mech = "PLAIN";       // SASL mechanism: PLAIN or SCRAM-SHA-256
    int sessions = 0;                 // idle: N; messages: 2 * pairs unless given; room: occupants
    double connect_rate = 500;        // new connections per second, over all threads
    int max_pending = 200;            // sessions connecting or logging in at once
    long pid = 0;                     // parleyd's pid for memory and CPU figures; 0: none
    Mode mode = Mode::idle;
    double duration_s = 10;           // messages, room: the measured interval
    int pairs = 100;
    int window = 64;                  // messages in flight per sender (room: until its own copy is back)
    int body_bytes = 64;
    // Messages mode across federation: the receivers log in to this other
    // server (its own domain; senders address them there); port 0: none.
    std::string peer_host = "127.0.0.1";
    int peer_port = 0;
    std::string peer_domain;
    double settle_s = 3;              // idle: wait before reading the RSS
    double warmup_s = 2;              // messages, room: traffic before counting
    double login_timeout_s = 30;      // per session, connect to bound
    int threads = 1;                  // event loops in the bench
    // Room mode (XEP-0045 group chat): one room, every session an occupant.
    std::string room;                 // room@service; default bench@conference.DOMAIN
    int occupants = 100;              // sessions 0..N-1; session 0 creates the room
    int senders = 10;                 // sessions 0..S-1 send groupchat messages
    int history = 0;                  // messages said before the last occupant joins
    int join_concurrency = 50;        // joins in flight at once, over all threads
    double join_timeout_s = 60;       // per join; also the longest the room may stall
};

// The options, or nullopt with `err` set (an empty `err` means --help was
// asked for and the usage is in `usage_text`).
std::optional<Options> parse_options(int argc, char** argv, std::string& err);
const char* usage_text();

}  // namespace parley::bench

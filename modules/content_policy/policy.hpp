// The content policy (data-loss prevention): rules read from
// [modules.content_policy] and how a message is judged by them. Pure: no
// host, no I/O; the module (content_policy.hpp) applies the verdict.
//
// A message goes in one direction: `internal` (to an account of one of our
// virtual hosts), `room` (to a domain a module of ours serves, e.g. a room of
// the group chat service) or `external` (to any other domain).
//
// Rules are read in the order written. A rule applies when the message goes
// in one of its directions (and, if it lists rooms, into one of them) and
// one of its detectors finds something in a body or subject:
//   allow   the message passes, and no later rule is looked at (an
//           exception written before broader rules);
//   block   the message is refused (policy-violation naming the rule); the
//           first blocking rule is named, and no later rule is looked at;
//   redact  what the rule's detectors found is replaced by "[redacted: NAME]";
//   flag    the message passes unchanged, and the decision is recorded.
// Redactions and flags of every applying rule add up. The link policy then
// looks at the hosts of the links in bodies and in out-of-band data
// (XEP-0066): a blocked domain (or its subdomains), or one not allowed when
// an allow list is given, flags or blocks the message under the rule name
// "links".
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "detectors.hpp"
#include "errors/status.hpp"

namespace parley::mod_content_policy {

// internal: to our accounts; room: to our services' rooms; external: to
// other servers' domains; incoming: from other servers to us.
enum class Direction { internal, room, external, incoming };
const char* to_string(Direction d);

enum class Action { allow, flag, redact, block };
const char* to_string(Action a);

struct Rule {
    std::string name;
    std::vector<std::shared_ptr<const Detector>> detectors;
    std::vector<Direction> directions;  // never empty
    std::vector<std::string> rooms;     // bare room JIDs; empty: any (direction room only then)
    // Federation tiers (mod_federation_policy) the other server's domain
    // must be in, for external and incoming messages; empty: any.
    std::vector<std::string> tiers;
    Action action = Action::flag;
};

struct LinkPolicy {
    std::vector<std::string> block;  // domains, lower case
    std::vector<std::string> allow;  // domains; empty: every domain not blocked
    std::vector<Direction> directions;
    Action action = Action::block;   // flag or block
    bool active() const { return !block.empty() || !allow.empty(); }
};

struct Settings {
    std::vector<Rule> rules;
    LinkPolicy links;
    bool strip_xhtml = true;
    bool notify_sender = true;
    // One RE2::Set of every detector's patterns: a single pass over a text
    // says which detectors can find anything in it, and only those search.
    // Built by read_settings (nullptr: every detector searches).
    struct Prefilter;
    std::shared_ptr<const Prefilter> prefilter;
};

extern const config::OptionSpec kOptions[];
extern const size_t kOptionCount;

// The settings of a [modules.content_policy] section that validated against
// kOptions: code "config" naming the rule whose detector or pattern is
// wrong.
Result<Settings> read_settings(const config::Section& section);

// A message as the policy sees it.
struct Message {
    std::vector<std::string> texts;  // bodies and subjects
    std::vector<std::string> links;  // URLs from out-of-band data
    Direction direction = Direction::internal;
    std::string room;  // the bare JID it goes to, for direction room
    std::string tier;  // external and incoming: the other domain's federation tier ("" when unknown)
};

struct Verdict {
    bool blocked = false;
    std::string blocking_rule;             // when blocked
    std::vector<std::string> flagged;      // rules that flagged it (and "links")
    std::vector<std::string> redacted;     // rules that redacted something
    size_t redactions = 0;                 // how many matches were replaced
    std::vector<std::string> texts;        // the texts after redaction
    std::string allowed_by;                // an allow rule that stopped the evaluation
};

Verdict judge(const Settings& settings, const Message& message);

// The hosts of the http(s) links in a text, lower case, in order.
std::vector<std::string> link_hosts(std::string_view text);
// Whether host is domain or a subdomain of it.
bool in_domain(std::string_view host, std::string_view domain);

}  // namespace parley::mod_content_policy

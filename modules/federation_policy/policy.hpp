// Federation policy: which tier a remote domain is in, and what that tier
// lets cross (modules/federation_policy/README.md). Pure values and
// functions; any thread.
//
// A tier says how a peer must prove its domain (a certificate that proves
// it, or dialback as well), which kinds of stanza may cross in each
// direction, how large one may be, and how many per second a remote domain
// may send (to the whole server). Three tiers exist from the start (trusted,
// restricted, blocked); the config may change them or add more.
//
// Which tier: a rule for the exact domain; else the wildcard rule
// (*.example.org: the subdomains of example.org, not example.org itself)
// with the longest suffix; else the default. Rules changed at run time
// (parleyctl federation) win over the config's for the same domain or
// wildcard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "config/schema.hpp"
#include "errors/status.hpp"
#include "xml/element.hpp"

namespace parley::mod_federation_policy {

// What a stanza is, for the tiers' lists: the most specific kind wins.
enum class Kind { chat, presence, iq, muc, files, pep };
const char* to_string(Kind k);
std::optional<Kind> kind_of(std::string_view name);
// A stanza's kind: pep (PEP events, pubsub iqs), muc (groupchat, room
// joins and room presence), files (out-of-band data, XEP-0066, or a link in
// a message body), else chat (any other message), presence or iq.
Kind classify(const xml::Element& stanza);

struct Tier {
    std::string name;
    bool blocked = false;              // no federation at all
    bool certificate_required = true;  // false: dialback is enough
    std::set<Kind> inbound, outbound;
    size_t max_stanza_bytes = 65536;
    double rate_per_s = 20;            // inbound stanzas per remote domain (the whole server)
    double burst = 40;
};

struct Rule {
    std::string pattern;  // "example.org" or "*.example.org", lowercased
    std::string tier;
};

struct Settings {
    std::map<std::string, Tier> tiers;
    std::string default_tier;  // "blocked" when default = "deny"
    std::vector<Rule> rules;   // from the config, in order
};

extern const config::OptionSpec kOptions[];
extern const size_t kOptionCount;

// The built-in tiers, then [[tier]] tables (changing one or adding one),
// [[domain]] rules and the default. Errors name the option.
Result<Settings> read_settings(const config::Section& section);

// Whether `pattern` is a domain or *.domain rule; lowercased in place.
bool valid_pattern(std::string& pattern);

// The tier of a domain, and the rule that chose it ("domain x.example
// (config)", "*.example.org (parleyctl)", "default").
struct Placement {
    const Tier* tier = nullptr;
    std::string rule;
    std::shared_ptr<const Settings> keep;  // what `tier` points into, when the caller must keep it alive
};
Placement place(const Settings& s, const std::map<std::string, std::string>& runtime, std::string_view domain);

// A stanza crossing (inbound: from the remote domain; outbound: to it),
// judged by its tier: nullopt to let it pass, or why not (the text of the
// policy-violation bounce, naming the tier and the rule).
std::optional<std::string> judge(const Placement& p, bool inbound, const xml::Element& stanza, size_t bytes);

// The gate: whether a peer proving `remote` this way may federate.
std::optional<std::string> admit(const Placement& p, std::string_view remote, bool certificate_valid);
// Whether a link that exists (proven as `certificate_valid` and `dialback`
// say; a link still connecting has neither) must end under `tier`: the
// tier is blocked, or wants a certificate where dialback alone proved the
// domain. A link still connecting meets the gate when it authenticates.
bool must_close(const Tier& tier, bool certificate_valid, bool dialback);

}  // namespace parley::mod_federation_policy

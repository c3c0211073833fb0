#include "policy.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "config/config.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_federation_policy {

namespace {

const char* const kKinds[] = {"chat", "presence", "iq", "muc", "files", "pep", nullptr};
const char* const kAuthentication[] = {"certificate", "dialback", nullptr};
const char* const kDefaults[] = {"allow", "deny", nullptr};

// Tier fields have no defaults: a [[tier]] table that names a built-in tier
// changes only what it writes.
const config::OptionSpec kTier[] = {
    {.name = "name",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "the tier: trusted, restricted or blocked changes that tier; another name adds one",
     .required = true},
    {.name = "blocked",
     .type = config::OptionType::boolean,
     .default_value = nullptr,
     .help = "no federation at all with the domains of this tier"},
    {.name = "authentication",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "what a peer must show: certificate (a certificate that proves its domain) or dialback (that, or "
             "dialback)",
     .choices = kAuthentication},
    {.name = "inbound",
     .type = config::OptionType::string_list,
     .default_value = nullptr,
     .help = "what may come in: chat, presence, iq, muc, files, pep",
     .choices = kKinds},
    {.name = "outbound",
     .type = config::OptionType::string_list,
     .default_value = nullptr,
     .help = "what may go out: chat, presence, iq, muc, files, pep",
     .choices = kKinds},
    {.name = "max_stanza_bytes",
     .type = config::OptionType::integer,
     .default_value = nullptr,
     .help = "the largest stanza that may cross, either way",
     .min = 512,
     .max = 16 << 20},
    {.name = "rate_per_s",
     .type = config::OptionType::integer,
     .default_value = nullptr,
     .help = "stanzas per second one remote domain may send (the whole server); 0: no limit",
     .min = 0,
     .max = 1000000},
    {.name = "burst",
     .type = config::OptionType::integer,
     .default_value = nullptr,
     .help = "how many stanzas above the rate may come at once",
     .min = 1,
     .max = 1000000},
};

const config::OptionSpec kDomain[] = {
    {.name = "name",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "a remote domain, or *.domain for its subdomains",
     .required = true},
    {.name = "tier",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "the tier of that domain",
     .required = true},
};

std::set<Kind> all_kinds() {
    return {Kind::chat, Kind::presence, Kind::iq, Kind::muc, Kind::files, Kind::pep};
}

std::map<std::string, Tier> builtin_tiers() {
    Tier trusted{.name = "trusted", .certificate_required = false, .inbound = all_kinds(), .outbound = all_kinds()};
    trusted.max_stanza_bytes = 262144;
    trusted.rate_per_s = 200;
    trusted.burst = 400;
    Tier restricted{.name = "restricted",
                    .certificate_required = true,
                    .inbound = {Kind::chat, Kind::presence, Kind::iq},
                    .outbound = {Kind::chat, Kind::presence, Kind::iq}};
    Tier blocked{.name = "blocked", .blocked = true, .certificate_required = true, .inbound = {}, .outbound = {}};
    blocked.rate_per_s = 0;
    return {{"trusted", trusted}, {"restricted", restricted}, {"blocked", blocked}};
}

std::set<Kind> kinds_of(const std::vector<std::string>& list) {
    std::set<Kind> out;
    for (const auto& k : list)
        if (auto kind = kind_of(k)) out.insert(*kind);
    return out;
}

bool has_link(std::string_view body) {
    std::string lower(body);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    for (std::string_view scheme : {"http://", "https://", "aesgcm://", "ftp://"})
        if (lower.find(scheme) != std::string::npos) return true;
    return false;
}

bool ends_with_label(std::string_view domain, std::string_view suffix) {
    return domain.size() > suffix.size() && domain.substr(domain.size() - suffix.size()) == suffix &&
           domain[domain.size() - suffix.size() - 1] == '.';
}

}  // namespace

const config::OptionSpec kOptions[] = {
    {.name = "default",
     .type = config::OptionType::string,
     .default_value = "allow",
     .help = "domains no rule names: allow (in default_tier) or deny (blocked)",
     .choices = kDefaults},
    {"default_tier", config::OptionType::string, "restricted", "the tier of domains no rule names, when allowed"},
    config::table_list_option("tier", "tiers changed or added (trusted, restricted, blocked exist)", kTier),
    config::table_list_option("domain", "the tier of a remote domain or *.domain", kDomain),
};
const size_t kOptionCount = std::size(kOptions);

const char* to_string(Kind k) {
    switch (k) {
        case Kind::chat: return "chat";
        case Kind::presence: return "presence";
        case Kind::iq: return "iq";
        case Kind::muc: return "muc";
        case Kind::files: return "files";
        case Kind::pep: return "pep";
    }
    return "chat";
}

std::optional<Kind> kind_of(std::string_view n) {
    for (Kind k : {Kind::chat, Kind::presence, Kind::iq, Kind::muc, Kind::files, Kind::pep})
        if (n == to_string(k)) return k;
    return std::nullopt;
}

Kind classify(const xml::Element& st) {
    static constexpr std::string_view kMuc = "http://jabber.org/protocol/muc";
    static constexpr std::string_view kMucUser = "http://jabber.org/protocol/muc#user";
    static constexpr std::string_view kEvent = "http://jabber.org/protocol/pubsub#event";
    static constexpr std::string_view kPubsub = "http://jabber.org/protocol/pubsub";
    static constexpr std::string_view kOob = "jabber:x:oob";
    static constexpr std::string_view kIqOob = "jabber:iq:oob";
    const std::string& name = st.name();
    if (name == "message") {
        if (st.child("event", kEvent)) return Kind::pep;
        if (st.child("x", kOob)) return Kind::files;
        if (const xml::Element* body = st.child("body", xmpp::kNsClient); body && has_link(body->text()))
            return Kind::files;
        if (st.attr_or("type") == "groupchat" || st.child("x", kMucUser)) return Kind::muc;
        return Kind::chat;
    }
    if (name == "presence") {
        if (st.child("x", kMuc) || st.child("x", kMucUser)) return Kind::muc;
        return Kind::presence;
    }
    if (const xml::Element* payload = st.first_child()) {
        if (payload->ns() == kPubsub || payload->ns() == kEvent) return Kind::pep;
        if (payload->ns() == kIqOob) return Kind::files;
    }
    return Kind::iq;
}

bool valid_pattern(std::string& p) {
    for (char& c : p) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string d = p.rfind("*.", 0) == 0 ? p.substr(2) : p;
    return config::valid_domain(d) && d.find('*') == std::string::npos;
}

Result<Settings> read_settings(const config::Section& section) {
    Settings s;
    s.tiers = builtin_tiers();
    for (const config::Section& t : section.tables("tier")) {
        const std::string name = t.get_string("name", "");
        if (name.empty() || name.find_first_of(" \t") != std::string::npos)
            return Status::error("config", t.where("name") + ": a tier needs a name without spaces");
        Tier& tier = s.tiers[name];
        tier.name = name;
        if (t.has("blocked")) tier.blocked = t.get_bool("blocked", false);
        if (t.has("authentication")) tier.certificate_required = t.get_string("authentication", "") == "certificate";
        if (t.has("inbound")) tier.inbound = kinds_of(t.get_list("inbound"));
        if (t.has("outbound")) tier.outbound = kinds_of(t.get_list("outbound"));
        if (t.has("max_stanza_bytes")) tier.max_stanza_bytes = static_cast<size_t>(t.get_int("max_stanza_bytes", 0));
        if (t.has("rate_per_s")) tier.rate_per_s = static_cast<double>(t.get_int("rate_per_s", 0));
        if (t.has("burst")) tier.burst = static_cast<double>(t.get_int("burst", 1));
        if (tier.burst < tier.rate_per_s && !t.has("burst")) tier.burst = tier.rate_per_s;
    }
    const bool deny = section.get_string("default", "allow") == "deny";
    s.default_tier = deny ? "blocked" : section.get_string("default_tier", "restricted");
    if (!s.tiers.count(s.default_tier))
        return Status::error("config", section.where("default_tier") + ": no tier is called '" + s.default_tier + "'");
    std::set<std::string> seen;
    for (const config::Section& d : section.tables("domain")) {
        Rule r{d.get_string("name", ""), d.get_string("tier", "")};
        if (!valid_pattern(r.pattern))
            return Status::error("config", d.where("name") + ": '" + r.pattern + "' is not a domain or *.domain");
        if (!seen.insert(r.pattern).second)
            return Status::error("config", d.where("name") + ": '" + r.pattern + "' has a rule already");
        if (!s.tiers.count(r.tier))
            return Status::error("config", d.where("tier") + ": no tier is called '" + r.tier + "'");
        s.rules.push_back(std::move(r));
    }
    return s;
}

Placement place(const Settings& s, const std::map<std::string, std::string>& runtime, std::string_view domain) {
    auto tier_of = [&](const std::string& name) {
        auto it = s.tiers.find(name);
        return it == s.tiers.end() ? &s.tiers.at("blocked") : &it->second;
    };
    const std::string d(domain);
    if (auto it = runtime.find(d); it != runtime.end()) return {tier_of(it->second), "domain " + d + " (parleyctl)", nullptr};
    for (const Rule& r : s.rules)
        if (r.pattern == d) return {tier_of(r.tier), "domain " + d + " (config)", nullptr};
    // The longest wildcard suffix; a run-time rule before the config's.
    const std::string* best = nullptr;
    std::string best_rule;
    size_t best_len = 0;
    auto consider = [&](const std::string& pattern, const std::string& tier, const char* source) {
        if (pattern.rfind("*.", 0) != 0) return;
        const std::string_view suffix = std::string_view(pattern).substr(2);
        if (!ends_with_label(domain, suffix) || suffix.size() <= best_len) return;
        best_len = suffix.size();
        best = &tier;
        best_rule = pattern + " (" + source + ")";
    };
    for (const auto& [pattern, tier] : runtime) consider(pattern, tier, "parleyctl");
    for (const Rule& r : s.rules) consider(r.pattern, r.tier, "config");
    if (best) return {tier_of(*best), best_rule, nullptr};
    return {tier_of(s.default_tier), "default", nullptr};
}

std::optional<std::string> admit(const Placement& p, std::string_view remote, bool certificate_valid) {
    if (p.tier->blocked)
        return fmt::format("{} is blocked by federation policy (tier {}, rule {})", remote, p.tier->name, p.rule);
    if (p.tier->certificate_required && !certificate_valid)
        return fmt::format("{} must prove its domain with a valid certificate (tier {}, rule {})", remote,
                           p.tier->name, p.rule);
    return std::nullopt;
}

bool must_close(const Tier& t, bool certificate_valid, bool dialback) {
    return t.blocked || (t.certificate_required && dialback && !certificate_valid);
}

std::optional<std::string> judge(const Placement& p, bool inbound, const xml::Element& stanza, size_t bytes) {
    const Tier& t = *p.tier;
    if (t.blocked) return fmt::format("federation with this domain is blocked (tier {}, rule {})", t.name, p.rule);
    // Errors always travel back: they answer what crossed.
    if (stanza.attr_or("type") == "error") return std::nullopt;
    if (bytes > t.max_stanza_bytes)
        return fmt::format("stanzas to or from this domain may have at most {} bytes (tier {}, rule {})",
                           t.max_stanza_bytes, t.name, p.rule);
    const Kind k = classify(stanza);
    const std::set<Kind>& allowed = inbound ? t.inbound : t.outbound;
    if (!allowed.count(k))
        return fmt::format("{} {} this domain is not allowed (tier {}, rule {})", to_string(k),
                           inbound ? "from" : "to", t.name, p.rule);
    return std::nullopt;
}

}  // namespace parley::mod_federation_policy

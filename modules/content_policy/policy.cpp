#include "policy.hpp"

#include <re2/re2.h>

#include <re2/set.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace parley::mod_content_policy {

namespace {

const char* const kDirections[] = {"internal", "room", "external", "incoming", nullptr};
const char* const kActions[] = {"allow", "flag", "redact", "block", nullptr};
const char* const kLinkActions[] = {"flag", "block", nullptr};
const char* const kDetectors[] = {"card", "iban", "us_ssn", "private_key", "api_token", "jwt", nullptr};

const config::OptionSpec kRule[] = {
    {.name = "name",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "the rule's name, in refusals, notices and the audit log",
     .required = true},
    {.name = "detect",
     .type = config::OptionType::string_list,
     .default_value = "[]",
     .help = "built-in detectors: card, iban, us_ssn, private_key, api_token, jwt",
     .choices = kDetectors},
    {"patterns", config::OptionType::string_list, "[]", "custom patterns (RE2 syntax)"},
    {"words", config::OptionType::string_list, "[]", "custom words and phrases (whole words, any case)"},
    {.name = "direction",
     .type = config::OptionType::string_list,
     .default_value = "[\"internal\", \"room\", \"external\"]",
     .help = "where the rule applies: internal (to our accounts), room (to our services' rooms), external (to "
             "other domains), incoming (from other servers; not by default)",
     .choices = kDirections},
    {"rooms", config::OptionType::string_list, "[]",
     "only messages into these rooms (bare JIDs); empty: every room the directions allow"},
    {"tiers", config::OptionType::string_list, "[]",
     "only messages to (external) or from (incoming) domains in these federation tiers (needs the "
     "federation_policy module); empty: any"},
    {.name = "action",
     .type = config::OptionType::string,
     .default_value = nullptr,
     .help = "allow, flag (audit only), redact (replace what was found, tell the sender) or block (policy-violation)",
     .required = true,
     .choices = kActions},
};

const config::OptionSpec kLinks[] = {
    {"block", config::OptionType::string_list, "[]", "domains whose links (and their subdomains') are refused"},
    {"allow", config::OptionType::string_list, "[]",
     "when not empty, the only domains (and their subdomains) links may point to"},
    {.name = "direction",
     .type = config::OptionType::string_list,
     .default_value = "[\"internal\", \"room\", \"external\"]",
     .help = "where the link policy applies",
     .choices = kDirections},
    {.name = "action",
     .type = config::OptionType::string,
     .default_value = "block",
     .help = "flag or block a message with a link the policy refuses",
     .choices = kLinkActions},
};

Direction direction_of(std::string_view s) {
    return s == "internal" ? Direction::internal
           : s == "room"   ? Direction::room
           : s == "incoming" ? Direction::incoming
                             : Direction::external;
}

Action action_of(std::string_view s) {
    return s == "allow" ? Action::allow : s == "redact" ? Action::redact : s == "block" ? Action::block : Action::flag;
}

std::vector<Direction> directions_of(const std::vector<std::string>& list) {
    std::vector<Direction> out;
    for (const auto& d : list) out.push_back(direction_of(d));
    if (out.empty()) out = {Direction::internal, Direction::room, Direction::external};
    return out;
}

std::string lower(std::string s) {
    for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

bool has(const std::vector<Direction>& ds, Direction d) { return std::find(ds.begin(), ds.end(), d) != ds.end(); }

void add_once(std::vector<std::string>& v, const std::string& s) {
    if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(s);
}

}  // namespace

const config::OptionSpec kOptions[] = {
    config::table_list_option("rule", "content rules, applied in the order written", kRule),
    config::table_option("links", "which domains links in messages may point to", kLinks),
    {"strip_xhtml", config::OptionType::boolean, "true",
     "remove XHTML-IM (XEP-0071) markup from messages: only the plain body is sent"},
    {"notify_sender", config::OptionType::boolean, "true",
     "tell the sender when part of a message was redacted, and under which rule"},
};
const size_t kOptionCount = std::size(kOptions);

struct Settings::Prefilter {
    Prefilter() : set(options(), re2::RE2::UNANCHORED) {}
    static re2::RE2::Options options() {
        re2::RE2::Options o;
        o.set_log_errors(false);
        o.set_max_mem(64 << 20);
        return o;
    }
    re2::RE2::Set set;
    std::vector<const Detector*> owner;  // by the set's index
};

namespace {

std::shared_ptr<const Settings::Prefilter> make_prefilter(const std::vector<Rule>& rules) {
    auto p = std::make_shared<Settings::Prefilter>();
    std::set<const Detector*> seen;
    for (const Rule& r : rules)
        for (const auto& d : r.detectors) {
            if (!seen.insert(d.get()).second) continue;
            for (const std::string& pattern : d->patterns()) {
                if (p->set.Add(pattern, nullptr) < 0) return nullptr;
                p->owner.push_back(d.get());
            }
        }
    if (p->owner.empty() || !p->set.Compile()) return nullptr;  // then every detector searches
    return p;
}

}  // namespace

const char* to_string(Direction d) {
    switch (d) {
        case Direction::internal: return "internal";
        case Direction::room: return "room";
        case Direction::external: return "external";
        case Direction::incoming: return "incoming";
    }
    return "internal";
}

const char* to_string(Action a) {
    switch (a) {
        case Action::allow: return "allow";
        case Action::flag: return "flag";
        case Action::redact: return "redact";
        case Action::block: return "block";
    }
    return "flag";
}

Result<Settings> read_settings(const config::Section& section) {
    Settings s;
    s.strip_xhtml = section.get_bool("strip_xhtml", true);
    s.notify_sender = section.get_bool("notify_sender", true);
    for (const config::Section& r : section.tables("rule")) {
        Rule rule;
        rule.name = r.get_string("name", "");
        if (rule.name.empty()) return Status::error("config", r.where("name") + ": a rule needs a name");
        for (const std::string& d : r.get_list("detect")) {
            auto det = Detector::builtin(d);
            if (!det) return Status::error("config", r.where("detect") + ": " + det.status().message());
            rule.detectors.push_back(*det);
        }
        const auto patterns = r.get_list("patterns");
        const auto words = r.get_list("words");
        if (!patterns.empty() || !words.empty()) {
            auto det = Detector::custom(rule.name, patterns, words);
            if (!det)
                return Status::error("config", r.where(patterns.empty() ? "words" : "patterns") + ": " +
                                                   det.status().message());
            rule.detectors.push_back(*det);
        }
        if (rule.detectors.empty())
            return Status::error("config", r.where("detect") + ": rule '" + rule.name +
                                               "' detects nothing (give detect, patterns or words)");
        rule.rooms = r.get_list("rooms");
        rule.tiers = r.get_list("tiers");
        for (auto& t : rule.tiers) t = lower(t);
        for (auto& room : rule.rooms) room = lower(room);
        rule.directions = r.has("direction") ? directions_of(r.get_list("direction"))
                                             : std::vector<Direction>{Direction::internal, Direction::room,
                                                                      Direction::external};
        if (!rule.rooms.empty()) rule.directions = {Direction::room};
        rule.action = action_of(r.get_string("action", "flag"));
        s.rules.push_back(std::move(rule));
    }
    const config::Section links = section.table("links");
    for (const auto& d : links.get_list("block")) s.links.block.push_back(lower(d));
    for (const auto& d : links.get_list("allow")) s.links.allow.push_back(lower(d));
    s.links.directions = directions_of(links.get_list("direction"));
    s.links.action = links.get_string("action", "block") == "flag" ? Action::flag : Action::block;
    s.prefilter = make_prefilter(s.rules);
    return s;
}

namespace {

// %XX escapes decoded (a browser decodes them in a host); a bad escape
// stays as it is.
std::string percent_decoded(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        auto hex = [](char c) {
            return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        };
        if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
            i += 2;
        } else {
            out.push_back(s[i]);
        }
    }
    return out;
}

}  // namespace

std::vector<std::string> link_hosts(std::string_view text) {
    // The host as a browser reads it (the WHATWG URL rules for these
    // schemes): a backslash ends it as a slash does, and %XX is decoded.
    static const re2::RE2 kLink(R"((?i)\b(?:https?|ftp):[/\\]{2}(?:[^\s/\\?#@]*@)?(\[[0-9a-f:.]+\]|[^\s/\\?#:\[\]<>"']+))");
    std::vector<std::string> out;
    re2::StringPiece input(text.data(), text.size());
    std::string host;
    while (re2::RE2::FindAndConsume(&input, kLink, &host)) {
        host = lower(percent_decoded(host));
        while (!host.empty() && (host.back() == '.' || host.back() == ',' || host.back() == ')')) host.pop_back();
        if (!host.empty()) out.push_back(host);
    }
    return out;
}

bool in_domain(std::string_view host, std::string_view domain) {
    if (domain.empty()) return false;
    if (host == domain) return true;
    return host.size() > domain.size() && host.ends_with(domain) && host[host.size() - domain.size() - 1] == '.';
}

Verdict judge(const Settings& settings, const Message& m) {
    Verdict v;
    v.texts = m.texts;
    // Which detectors can find anything at all: one pass of the set per text.
    std::set<const Detector*> possible;
    bool every = !settings.prefilter;
    if (settings.prefilter) {
        std::vector<int> hits;
        for (const auto& t : m.texts) {
            hits.clear();
            re2::RE2::Set::ErrorInfo error{};
            if (settings.prefilter->set.Match(re2::StringPiece(t.data(), t.size()), &hits, &error))
                for (int i : hits) possible.insert(settings.prefilter->owner[static_cast<size_t>(i)]);
            else if (error.kind != re2::RE2::Set::kNoError)
                every = true;  // the set could not decide (out of memory): every detector searches
        }
    }
    auto may_find = [&](const Detector* d) { return every || possible.count(d) != 0; };
    // What each redacting rule found, per text.
    std::vector<std::vector<std::pair<Match, const Rule*>>> cuts(m.texts.size());
    for (const Rule& rule : settings.rules) {
        if (!has(rule.directions, m.direction)) continue;
        if (!rule.rooms.empty() && std::find(rule.rooms.begin(), rule.rooms.end(), lower(m.room)) == rule.rooms.end())
            continue;
        if (!rule.tiers.empty() && std::find(rule.tiers.begin(), rule.tiers.end(), m.tier) == rule.tiers.end())
            continue;
        bool hit = false;
        for (size_t t = 0; t < m.texts.size(); ++t)
            for (const auto& d : rule.detectors) {
                if (!may_find(d.get())) continue;
                for (const Match& found : d->find(m.texts[t])) {
                    hit = true;
                    if (rule.action == Action::redact) cuts[t].emplace_back(found, &rule);
                }
            }
        if (!hit) continue;
        if (rule.action == Action::allow) {
            v.allowed_by = rule.name;
            break;
        }
        if (rule.action == Action::block) {
            v.blocked = true;
            v.blocking_rule = rule.name;
            break;
        }
        if (rule.action == Action::redact) add_once(v.redacted, rule.name);
        else add_once(v.flagged, rule.name);
    }
    if (!v.blocked && settings.links.active() && has(settings.links.directions, m.direction)) {
        std::vector<std::string> hosts;
        for (const auto& t : m.texts)
            for (auto& h : link_hosts(t)) hosts.push_back(std::move(h));
        for (const auto& l : m.links)
            for (auto& h : link_hosts(l)) hosts.push_back(std::move(h));
        const auto& lp = settings.links;
        const bool refused = std::any_of(hosts.begin(), hosts.end(), [&](const std::string& h) {
            const auto in = [&](const std::string& d) { return in_domain(h, d); };
            return std::any_of(lp.block.begin(), lp.block.end(), in) ||
                   (!lp.allow.empty() && std::none_of(lp.allow.begin(), lp.allow.end(), in));
        });
        if (refused) {
            if (lp.action == Action::block) {
                v.blocked = true;
                v.blocking_rule = "links";
            } else {
                add_once(v.flagged, "links");
            }
        }
    }
    if (v.blocked) {
        v.redacted.clear();
        v.texts = m.texts;
        return v;
    }
    for (size_t t = 0; t < cuts.size(); ++t) {
        auto& c = cuts[t];
        if (c.empty()) continue;
        std::sort(c.begin(), c.end(), [](const auto& a, const auto& b) { return a.first.at < b.first.at; });
        std::string out;
        size_t pos = 0;
        for (const auto& [match, rule] : c) {
            if (match.at < pos) {
                // Overlaps what was cut already: cut to its end.
                if (match.at + match.size > pos) pos = match.at + match.size;
                continue;
            }
            out.append(m.texts[t], pos, match.at - pos);
            out += "[redacted: " + rule->name + "]";
            pos = match.at + match.size;
            ++v.redactions;
        }
        out.append(m.texts[t], pos, std::string::npos);
        v.texts[t] = std::move(out);
    }
    return v;
}

}  // namespace parley::mod_content_policy

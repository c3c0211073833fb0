#include "federation_policy.hpp"

#include <fmt/format.h>

#include <chrono>

#include "../archive/journal_service.hpp"
#include "log/log.hpp"
#include "module/control_json.hpp"
#include "xml/serializer.hpp"
#include "xmpp/jid.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_federation_policy {

namespace {

// Before content rules and the archive: a refused stanza goes no further.
constexpr int kInPriority = 2000;
constexpr int kRoutedPriority = 2000;

constexpr const char* kUsage =
    "federation show [DOMAIN] | allow DOMAIN [TIER] | deny DOMAIN | tier DOMAIN TIER | clear DOMAIN | "
    "explain JID|DOMAIN [KIND [in|out]]";

uint64_t now_ms() {
    return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now().time_since_epoch())
                                     .count());
}

std::string kinds_text(const std::set<Kind>& ks) {
    std::string out;
    for (Kind k : ks) out += (out.empty() ? "" : ",") + std::string(to_string(k));
    return out.empty() ? "nothing" : out;
}

std::string tier_line(const Tier& t) {
    if (t.blocked) return fmt::format("{}: blocked\n", t.name);
    return fmt::format("{}: {}; in: {}; out: {}; at most {} bytes; {} stanzas/s in (burst {})\n", t.name,
                       t.certificate_required ? "valid certificate required" : "certificate or dialback",
                       kinds_text(t.inbound), kinds_text(t.outbound), t.max_stanza_bytes,
                       t.rate_per_s > 0 ? fmt::format("{:g}", t.rate_per_s) : std::string("unlimited"), t.burst);
}

}  // namespace

Status Policy::start(module::ServiceHost& host) { return reload(host.config()); }

Status Policy::reload(const config::Section& section) {
    auto s = read_settings(section);
    if (!s) return s.status();
    auto next = std::make_shared<const Settings>(std::move(s).value());
    std::lock_guard<std::mutex> lock(mutex_);
    settings_ = std::move(next);
    return Status::ok();
}

std::shared_ptr<const Settings> Policy::settings() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return settings_;
}

std::shared_ptr<const Policy::Rules> Policy::rules() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return rules_;
}

Placement Policy::place(std::string_view domain) const {
    std::shared_ptr<const Settings> s;
    std::shared_ptr<const Rules> r;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        s = settings_;
        r = rules_;
    }
    // The tiers live in the settings: keep them alive with the placement's caller.
    Placement p = mod_federation_policy::place(*s, *r, domain);
    p.keep = s;
    return p;
}

std::string Policy::tier_of(std::string_view domain) const { return place(domain).tier->name; }

bool Policy::rules_loaded() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return loaded_;
}

void Policy::load_rules(Rules rules) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (loaded_) return;
    rules_ = std::make_shared<const Rules>(std::move(rules));
    loaded_ = true;
}

void Policy::set_rule(const std::string& pattern, const std::string& tier) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto next = std::make_shared<Rules>(*rules_);
    if (tier.empty()) next->erase(pattern);
    else (*next)[pattern] = tier;
    rules_ = std::move(next);
}

void Policy::count(const std::string& domain, const std::string& action) {
    std::lock_guard<std::mutex> lock(mutex_);
    Counts& c = counts_[domain];
    if (action == "federation.refuse_stream") ++c.streams;
    else if (action == "federation.refuse_in") ++c.inbound;
    else if (action == "federation.refuse_out") ++c.outbound;
    else ++c.rate;
}

Counts Policy::counts_of(const std::string& domain) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = counts_.find(domain);
    return it == counts_.end() ? Counts{} : it->second;
}

std::map<std::string, Counts> Policy::counts() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return counts_;
}

Status FederationPolicy::configure(const config::Section& section) {
    // Checked here so that a bad section is refused before anything starts;
    // the service holds the settings.
    auto s = read_settings(section);
    return s ? Status::ok() : s.status();
}

Status FederationPolicy::start(module::Host& host) {
    host_ = &host;
    policy_ = static_cast<Policy*>(module::service<FederationService>(host));
    if (!policy_) return Status::error("federation_policy", "the federation policy's service is not running");
    auto db = host.open_database({"rules", 1, {}, ""});
    if (!db) return db.status();
    db_ = db.value();
    if (!policy_->rules_loaded()) {
        Policy::Rules rules;
        Status s = db_->read([&](const store::Txn& txn, MDB_dbi dbi) {
            return txn.scan(dbi, "", [&](std::string_view k, std::string_view v) {
                rules.emplace(std::string(k), std::string(v));
                return true;
            });
        });
        if (!s) return s;
        policy_->load_rules(std::move(rules));
    }
    host.s2s_gate([this](const module::S2sAuth& a) { return on_gate(a); });
    host.hook(module::HookPoint::stanza_in, kInPriority, [this](module::StanzaContext& c) { return on_in(c); });
    host.on_routed(kRoutedPriority, [this](module::RoutedContext& c) { on_routed(c); });
    if (host.worker_index() == 0) {
        Status s = host.control_command(
            "federation", [this](const std::vector<std::string>& args, module::ControlReply r) { control(args, r); });
        if (!s) return s;
        close_blocked();  // rules stored earlier apply to links that exist (none at start; after a module reload)
    }
    return Status::ok();
}

Status FederationPolicy::reload(const config::Section&) {
    // The service took the new section already (services reload first).
    if (host_ && host_->worker_index() == 0) close_blocked();
    return Status::ok();
}

void FederationPolicy::stop() {
    db_.reset();
    host_ = nullptr;
    policy_ = nullptr;
}

void FederationPolicy::refused(const std::string& domain, const std::string& action, const std::string& scope,
                               const std::string& why) {
    if (policy_) policy_->count(domain, action);
    log::info("federation_policy", "{}: {}: {}", action, scope, why);
    if (!host_) return;
    auto* journal = module::service<archive::JournalService>(*host_);
    if (!journal) return;
    Status s = journal->audit(*host_, "parleyd federation_policy", action, scope, why, [action](Status done) {
        if (!done) log::error("federation_policy", "{} could not be written to the audit log: {}", action, done.message());
    });
    if (!s) log::error("federation_policy", "{} could not be written to the audit log: {}", action, s.message());
}

std::optional<std::string> FederationPolicy::on_gate(const module::S2sAuth& a) {
    const Placement p = placement(a.remote);
    auto refusal = admit(p, a.remote, a.certificate_valid);
    if (refusal)
        refused(std::string(a.remote), "federation.refuse_stream",
                fmt::format("{} {} {} ({})", a.local, a.incoming ? "from" : "to", a.remote, a.address), *refusal);
    return refusal;
}

bool Policy::over_rate(const std::string& domain, const Tier& t, uint64_t now) {
    if (t.rate_per_s <= 0) return false;
    std::lock_guard lock(buckets_mutex_);
    auto [it, fresh] = buckets_.try_emplace(domain);
    Bucket& b = it->second;
    if (fresh) {
        b.tokens = t.burst;
    } else {
        b.tokens = std::min(t.burst, b.tokens + static_cast<double>(now - b.at_ms) * t.rate_per_s / 1000.0);
    }
    b.at_ms = now;
    if (b.tokens < 1) return true;
    b.tokens -= 1;
    return false;
}

module::HookResult FederationPolicy::on_in(module::StanzaContext& c) {
    if (!c.from_remote_server) return module::HookResult::pass();
    const std::string& domain = c.from.domain();
    const Placement p = placement(domain);
    const std::string scope = "from " + c.from.str() + " to " + c.to.str();
    if (policy_->over_rate(domain, *p.tier, now_ms())) {
        const std::string why = fmt::format("{} sends more than {:g} stanzas a second (tier {}, rule {})", domain,
                                            p.tier->rate_per_s, p.tier->name, p.rule);
        refused(domain, "federation.rate_limit", scope, why);
        return module::HookResult::reject(StanzaError::wait("resource-constraint", why));
    }
    const size_t bytes = xml::to_string(c.stanza, xmpp::kNsClient).size();
    if (auto why = judge(p, true, c.stanza, bytes)) {
        refused(domain, "federation.refuse_in", scope, *why);
        return module::HookResult::reject(StanzaError::cancel("policy-violation", *why));
    }
    return module::HookResult::pass();
}

void FederationPolicy::on_routed(module::RoutedContext& c) {
    if (c.outcome.kind != module::RouteOutcome::Kind::remote) return;
    const std::string& domain = c.to.domain();
    const Placement p = placement(domain);
    const size_t bytes = xml::to_string(c.stanza, xmpp::kNsClient).size();
    if (auto why = judge(p, false, c.stanza, bytes)) {
        refused(domain, "federation.refuse_out", "from " + c.from.str() + " to " + c.to.str(), *why);
        c.hold()->reject(StanzaError::cancel("policy-violation", *why));
    }
}

void FederationPolicy::close_blocked() {
    for (unsigned w = 0; w < host_->worker_count(); ++w)
        host_->post(w, [](module::Host& h) {
            auto& self = static_cast<FederationPolicy&>(h.instance());
            const size_t n = h.s2s_close(
                [&self](const module::S2sAuth& l) {
                    return must_close(*self.placement(l.remote).tier, l.certificate_valid, l.dialback);
                },
                "federation with this domain is blocked by policy, or needs a valid certificate now");
            if (n)
                log::info("federation_policy", "worker {}: {} link(s) closed: blocked, or not proven as the tier requires now",
                          h.worker_index(), n);
        });
}

void FederationPolicy::change(const std::string& pattern, const std::string& tier, const std::string& who,
                              module::ControlReply reply) {
    // Stored first; in force (and links closed) once on disk.
    Status s = db_->write(
        [pattern, tier](store::Txn& txn, MDB_dbi dbi) -> Status {
            if (tier.empty()) {
                auto r = txn.del(dbi, pattern);
                return r ? Status::ok() : r.status();
            }
            return txn.put(dbi, pattern, tier);
        },
        [this, pattern, tier, who, reply](Status done) {
            if (!done) return reply(done);
            if (!policy_) return reply(Status::error("federation", "the module stopped"));
            policy_->set_rule(pattern, tier);
            const std::string what = tier.empty() ? "run-time rule removed" : "tier " + tier;
            log::info("federation_policy", "{}: {} (by {})", pattern, what, who);
            if (auto* journal = module::service<archive::JournalService>(*host_))
                (void)journal->audit(*host_, who, "federation.rule", pattern, what, nullptr);
            close_blocked();
            const Placement p = placement(pattern.rfind("*.", 0) == 0 ? "x." + pattern.substr(2) : pattern);
            reply("{\"domain\":" + module::json_string(pattern) + ",\"tier\":" + module::json_string(p.tier->name) +
                  ",\"rule\":" + module::json_string(p.rule) + "}");
        });
    if (!s) reply(s);
}

void FederationPolicy::control(const std::vector<std::string>& args, module::ControlReply reply) {
    auto usage = [&] { reply(Status::error("usage", kUsage)); };
    if (args.empty()) return usage();
    const std::string& verb = args[0];
    // Changes carry who asked as their last word (parleyctl adds it).
    if (verb == "allow" || verb == "deny" || verb == "tier" || verb == "clear") {
        const size_t want = verb == "tier" ? 4 : verb == "allow" ? 0 : 3;
        if ((want && args.size() != want) || (!want && args.size() != 3 && args.size() != 4)) return usage();
        std::string pattern = args[1];
        if (!valid_pattern(pattern)) return reply(Status::error("usage", "'" + args[1] + "' is not a domain or *.domain"));
        std::string tier = verb == "deny" ? "blocked" : verb == "clear" ? "" : verb == "allow" ? "trusted" : args[2];
        if (verb == "allow" && args.size() == 4) tier = args[2];
        if (!tier.empty() && !policy_->settings()->tiers.count(tier))
            return reply(Status::error("usage", "no tier is called '" + tier + "'"));
        return change(pattern, tier, args.back(), std::move(reply));
    }
    if (verb == "show" && args.size() <= 2) {
        if (args.size() == 2) {
            const Placement p = placement(args[1]);
            const Counts c = policy_->counts_of(args[1]);
            const std::string text = fmt::format(
                "{}: tier {} (rule {})\n  {}  refused: {} stream(s), {} stanza(s) in, {} out, {} over the rate\n",
                args[1], p.tier->name, p.rule, tier_line(*p.tier), c.streams, c.inbound, c.outbound, c.rate);
            return reply(fmt::format(
                "{{\"domain\":{},\"tier\":{},\"rule\":{},\"refused\":{{\"streams\":{},\"in\":{},\"out\":{},\"rate\":{}}},"
                "\"text\":{}}}",
                module::json_string(args[1]), module::json_string(p.tier->name), module::json_string(p.rule), c.streams,
                c.inbound, c.outbound, c.rate, module::json_string(text)));
        }
        const auto settings = policy_->settings();
        std::string text = "default: " + settings->default_tier + "\ntiers:\n";
        for (const auto& [name, t] : settings->tiers) text += "  " + tier_line(t);
        std::string rules_json;
        text += "rules:\n";
        auto rule = [&](const std::string& pattern, const std::string& tier, const char* source) {
            text += fmt::format("  {} -> {} ({})\n", pattern, tier, source);
            rules_json += fmt::format("{}{{\"domain\":{},\"tier\":{},\"source\":\"{}\"}}", rules_json.empty() ? "" : ",",
                                      module::json_string(pattern), module::json_string(tier), source);
        };
        for (const auto& [pattern, tier] : *policy_->rules()) rule(pattern, tier, "parleyctl");
        for (const Rule& r : settings->rules) rule(r.pattern, r.tier, "config");
        std::string counts_json;
        {
            const auto counts = policy_->counts();
            if (!counts.empty()) text += "refused (streams, in, out, over the rate):\n";
            for (const auto& [d, c] : counts) {
                text += fmt::format("  {}: {}, {}, {}, {}\n", d, c.streams, c.inbound, c.outbound, c.rate);
                counts_json += fmt::format("{}{}:{{\"streams\":{},\"in\":{},\"out\":{},\"rate\":{}}}",
                                           counts_json.empty() ? "" : ",", module::json_string(d), c.streams,
                                           c.inbound, c.outbound, c.rate);
            }
        }
        return reply("{\"default_tier\":" + module::json_string(settings->default_tier) + ",\"rules\":[" + rules_json +
                     "],\"refused\":{" + counts_json + "},\"text\":" + module::json_string(text) + "}");
    }
    if (verb == "explain" && args.size() >= 2 && args.size() <= 5) {
        // explain TARGET [KIND [in|out [LOCAL]]]
        auto target = xmpp::Jid::parse(args[1]);
        if (!target || target->empty()) return reply(Status::error("usage", "'" + args[1] + "' is not a JID"));
        const std::string kind_name = args.size() >= 3 ? args[2] : "chat";
        const auto kind = kind_of(kind_name);
        if (!kind) return reply(Status::error("usage", "kinds: chat, presence, iq, muc, files, pep"));
        const bool inbound = args.size() >= 4 && args[3] == "in";
        if (args.size() >= 4 && args[3] != "in" && args[3] != "out") return usage();
        const std::string domain = target->domain();
        if (host_->is_local_domain(domain))
            return reply(Status::error("usage", domain + " is served here: federation policy does not apply"));
        const Placement p = placement(domain);
        // A stanza of that kind, to judge as the hooks would.
        xml::Element probe(*kind == Kind::presence || *kind == Kind::muc ? "presence"
                           : *kind == Kind::iq                           ? "iq"
                                                                         : "message",
                           std::string(xmpp::kNsClient));
        if (*kind == Kind::muc) probe.add_child("x", "http://jabber.org/protocol/muc");
        if (*kind == Kind::files) probe.add_child("x", "jabber:x:oob");
        if (*kind == Kind::pep) probe.add_child("event", "http://jabber.org/protocol/pubsub#event");
        const auto why = judge(p, inbound, probe, 0);
        const std::string who = args.size() == 5 ? args[4] : std::string("a local account");
        const std::string what = fmt::format("a {} stanza {} {} {} {}", kind_name, inbound ? "from" : "to",
                                             target->str(), inbound ? "to" : "from", who);
        std::string text = fmt::format("{}: {} (tier {}, rule {})\n", what, why ? "refused: " + *why : "passes",
                                       p.tier->name, p.rule);
        if (!p.tier->blocked)
            text += p.tier->certificate_required
                        ? "  the peer must prove " + domain + " with a valid certificate; dialback is refused\n"
                        : "  the peer may prove " + domain + " with a valid certificate or by dialback\n";
        return reply(fmt::format("{{\"verdict\":\"{}\",\"tier\":{},\"rule\":{},\"why\":{},\"text\":{}}}",
                                 why ? "refused" : "passes", module::json_string(p.tier->name),
                                 module::json_string(p.rule), module::json_string(why ? *why : ""),
                                 module::json_string(text)));
    }
    usage();
}

}  // namespace parley::mod_federation_policy

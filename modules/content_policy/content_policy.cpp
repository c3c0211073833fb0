#include "content_policy.hpp"

#include <algorithm>

#include "../archive/journal_service.hpp"
#include "../federation_policy/federation_service.hpp"
#include "log/log.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::mod_content_policy {

namespace {

// The hook runs before the archive's and the other modules' stanza/in
// hooks, so that nothing later sees what a rule removes.
constexpr int kPriority = 1000;

bool is_text(const xml::Element& e) {
    return e.ns() == xmpp::kNsClient && (e.name() == "body" || e.name() == "subject");
}

// Every text node under e, in order, with a space between elements.
std::string all_text(const xml::Element& e) {
    std::string out;
    for (const xml::Element::Node& n : e.nodes()) {
        if (n.is_text()) {
            out += n.text();
        } else {
            out += ' ';
            out += all_text(n.element());
            out += ' ';
        }
    }
    return out;
}

}  // namespace

Status ContentPolicy::configure(const config::Section& section) {
    auto s = read_settings(section);
    if (!s) return s.status();
    settings_ = std::make_shared<const Settings>(std::move(s).value());
    return Status::ok();
}

Status ContentPolicy::start(module::Host& host) {
    host_ = &host;
    if (!settings_) {
        if (Status s = configure(host.config()); !s) return s;
    }
    federation_ = module::service<mod_federation_policy::FederationService>(host);
    for (const Rule& r : settings_->rules)
        if (!r.tiers.empty() && !federation_)
            return Status::error("config", "content rule '" + r.name +
                                               "' names federation tiers, but the federation_policy module does not run");
    host.hook(module::HookPoint::stanza_in, kPriority, [this](module::StanzaContext& c) { return on_in(c); });
    return Status::ok();
}

Status ContentPolicy::reload(const config::Section& section) {
    auto s = read_settings(section);
    if (!s) return s.status();
    auto* federation = host_ ? module::service<mod_federation_policy::FederationService>(*host_) : nullptr;
    for (const Rule& r : s->rules)
        if (!r.tiers.empty() && !federation)
            return Status::error("config", "content rule '" + r.name +
                                               "' names federation tiers, but the federation_policy module does not run");
    federation_ = federation;
    settings_ = std::make_shared<const Settings>(std::move(s).value());
    return Status::ok();
}

void ContentPolicy::stop() { host_ = nullptr; }

Direction ContentPolicy::direction_of(const xmpp::Jid& from, const xmpp::Jid& to) const {
    const std::string& d = to.domain();
    if (d.empty() || host_->is_local_domain(d)) return Direction::internal;
    // A domain a module serves under the sender's virtual host (rooms).
    for (const std::string& own : host_->domains_of(from.domain()))
        if (own == d) return Direction::room;
    return Direction::external;
}

module::HookResult ContentPolicy::on_in(module::StanzaContext& c) {
    xml::Element& m = c.stanza;
    // Errors too: a client's error reply may carry any body (a bounce of an
    // error is dropped by the router, never answered).
    if ((!c.from_local_client && !c.from_remote_server) || m.name() != "message") return module::HookResult::pass();
    const Settings& s = *settings_;
    if (s.strip_xhtml && m.remove_children("html", kNsXhtmlIm) > 0) ++counters_.stripped;

    Message msg;
    for (const xml::Element& e : m.children())
        if (is_text(e)) msg.texts.push_back(e.text());
    // Markup that stays (strip_xhtml = false) is judged by its text too.
    const size_t plain_texts = msg.texts.size();
    for (const xml::Element& e : m.children())
        if (e.name() == "html" && e.ns() == kNsXhtmlIm) msg.texts.push_back(all_text(e));
    for (const xml::Element& e : m.children())
        if (e.name() == "x" && e.ns() == kNsOob)
            if (const xml::Element* url = e.child("url", kNsOob)) msg.links.push_back(url->text());
    if (msg.texts.empty() && msg.links.empty()) return module::HookResult::pass();
    msg.direction = c.from_remote_server ? Direction::incoming : direction_of(c.from, c.to);
    msg.room = c.to.bare_str();
    if (federation_ && (msg.direction == Direction::external || msg.direction == Direction::incoming))
        msg.tier = federation_->tier_of(msg.direction == Direction::incoming ? c.from.domain() : c.to.domain());

    const Verdict v = judge(s, msg);
    if (v.blocked) {
        ++counters_.blocked;
        record(c, "content.block", "rule " + v.blocking_rule);
        return module::HookResult::reject(StanzaError::modify(
            "policy-violation", "This message was not sent: it breaks the content rule '" + v.blocking_rule + "'."));
    }
    if (!v.redacted.empty()) {
        ++counters_.redacted;
        // Markup cannot be redacted in place: it goes, the plain body stays.
        if (msg.texts.size() > plain_texts) m.remove_children("html", kNsXhtmlIm);
        // The texts in the order they were read, each replaced by its redacted form.
        size_t i = 0;
        xml::Element out(m.name(), m.ns());
        for (const auto& a : m.attrs()) out.set_attr(a.name, a.value);
        for (const xml::Element::Node& n : m.nodes()) {
            if (n.is_text()) {
                out.add_text(n.text());
                continue;
            }
            const xml::Element& e = n.element();
            if (is_text(e)) {
                xml::Element t(e.name(), e.ns());
                for (const auto& a : e.attrs()) t.set_attr(a.name, a.value);
                t.add_text(v.texts[i++]);
                out.add_child(std::move(t));
            } else {
                out.add_child(e);
            }
        }
        m = std::move(out);
        std::string rules;
        for (const auto& r : v.redacted) rules += (rules.empty() ? "" : ", ") + r;
        record(c, "content.redact", "rule " + rules + ", " + std::to_string(v.redactions) + " part(s)");
        // A remote sender is not ours to notify; its message arrives redacted.
        if (s.notify_sender && c.from_local_client) notify(c, v);
    }
    if (!v.flagged.empty()) {
        ++counters_.flagged;
        std::string rules;
        for (const auto& r : v.flagged) rules += (rules.empty() ? "" : ", ") + r;
        record(c, "content.flag", "rule " + rules);
    }
    return module::HookResult::pass();
}

void ContentPolicy::record(const module::StanzaContext& c, const char* action, const std::string& result) {
    const std::string id(c.stanza.attr_or("id"));
    const std::string scope = "from " + c.from.str() + " to " + c.to.str();
    const std::string what = result + (id.empty() ? std::string(", no id") : ", id " + id);
    log::info("content_policy", "{}: {}: {}", action, scope, what);
    auto* journal = module::service<archive::JournalService>(*host_);
    if (!journal) return;
    Status s = journal->audit(*host_, "parleyd content_policy", action, scope, what, [action](Status done) {
        if (!done) log::error("content_policy", "{} could not be written to the audit log: {}", action, done.message());
    });
    if (!s) log::error("content_policy", "{} could not be written to the audit log: {}", action, s.message());
}

void ContentPolicy::notify(const module::StanzaContext& c, const Verdict& v) {
    std::string rules;
    for (const auto& r : v.redacted) rules += (rules.empty() ? "'" : ", '") + r + "'";
    xml::Element n("message", std::string(xmpp::kNsClient));
    n.set_attr("from", c.from.domain());
    n.set_attr("to", c.from.str());
    n.set_attr("type", "headline");
    n.add_child("body", std::string(xmpp::kNsClient))
        .add_text("Your message to " + c.to.str() + " was sent with " + std::to_string(v.redactions) +
                  " part(s) redacted under the content rule" + (v.redacted.size() > 1 ? "s " : " ") + rules + ".");
    host_->send(std::move(n));
}

}  // namespace parley::mod_content_policy

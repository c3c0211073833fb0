// FakeHost: a module::Host that records what a module registers, so a module
// is unit-tested without parleyd (CONVENTIONS.md "Tests").
//
// Iq handlers are kept by key and can be called with ask(); the answer is
// captured by a RecordingResponder. send() appends to `sent`. Timers are
// recorded, never run. open_database() gives `database` when a test sets
// one (a stand-in), and fails otherwise. Single-threaded: one test at a time.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "module/module_api.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::test {

class RecordingResponder final : public module::IqResponder {
public:
    void result(std::optional<xml::Element> payload) override {
        ++answers;
        ok = true;
        this->payload = std::move(payload);
    }
    void error(const StanzaError& e) override {
        ++answers;
        ok = false;
        err = e;
    }
    int answers = 0;
    bool ok = false;
    std::optional<xml::Element> payload;
    StanzaError err;
};

class FakeHost final : public module::Host {
public:
    unsigned worker_index() const override { return 0; }
    const config::Section& config() const override { return section; }
    std::string_view server_version() const override { return "0.1.0-test"; }
    void hook(module::HookPoint point, int priority, module::StanzaHook fn) override {
        hooks.emplace_back(point, priority, std::move(fn));
    }
    Status iq_handler(module::IqTarget target, std::string_view type, std::string_view ns, std::string_view element,
                      module::IqHandler fn) override {
        auto key = std::make_tuple(static_cast<int>(target), std::string(type), std::string(ns), std::string(element));
        if (iqs.count(key)) return Status::error("exists", "already registered");
        iqs.emplace(std::move(key), std::move(fn));
        return Status::ok();
    }
    void on_session(module::SessionEvent, module::SessionEventHandler) override {}
    void disco_feature(std::string feature) override { features.push_back(std::move(feature)); }
    void disco_identity(module::DiscoIdentity identity) override { identities.push_back(std::move(identity)); }
    std::vector<std::string> disco_features() const override {
        auto f = features;
        std::sort(f.begin(), f.end());
        f.erase(std::unique(f.begin(), f.end()), f.end());
        return f;
    }
    std::vector<module::DiscoIdentity> disco_identities() const override { return identities; }
    void account_disco_feature(std::string feature) override { account_features.push_back(std::move(feature)); }
    void account_disco_identity(module::DiscoIdentity identity) override {
        account_identities.push_back(std::move(identity));
    }
    void account_disco_items(module::AccountItemsProvider fn) override { account_items.push_back(std::move(fn)); }
    std::vector<std::string> account_disco_features() const override { return account_features; }
    std::vector<module::DiscoIdentity> account_disco_identities() const override { return account_identities; }
    std::vector<module::DiscoItem> account_disco_item_list(const xmpp::Jid& account,
                                                           const xmpp::Jid& requester) const override {
        std::vector<module::DiscoItem> out;
        for (const auto& fn : account_items)
            for (auto& i : fn(account, requester)) out.push_back(std::move(i));
        return out;
    }
    bool is_local_domain(std::string_view domain) const override { return domain == "example.org"; }
    void send(xml::Element stanza) override { sent.push_back(std::move(stanza)); }
    module::TimerId add_timer(uint64_t, uint64_t, std::function<void()>) override { return ++timers; }
    void cancel_timer(module::TimerId) override {}

    void on_routed(int, module::RoutedHook fn) override { routed.push_back(std::move(fn)); }
    void on_unavailable(int, module::UnavailableHandler fn) override { unavailable.push_back(std::move(fn)); }
    Status domain_handler(std::string_view, std::string_view domain, module::DomainHandler fn) override {
        if (domains.count(std::string(domain))) return Status::error("exists", "already owned");
        domains.emplace(std::string(domain), std::move(fn));
        return Status::ok();
    }
    std::vector<std::string> domains_of(std::string_view) const override {
        std::vector<std::string> out;
        for (const auto& [d, fn] : domains) out.push_back(d);
        return out;
    }
    std::vector<module::SessionInfo> sessions_of(const xmpp::Jid& bare) const override {
        std::vector<module::SessionInfo> out;
        for (const auto& s : sessions)
            if (s.full_jid.bare() == bare.bare()) out.push_back(s);
        return out;
    }
    std::vector<module::SessionInfo> all_sessions() const override { return sessions; }
    void send_to_session(const module::SessionInfo& s, xml::Element stanza, module::Delivery) override {
        to_sessions.emplace_back(s.ref.session_id, std::move(stanza));
    }
    bool keep_session(uint64_t, uint64_t, size_t) override { return false; }
    module::SessionSlot* slot(uint64_t id) override {
        auto it = slots.find(id);
        return it == slots.end() ? nullptr : it->second.get();
    }
    bool set_slot(uint64_t id, std::unique_ptr<module::SessionSlot> s) override {
        slots[id] = std::move(s);
        return true;
    }
    unsigned worker_count() const override { return 1; }
    bool post(unsigned worker, std::function<void(module::Host&)> fn) override {
        if (worker != 0) return false;
        fn(*this);
        return true;
    }
    module::Module& instance() override { return *module_instance; }
    void stream_feature(module::StreamStage stage, module::FeatureProvider fn) override {
        features_at.emplace_back(stage, std::move(fn));
    }
    Status nonza(module::StreamStage stage, std::string_view ns, std::string_view name,
                 module::NonzaHandler fn) override {
        auto key = std::make_tuple(static_cast<int>(stage), std::string(ns), std::string(name));
        if (nonzas.count(key)) return Status::error("exists", "already handled");
        nonzas.emplace(std::move(key), std::move(fn));
        return Status::ok();
    }
    Result<std::shared_ptr<module::Database>> open_database(const module::DatabaseSpec&) override {
        if (database) return database;
        return Status::error("invalid", "the fake host has no storage");
    }
    module::Service* service(std::string_view name) const override {
        auto it = services.find(std::string(name));
        return it == services.end() ? nullptr : it->second;
    }
    void send_iq(xml::Element iq, uint64_t, module::IqReplyHandler fn) override {
        sent.push_back(std::move(iq));
        iq_replies.push_back(std::move(fn));
    }

    // Sends an iq request of `type` with `payload` from juliet to `to` through
    // the registered handler; returns the responder (answers == 0 if no handler).
    std::shared_ptr<RecordingResponder> ask(module::IqTarget target, const std::string& type, xml::Element payload,
                                            const std::string& to = "example.org") {
        auto r = std::make_shared<RecordingResponder>();
        auto it = iqs.find(std::make_tuple(static_cast<int>(target), type, payload.ns(), payload.name()));
        if (it == iqs.end()) return r;
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", type);
        iq.set_attr("id", "t1");
        iq.set_attr("from", "juliet@example.org/balcony");
        iq.set_attr("to", to);
        iq.add_child(payload);
        auto from = xmpp::Jid::parse("juliet@example.org/balcony").value();
        auto to_jid = xmpp::Jid::parse(to).value();
        module::IqRequest req{iq, *iq.first_child(), from, to_jid};
        it->second(req, r);
        return r;
    }

    config::Section section;
    std::vector<std::tuple<module::HookPoint, int, module::StanzaHook>> hooks;
    std::map<std::tuple<int, std::string, std::string, std::string>, module::IqHandler> iqs;
    std::vector<std::string> features;
    std::vector<std::string> account_features;
    std::vector<module::DiscoIdentity> account_identities;
    std::vector<module::AccountItemsProvider> account_items;
    std::vector<module::DiscoIdentity> identities;
    std::vector<xml::Element> sent;
    module::TimerId timers = 0;
    std::vector<module::RoutedHook> routed;
    std::vector<module::UnavailableHandler> unavailable;
    std::map<std::string, module::DomainHandler> domains;
    std::vector<module::SessionInfo> sessions;
    std::vector<std::pair<uint64_t, xml::Element>> to_sessions;
    std::map<uint64_t, std::unique_ptr<module::SessionSlot>> slots;
    std::vector<module::IqReplyHandler> iq_replies;
    module::Module* module_instance = nullptr;
    std::shared_ptr<module::Database> database;  // what open_database() gives, if set
    std::map<std::string, module::Service*> services;
    std::vector<std::pair<module::StreamStage, module::FeatureProvider>> features_at;
    std::map<std::tuple<int, std::string, std::string>, module::NonzaHandler> nonzas;
};

}  // namespace parley::test

// FakeHost: a module::Host that records what a module registers, so a module
// is unit-tested without parleyd (CONVENTIONS.md "Tests").
//
// Iq handlers are kept by key and can be called with ask(); the answer is
// captured by a RecordingResponder. send() appends to `sent`. Timers are
// recorded, never run. Single-threaded: one test at a time.
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
    bool is_local_domain(std::string_view domain) const override { return domain == "example.org"; }
    void send(xml::Element stanza) override { sent.push_back(std::move(stanza)); }
    module::TimerId add_timer(uint64_t, uint64_t, std::function<void()>) override { return ++timers; }
    void cancel_timer(module::TimerId) override {}

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
    std::vector<module::DiscoIdentity> identities;
    std::vector<xml::Element> sent;
    module::TimerId timers = 0;
};

}  // namespace parley::test

// FakeHost: a module::Host that records what a module registers, so a module
// is unit-tested without parleyd (CONVENTIONS.md "Tests").
//
// Iq handlers are kept by key and can be called with ask(); the answer is
// captured by a RecordingResponder. send() appends to `sent`. Timers are
// recorded and run only when the test says so (run_timers()); session event
// handlers and output observers are recorded and called by fire() and
// output(). open_database() asks the `database` factory, else
// `database_factory` (e.g. a test::FakeStorage, fake_storage.hpp), and fails
// without either. accounts() is FakeAccounts: in memory, with the real
// password rules (store::check_new_password), its completions wait until
// the test runs them. invitations() is FakeInvitations: tokens the test
// adds, in memory, completions likewise; `invitations_error` makes
// invitations() fail. Single-threaded: one test at a time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "loop/host_tls.hpp"
#include "module/module_api.hpp"
#include "store/accounts.hpp"
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

// Runs every waiting completion (and those they add, for at most 100
// rounds); returns how many ran.
inline size_t run_all(std::vector<std::function<void()>>& pending) {
    size_t n = 0;
    for (int round = 0; round < 100 && !pending.empty(); ++round) {
        auto now = std::move(pending);
        pending.clear();
        for (auto& fn : now) fn(), ++n;
    }
    return n;
}

// In-memory accounts: `done` waits in `pending` until the test calls
// run_pending(), as a real completion comes later on the worker.
class FakeAccounts final : public module::Accounts {
public:
    Result<bool> exists(const xmpp::Jid& bare) const override { return passwords.count(bare.bare_str()) != 0; }
    Status check_new_password(std::string_view password) const override {
        ++password_checks;
        return store::check_new_password(password);
    }
    void create(const xmpp::Jid& bare, std::string password, std::function<void(Status)> done) override {
        Status s = Status::ok();
        if (!fail_next) s = std::exchange(fail_next, Status::ok());
        else if (passwords.count(bare.bare_str())) s = Status::error("exists", "exists");
        else passwords[bare.bare_str()] = std::move(password);
        pending.push_back([done, s] { done(s); });
    }
    void set_password(const xmpp::Jid& bare, std::string password, const xmpp::Jid& keep,
                      std::function<void(Status)> done) override {
        Status s = passwords.count(bare.bare_str()) ? Status::ok() : Status::error("not-found", "no such account");
        if (s) passwords[bare.bare_str()] = std::move(password);
        kept = keep;
        pending.push_back([done, s] { done(s); });
    }
    void remove(const xmpp::Jid& bare, std::string text, std::function<void(Status)> done) override {
        Status s = passwords.erase(bare.bare_str()) ? Status::ok() : Status::error("not-found", "no such account");
        removal_text = std::move(text);
        pending.push_back([done, s] { done(s); });
    }
    size_t run_pending() { return run_all(pending); }
    std::map<std::string, std::string> passwords;  // bare JID -> password (a test's view only)
    std::vector<std::function<void()>> pending;
    Status fail_next = Status::ok();  // the next create() fails with this
    xmpp::Jid kept;
    std::string removal_text;
    mutable int password_checks = 0;
};

// In-memory invitations: the test adds tokens; use() and give_back() keep
// the semantics of the real ones (store/invites.hpp: a use counts down, the
// last removes the invitation, an expired one is removed when tried, a
// give-back restores one use) and their `done` waits in `pending` until the
// test calls run_pending().
class FakeInvitations final : public module::Invitations {
public:
    struct Invite {
        std::string id;
        uint32_t uses = 1;
        uint32_t uses_left = 1;
        bool expired = false;
    };
    // A token for `uses` registrations; its id is "id-" + token.
    void add(const std::string& token, uint32_t uses = 1, bool expired = false) {
        invites[token] = Invite{"id-" + token, uses, uses, expired};
    }
    void use(std::string token, std::function<void(Result<module::InvitationUse>)> done) override {
        ++uses_asked;
        if (!refuse_next.is_ok()) {
            done(std::exchange(refuse_next, Status::ok()));  // at once, as a full writer queue
            return;
        }
        module::InvitationUse u;
        auto it = invites.find(token);
        if (it != invites.end() && it->second.expired) {
            u.kind = module::InvitationUse::Kind::expired;
            u.id = it->second.id;
            invites.erase(it);
        } else if (it != invites.end()) {
            u.kind = module::InvitationUse::Kind::ok;
            u.id = it->second.id;
            u.receipt = token;
            before[token] = it->second;
            if (--it->second.uses_left == 0) invites.erase(it);
        }
        pending.push_back([done, u] { done(u); });
    }
    void give_back(const module::InvitationUse& used, std::function<void(Status)> done) override {
        ++given_back;
        Status s = Status::ok();
        auto it = invites.find(used.receipt);
        if (used.kind != module::InvitationUse::Kind::ok || !before.count(used.receipt))
            s = Status::error("invalid", "not a use");
        else if (it == invites.end()) invites[used.receipt] = before[used.receipt];
        else if (it->second.uses_left < it->second.uses) ++it->second.uses_left;
        pending.push_back([done, s] { done(s); });
    }
    size_t run_pending() { return run_all(pending); }
    std::map<std::string, Invite> invites;  // by token
    std::map<std::string, Invite> before;   // each token as it was before its last use, for give_back()
    std::vector<std::function<void()>> pending;
    Status refuse_next = Status::ok();  // the next use() is refused at once with this
    int uses_asked = 0;
    int given_back = 0;
};

class FakeHost final : public module::Host {
public:
    unsigned worker_index() const override { return 0; }
    const config::Section& config() const override { return section; }
    std::string_view server_version() const override { return "0.1.0-test"; }
    uint64_t uptime_seconds() const override { return uptime; }
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
    void on_account_deleted(module::AccountDeletedHandler fn) override { account_deleted.push_back(std::move(fn)); }
    // Runs every registered purge for `bare`; returns the statuses their
    // `done` gave so far (a purge that completes later appends to
    // *purge_results).
    std::vector<Status> delete_account(const xmpp::Jid& bare) {
        purge_results = std::make_shared<std::vector<Status>>();
        for (auto& fn : account_deleted) fn(bare, [out = purge_results](Status s) { out->push_back(std::move(s)); });
        return *purge_results;
    }
    void on_session(module::SessionEvent event, module::SessionEventHandler fn) override {
        session_handlers.emplace_back(event, std::move(fn));
    }
    void disco_feature(std::string feature) override { features.push_back(std::move(feature)); }
    void disco_identity(module::DiscoIdentity identity) override { identities.push_back(std::move(identity)); }
    std::vector<std::string> disco_features() const override {
        auto f = features;
        std::sort(f.begin(), f.end());
        f.erase(std::unique(f.begin(), f.end()), f.end());
        return f;
    }
    std::vector<module::DiscoIdentity> disco_identities() const override { return identities; }
    Status control_command(std::string name, module::ControlHandler fn) override {
        if (controls.count(name)) return Status::error("exists", "taken");
        controls.emplace(std::move(name), std::move(fn));
        return Status::ok();
    }
    void account_disco_feature(std::string feature) override { account_features.push_back(std::move(feature)); }
    void account_disco_identity(module::DiscoIdentity identity) override {
        account_identities.push_back(std::move(identity));
    }
    void account_disco_items(module::AccountItemsProvider fn) override { account_items.push_back(std::move(fn)); }
    void account_disco_nodes(module::AccountNodeDisco fn) override { account_nodes.push_back(std::move(fn)); }
    bool account_disco_node(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r) override {
        for (const auto& fn : account_nodes)
            if (fn(req, r)) return true;
        return false;
    }
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
    module::TimerId add_timer(uint64_t, uint64_t, std::function<void()> fn) override {
        timer_fns[++timers] = std::move(fn);
        return timers;
    }
    void cancel_timer(module::TimerId id) override { timer_fns.erase(id); }

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
    bool keep_session(uint64_t id, uint64_t keep_ms, size_t max_queued) override {
        kept.emplace_back(id, keep_ms, max_queued);
        return true;
    }
    module::SessionSlot* slot(uint64_t id) override {
        auto it = slots.find(id);
        return it == slots.end() ? nullptr : it->second.get();
    }
    bool set_slot(uint64_t id, std::unique_ptr<module::SessionSlot> s) override {
        slots[id] = std::move(s);
        return true;
    }
    void on_session_output(module::OutputObserver fn) override { observers.push_back(std::move(fn)); }
    bool end_session(uint64_t id, xmpp::StreamErrorCondition condition, std::string_view) override {
        ended.emplace_back(id, condition);
        return true;
    }
    unsigned worker_count() const override { return 1; }
    bool post(unsigned worker, std::function<void(module::Host&)> fn) override {
        if (worker != 0) return false;
        if (defer_posts) {
            posted.push_back(std::move(fn));
            return true;
        }
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
    Result<std::shared_ptr<module::Database>> open_database(const module::DatabaseSpec& spec) override {
        if (database) return database(spec);
        if (database_factory) return database_factory(spec);
        return Status::error("invalid", "the fake host has no storage");
    }
    module::Accounts& accounts() override { return fake_accounts; }
    Result<module::Invitations*> invitations() override {
        if (!invitations_error.is_ok()) return invitations_error;
        return static_cast<module::Invitations*>(&fake_invitations);
    }
    std::string data_dir() const override { return data_directory; }
    std::optional<config::VirtualHost> virtual_host(std::string_view domain) const override {
        for (const auto& h : virtual_hosts)
            if (h.domain == domain) return h;
        return std::nullopt;
    }
    // s2s: the gates as registered (a test calls them), and what s2s_close was asked.
    void s2s_gate(module::S2sGate fn) override { s2s_gates.push_back(std::move(fn)); }
    size_t s2s_close(std::function<bool(const module::S2sAuth& link)> which, std::string_view text) override {
        size_t n = 0;
        for (const auto& l : s2s_links)
            if (which(module::S2sAuth{l.local, l.remote, l.incoming, l.certificate_valid, l.dialback, "127.0.0.1"})) {
                s2s_closed.emplace_back(l.remote, std::string(text));
                ++n;
            }
        return n;
    }
    struct FakeLink {
        std::string local, remote;
        bool incoming = false, certificate_valid = true, dialback = false;
    };
    std::vector<module::S2sGate> s2s_gates;
    std::vector<FakeLink> s2s_links;  // the links s2s_close looks at
    std::vector<std::pair<std::string, std::string>> s2s_closed;
    // The server's own implementation: a fake of TLS would test nothing.
    Result<std::shared_ptr<const module::TlsServer>> tls_server(const module::TlsIdentity& identity) const override {
        return loop::make_tls_server(identity);
    }
    module::Service* service(std::string_view name) const override {
        auto it = services.find(std::string(name));
        return it == services.end() ? nullptr : it->second;
    }
    void send_iq(xml::Element iq, uint64_t, module::IqReplyHandler fn) override {
        sent.push_back(std::move(iq));
        iq_replies.push_back(std::move(fn));
    }

    // Calls the handlers of `event` registered so far.
    void fire(module::SessionEvent event, const module::SessionInfo& info) {
        for (auto& [e, fn] : session_handlers)
            if (e == event) fn(info);
    }
    // Shows `stanza` to the output observers as written to session `id`.
    void output(uint64_t id, const xml::Element& stanza) {
        for (auto& fn : observers) fn(id, stanza);
    }
    // Runs (and forgets) the timers registered so far, as their time came.
    void run_timers() {
        auto due = std::move(timer_fns);
        timer_fns.clear();
        for (auto& [id, fn] : due) fn();
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
    FakeAccounts fake_accounts;
    FakeInvitations fake_invitations;
    Status invitations_error = Status::ok();  // invitations() fails with this when set
    std::string data_directory;                   // what data_dir() answers
    std::vector<config::VirtualHost> virtual_hosts;  // what virtual_host() finds
    uint64_t uptime = 0;
    std::vector<std::pair<module::SessionEvent, module::SessionEventHandler>> session_handlers;
    std::vector<module::AccountDeletedHandler> account_deleted;
    // With defer_posts, post() keeps the task in `posted` for the test to run
    // (in any order: as tasks from several workers may arrive).
    bool defer_posts = false;
    std::vector<std::function<void(module::Host&)>> posted;
    std::shared_ptr<std::vector<Status>> purge_results = std::make_shared<std::vector<Status>>();
    std::function<Result<std::shared_ptr<module::Database>>(const module::DatabaseSpec&)> database_factory;
    std::vector<std::tuple<module::HookPoint, int, module::StanzaHook>> hooks;
    std::map<std::tuple<int, std::string, std::string, std::string>, module::IqHandler> iqs;
    std::vector<std::string> features;
    std::vector<std::string> account_features;
    std::vector<module::AccountNodeDisco> account_nodes;
    std::map<std::string, module::ControlHandler> controls;
    std::vector<module::DiscoIdentity> account_identities;
    std::vector<module::AccountItemsProvider> account_items;
    std::vector<module::DiscoIdentity> identities;
    std::vector<xml::Element> sent;
    module::TimerId timers = 0;
    std::map<module::TimerId, std::function<void()>> timer_fns;
    std::vector<module::OutputObserver> observers;
    std::vector<std::pair<uint64_t, xmpp::StreamErrorCondition>> ended;
    std::vector<std::tuple<uint64_t, uint64_t, size_t>> kept;  // keep_session(id, keep_ms, max_queued)
    std::vector<module::RoutedHook> routed;
    std::vector<module::UnavailableHandler> unavailable;
    std::map<std::string, module::DomainHandler> domains;
    std::vector<module::SessionInfo> sessions;
    std::vector<std::pair<uint64_t, xml::Element>> to_sessions;
    std::map<uint64_t, std::unique_ptr<module::SessionSlot>> slots;
    std::vector<module::IqReplyHandler> iq_replies;
    module::Module* module_instance = nullptr;
    std::map<std::string, module::Service*> services;
    // open_database() answers with this when set (e.g. a test::EnvDatabase).
    std::function<Result<std::shared_ptr<module::Database>>(const module::DatabaseSpec&)> database;
    std::vector<std::pair<module::StreamStage, module::FeatureProvider>> features_at;
    std::map<std::tuple<int, std::string, std::string>, module::NonzaHandler> nonzas;
};

}  // namespace parley::test

// SeamsFixture: two running workers (no listeners) with a real registry and
// account store, in-memory sessions, and a test "module" registered on each
// worker through a real WorkerHost, so that the router's seams (routed hook,
// holds, the unavailable decision point, domain handlers, server iqs,
// session slots) are tested without sockets.
//
// FakeSession is a sessions::LocalSession that records what it is sent
// (read it only through on(), which runs on the session's worker). Every
// call into a worker goes through on(w, fn), which posts fn and waits for
// it: the test thread never touches loop-affine state directly.
#pragma once

#include <boost/test/unit_test.hpp>

#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/shared.hpp"
#include "loop/worker.hpp"
#include "loop/worker_host.hpp"
#include "router/router.hpp"
#include "sasl/login_throttle.hpp"
#include "sessions/local_session.hpp"
#include "store/accounts.hpp"
#include "store/env.hpp"
#include "support/temp_dir.hpp"
#include "xmpp/namespaces.hpp"

namespace parley::test {

class FakeSession final : public sessions::LocalSession {
public:
    FakeSession(uint64_t id, xmpp::Jid jid) : id_(id), jid_(std::move(jid)) {}
    uint64_t session_id() const override { return id_; }
    const xmpp::Jid& full_jid() const override { return jid_; }
    void send_stanza(const xml::Element& stanza) override { received.push_back(stanza); }
    void end_with(xmpp::StreamErrorCondition, std::string_view) override { ended = true; }
    bool ending() const override { return going; }
    std::vector<xml::Element> received;
    bool ended = false;
    bool going = false;  // as a session whose `closed` event runs

private:
    uint64_t id_;
    xmpp::Jid jid_;
};

inline xmpp::Jid jid(const std::string& s) { return xmpp::Jid::parse(s).value(); }

inline xml::Element message(const std::string& from, const std::string& to, const std::string& body,
                            const std::string& type = "chat") {
    xml::Element m("message", std::string(xmpp::kNsClient));
    m.set_attr("from", from);
    m.set_attr("to", to);
    if (!type.empty()) m.set_attr("type", type);
    m.set_attr("id", body);
    m.add_child("body", std::string(xmpp::kNsClient)).add_text(body);
    return m;
}

// An iq get with one <query/> that nothing serves.
inline xml::Element iq_get(const std::string& from, const std::string& to, const std::string& id) {
    xml::Element iq("iq", std::string(xmpp::kNsClient));
    iq.set_attr("from", from);
    iq.set_attr("to", to);
    iq.set_attr("type", "get");
    iq.set_attr("id", id);
    iq.add_child("query", "urn:example:nothing");
    return iq;
}

// The module the fixture's hosts stand for: it registers nothing itself.
class SeamsModule final : public module::Module {
public:
    Status start(module::Host&) override { return Status::ok(); }
};

struct SeamsFixture {
    static constexpr const char* kDomain = "example.org";

    TempDir dir;
    std::unique_ptr<store::Env> env;
    std::unique_ptr<store::AccountStore> accounts;
    sessions::LocalRegistry registry;
    sasl::LoginThrottle throttle{1, 10};
    daemon::Shared shared;
    std::vector<std::unique_ptr<loop::Worker>> workers;
    // One WorkerHost per worker for the test's module "seams"; created and
    // destroyed on its worker.
    std::vector<std::unique_ptr<loop::WorkerHost>> hosts;
    SeamsModule instances[2];
    std::vector<std::unique_ptr<FakeSession>> sessions;  // destroyed after the workers stop

    SeamsFixture() {
        auto e = store::Env::open(dir.sub("state"), size_t{16} << 20);
        BOOST_REQUIRE_MESSAGE(e, "seams: Env::open: " << e.status().to_string());
        env = std::move(e.value());
        auto a = store::AccountStore::open(*env);
        BOOST_REQUIRE_MESSAGE(a, "seams: AccountStore::open: " << a.status().to_string());
        accounts = std::move(a.value());
        for (const char* n : {"alice", "bob", "carol"})
            BOOST_REQUIRE(accounts->create(n, kDomain, "secret-password", 1).is_ok());
        auto cfg = std::make_shared<config::Config>();
        cfg->workers = 2;
        cfg->c2s.starttls_port = 0;
        cfg->c2s.direct_tls_port = 0;
        cfg->hosts.push_back(config::VirtualHost{kDomain, "", ""});
        cfg->data_dir = dir.path();
        shared.set_config(cfg);
        shared.accounts = accounts.get();
        shared.registry = &registry;
        shared.throttle = &throttle;
        for (unsigned i = 0; i < 2; ++i) workers.push_back(std::make_unique<loop::Worker>(i, shared));
        for (auto& w : workers) shared.workers.push_back(w.get());
        for (auto& w : workers) BOOST_REQUIRE(w->start({}).is_ok());
        hosts.resize(2);
        for (unsigned i = 0; i < 2; ++i)
            on(i, [this, i](loop::Worker& w) {
                hosts[i] = std::make_unique<loop::WorkerHost>(w, "seams", config::Section{});
                hosts[i]->set_instance(&instances[i]);
            });
    }

    ~SeamsFixture() {
        for (unsigned i = 0; i < 2; ++i) {
            auto cleanup = [this, i](loop::Worker& w) {
                hosts[i].reset();
                for (auto& s : sessions)
                    if (w.find_session(s->session_id()) == s.get()) w.remove_session(s->session_id());
            };
            std::promise<void> done;
            auto f = done.get_future();
            if (workers[i]->post([&](loop::Worker& w) {
                    cleanup(w);
                    done.set_value();
                }))
                f.get();
            else
                workers[i]->join(), cleanup(*workers[i]);  // a test stopped it: its thread is gone
        }
        for (auto& w : workers) w->request_shutdown();
        for (auto& w : workers) w->join();
    }

    // Runs fn on worker i and waits for it.
    template <class Fn>
    void on(unsigned i, Fn fn) {
        std::promise<void> done;
        auto f = done.get_future();
        BOOST_REQUIRE(workers[i]->post([&](loop::Worker& w) {
            fn(w);
            done.set_value();
        }));
        f.get();
    }
    // Waits until every worker has drained what was posted before (twice:
    // a task on one worker may post to the other).
    void settle() {
        for (int round = 0; round < 3; ++round)
            for (unsigned i = 0; i < 2; ++i) on(i, [](loop::Worker&) {});
    }

    // Binds an available session of `full` on worker i.
    FakeSession& bind(unsigned i, const std::string& full, int priority = 0) {
        const uint64_t id = shared.next_session_id();
        sessions.push_back(std::make_unique<FakeSession>(id, jid(full)));
        FakeSession* s = sessions.back().get();
        on(i, [&](loop::Worker& w) {
            w.add_session(id, s);
            registry.bind(s->full_jid(), sessions::SessionRef{i, id});
            registry.set_presence(s->full_jid(), sessions::SessionRef{i, id}, true, priority);
        });
        return *s;
    }

    // Routes `stanza` on worker i as if session `from` of that worker sent it.
    void send(unsigned i, xml::Element stanza, module::Origin origin = module::Origin::local_client) {
        on(i, [&](loop::Worker& w) {
            auto from = jid(std::string(stanza.attr_or("from")));
            auto to = jid(std::string(stanza.attr_or("to")));
            w.router().route(std::move(stanza), from, to, origin);
        });
    }

    // The 'id' attributes of what a session received, read on its worker.
    std::vector<std::string> ids(unsigned i, FakeSession& s) {
        std::vector<std::string> out;
        on(i, [&](loop::Worker&) {
            for (const auto& e : s.received) out.push_back(std::string(e.attr_or("type")) == "error"
                                                               ? "error:" + std::string(e.attr_or("id"))
                                                               : std::string(e.attr_or("id")));
        });
        return out;
    }
};

}  // namespace parley::test

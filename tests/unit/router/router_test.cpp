// The router's seams, on two running workers with in-memory sessions:
// routed hook (each outcome exactly once, every origin), holds (release,
// reject, order per sender, bounds), the unavailable decision point, domain
// handlers, server-sent iqs, session slots and posts between workers.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <map>
#include <mutex>

#include "support/seams_fixture.hpp"

using namespace parley;
using parley::test::jid;
using parley::test::message;
using Kind = module::RouteOutcome::Kind;

namespace {

// What a routed hook saw, from any worker.
struct Seen {
    std::string id;
    std::string name;
    std::string type;
    Kind kind;
    module::Origin origin;
    std::string owner;
    std::string condition;
    size_t recipients;
    unsigned worker;
};

struct Recorder {
    std::mutex mutex;
    std::vector<Seen> seen;
    void add(const module::RoutedContext& c, unsigned worker) {
        std::lock_guard<std::mutex> lock(mutex);
        seen.push_back(Seen{std::string(c.stanza.attr_or("id")), c.stanza.name(), std::string(c.stanza.attr_or("type")),
                            c.outcome.kind, c.origin, c.outcome.owner, c.outcome.error.condition,
                            c.outcome.recipients.size(), worker});
    }
    // The records of stanzas with this id that are not errors.
    std::vector<Seen> of(const std::string& id) {
        std::lock_guard<std::mutex> lock(mutex);
        std::vector<Seen> out;
        for (const auto& s : seen)
            if (s.id == id && s.type != "error") out.push_back(s);
        return out;
    }
};

void record_everything(test::SeamsFixture& f, Recorder& r) {
    for (unsigned i = 0; i < 2; ++i)
        f.on(i, [&, i](loop::Worker&) { f.hosts[i]->on_routed(0, [&r, i](module::RoutedContext& c) { r.add(c, i); }); });
}

}  // namespace

BOOST_AUTO_TEST_SUITE(router_seams)

BOOST_FIXTURE_TEST_CASE(routed_hook_sees_each_outcome_exactly_once, test::SeamsFixture) {
    Recorder r;
    record_everything(*this, r);
    auto& alice = bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/b");

    send(0, message("alice@example.org/a", "bob@example.org", "m-deliver"));
    send(0, message("alice@example.org/a", "carol@example.org", "m-offline"));
    send(0, message("alice@example.org/a", "nobody@example.org", "m-noaccount"));
    send(0, message("alice@example.org/a", "someone@remote.example.net", "m-remote"));
    send(0, test::iq_get("alice@example.org/a", "example.org", "iq-server"));
    send(0, message("example.org", "bob@example.org/b", "m-from-server", "headline"), module::Origin::server);
    on(0, [&](loop::Worker& w) {
        xml::Element p("presence", std::string(xmpp::kNsClient));
        p.set_attr("from", "alice@example.org/a");
        p.set_attr("id", "p-broadcast");
        w.router().broadcast_own_presence(jid("alice@example.org/a"), alice.session_id(), p);
    });
    settle();

    auto one = [&](const std::string& id) {
        auto s = r.of(id);
        BOOST_TEST_REQUIRE(s.size() == 1u, "router: " << id << " seen " << s.size() << " times by the routed hook");
        return s[0];
    };
    auto d = one("m-deliver");
    BOOST_TEST((d.kind == Kind::delivered));
    BOOST_TEST(d.recipients == 1u);
    BOOST_TEST(d.worker == 0u, "router: the hook runs on the worker that routed the stanza");
    BOOST_TEST((d.origin == module::Origin::local_client));
    auto off = one("m-offline");
    BOOST_TEST((off.kind == Kind::unavailable));
    BOOST_TEST(off.condition == "service-unavailable");
    auto none = one("m-noaccount");
    BOOST_TEST((none.kind == Kind::no_account));
    BOOST_TEST(none.condition == off.condition, "router: no enumeration through the outcome's bounce");
    auto remote = one("m-remote");
    BOOST_TEST((remote.kind == Kind::bounced));
    BOOST_TEST(remote.condition == "remote-server-not-found");
    auto srv = one("iq-server");
    BOOST_TEST((srv.kind == Kind::server));
    auto fromsrv = one("m-from-server");
    BOOST_TEST((fromsrv.kind == Kind::delivered));
    BOOST_TEST((fromsrv.origin == module::Origin::server));
    auto pres = one("p-broadcast");
    BOOST_TEST((pres.kind == Kind::delivered));
    BOOST_TEST(pres.recipients == 1u);

    // The bounces are stanzas of their own, seen once each, and reach alice.
    {
        std::lock_guard<std::mutex> lock(r.mutex);
        std::map<std::string, int> errors;
        for (const auto& s : r.seen)
            if (s.type == "error") ++errors[s.id];
        for (const char* id : {"m-offline", "m-noaccount", "m-remote", "iq-server"})
            BOOST_TEST(errors[id] == 1, "router: the bounce of " << id << " seen " << errors[id] << " times");
    }
    auto got_alice = ids(0, alice);
    for (const char* id : {"error:m-offline", "error:m-noaccount", "error:m-remote", "error:iq-server", "p-broadcast"})
        BOOST_TEST((std::find(got_alice.begin(), got_alice.end(), id) != got_alice.end()), "router: alice got " << id);
    auto got_bob = ids(1, bob);
    BOOST_TEST((got_bob == std::vector<std::string>{"m-deliver", "m-from-server"}));
}

BOOST_FIXTURE_TEST_CASE(a_held_stanza_is_delivered_on_release_and_keeps_the_senders_order, test::SeamsFixture) {
    std::vector<std::shared_ptr<module::Hold>> holds;  // worker 0 only
    on(0, [&](loop::Worker&) {
        hosts[0]->on_routed(0, [&](module::RoutedContext& c) {
            if (c.stanza.attr_or("id").substr(0, 4) == "hold" && c.stanza.attr_or("type") != "error")
                holds.push_back(c.hold());
        });
    });
    bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/b");
    send(0, message("alice@example.org/a", "bob@example.org", "hold-1"));
    send(0, message("alice@example.org/a", "bob@example.org", "plain-2"));
    send(0, message("alice@example.org/a", "bob@example.org", "hold-3"));
    settle();
    BOOST_TEST(ids(1, bob).empty(), "router: nothing reaches bob while the first stanza is held");
    size_t waiting = 0;
    on(0, [&](loop::Worker& w) { waiting = w.router().waiting(); });
    BOOST_TEST(waiting == 3u);
    // Released out of order: the third waits for the first.
    on(0, [&](loop::Worker&) { holds[1]->release(); });
    settle();
    BOOST_TEST(ids(1, bob).empty(), "router: a later release does not overtake an earlier hold");
    on(0, [&](loop::Worker&) { holds[0]->release(); });
    settle();
    BOOST_TEST((ids(1, bob) == std::vector<std::string>{"hold-1", "plain-2", "hold-3"}));
    on(0, [&](loop::Worker& w) { waiting = w.router().waiting(); });
    BOOST_TEST(waiting == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_rejected_hold_bounces_and_delivers_nothing, test::SeamsFixture) {
    std::vector<std::shared_ptr<module::Hold>> holds;
    on(0, [&](loop::Worker&) {
        hosts[0]->on_routed(0, [&](module::RoutedContext& c) {
            if (c.stanza.attr_or("id").substr(0, 4) == "hold" && c.stanza.attr_or("type") != "error")
                holds.push_back(c.hold());
        });
    });
    auto& alice = bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/b");
    send(0, message("alice@example.org/a", "bob@example.org", "hold-1"));
    send(0, message("alice@example.org/a", "bob@example.org", "plain-2"));
    on(0, [&](loop::Worker&) { holds[0]->reject(StanzaError::wait("resource-constraint", "the archive is full")); });
    settle();
    BOOST_TEST((ids(1, bob) == std::vector<std::string>{"plain-2"}));
    std::string condition;
    on(0, [&](loop::Worker&) {
        for (const auto& e : alice.received)
            if (e.attr_or("id") == "hold-1")
                if (const auto* err = e.child("error", std::string(xmpp::kNsClient)))
                    if (const auto* c = err->first_child()) condition = c->name();
    });
    BOOST_TEST(condition == "resource-constraint", "router: the sender learns why");
    // A hold dropped unanswered rejects: nothing a module did not finish is delivered.
    send(0, message("alice@example.org/a", "bob@example.org", "hold-dropped"));
    on(0, [&](loop::Worker&) { holds.clear(); });
    settle();
    BOOST_TEST((ids(1, bob) == std::vector<std::string>{"plain-2"}));
    auto a = ids(0, alice);
    BOOST_TEST((std::find(a.begin(), a.end(), "error:hold-dropped") != a.end()));
}

BOOST_FIXTURE_TEST_CASE(when_done_reports_each_stanza_once_it_is_carried_out, test::SeamsFixture) {
    std::vector<std::shared_ptr<module::Hold>> holds;
    std::vector<std::string> done;  // worker 0: "id ok" or "id condition"
    on(0, [&](loop::Worker&) {
        hosts[0]->on_routed(0, [&](module::RoutedContext& c) {
            if (c.stanza.attr_or("type") == "error") return;
            const std::string id(c.stanza.attr_or("id"));
            if (id.substr(0, 4) == "hold") holds.push_back(c.hold());
            c.when_done([&done, id](const StanzaError* e) { done.push_back(id + (e ? " " + e->condition : " ok")); });
        });
    });
    bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/b");
    send(0, message("alice@example.org/a", "bob@example.org", "plain-1"));
    send(0, message("alice@example.org/a", "bob@example.org", "hold-2"));
    send(0, message("alice@example.org/a", "bob@example.org", "hold-3"));
    settle();
    on(0, [&](loop::Worker&) {
        BOOST_TEST((done == std::vector<std::string>{"plain-1 ok"}), "router: nothing held is done yet");
        holds[0]->release();
        holds[1]->reject(StanzaError::wait("resource-constraint", "no room"));
    });
    settle();
    on(0, [&](loop::Worker&) {
        BOOST_TEST((done == std::vector<std::string>{"plain-1 ok", "hold-2 ok", "hold-3 resource-constraint"}));
    });
    BOOST_TEST((ids(1, bob) == std::vector<std::string>{"plain-1", "hold-2"}));
}

BOOST_FIXTURE_TEST_CASE(a_stopping_worker_waits_for_held_stanzas, test::SeamsFixture) {
    std::shared_ptr<module::Hold> hold;
    std::atomic<int> done{0};
    on(0, [&](loop::Worker&) {
        hosts[0]->on_routed(0, [&](module::RoutedContext& c) {
            if (c.stanza.attr_or("id") != "held" || c.stanza.attr_or("type") == "error") return;
            BOOST_TEST(!hold, "router: one stanza is held");
            hold = c.hold();
            c.when_done([&done](const StanzaError* e) { done = e ? 2 : 1; });
        });
    });
    bind(0, "alice@example.org/a");
    bind(1, "bob@example.org/b");
    send(0, message("alice@example.org/a", "bob@example.org", "held"));
    workers[0]->request_shutdown();
    // The write completes while the worker stops: its completion is still taken.
    BOOST_TEST(workers[0]->post([&](loop::Worker&) { hold->release(); }));
    workers[0]->join();
    BOOST_TEST(done.load() == 1, "router: the held stanza was carried out before the worker stopped");
}

BOOST_FIXTURE_TEST_CASE(held_stanzas_are_bounded_per_sender, test::SeamsFixture) {
    std::vector<std::shared_ptr<module::Hold>> holds;
    on(0, [&](loop::Worker& w) {
        w.router().set_hold_limits(router::HoldLimits{2, 100});
        hosts[0]->on_routed(0, [&](module::RoutedContext& c) {
            if (c.outcome.kind == Kind::delivered && c.stanza.name() == "message" && c.stanza.attr_or("type") != "error")
                holds.push_back(c.hold());
        });
    });
    auto& alice = bind(0, "alice@example.org/a");
    bind(0, "carol@example.org/c");
    auto& bob = bind(1, "bob@example.org/b");
    send(0, message("alice@example.org/a", "bob@example.org", "m1"));
    send(0, message("alice@example.org/a", "bob@example.org", "m2"));
    send(0, message("alice@example.org/a", "bob@example.org", "m3"));
    send(0, message("carol@example.org/c", "bob@example.org", "c1"));  // another sender is not affected
    settle();
    size_t held = 0;
    on(0, [&](loop::Worker&) { held = holds.size(); });
    BOOST_TEST(held == 3u, "router: m3 was refused before it could be held");
    on(0, [&](loop::Worker&) {
        for (auto& h : holds) h->release();
        holds.clear();
    });
    settle();
    // The refusal is carried out in alice's order too: after m1 and m2.
    auto a = ids(0, alice);
    BOOST_TEST((std::find(a.begin(), a.end(), "error:m3") != a.end()), "router: m3 bounced with resource-constraint");
    auto b = ids(1, bob);
    BOOST_TEST((std::find(b.begin(), b.end(), "m3") == b.end()));
    BOOST_TEST(b.size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(the_unavailable_point_lets_a_module_take_the_stanza, test::SeamsFixture) {
    Recorder r;
    record_everything(*this, r);
    std::vector<std::string> taken;  // worker 0
    on(0, [&](loop::Worker&) {
        hosts[0]->on_unavailable(0, [&](module::RoutedContext& c) {
            if (c.stanza.name() != "message") return module::HookResult::pass();
            taken.push_back(std::string(c.stanza.attr_or("id")));
            return module::HookResult::handled();
        });
    });
    auto& alice = bind(0, "alice@example.org/a");
    send(0, message("alice@example.org/a", "carol@example.org", "to-carol"));
    send(0, message("alice@example.org/a", "carol@example.org/phone", "to-carol-full"));
    send(0, message("alice@example.org/a", "nobody@example.org", "to-nobody"));
    settle();
    on(0, [&](loop::Worker&) {});
    BOOST_TEST((taken == std::vector<std::string>{"to-carol", "to-carol-full"}),
               "router: offline messages to an existing account reach the decision point; a missing account never");
    auto s = r.of("to-carol");
    BOOST_REQUIRE(s.size() == 1u);
    BOOST_TEST((s[0].kind == Kind::taken_over));
    BOOST_TEST(s[0].owner == "seams");
    auto a = ids(0, alice);
    BOOST_TEST((std::find(a.begin(), a.end(), "error:to-carol") == a.end()), "router: a taken stanza is not bounced");
    BOOST_TEST((std::find(a.begin(), a.end(), "error:to-nobody") != a.end()));
}

BOOST_FIXTURE_TEST_CASE(a_domain_handler_gets_stanzas_from_both_workers, test::SeamsFixture) {
    Recorder r;
    record_everything(*this, r);
    std::mutex m;
    std::vector<std::pair<std::string, unsigned>> got;
    for (unsigned i = 0; i < 2; ++i) {
        on(i, [&, i](loop::Worker&) {
            Status s = hosts[i]->domain_handler("example.org", "Conference.Example.org", [&, i](module::DomainStanza& d) {
                std::lock_guard<std::mutex> lock(m);
                got.emplace_back(std::string(d.stanza.attr_or("id")) + "@" + d.to.str(), i);
            });
            BOOST_TEST(s.is_ok(), "router: domain_handler: " << s.to_string());
            BOOST_TEST(!hosts[i]->domain_handler("example.org", "conference.example.org", {}).is_ok(),
                       "router: a domain has one owner");
            BOOST_TEST(!hosts[i]->domain_handler("example.org", "example.org", {}).is_ok(),
                       "router: a virtual host is not a module's domain");
            BOOST_TEST((hosts[i]->domains_of("example.org") == std::vector<std::string>{"conference.example.org"}));
        });
    }
    bind(0, "alice@example.org/a");
    bind(1, "bob@example.org/b");
    send(0, message("alice@example.org/a", "room@conference.example.org", "from-alice", "groupchat"));
    send(1, message("bob@example.org/b", "room@conference.example.org/nick", "from-bob", "chat"));
    send(0, message("example.org", "conference.example.org", "from-server", "normal"), module::Origin::server);
    settle();
    std::sort(got.begin(), got.end());
    BOOST_TEST((got == std::vector<std::pair<std::string, unsigned>>{
                           {"from-alice@room@conference.example.org", 0},
                           {"from-bob@room@conference.example.org/nick", 1},
                           {"from-server@conference.example.org", 0}}));
    for (const char* id : {"from-alice", "from-bob", "from-server"}) {
        auto s = r.of(id);
        BOOST_TEST_REQUIRE(s.size() == 1u);
        BOOST_TEST((s[0].kind == Kind::domain));
        BOOST_TEST(s[0].owner == "conference.example.org");
    }
}

BOOST_FIXTURE_TEST_CASE(a_server_iq_gets_its_reply_or_a_timeout, test::SeamsFixture) {
    auto& alice = bind(0, "alice@example.org/a");
    bind(1, "bob@example.org/b");
    std::vector<std::string> replies;  // worker 0
    std::string id;
    on(0, [&](loop::Worker&) {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "get");
        iq.set_attr("from", "example.org");
        iq.set_attr("to", "alice@example.org/a");
        iq.add_child("ping", "urn:xmpp:ping");
        hosts[0]->send_iq(std::move(iq), 60000, [&](const xml::Element* reply) {
            replies.push_back(reply ? std::string(reply->attr_or("type")) : "timeout");
        });
        BOOST_REQUIRE(!alice.received.empty());
        id = std::string(alice.received.back().attr_or("id"));
    });
    BOOST_TEST(id.rfind("parley-iq-0-", 0) == 0u);
    auto result = [&](const std::string& from) {
        xml::Element r("iq", std::string(xmpp::kNsClient));
        r.set_attr("type", "result");
        r.set_attr("id", id);
        r.set_attr("from", from);
        r.set_attr("to", "example.org");
        return r;
    };
    // Bob, on the other worker, answers in alice's place: ignored.
    send(1, result("bob@example.org/b"));
    settle();
    on(0, [&](loop::Worker&) { BOOST_TEST(replies.empty(), "router: only the addressee answers a server iq"); });
    send(0, result("alice@example.org/a"));
    send(0, result("alice@example.org/a"));  // a second answer finds nothing
    settle();
    on(0, [&](loop::Worker&) { BOOST_TEST((replies == std::vector<std::string>{"result"})); });

    // No answer: the handler hears nullptr once the timeout passes.
    std::promise<std::string> timed_out;
    on(1, [&](loop::Worker&) {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("type", "get");
        iq.set_attr("from", "example.org");
        iq.set_attr("to", "bob@example.org/b");
        iq.add_child("ping", "urn:xmpp:ping");
        hosts[1]->send_iq(std::move(iq), 20, [&](const xml::Element* reply) {
            timed_out.set_value(reply ? "reply" : "timeout");
        });
    });
    auto fut = timed_out.get_future();
    BOOST_REQUIRE((fut.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
    BOOST_TEST(fut.get() == "timeout");
}

namespace {
struct CountedSlot final : module::SessionSlot {
    explicit CountedSlot(int& freed) : freed_(freed) {}
    ~CountedSlot() override { ++freed_; }
    int& freed_;
};
}  // namespace

BOOST_FIXTURE_TEST_CASE(slots_and_posts_between_workers, test::SeamsFixture) {
    auto& alice = bind(0, "alice@example.org/a");
    int freed = 0;
    on(0, [&](loop::Worker&) {
        BOOST_TEST(hosts[0]->slot(alice.session_id()) == nullptr);
        BOOST_TEST(hosts[0]->set_slot(alice.session_id(), std::make_unique<CountedSlot>(freed)));
        BOOST_TEST(hosts[0]->slot(alice.session_id()) != nullptr);
    });
    on(1, [&](loop::Worker&) {
        BOOST_TEST(!hosts[1]->set_slot(alice.session_id(), std::make_unique<CountedSlot>(freed)),
                   "router: a slot is set only on the session's own worker");
        BOOST_TEST(hosts[1]->slot(alice.session_id()) == nullptr);
    });
    BOOST_TEST(freed == 1, "router: the refused slot was destroyed");
    // A module stopping drops its slots in every session.
    on(0, [&](loop::Worker&) { hosts[0]->drop_all(); });
    BOOST_TEST(freed == 2);
    // post() runs on the other worker with that worker's host of the same module.
    std::promise<unsigned> where;
    on(0, [&](loop::Worker&) {
        BOOST_TEST(hosts[0]->post(1, [&](module::Host& h) { where.set_value(h.worker_index()); }));
        BOOST_TEST(!hosts[0]->post(7, [](module::Host&) {}));
    });
    auto where_f = where.get_future();
    BOOST_REQUIRE((where_f.wait_for(std::chrono::seconds(10)) == std::future_status::ready));
    BOOST_TEST(where_f.get() == 1u);
    // The module's sessions, as any worker sees them.
    on(1, [&](loop::Worker&) {
        auto all = hosts[1]->all_sessions();
        BOOST_TEST(all.size() == 1u);
        BOOST_TEST(hosts[1]->sessions_of(jid("alice@example.org/x")).size() == 1u);
    });
}

BOOST_FIXTURE_TEST_CASE(a_stanza_that_reaches_a_session_after_it_ended_is_routed_again, test::SeamsFixture) {
    // Worker 0 decides for alice/gone on worker 1 while the registry still
    // lists it; by the time the stanza arrives, worker 1 has removed it.
    auto& bob = bind(0, "bob@example.org/b");
    auto& gone = bind(1, "alice@example.org/gone");
    auto& desk = bind(0, "alice@example.org/desk");
    on(1, [&](loop::Worker& w) { w.remove_session(gone.session_id()); });

    send(0, message("bob@example.org/b", "alice@example.org/gone", "late-chat"));
    send(0, test::iq_get("bob@example.org/b", "alice@example.org/gone", "late-iq"));
    settle();

    BOOST_TEST(gone.received.empty());
    BOOST_TEST(ids(0, desk) == std::vector<std::string>{"late-chat"},
               "router: a chat message for a resource that went away goes to the account's other resource");
    BOOST_TEST(ids(0, bob) == std::vector<std::string>{"error:late-iq"},
               "router: an iq request for a resource that went away is answered with an error");
    on(1, [&](loop::Worker& w) { w.add_session(gone.session_id(), &gone); });  // for the fixture's cleanup
}

BOOST_FIXTURE_TEST_CASE(an_ending_session_is_routed_around_by_its_worker_and_left_out_for_modules, test::SeamsFixture) {
    auto& bob = bind(1, "bob@example.org/b");
    auto& phone = bind(0, "alice@example.org/phone");
    auto& desk = bind(1, "alice@example.org/desk");
    on(0, [&](loop::Worker&) {
        // What a session's end does before its `closed` event.
        phone.going = true;
        registry.set_ending(phone.full_jid(), sessions::SessionRef{0, phone.session_id()});
    });

    // On its own worker: neither the full JID nor the bare JID reaches it.
    send(0, message("example.org", "alice@example.org/phone", "to-full"), module::Origin::server);
    send(0, message("example.org", "alice@example.org", "to-bare", "normal"), module::Origin::server);
    size_t seen_by_modules = 0, seen_elsewhere = 0;
    on(0, [&](loop::Worker&) { seen_by_modules = hosts[0]->sessions_of(jid("alice@example.org")).size(); });
    on(1, [&](loop::Worker&) { seen_elsewhere = hosts[1]->sessions_of(jid("alice@example.org")).size(); });
    // From another worker, which still sees it bound: handed over, then
    // routed on from its worker.
    send(1, message("bob@example.org/b", "alice@example.org/phone", "from-elsewhere"));
    settle();

    BOOST_TEST(phone.received.empty(), "router: an ending session takes no stanza");
    BOOST_TEST(ids(1, desk) == (std::vector<std::string>{"to-full", "to-bare", "from-elsewhere"}));
    BOOST_TEST(seen_by_modules == 1u, "host: modules no longer see an ending session of their worker");
    BOOST_TEST(seen_elsewhere == 1u, "host: nor of another worker");
    BOOST_TEST(ids(1, bob).empty());
}

BOOST_AUTO_TEST_SUITE_END()

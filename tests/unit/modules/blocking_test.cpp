// mod_blocking: JID matching (XEP-0191 §5), the stored lists, and the module
// on two running workers with the real router and a real LMDB: requests and
// pushes, filtering both ways at every hook (including what the server
// sends with Host::send, which no stanza_in hook sees), the unavailable
// point, presence on block and unblock, and the lists across workers and
// restarts.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>

#include "../modules/blocking/blocking.hpp"
#include "../modules/blocking/blocklist_store.hpp"
#include "../modules/blocking/matching.hpp"
#include "support/fake_host.hpp"
#include "support/fake_storage.hpp"
#include "support/option_docs.hpp"
#include "support/seams_fixture.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using namespace parley::mod_blocking;
using test::jid;
using V = std::vector<std::string>;

namespace {

// A roster service with a fixed set of contacts who may see the user.
class FakeRoster final : public roster::RosterService {
public:
    Status start(module::ServiceHost&) override { return Status::ok(); }
    Result<std::optional<roster::Item>> item(unsigned, const xmpp::Jid&, const xmpp::Jid&) const override {
        return std::optional<roster::Item>();
    }
    Result<std::vector<roster::Item>> items(unsigned, const xmpp::Jid& user) const override {
        std::vector<roster::Item> out;
        auto it = contacts.find(user.bare_str());
        if (it == contacts.end()) return out;
        for (const auto& [c, visible] : it->second) {
            roster::Item i;
            i.jid = jid(c);
            i.subscription = visible ? roster::Subscription::both : roster::Subscription::none;
            out.push_back(i);
        }
        return out;
    }
    bool presence_visible_to(unsigned, const xmpp::Jid& user, const xmpp::Jid& contact) const override {
        auto it = contacts.find(user.bare_str());
        if (it == contacts.end()) return false;
        auto c = it->second.find(contact.bare_str());
        return c != it->second.end() && c->second;
    }
    std::map<std::string, std::map<std::string, bool>> contacts;  // user -> contact -> may see the user
};

config::Section section(int64_t max_items) {
    config::Section s;
    s.file = "t.toml";
    s.name = "blocking";
    s.line = 1;
    s.values["max_items"] = config::OptionValue{max_items, 2};
    return s;
}

xml::Element item_list(const std::string& name, const V& jids) {
    xml::Element e(name, std::string(kNsBlocking));
    for (const auto& j : jids) e.add_child("item", std::string(kNsBlocking)).set_attr("jid", j);
    return e;
}

// Two workers, the real router and a real LMDB, mod_blocking on each, and
// a fake offline store and roster at the unavailable point (priority 0, as
// the real ones would be below blocking).
struct BlockingFixture : test::SeamsFixture {
    FakeRoster roster;
    std::unique_ptr<Blocking> mods[2];
    std::unique_ptr<loop::WorkerHost> bhosts[2];

    // Replies to the requests, by id, from whichever worker routed them.
    std::mutex mutex;
    std::condition_variable cv;
    std::map<std::string, xml::Element> replies;
    // What reached the unavailable point below blocking: "kind type from>to".
    std::vector<std::string> taken;  // worker 0 and 1, under mutex

    explicit BlockingFixture(int64_t max_items = 1000) {
        for (unsigned i = 0; i < 2; ++i)
            on(i, [this, i](loop::Worker&) {
                hosts[i]->on_routed(0, [this](module::RoutedContext& c) {
                    const std::string_view type = c.stanza.attr_or("type");
                    if (c.stanza.name() != "iq" || (type != "result" && type != "error")) return;
                    std::lock_guard<std::mutex> lock(mutex);
                    replies.insert_or_assign(std::string(c.stanza.attr_or("id")), c.stanza);
                    cv.notify_all();
                });
                hosts[i]->on_unavailable(0, [this](module::RoutedContext& c) {
                    const std::string_view type = c.stanza.attr_or("type");
                    if (c.stanza.name() == "message" || type == "probe" || type == "subscribe") {
                        std::lock_guard<std::mutex> lock(mutex);
                        taken.push_back(c.stanza.name() + " " + std::string(type) + " " + c.from.str() + ">" +
                                        c.to.str());
                        return module::HookResult::handled();
                    }
                    return module::HookResult::pass();
                });
            });
        start_modules(max_items);
    }
    ~BlockingFixture() { stop_modules(); }

    void start_modules(int64_t max_items = 1000) {
        for (unsigned i = 0; i < 2; ++i)
            on(i, [this, i, max_items](loop::Worker& w) {
                mods[i] = std::make_unique<Blocking>(&roster);
                bhosts[i] = std::make_unique<loop::WorkerHost>(w, "blocking", section(max_items));
                bhosts[i]->set_instance(mods[i].get());
                BOOST_REQUIRE(mods[i]->configure(section(max_items)).is_ok());
                BOOST_REQUIRE(mods[i]->start(*bhosts[i]).is_ok());
            });
    }
    void stop_modules() {
        for (unsigned i = 0; i < 2; ++i)
            on(i, [this, i](loop::Worker&) {
                if (!mods[i]) return;
                mods[i]->stop();
                bhosts[i].reset();
                mods[i].reset();
            });
    }

    // Sends a stanza as a client session of worker i does: stanza_in, then
    // the router (server/c2s/established.cpp).
    void client_send(unsigned i, xml::Element stanza) {
        on(i, [&](loop::Worker& w) {
            auto from = jid(std::string(stanza.attr_or("from")));
            xmpp::Jid to;
            if (const std::string* t = stanza.attr("to")) to = jid(*t);
            module::StanzaContext ctx{stanza, from, to, true};
            std::string owner;
            auto r = w.hooks().run(module::HookPoint::stanza_in, ctx, &owner);
            if (r.verdict == module::HookResult::Verdict::handled) w.router().consumed(stanza, from, to, module::Origin::local_client, owner);
            else if (r.verdict == module::HookResult::Verdict::reject)
                w.router().refuse(std::move(stanza), from, to, module::Origin::local_client, r.error);
            else w.router().route(std::move(stanza), from, std::move(to), module::Origin::local_client);
        });
    }

    // Session `s` of worker i sends an iq request to its own account and
    // waits (bounded) for the reply; returns it.
    xml::Element ask(unsigned i, test::FakeSession& s, const std::string& type, xml::Element payload,
                     const std::string& id, const std::string& to = "") {
        xml::Element iq("iq", std::string(xmpp::kNsClient));
        iq.set_attr("from", s.full_jid().str());
        iq.set_attr("to", to.empty() ? s.full_jid().bare_str() : to);
        iq.set_attr("type", type);
        iq.set_attr("id", id);
        iq.add_child(std::move(payload));
        client_send(i, std::move(iq));
        xml::Element reply("none", std::string(xmpp::kNsClient));
        {
            std::unique_lock<std::mutex> lock(mutex);
            const bool got = cv.wait_for(lock, std::chrono::seconds(20), [&] { return replies.count(id) != 0; });
            BOOST_REQUIRE_MESSAGE(got, "blocking: no reply to " << id);
            reply = replies.at(id);
        }
        settle();  // the reply, pushes and presence reach the sessions
        return reply;
    }
    static std::string condition(const xml::Element& reply) {
        const auto* e = reply.child("error", xmpp::kNsClient);
        const auto* c = e ? e->first_child() : nullptr;
        return c ? c->name() : "";
    }

    // What session s of worker i received, as "name type from id", then cleared.
    V got(unsigned i, test::FakeSession& s) {
        V out;
        on(i, [&](loop::Worker&) {
            for (const auto& e : s.received) {
                std::string line = e.name() + " " + std::string(e.attr_or("type")) + " " +
                                   std::string(e.attr_or("from")) + " " + std::string(e.attr_or("id"));
                if (e.name() == "iq" && e.attr_or("type") == "set")  // a push: its payload
                    if (const auto* p = e.first_child()) {
                        line = "push " + p->name();
                        for (const auto& it : p->children()) line += " " + std::string(it.attr_or("jid"));
                    }
                if (e.attr_or("type") == "error") {
                    line += " " + condition(e);
                    const auto* err = e.child("error", xmpp::kNsClient);
                    if (err && err->child("blocked", kNsBlockingErrors)) line += "+blocked";
                }
                out.push_back(line);
            }
            s.received.clear();
        });
        return out;
    }
    V take_taken() {
        std::lock_guard<std::mutex> lock(mutex);
        V out = std::move(taken);
        taken.clear();
        return out;
    }
    bool blocks(unsigned i, const std::string& user, const std::string& who) {
        bool b = false;
        on(i, [&](loop::Worker&) { b = mods[i]->blocks(jid(user), jid(who)); });
        return b;
    }
};

xml::Element stanza(const std::string& name, const std::string& from, const std::string& to, const std::string& id,
                    const std::string& type = "") {
    xml::Element s(name, std::string(xmpp::kNsClient));
    s.set_attr("from", from);
    s.set_attr("to", to);
    s.set_attr("id", id);
    if (!type.empty()) s.set_attr("type", type);
    if (name == "message") s.add_child("body", std::string(xmpp::kNsClient)).add_text(id);
    if (name == "iq") s.add_child("query", "jabber:iq:version");
    return s;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_blocking)

BOOST_AUTO_TEST_CASE(items_catch_jids_as_xep_0016_matches_them) {
    BOOST_TEST((items_catching(jid("romeo@example.net/orchard")) ==
                V{"romeo@example.net/orchard", "romeo@example.net", "example.net"}));
    BOOST_TEST((items_catching(jid("romeo@example.net")) == V{"romeo@example.net", "example.net"}));
    BOOST_TEST((items_catching(jid("example.net/res")) == V{"example.net/res", "example.net"}));
    BOOST_TEST((items_catching(jid("example.net")) == V{"example.net"}));
    BOOST_TEST(catches(jid("example.net"), jid("romeo@example.net/orchard")), "blocking: a domain catches its users");
    BOOST_TEST(catches(jid("example.net"), jid("example.net/res")));
    BOOST_TEST(!catches(jid("example.net"), jid("romeo@sub.example.net")), "blocking: not its subdomains");
    BOOST_TEST(catches(jid("romeo@example.net"), jid("romeo@example.net/orchard")));
    BOOST_TEST(!catches(jid("romeo@example.net/orchard"), jid("romeo@example.net/balcony")));
    BOOST_TEST(!catches(jid("romeo@example.net/orchard"), jid("romeo@example.net")));
    BOOST_TEST(catches(jid("example.net/res"), jid("example.net/res")));
    BOOST_TEST(!catches(jid("example.net/res"), jid("romeo@example.net/res")),
               "blocking: domain/resource catches only the JID without a user part");
    // Every item items_catching names is one catches() agrees with.
    for (const auto& j : {jid("romeo@example.net/orchard"), jid("example.net/res"), jid("romeo@example.net")})
        for (const auto& item : items_catching(j)) BOOST_TEST(catches(jid(item), j), item << " / " << j.str());
    BOOST_TEST(exempt(jid("alice@example.org"), jid("alice@example.org/phone")), "blocking: one's own resources");
    BOOST_TEST(exempt(jid("alice@example.org"), jid("example.org")), "blocking: one's own server");
    BOOST_TEST(!exempt(jid("alice@example.org"), jid("bob@example.org")));
    BOOST_TEST(!exempt(jid("alice@example.org"), jid("conference.example.org")));
}

BOOST_AUTO_TEST_CASE(stored_lists_add_remove_and_keep_to_their_quota) {
    test::TempDir dir;
    auto env = store::Env::open(dir.sub("state"), size_t{8} << 20).value();
    MDB_dbi db = env->database("blocking.items", 1).value();
    const auto alice = jid("alice@example.org"), al = jid("al@example.org"), bob = jid("bob@example.org");
    auto items = [&](const xmpp::Jid& u) {
        auto t = env->begin_read();
        return read_items(t.value(), db, u).value();
    };
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return add_items(t, db, alice, {"x@y.example", "example.net"}, 3); }).is_ok());
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return add_items(t, db, al, {"z@y.example"}, 3); }).is_ok());
    BOOST_TEST((items(alice) == V{"example.net", "x@y.example"}));
    BOOST_TEST((items(al) == V{"z@y.example"}), "blocking: a user whose name prefixes another's has only their own");
    BOOST_TEST(items(bob).empty());
    BOOST_TEST(env->write([&](store::Txn& t) { return add_items(t, db, alice, {"x@y.example"}, 3); }).is_ok(),
               "blocking: blocking twice is no change");
    Status over = env->write([&](store::Txn& t) { return add_items(t, db, alice, {"a@b.example", "c@d.example"}, 3); });
    BOOST_TEST(over.code() == "quota");
    BOOST_TEST((items(alice) == V{"example.net", "x@y.example"}), "blocking: a refused block keeps nothing");
    V removed;
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return remove_items(t, db, alice, {"x@y.example", "nope@x.example"}, removed); }).is_ok());
    BOOST_TEST((removed == V{"x@y.example"}));
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return remove_all(t, db, al, removed); }).is_ok());
    BOOST_TEST((removed == V{"z@y.example"}));
    BOOST_TEST(items(al).empty());
    BOOST_TEST((items(alice) == V{"example.net"}));
    BOOST_TEST(!storable(alice, std::string(600, 'x')), "blocking: a key LMDB cannot hold is refused before");
}

BOOST_FIXTURE_TEST_CASE(requests_answers_and_pushes, BlockingFixture) {
    auto& a = bind(0, "alice@example.org/a");
    auto& b = bind(1, "alice@example.org/b");
    auto& c = bind(1, "alice@example.org/c");
    auto r = ask(0, a, "get", xml::Element("blocklist", std::string(kNsBlocking)), "get-a");
    BOOST_TEST(r.attr_or("type") == "result");
    BOOST_TEST(r.child("blocklist", kNsBlocking)->child_count() == 0u, "blocking: an empty list at first");
    ask(1, b, "get", xml::Element("blocklist", std::string(kNsBlocking)), "get-b");
    got(0, a), got(1, b);
    r = ask(1, c, "set", item_list("block", {"bob@example.org", "Example.NET", "bob@example.org"}), "block-1");
    BOOST_TEST(r.attr_or("type") == "result");
    BOOST_TEST((got(0, a) == V{"push block bob@example.org example.net"}), "blocking: pushes carry prepared JIDs once");
    BOOST_TEST((got(1, b) == V{"push block bob@example.org example.net"}));
    BOOST_TEST((got(1, c) == V{"iq result alice@example.org block-1"}), "blocking: no push to a session that never asked");
    r = ask(1, c, "get", xml::Element("blocklist", std::string(kNsBlocking)), "get-c");
    V listed;
    for (const auto& i : r.child("blocklist", kNsBlocking)->children()) listed.push_back(std::string(i.attr_or("jid")));
    BOOST_TEST((listed == V{"bob@example.org", "example.net"}));
    got(1, c);
    r = ask(0, a, "set", item_list("unblock", {"example.net"}), "unblock-1");
    BOOST_TEST(r.attr_or("type") == "result");
    BOOST_TEST((got(1, c) == V{"push unblock example.net"}), "blocking: now c asked, c gets pushes");
    got(1, b);
    r = ask(0, a, "set", xml::Element("unblock", std::string(kNsBlocking)), "unblock-all");
    BOOST_TEST((got(1, b) == V{"push unblock"}), "blocking: unblock all is pushed as an empty <unblock/>");
    BOOST_TEST(!blocks(0, "alice@example.org", "bob@example.org"));
    BOOST_TEST(!blocks(1, "alice@example.org", "bob@example.org"));

    // Bad requests.
    BOOST_TEST(condition(ask(0, a, "set", item_list("block", {}), "e1")) == "bad-request");
    xml::Element noj("block", std::string(kNsBlocking));
    noj.add_child("item", std::string(kNsBlocking));
    BOOST_TEST(condition(ask(0, a, "set", noj, "e2")) == "bad-request");
    BOOST_TEST(condition(ask(0, a, "set", item_list("block", {"a@b@c"}), "e3")) == "jid-malformed");
    xml::Element other("block", std::string(kNsBlocking));
    other.add_child("thing", "urn:example");
    BOOST_TEST(condition(ask(0, a, "set", other, "e4")) == "bad-request");
    // Someone else's list: the answer for an account with nothing to answer.
    auto& bob = bind(1, "bob@example.org/x");
    r = ask(1, bob, "get", xml::Element("blocklist", std::string(kNsBlocking)), "e5", "alice@example.org");
    BOOST_TEST(condition(r) == recipient_unavailable().condition);
    const auto* text = r.child("error", xmpp::kNsClient)->child("text", xmpp::kNsStanzas);
    BOOST_TEST((text && text->text() == recipient_unavailable().text), "blocking: no enumeration by the text");
    r = ask(1, bob, "set", item_list("block", {"carol@example.org"}), "e6", "alice@example.org");
    BOOST_TEST(condition(r) == "service-unavailable");
    BOOST_TEST(!blocks(0, "alice@example.org", "carol@example.org"));
}

struct SmallQuota : BlockingFixture {
    SmallQuota() : BlockingFixture(2) {}
};

BOOST_FIXTURE_TEST_CASE(a_block_past_the_quota_is_refused_and_changes_nothing, SmallQuota) {
    auto& a = bind(0, "alice@example.org/a");
    BOOST_TEST(ask(0, a, "set", item_list("block", {"x@example.net", "y@example.net"}), "q1").attr_or("type") == "result");
    BOOST_TEST(condition(ask(0, a, "set", item_list("block", {"z@example.net"}), "q2")) == "policy-violation");
    BOOST_TEST(condition(ask(0, a, "set", item_list("block", {"1@x.example", "2@x.example", "3@x.example"}), "q3")) ==
               "policy-violation");
    BOOST_TEST(!blocks(1, "alice@example.org", "z@example.net"));
    BOOST_TEST(blocks(1, "alice@example.org", "y@example.net"));
}

BOOST_FIXTURE_TEST_CASE(nothing_passes_either_way_message_iq_or_presence, BlockingFixture) {
    auto& a = bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/x");
    // Worker 1 reads (and caches) alice's empty list first: the block must
    // reach that cache before it is answered.
    client_send(1, stanza("message", "bob@example.org/x", "alice@example.org", "before"));
    settle();
    BOOST_TEST((got(0, a) == V{"message  bob@example.org/x before"}));
    ask(0, a, "set", item_list("block", {"bob@example.org"}), "block-bob");
    got(0, a);

    // Bob to alice: as if she were offline.
    client_send(1, stanza("message", "bob@example.org/x", "alice@example.org", "m-in"));
    client_send(1, stanza("iq", "bob@example.org/x", "alice@example.org/a", "iq-in", "get"));
    client_send(1, stanza("iq", "bob@example.org/x", "alice@example.org", "iq-bare", "get"));
    client_send(1, stanza("presence", "bob@example.org/x", "alice@example.org", "p-in"));
    client_send(1, stanza("presence", "bob@example.org/x", "alice@example.org", "sub-in", "subscribe"));
    client_send(1, stanza("message", "bob@example.org/x", "alice@example.org/a", "err-in", "error"));
    settle();
    BOOST_TEST(got(0, a).empty(), "blocking: nothing from bob reaches alice");
    BOOST_TEST((got(1, bob) == V{"message error alice@example.org m-in service-unavailable",
                                 "iq error alice@example.org/a iq-in service-unavailable",
                                 "iq error alice@example.org iq-bare service-unavailable"}),
               "blocking: messages and iqs bounce as for an offline user; presence gets nothing");
    BOOST_TEST(take_taken().empty(), "blocking: nothing of bob's reaches the unavailable point's other handlers");

    // Alice to bob: refused with <blocked/>.
    client_send(0, stanza("message", "alice@example.org/a", "bob@example.org", "m-out", "chat"));
    client_send(0, stanza("iq", "alice@example.org/a", "bob@example.org/x", "iq-out", "get"));
    client_send(0, stanza("presence", "alice@example.org/a", "bob@example.org", "p-out"));
    client_send(0, stanza("iq", "alice@example.org/a", "bob@example.org/x", "res-out", "result"));
    settle();
    BOOST_TEST(got(1, bob).empty(), "blocking: nothing from alice reaches bob");
    BOOST_TEST((got(0, a) == V{"message error bob@example.org m-out not-acceptable+blocked",
                               "iq error bob@example.org/x iq-out not-acceptable+blocked",
                               "presence error bob@example.org p-out not-acceptable+blocked"}),
               "blocking: alice learns why; an iq result is dropped silently");
    // Her own account and server are never blocked.
    client_send(0, stanza("message", "alice@example.org/a", "alice@example.org/a", "self", "chat"));
    settle();
    BOOST_TEST((got(0, a) == V{"message chat alice@example.org/a self"}));
}

BOOST_FIXTURE_TEST_CASE(what_the_server_sends_on_a_users_behalf_is_filtered_at_stanza_out, BlockingFixture) {
    auto& a = bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/x");
    auto& carol = bind(1, "carol@example.org/c");
    // Which hooks see a stanza sent with Host::send (as the roster module
    // broadcasts presence): not stanza_in; routed and stanza_out once each.
    std::map<std::string, int> seen;  // "hook id", under the fixture's mutex
    for (unsigned i = 0; i < 2; ++i)
        on(i, [&, i](loop::Worker&) {
            for (auto point : {module::HookPoint::stanza_in, module::HookPoint::stanza_out})
                hosts[i]->hook(point, 0, [&, point](module::StanzaContext& c) {
                    std::lock_guard<std::mutex> lock(mutex);
                    if (c.stanza.attr_or("type") == "error") return module::HookResult::pass();
                    ++seen[std::string(point == module::HookPoint::stanza_in ? "in " : "out ") +
                           std::string(c.stanza.attr_or("id"))];
                    return module::HookResult::pass();
                });
            hosts[i]->on_routed(0, [&](module::RoutedContext& c) {
                std::lock_guard<std::mutex> lock(mutex);
                if (c.stanza.attr_or("type") != "error") ++seen["routed " + std::string(c.stanza.attr_or("id"))];
            });
        });
    auto broadcast = [&](const std::string& from, const std::string& to, const std::string& id) {
        on(0, [&](loop::Worker&) { hosts[0]->send(stanza("presence", from, to, id)); });
        settle();
    };
    broadcast("alice@example.org/a", "carol@example.org/c", "p1");
    {
        std::lock_guard<std::mutex> lock(mutex);
        BOOST_TEST(seen["in p1"] == 0, "blocking: Host::send skips stanza_in");
        BOOST_TEST(seen["routed p1"] == 1);
        BOOST_TEST(seen["out p1"] == 1, "blocking: stanza_out sees what Host::send delivers");
    }
    BOOST_TEST((got(1, carol) == V{"presence  alice@example.org/a p1"}));
    ask(0, a, "set", item_list("block", {"bob@example.org"}), "block-bob");
    got(0, a);
    broadcast("alice@example.org/a", "bob@example.org/x", "p2");   // alice's broadcast to blocked bob
    broadcast("bob@example.org/x", "alice@example.org/a", "p3");   // bob's broadcast to alice who blocks him
    broadcast("alice@example.org/a", "carol@example.org/c", "p4"); // to carol: unaffected
    on(0, [&](loop::Worker&) { hosts[0]->send(stanza("message", "bob@example.org/x", "alice@example.org", "m5", "chat")); });
    settle();
    auto bob_got = got(1, bob);
    BOOST_TEST((bob_got == V{"message error alice@example.org m5 service-unavailable"}),
               "blocking: the server's presence on alice's behalf does not reach bob; the bounce of his message does");
    for (const auto& l : bob_got) BOOST_TEST_MESSAGE(l);
    BOOST_TEST(got(0, a).empty(), "blocking: nothing the server sends on bob's behalf reaches alice");
    BOOST_TEST((got(1, carol) == V{"presence  alice@example.org/a p4"}));
    std::lock_guard<std::mutex> lock(mutex);
    BOOST_TEST(seen["routed m5"] == 1);
    BOOST_TEST(seen["out m5"] == 0, "blocking: a server-sent message from bob is refused before delivery");
}

BOOST_FIXTURE_TEST_CASE(a_user_with_nobody_online_gets_nothing_stored_or_answered, BlockingFixture) {
    auto& a = bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/x");
    ask(0, a, "set", item_list("block", {"bob@example.org"}), "block-bob");
    // Alice goes unavailable: what comes for her reaches the unavailable point.
    on(0, [&](loop::Worker&) { registry.set_presence(a.full_jid(), sessions::SessionRef{0, a.session_id()}, false, 0); });
    got(0, a);
    client_send(1, stanza("message", "bob@example.org/x", "alice@example.org", "m-off", "chat"));
    client_send(1, stanza("presence", "bob@example.org/x", "alice@example.org", "probe-1", "probe"));
    client_send(1, stanza("presence", "bob@example.org/x", "alice@example.org", "sub-1", "subscribe"));
    // The same from the server (the roster module probing for bob at login).
    on(1, [&](loop::Worker&) {
        hosts[1]->send(stanza("presence", "bob@example.org", "alice@example.org", "probe-2", "probe"));
        hosts[1]->send(stanza("message", "bob@example.org/x", "alice@example.org", "m-srv", "chat"));
    });
    // And alice's server probing on her behalf for bob, whom she blocks.
    on(0, [&](loop::Worker&) { hosts[0]->send(stanza("presence", "alice@example.org", "bob@example.org", "probe-3", "probe")); });
    settle();
    BOOST_TEST(take_taken().empty(), "blocking: neither stored nor answered");
    BOOST_TEST((got(1, bob) == V{"message error alice@example.org m-off service-unavailable",
                                 "message error alice@example.org m-srv service-unavailable"}));
    // carol is not blocked: her message is stored, her probe answered.
    auto& carol = bind(1, "carol@example.org/c");
    client_send(1, stanza("message", "carol@example.org/c", "alice@example.org", "m-carol", "chat"));
    client_send(1, stanza("presence", "carol@example.org/c", "alice@example.org", "probe-c", "probe"));
    settle();
    BOOST_TEST((take_taken() == V{"message chat carol@example.org/c>alice@example.org",
                                  "presence probe carol@example.org/c>alice@example.org"}));
    BOOST_TEST(got(1, carol).empty());
}

BOOST_FIXTURE_TEST_CASE(blocking_says_goodbye_and_unblocking_asks_for_presence_again, BlockingFixture) {
    roster.contacts["alice@example.org"] = {{"bob@example.org", true}, {"carol@example.org", false}};
    auto& a1 = bind(0, "alice@example.org/a1");
    bind(1, "alice@example.org/a2");
    auto& a3 = bind(1, "alice@example.org/a3");
    on(1, [&](loop::Worker&) { registry.set_presence(a3.full_jid(), sessions::SessionRef{1, a3.session_id()}, false, 0); });
    auto& bob = bind(1, "bob@example.org/x");
    auto& bob2 = bind(0, "bob@example.org/y");
    auto& carol = bind(1, "carol@example.org/c");
    ask(0, a1, "set", item_list("block", {"bob@example.org", "carol@example.org"}), "block");
    auto sorted = [](V v) {
        std::sort(v.begin(), v.end());
        return v;
    };
    // Each available resource of alice says goodbye to each of bob's; not a3
    // (unavailable), and not to carol (she may not see alice's presence).
    const V goodbye{"presence unavailable alice@example.org/a1 ", "presence unavailable alice@example.org/a2 "};
    BOOST_TEST((sorted(got(1, bob)) == goodbye));
    BOOST_TEST((sorted(got(0, bob2)) == goodbye));
    BOOST_TEST(got(1, carol).empty());
    BOOST_TEST(take_taken().empty());
    // Unblocking bob: probes both ways, which the roster module answers.
    ask(0, a1, "set", item_list("unblock", {"bob@example.org", "nobody@example.org"}), "unblock");
    BOOST_TEST((sorted(take_taken()) == V{"presence probe alice@example.org>bob@example.org",
                                          "presence probe bob@example.org>alice@example.org"}),
               "blocking: one probe each way, only for what was blocked");
    // Unblocking everything: carol was still blocked.
    ask(0, a1, "set", xml::Element("unblock", std::string(kNsBlocking)), "unblock-all");
    BOOST_TEST((sorted(take_taken()) == V{"presence probe alice@example.org>carol@example.org",
                                          "presence probe carol@example.org>alice@example.org"}));
    // A domain item: its roster contacts are probed when it goes.
    ask(0, a1, "set", item_list("block", {"example.org"}), "block-domain");
    got(1, bob);  // a goodbye
    ask(0, a1, "set", item_list("unblock", {"example.org"}), "unblock-domain");
    BOOST_TEST((sorted(take_taken()) ==
                V{"presence probe alice@example.org>bob@example.org", "presence probe alice@example.org>carol@example.org",
                  "presence probe bob@example.org>alice@example.org", "presence probe carol@example.org>alice@example.org"}));
}

BOOST_FIXTURE_TEST_CASE(lists_outlive_the_module_and_are_shared_by_the_workers, BlockingFixture) {
    auto& a = bind(0, "alice@example.org/a");
    ask(0, a, "set", item_list("block", {"bob@example.org/x", "example.net"}), "block");
    BOOST_TEST(blocks(1, "alice@example.org", "bob@example.org/x"));
    BOOST_TEST(!blocks(1, "alice@example.org", "bob@example.org/y"), "blocking: a full JID catches only itself");
    BOOST_TEST(blocks(1, "alice@example.org", "someone@example.net/r"));
    stop_modules();
    start_modules();
    BOOST_TEST(blocks(0, "alice@example.org", "bob@example.org/x"), "blocking: the list is read back from LMDB");
    BOOST_TEST(blocks(1, "alice@example.org", "example.net"));
    BOOST_TEST(!blocks(1, "bob@example.org", "alice@example.org"), "blocking: lists are per user");
}

BOOST_AUTO_TEST_CASE(readme_documents_every_option_with_its_default) {
    const std::string doc = test::read_text(std::string(PARLEY_TEST_SRCDIR) + "/modules/blocking/README.md");
    BOOST_REQUIRE(!doc.empty());
    const auto missing = test::undocumented_options(doc, kOptions, kOptionCount);
    BOOST_TEST(missing.empty(), "blocking README: " << (missing.empty() ? "" : missing.front()));
}

// --- A deleted account ---

BOOST_AUTO_TEST_CASE(a_deleted_accounts_list_goes_and_no_one_elses) {
    test::FakeStorage storage;
    test::FakeHost host;
    host.database_factory = storage.factory();
    Blocking module;
    host.module_instance = &module;
    BOOST_REQUIRE(module.configure(section(1000)).is_ok());
    BOOST_REQUIRE(module.start(host).is_ok());
    MDB_dbi db = storage.env().database("test.items", 1).value();
    // Accounts whose keys start alike: a node that is a prefix of another's,
    // and a domain that is a prefix of another's. Each blocks the others.
    const V accounts = {"al@example.org", "alice@example.org", "al@example.org.evil", "al@example.net"};
    for (const auto& a : accounts) {
        V others;
        for (const auto& o : accounts)
            if (o != a) others.push_back(o);
        BOOST_REQUIRE(storage.env().write([&](store::Txn& t) { return add_items(t, db, jid(a), others, 1000); }));
    }
    auto items = [&](const std::string& u) {
        auto t = storage.env().begin_read();
        return read_items(t.value(), db, jid(u)).value();
    };
    // The module has the deleted user's list in its cache.
    BOOST_REQUIRE(module.blocks(jid("al@example.org"), jid("alice@example.org")));
    BOOST_REQUIRE(module.cached_users() == 1u);
    BOOST_REQUIRE(host.account_deleted.size() == 1u);
    BOOST_TEST(host.delete_account(jid("al@example.org")).empty(), "blocking: done waits for the write");
    BOOST_TEST(items("al@example.org").size() == 3u, "blocking: nothing removed before the write commits");
    BOOST_TEST(storage.complete() == 1u);
    BOOST_REQUIRE(host.purge_results->size() == 1u);
    BOOST_TEST(host.purge_results->front().is_ok());
    BOOST_TEST(items("al@example.org").empty());
    BOOST_TEST(module.cached_users() == 0u, "blocking: the cached list is dropped");
    BOOST_TEST(!module.blocks(jid("al@example.org"), jid("alice@example.org")),
               "blocking: a new account of the name starts with an empty list");
    // Other users' lists stay whole, the deleted JID included: their choice.
    for (size_t i = 1; i < accounts.size(); ++i) {
        BOOST_TEST(items(accounts[i]).size() == 3u, "blocking: " << accounts[i] << " keeps its list");
        BOOST_TEST(module.blocks(jid(accounts[i]), jid("al@example.org")));
    }
    BOOST_TEST(host.purge_results->size() == 1u, "blocking: done ran once");

    // A writer that refuses: the error, at once; nothing removed.
    storage.busy = true;
    auto results = host.delete_account(jid("alice@example.org"));
    BOOST_REQUIRE(results.size() == 1u);
    BOOST_TEST(results[0].code() == "busy");
    storage.busy = false;
    BOOST_TEST(storage.complete() == 0u);
    BOOST_TEST(host.purge_results->size() == 1u, "blocking: done ran once");
    BOOST_TEST(items("alice@example.org").size() == 3u);
    module.stop();
}

BOOST_FIXTURE_TEST_CASE(a_deleted_accounts_list_leaves_the_cache_of_every_worker, BlockingFixture) {
    auto& bob = bind(1, "bob@example.org/b");
    const xml::Element r = ask(1, bob, "set", item_list("block", {"mallory@example.net"}), "b1");
    BOOST_REQUIRE(r.attr_or("type") == "result");
    // Both workers read (and cache) bob's list.
    BOOST_REQUIRE(blocks(0, "bob@example.org", "mallory@example.net"));
    BOOST_REQUIRE(blocks(1, "bob@example.org", "mallory@example.net"));
    // The purge, as worker 0 runs it (loop/account_purge.cpp).
    auto results = std::make_shared<std::vector<Status>>();
    on(0, [&](loop::Worker& w) {
        for (auto& [owner, fn] : w.hooks().account_deleted())
            if (owner == "blocking")
                fn(jid("bob@example.org"), [this, results](Status s) {
                    std::lock_guard<std::mutex> lock(mutex);
                    results->push_back(std::move(s));
                    cv.notify_all();
                });
    });
    {
        std::unique_lock<std::mutex> lock(mutex);
        BOOST_REQUIRE_MESSAGE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return !results->empty(); }),
                              "blocking: the purge never answered");
    }
    settle();
    BOOST_REQUIRE(results->size() == 1u);
    BOOST_TEST(results->front().is_ok());
    BOOST_TEST(!blocks(0, "bob@example.org", "mallory@example.net"));
    BOOST_TEST(!blocks(1, "bob@example.org", "mallory@example.net"),
               "blocking: worker 1 dropped its cached list too");
}


BOOST_AUTO_TEST_SUITE_END()

// modules/roster: the RFC 6121 subscription state machine in every state,
// the stored form of an item (round trip, corrupt values refused), the
// validation of roster sets, and changes the store's writer refuses.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <random>

#include "../modules/roster/roster.hpp"
#include "../modules/roster/subscription.hpp"
#include "store/env.hpp"
#include "support/env_database.hpp"
#include "support/fake_host.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using roster::Effect;
using roster::Item;
using roster::Subscription;

namespace {

// The nine states of RFC 6121 Appendix A by name, and back.
Item state(std::string_view name) {
    Item i;
    i.jid = xmpp::Jid::parse("contact@example.net").value();
    if (name.starts_with("none")) i.subscription = Subscription::none;
    if (name.starts_with("to")) i.subscription = Subscription::to;
    if (name.starts_with("from")) i.subscription = Subscription::from;
    if (name.starts_with("both")) i.subscription = Subscription::both;
    i.ask = name.find("+out") != std::string_view::npos;
    i.pending_in = name.find("+in") != std::string_view::npos;
    i.in_roster = !(name == "none+in");
    return i;
}

// A database whose writer refuses every write at once, as the real one does
// when its queue is full ("busy"); reads find nothing.
class RefusingDatabase final : public module::Database {
public:
    Status read(const std::function<Status(const store::Txn&, MDB_dbi)>&) const override { return Status::ok(); }
    Status write(std::function<Status(store::Txn&, MDB_dbi)>, std::function<void(Status)>) override {
        ++writes;
        return Status::error("busy", "the writer's queue is full");
    }
    int writes = 0;
};

std::string name(const Item& i) {
    std::string n = roster::to_string(i.subscription);
    if (i.ask) n += "+out";
    if (i.pending_in) n += "+in";
    return n;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_roster)

BOOST_AUTO_TEST_CASE(outbound_subscription_stanzas_follow_rfc_6121) {
    // state -> state after the user sends each type (RFC 6121 §3, Appendix A).
    struct Row {
        const char* from;
        const char* subscribe;
        const char* unsubscribe;
        const char* subscribed;
        const char* unsubscribed;
    };
    const Row rows[] = {
        {"none", "none+out", "none", "none", "none"},
        {"none+out", "none+out", "none", "none+out", "none+out"},
        {"none+in", "none+out+in", "none+in", "from", "none"},
        {"none+out+in", "none+out+in", "none+in", "from+out", "none+out"},
        {"to", "to", "none", "to", "to"},
        {"to+in", "to+in", "none+in", "both", "to"},
        {"from", "from+out", "from", "from", "none"},
        {"from+out", "from+out", "from", "from+out", "none+out"},
        {"both", "both", "from", "both", "to"},
    };
    for (const auto& r : rows) {
        const char* want[] = {r.subscribe, r.unsubscribe, r.subscribed, r.unsubscribed};
        const char* types[] = {"subscribe", "unsubscribe", "subscribed", "unsubscribed"};
        for (int t = 0; t < 4; ++t) {
            Item i = state(r.from);
            roster::outbound(i, types[t]);
            BOOST_TEST(name(i) == want[t], "outbound " << types[t] << " in " << r.from);
        }
    }
    // Subscribe and unsubscribe are always routed; an approval only when it
    // answers a request (otherwise it is a pre-approval, kept here).
    Item none = state("none");
    Effect pre = roster::outbound(none, "subscribed");
    BOOST_TEST(!pre.forward);
    BOOST_TEST(none.approved, "a pre-approval is remembered (§3.4)");
    BOOST_TEST(none.in_roster);
    Item in = state("none+in");
    Effect ok = roster::outbound(in, "subscribed");
    BOOST_TEST(ok.forward);
    BOOST_TEST(ok.send_presence, "the new subscriber gets the user's presence (§3.1.5)");
    Item both = state("both");
    Effect cancel = roster::outbound(both, "unsubscribed");
    BOOST_TEST(cancel.forward);
    BOOST_TEST(cancel.send_unavailable, "a cancelled subscriber hears the user go unavailable (§3.2.2)");
    Item fresh;
    fresh.in_roster = false;
    BOOST_TEST(roster::outbound(fresh, "subscribe").forward);
    BOOST_TEST(fresh.in_roster, "subscribing adds the contact to the roster (§3.1.2)");
}

BOOST_AUTO_TEST_CASE(inbound_subscription_stanzas_follow_rfc_6121) {
    struct Row {
        const char* from;
        const char* subscribe;
        const char* unsubscribe;
        const char* subscribed;
        const char* unsubscribed;
    };
    const Row rows[] = {
        {"none", "none+in", "none", "none", "none"},
        {"none+out", "none+out+in", "none+out", "to", "none"},
        {"none+in", "none+in", "none", "none+in", "none+in"},
        {"none+out+in", "none+out+in", "none+out", "to+in", "none+in"},
        {"to", "to+in", "to", "to", "none"},
        {"to+in", "to+in", "to", "to+in", "none+in"},
        {"from", "from", "none", "from", "from"},
        {"from+out", "from+out", "none+out", "both", "from"},
        {"both", "both", "to", "both", "from"},
    };
    for (const auto& r : rows) {
        const char* want[] = {r.subscribe, r.unsubscribe, r.subscribed, r.unsubscribed};
        const char* types[] = {"subscribe", "unsubscribe", "subscribed", "unsubscribed"};
        for (int t = 0; t < 4; ++t) {
            Item i = state(r.from);
            Effect e = roster::inbound(i, types[t]);
            BOOST_TEST(name(i) == want[t], "inbound " << types[t] << " in " << r.from);
            // Delivered to the user exactly when the state changed (Appendix A.3).
            BOOST_TEST(e.forward == e.changed, "inbound " << types[t] << " in " << r.from);
        }
    }
    // Already subscribed: answered for the user, not delivered.
    Item from = state("from");
    Effect again = roster::inbound(from, "subscribe");
    BOOST_TEST(again.reply_subscribed);
    BOOST_TEST(!again.forward);
    // Pre-approved: approved at once.
    Item pre = state("none");
    pre.approved = true;
    Effect e = roster::inbound(pre, "subscribe");
    BOOST_TEST(e.reply_subscribed);
    BOOST_TEST(!e.forward);
    BOOST_TEST(name(pre) == "from");
    BOOST_TEST(!pre.approved);
    // A new request is remembered for delivery at the next login.
    Item none = state("none");
    BOOST_TEST(roster::inbound(none, "subscribe").remember_request);
}

BOOST_AUTO_TEST_CASE(items_round_trip_through_their_stored_form) {
    std::mt19937 rng(42);
    for (int n = 0; n < 500; ++n) {
        Item i;
        i.jid = xmpp::Jid::parse("c" + std::to_string(n) + "@example.org").value();
        i.subscription = static_cast<Subscription>(rng() % 4);
        i.ask = rng() % 2;
        i.pending_in = rng() % 2;
        i.approved = rng() % 2;
        i.in_roster = rng() % 2;
        i.name = std::string(rng() % 40, static_cast<char>('a' + rng() % 26));
        for (unsigned g = 0; g < rng() % 5; ++g) i.groups.push_back("group " + std::to_string(rng() % 1000));
        std::string status(rng() % 30, 'x');
        std::string back_status;
        auto back = roster::decode(i.jid.bare_str(), roster::encode(i, status), &back_status);
        BOOST_REQUIRE(back.is_ok());
        BOOST_TEST(back->jid.str() == i.jid.str());
        BOOST_TEST((back->subscription == i.subscription));
        BOOST_TEST(back->ask == i.ask);
        BOOST_TEST(back->pending_in == i.pending_in);
        BOOST_TEST(back->approved == i.approved);
        BOOST_TEST(back->in_roster == i.in_roster);
        BOOST_TEST(back->name == i.name);
        BOOST_TEST(back->groups == i.groups);
        BOOST_TEST(back_status == status);
        // Every truncation of a stored value is refused, never misread.
        const std::string full = roster::encode(i, status);
        for (size_t cut = 0; cut < full.size(); ++cut)
            BOOST_TEST(!roster::decode(i.jid.bare_str(), full.substr(0, cut)).is_ok());
        BOOST_TEST(!roster::decode(i.jid.bare_str(), full + "x").is_ok());
    }
}

BOOST_AUTO_TEST_CASE(roster_sets_are_validated) {
    auto set = [](const std::string& jid, const std::vector<std::string>& groups, const char* sub = nullptr,
                  bool ask = false) {
        xml::Element q("query", mod_roster::kNsRoster);
        auto& item = q.add_child("item", mod_roster::kNsRoster);
        item.set_attr("jid", jid);
        if (sub) item.set_attr("subscription", sub);
        if (ask) item.set_attr("ask", "subscribe");
        for (const auto& g : groups) item.add_child("group", mod_roster::kNsRoster).add_text(g);
        return q;
    };
    Item out;
    bool remove = false;
    BOOST_TEST(mod_roster::parse_set(set("bob@example.org", {"Friends", "Work"}), out, remove).is_ok());
    BOOST_TEST(out.groups.size() == 2u);
    BOOST_TEST(!remove);
    BOOST_TEST(mod_roster::parse_set(set("bob@example.org", {}, "remove"), out, remove).is_ok());
    BOOST_TEST(remove);
    BOOST_TEST(mod_roster::parse_set(set("bob@example.org/phone", {}), out, remove).code() == "bad-request");
    BOOST_TEST(mod_roster::parse_set(set("@@", {}), out, remove).code() == "bad-request");
    BOOST_TEST(mod_roster::parse_set(set("bob@example.org", {"A", "A"}), out, remove).code() == "bad-request");
    BOOST_TEST(mod_roster::parse_set(set("bob@example.org", {""}), out, remove).code() == "not-acceptable");
    BOOST_TEST(mod_roster::parse_set(set("bob@example.org", {}, nullptr, true), out, remove).code() == "bad-request");
    BOOST_TEST(mod_roster::parse_set(set("bob@example.org", {}, "sideways"), out, remove).code() == "bad-request");
    xml::Element two = set("bob@example.org", {});
    two.add_child("item", mod_roster::kNsRoster).set_attr("jid", "carol@example.org");
    BOOST_TEST(mod_roster::parse_set(two, out, remove).code() == "bad-request");
    // The result and push form of an item.
    Item i;
    i.jid = xmpp::Jid::parse("bob@example.org").value();
    i.subscription = Subscription::from;
    i.ask = true;
    i.groups = {"G"};
    xml::Element e = mod_roster::item_element(i);
    BOOST_TEST(e.attr_or("subscription") == "from");
    BOOST_TEST(e.attr_or("ask") == "subscribe");
    BOOST_TEST(e.child("group", mod_roster::kNsRoster)->text() == "G");
}

BOOST_AUTO_TEST_CASE(changes_refused_by_a_busy_writer_are_answered_or_dropped) {
    test::FakeHost host;
    auto db = std::make_shared<RefusingDatabase>();
    host.database = [db](const module::DatabaseSpec&) -> Result<std::shared_ptr<module::Database>> { return std::shared_ptr<module::Database>(db); };
    mod_roster::Roster m;
    BOOST_REQUIRE(m.start(host).is_ok());

    // A roster set: the client hears that the server is busy.
    xml::Element q("query", mod_roster::kNsRoster);
    q.add_child("item", mod_roster::kNsRoster).set_attr("jid", "romeo@example.org");
    std::shared_ptr<test::RecordingResponder> r;
    BOOST_REQUIRE_NO_THROW(r = host.ask(module::IqTarget::account, "set", q, "juliet@example.org"));
    BOOST_TEST(db->writes == 1);
    BOOST_TEST(r->answers == 1, "a refused roster set is answered exactly once");
    BOOST_TEST(!r->ok);
    BOOST_TEST(r->err.condition == "resource-constraint");
    BOOST_TEST(r->err.type == "wait");

    // A subscription request: taken by the module, not stored, not routed.
    xml::Element p("presence", std::string(xmpp::kNsClient));
    p.set_attr("type", "subscribe");
    const auto from = xmpp::Jid::parse("juliet@example.org/balcony").value();
    const auto to = xmpp::Jid::parse("romeo@example.org").value();
    module::StanzaContext ctx{p, from, to, true};
    int handled = 0;
    for (auto& [point, priority, fn] : host.hooks)
        if (point == module::HookPoint::stanza_in) {
            module::HookResult hr = module::HookResult::pass();
            BOOST_REQUIRE_NO_THROW(hr = fn(ctx));
            if (hr.verdict == module::HookResult::Verdict::handled) ++handled;
        }
    BOOST_TEST(handled == 1);
    BOOST_TEST(db->writes == 2);
    BOOST_TEST(host.sent.empty(), "nothing is routed for a change that was not stored");
    m.stop();
}

// The roster module on a FakeHost over a real LMDB store, with the roster
// service of one worker.
struct StoredRoster {
    test::TempDir tmp;
    std::unique_ptr<store::Env> env;
    MDB_dbi dbi = 0;
    std::shared_ptr<test::EnvDatabase> db;
    test::FakeHost host;
    struct OneWorker final : module::ServiceHost {
        config::Section section;
        const config::Section& config() const override { return section; }
        unsigned worker_count() const override { return 1; }
        module::Service* service(std::string_view) const override { return nullptr; }
    } service_host;
    mod_roster::Service service;
    mod_roster::Roster m;

    StoredRoster() {
        auto e = store::Env::open(tmp.sub("state"), size_t{16} << 20);
        BOOST_REQUIRE(e);
        env = std::move(e.value());
        auto d = env->database("roster.items", 1);
        BOOST_REQUIRE(d);
        dbi = d.value();
        db = std::make_shared<test::EnvDatabase>(*env, dbi);
        host.database = [this](const module::DatabaseSpec&) -> Result<std::shared_ptr<module::Database>> {
            return std::shared_ptr<module::Database>(db);
        };
        BOOST_REQUIRE(service.start(service_host).is_ok());
        host.services[mod_roster::Service::kServiceName] = &service;
        BOOST_REQUIRE(m.start(host).is_ok());
    }
    ~StoredRoster() { m.stop(); }
};

BOOST_FIXTURE_TEST_CASE(a_deleted_accounts_roster_goes_and_its_contacts_are_told, StoredRoster) {
    BOOST_REQUIRE(host.account_deleted.size() == 1u);

    auto j = [](const char* s) { return xmpp::Jid::parse(s).value(); };
    // "al" is a prefix of "alice": only al's records may go.
    auto put = [&](const char* user, Item item, std::string_view status = "") {
        BOOST_REQUIRE(env->write([&](store::Txn& txn) {
            return txn.put(dbi, mod_roster::item_key(j(user), item.jid), roster::encode(item, status));
        }));
    };
    Item both = state("both");
    both.jid = j("romeo@example.org");
    put("al@example.org", both);
    Item pending = state("none");
    pending.jid = j("tybalt@example.org");
    pending.pending_in = true;
    pending.in_roster = false;
    put("al@example.org", pending, "let me in");
    Item none = state("none");
    none.jid = j("nurse@example.org");
    put("al@example.org", none);
    BOOST_REQUIRE(env->write([&](store::Txn& txn) { return txn.put(dbi, mod_roster::user_prefix(j("al@example.org")), "3"); }));
    Item kept = state("to");
    kept.jid = j("romeo@example.org");
    put("alice@example.org", kept);
    put("al@example.org.evil", kept);

    auto early = host.delete_account(j("al@example.org"));
    BOOST_TEST(early.empty(), "roster: done waits for the write");
    BOOST_TEST(host.sent.empty(), "roster: nobody is told before the roster is gone");
    BOOST_TEST(db->flush() == 1u);
    BOOST_REQUIRE(host.purge_results->size() == 1u);
    BOOST_TEST(host.purge_results->front().is_ok());

    BOOST_TEST(mod_roster::load_roster(*db, j("al@example.org")).value().items.empty());
    BOOST_TEST(mod_roster::load_roster(*db, j("al@example.org")).value().version == 0u);
    BOOST_TEST(mod_roster::load_roster(*db, j("alice@example.org")).value().items.size() == 1u);
    BOOST_TEST(mod_roster::load_roster(*db, j("al@example.org.evil")).value().items.size() == 1u);

    // romeo (both) hears unsubscribe and unsubscribed; tybalt (a request
    // never answered) unsubscribed; the nurse (none) nothing.
    std::vector<std::string> told;
    for (const auto& p : host.sent)
        told.push_back(std::string(p.attr_or("type")) + " " + std::string(p.attr_or("to")) + " " + std::string(p.attr_or("from")));
    BOOST_TEST((told == std::vector<std::string>{"unsubscribe romeo@example.org al@example.org",
                                                 "unsubscribed romeo@example.org al@example.org",
                                                 "unsubscribed tybalt@example.org al@example.org"}));

    // A writer that refuses: done hears it at once, nothing is told.
    host.sent.clear();
    db->busy = true;
    auto refused = host.delete_account(j("alice@example.org"));
    BOOST_REQUIRE(refused.size() == 1u);
    BOOST_TEST(refused.front().code() == "busy");
    BOOST_TEST(host.sent.empty());
}

BOOST_FIXTURE_TEST_CASE(a_push_overtaken_by_a_newer_one_brings_the_item_as_stored_now, StoredRoster) {
    const auto juliet = xmpp::Jid::parse("juliet@example.org/balcony").value();
    host.sessions.push_back(module::SessionInfo{juliet, sessions::SessionRef{0, 7}, true, 0});

    auto get = host.ask(module::IqTarget::account, "get", xml::Element("query", mod_roster::kNsRoster),
                        "juliet@example.org");
    BOOST_REQUIRE(get->answers == 1);
    // Two changes of romeo's item; their pushes are held, as if made on two
    // workers, and then arrive newest first.
    host.defer_posts = true;
    for (const char* name : {"Old", "New"}) {
        xml::Element q("query", mod_roster::kNsRoster);
        auto& item = q.add_child("item", mod_roster::kNsRoster);
        item.set_attr("jid", "romeo@example.org");
        item.set_attr("name", name);
        auto r = host.ask(module::IqTarget::account, "set", q, "juliet@example.org");
        BOOST_TEST(db->flush() == 1u);
        BOOST_REQUIRE(r->answers == 1);
        BOOST_REQUIRE(r->ok);
    }
    BOOST_REQUIRE(host.posted.size() == 2u);
    host.posted[1](host);
    host.posted[0](host);
    BOOST_REQUIRE(host.to_sessions.size() == 2u);
    auto push_of = [&](size_t i) {
        const xml::Element* q = host.to_sessions[i].second.child("query", mod_roster::kNsRoster);
        BOOST_REQUIRE(q != nullptr);
        const xml::Element* item = q->child("item", mod_roster::kNsRoster);
        BOOST_REQUIRE(item != nullptr);
        return std::string(q->attr_or("ver")) + " " + std::string(item->attr_or("name"));
    };
    BOOST_TEST(push_of(0) == "2 New");
    BOOST_TEST(push_of(1) == "2 New", "roster: the late push carries the item as it is now, not as it was");
}

BOOST_AUTO_TEST_SUITE_END()

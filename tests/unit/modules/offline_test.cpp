// mod_offline: the queue layout (order, quota, removal), the stored form of
// a message (delay, parse back), and the module on two running workers with
// the real router, registry, LMDB writer and in-memory sessions: stored
// without a bounce only once durable, delivered once in total and in order
// when a session comes online, the errors for full queues, large stanzas
// and missing accounts, and what is never stored.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>

#include "../modules/offline/offline.hpp"
#include "support/fake_host.hpp"
#include "support/fake_storage.hpp"
#include "support/seams_fixture.hpp"
#include "xml/serializer.hpp"

using namespace parley;
using namespace parley::mod_offline;
using parley::test::jid;
using parley::test::message;

namespace {

config::Section section(std::map<std::string, config::OptionValue> values) {
    config::Section s;
    s.file = "t.toml";
    s.name = "offline";
    s.line = 1;
    s.values = std::move(values);
    return s;
}

// A temporary environment with the module's database, for the layout tests.
struct StoreFixture {
    test::TempDir dir;
    std::unique_ptr<store::Env> env;
    MDB_dbi db = 0;
    std::string owner = owner_key(jid("bob@example.org")).value();
    StoreFixture() {
        auto e = store::Env::open(dir.sub("state"), size_t{16} << 20);
        BOOST_REQUIRE_MESSAGE(e, "offline: Env::open: " << e.status().to_string());
        env = std::move(e.value());
        auto d = env->database("offline.messages", kSchemaVersion);
        BOOST_REQUIRE(d);
        db = d.value();
    }
    Status add(const std::string& xml, const Quota& q = {}) {
        return env->write([&](store::Txn& t) { return append(t, db, owner, 1000, xml, q); });
    }
    QueueInfo info() {
        auto t = env->begin_read();
        BOOST_REQUIRE(t);
        auto q = queue_info(t.value(), db, owner);
        BOOST_REQUIRE(q);
        return q.value();
    }
    std::vector<StoredMessage> first(size_t n) {
        auto t = env->begin_read();
        BOOST_REQUIRE(t);
        auto r = first_messages(t.value(), db, owner, n);
        BOOST_REQUIRE(r);
        return r.value();
    }
};

// The module on both workers of a SeamsFixture. Counts, from any worker,
// the local clients' messages the router has finished with (stored or
// bounced) and the flushes that ended.
struct OfflineFixture : test::SeamsFixture {
    Offline mods[2];
    std::unique_ptr<loop::WorkerHost> ohosts[2];
    std::mutex mutex;
    std::condition_variable cv;
    int done = 0;
    int flushes = 0;

    explicit OfflineFixture(const config::Section& s = section({})) {
        for (unsigned i = 0; i < 2; ++i)
            on(i, [&, i](loop::Worker& w) {
                ohosts[i] = std::make_unique<loop::WorkerHost>(w, "offline", s);
                ohosts[i]->set_instance(&mods[i]);
                BOOST_REQUIRE(mods[i].configure(s).is_ok());
                Status st = mods[i].start(*ohosts[i]);
                BOOST_REQUIRE_MESSAGE(st.is_ok(), "offline: start: " << st.to_string());
                mods[i].on_flush_done = [this](const xmpp::Jid&) { bump(flushes); };
                hosts[i]->on_routed(0, [this](module::RoutedContext& c) {
                    if (c.stanza.name() != "message" || c.origin != module::Origin::local_client) return;
                    c.when_done([this](const StanzaError*) { bump(done); });
                });
            });
    }
    ~OfflineFixture() {
        for (unsigned i = 0; i < 2; ++i)
            on(i, [&, i](loop::Worker&) {
                mods[i].stop();
                ohosts[i].reset();
            });
    }
    void bump(int& counter) {
        std::lock_guard<std::mutex> lock(mutex);
        ++counter;
        cv.notify_all();
    }
    // Waits (bounded) until counter reaches n, then lets posted work drain.
    void wait_for(int& counter, int n) {
        {
            std::unique_lock<std::mutex> lock(mutex);
            BOOST_REQUIRE_MESSAGE(cv.wait_for(lock, std::chrono::seconds(20), [&] { return counter >= n; }),
                                  "offline: waited for " << n << ", got " << counter);
        }
        settle();
    }
    // The session event `available` of s on worker i, as c2s fires it.
    void come_online(unsigned i, test::FakeSession& s, int priority = 0) {
        on(i, [&, i](loop::Worker& w) {
            w.hooks().fire(module::SessionEvent::available,
                           sessions::SessionEntry{s.full_jid(), sessions::SessionRef{i, s.session_id()}, true, priority});
        });
    }
    std::vector<xml::Element> received(unsigned i, test::FakeSession& s) {
        std::vector<xml::Element> out;
        on(i, [&](loop::Worker&) { out = s.received; });
        return out;
    }
    QueueInfo queue(const std::string& bare) {
        auto d = env->database("offline.messages", kSchemaVersion);
        BOOST_REQUIRE(d);
        auto t = env->begin_read();
        BOOST_REQUIRE(t);
        auto q = queue_info(t.value(), d.value(), owner_key(jid(bare)).value());
        BOOST_REQUIRE(q);
        return q.value();
    }
};

std::map<std::string, config::OptionValue> small_limits() {
    return {{"max_messages_per_user", {int64_t{3}, 2}}, {"max_message_bytes", {int64_t{1024}, 3}}};
}

struct SmallLimitsFixture : OfflineFixture {
    SmallLimitsFixture() : OfflineFixture(section(small_limits())) {}
};

const xml::Element* error_of(const xml::Element& e) { return e.child("error", xmpp::kNsClient); }

std::string condition_of(const xml::Element& e) {
    const xml::Element* err = error_of(e);
    return err && err->first_child() ? err->first_child()->name() : "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(modules_offline)

// --- The queue layout ---

BOOST_FIXTURE_TEST_CASE(a_queue_keeps_commit_order_and_counts_messages_and_bytes, StoreFixture) {
    for (int i = 0; i < 5; ++i) BOOST_REQUIRE(add("<message id='m" + std::to_string(i) + "'/>").is_ok());
    QueueInfo q = info();
    BOOST_TEST(q.count == 5u);
    BOOST_TEST(q.next_seq == 5u);
    BOOST_TEST(q.bytes == 5u * std::string("<message id='m0'/>").size());
    auto all = first(100);
    BOOST_REQUIRE(all.size() == 5u);
    for (size_t i = 0; i < all.size(); ++i) {
        BOOST_TEST(all[i].seq == i);
        BOOST_TEST(all[i].xml == "<message id='m" + std::to_string(i) + "'/>");
        BOOST_TEST(all[i].stored_ms == 1000);
    }
    BOOST_TEST(first(2).size() == 2u, "offline: first_messages stops at its maximum");
}

BOOST_FIXTURE_TEST_CASE(the_quota_refuses_past_either_limit_and_writes_nothing, StoreFixture) {
    const Quota q{2, 64};
    BOOST_REQUIRE(add("<message id='a'/>", q).is_ok());
    BOOST_REQUIRE(add("<message id='b'/>", q).is_ok());
    Status s = add("<message id='c'/>", q);
    BOOST_TEST(s.code() == "quota", "offline: a third message passes a quota of 2: " << s.to_string());
    BOOST_TEST(info().count == 2u);
    BOOST_TEST(add(std::string(100, 'x'), Quota{10, 64}).code() == "quota", "offline: bytes are limited too");
    BOOST_TEST(info().count == 2u);
}

BOOST_FIXTURE_TEST_CASE(removing_updates_the_record_and_drops_it_with_the_last_message, StoreFixture) {
    for (int i = 0; i < 4; ++i) BOOST_REQUIRE(add("<message id='m" + std::to_string(i) + "'/>").is_ok());
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return remove(t, db, owner, {0, 1, 7}); }).is_ok());
    QueueInfo q = info();
    BOOST_TEST(q.count == 2u, "offline: an absent sequence number is ignored");
    BOOST_TEST(q.bytes == 2u * std::string("<message id='m0'/>").size());
    BOOST_TEST(first(10).front().seq == 2u);
    // Removing the same messages again (a flush repeated after a crash) changes nothing.
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return remove(t, db, owner, {0, 1}); }).is_ok());
    BOOST_TEST(info().count == 2u);
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return remove(t, db, owner, {2, 3}); }).is_ok());
    q = info();
    BOOST_TEST(q.count == 0u);
    BOOST_TEST(q.next_seq == 0u, "offline: the user record goes with the last message");
    BOOST_TEST(first(10).empty());
}

BOOST_FIXTURE_TEST_CASE(queues_of_different_accounts_do_not_mix, StoreFixture) {
    const std::string other = owner_key(jid("bo@example.org")).value();
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return append(t, db, other, 1, "<message id='x'/>", {}); }).is_ok());
    BOOST_REQUIRE(add("<message id='y'/>").is_ok());
    auto mine = first(10);
    BOOST_REQUIRE(mine.size() == 1u);
    BOOST_TEST(mine[0].xml == "<message id='y'/>");
}

// --- The stored form ---

BOOST_AUTO_TEST_CASE(stamps_are_xep_0082_utc_with_milliseconds) {
    BOOST_TEST(xep0082_stamp(0) == "1970-01-01T00:00:00.000Z");
    BOOST_TEST(xep0082_stamp(1714564800123) == "2024-05-01T12:00:00.123Z");
}

BOOST_AUTO_TEST_CASE(the_stored_copy_gets_the_servers_delay_and_loses_a_forged_one) {
    xml::Element m = message("alice@example.org/a", "bob@example.org", "hi");
    m.add_child("delay", kNsDelay).set_attr("from", "example.org");  // forged by the sender
    m.add_child("delay", kNsDelay).set_attr("from", "elsewhere.example");
    xml::Element s = with_delay(m, "example.org", 1714564800123);
    int ours = 0, theirs = 0;
    for (const xml::Element& c : s.children()) {
        if (c.name() != "delay") continue;
        if (c.attr_or("from") == "example.org") {
            ++ours;
            BOOST_TEST(c.attr_or("stamp") == "2024-05-01T12:00:00.123Z");
        } else {
            ++theirs;
        }
    }
    BOOST_TEST(ours == 1, "offline: exactly one delay from the server");
    BOOST_TEST(theirs == 1, "offline: another entity's delay is kept");
    BOOST_TEST(s.child("body", xmpp::kNsClient)->text() == "hi");
    BOOST_TEST(s.attr_or("to") == "bob@example.org");
    // What is stored parses back to the same tree.
    auto back = parse_stored(xml::to_string(s, xmpp::kNsClient));
    BOOST_REQUIRE_MESSAGE(back, "offline: " << back.status().to_string());
    BOOST_TEST((back.value() == s));
    BOOST_TEST(parse_stored("<message><body>cut").status().code() == "corrupt");
    BOOST_TEST(parse_stored("").status().code() == "corrupt");
    BOOST_TEST(parse_stored("<a/><b/>").status().code() == "corrupt");
}

BOOST_AUTO_TEST_CASE(only_chat_state_messages_are_recognised) {
    xml::Element typing("message", std::string(xmpp::kNsClient));
    typing.add_child("composing", kNsChatStates);
    typing.add_child("thread", std::string(xmpp::kNsClient)).add_text("t1");
    BOOST_TEST(chat_state_only(typing));
    xml::Element with_body = typing;
    with_body.add_child("body", std::string(xmpp::kNsClient)).add_text("hi");
    BOOST_TEST(!chat_state_only(with_body));
    xml::Element receipt("message", std::string(xmpp::kNsClient));
    receipt.add_child("received", "urn:xmpp:receipts");
    BOOST_TEST(!chat_state_only(receipt), "offline: a receipt is kept");
    BOOST_TEST(!chat_state_only(xml::Element("message", std::string(xmpp::kNsClient))));
}

BOOST_AUTO_TEST_CASE(options_follow_the_schema_and_a_message_limit_must_fit_the_quota) {
    BOOST_TEST(config::validate_section(section(small_limits()), kOptions, kOptionCount).is_ok());
    BOOST_TEST(!config::validate_section(section({{"max_messages_per_user", {int64_t{0}, 2}}}), kOptions, kOptionCount)
                    .is_ok());
    Offline m;
    BOOST_TEST(m.configure(section({})).is_ok());
    BOOST_TEST(m.settings().quota.max_messages == 1000u);
    Status s = m.configure(section({{"max_bytes_per_user", {int64_t{4096}, 2}}, {"max_message_bytes", {int64_t{8192}, 3}}}));
    BOOST_TEST(!s.is_ok());
    BOOST_TEST(s.message().find("max_message_bytes") != std::string::npos, s.to_string());
    BOOST_TEST(m.settings().quota.max_messages == 1000u, "offline: a refused configuration changes nothing");
}

BOOST_AUTO_TEST_CASE(start_fails_cleanly_without_storage) {
    test::FakeHost host;
    Offline m;
    BOOST_REQUIRE(m.configure(section({})).is_ok());
    BOOST_TEST(!m.start(host).is_ok());
    BOOST_TEST(host.features.empty(), "offline: nothing advertised when the module cannot store");
}

// --- A deleted account (FakeHost) ---

// The module on a FakeHost with FakeStorage, and the queues of accounts
// whose keys start alike: a node that is a prefix of another's, and a
// domain that is a prefix of another's.
struct PurgeFixture {
    test::FakeStorage storage;
    test::FakeHost host;
    Offline module;
    MDB_dbi db = 0;
    const std::vector<std::string> accounts = {"al@example.org", "alice@example.org", "al@example.org.evil",
                                               "al@example.net"};
    PurgeFixture() {
        host.database_factory = storage.factory();
        BOOST_REQUIRE(module.configure(section({})).is_ok());
        BOOST_REQUIRE(module.start(host).is_ok());
        db = storage.env().database("test.messages", kSchemaVersion).value();
        for (const auto& a : accounts)
            for (int i = 0; i < 3; ++i) {
                const std::string owner = owner_key(jid(a)).value();
                BOOST_REQUIRE(storage.env().write([&](store::Txn& t) {
                    return append(t, db, owner, 1000, "<message to='" + a + "'/>", Quota{});
                }));
            }
    }
    QueueInfo info(const std::string& who) {
        auto t = storage.env().begin_read();
        BOOST_REQUIRE(t);
        auto q = queue_info(t.value(), db, owner_key(jid(who)).value());
        BOOST_REQUIRE(q);
        return q.value();
    }
    size_t messages(const std::string& who) {
        auto t = storage.env().begin_read();
        BOOST_REQUIRE(t);
        auto m = first_messages(t.value(), db, owner_key(jid(who)).value(), 100);
        BOOST_REQUIRE(m);
        return m.value().size();
    }
    // Every key of the database.
    size_t keys() {
        auto t = storage.env().begin_read();
        BOOST_REQUIRE(t);
        size_t n = 0;
        BOOST_REQUIRE(t->scan(db, "", [&](std::string_view, std::string_view) { return ++n > 0; }));
        return n;
    }
};

BOOST_FIXTURE_TEST_CASE(a_deleted_accounts_queue_and_user_record_go_and_no_one_elses, PurgeFixture) {
    BOOST_REQUIRE(keys() == 4u * 4u);  // per account: 3 messages and the user record
    BOOST_REQUIRE(info("al@example.org").count == 3u);
    BOOST_REQUIRE(host.account_deleted.size() == 1u);
    BOOST_TEST(host.delete_account(jid("al@example.org")).empty(), "offline: done waits for the write");
    BOOST_TEST(messages("al@example.org") == 3u, "offline: nothing removed before the write commits");
    BOOST_TEST(storage.complete() == 1u);
    BOOST_REQUIRE(host.purge_results->size() == 1u);
    BOOST_TEST(host.purge_results->front().is_ok());
    BOOST_TEST(messages("al@example.org") == 0u);
    const QueueInfo gone = info("al@example.org");
    BOOST_TEST((gone.count == 0u && gone.bytes == 0u && gone.next_seq == 0u), "offline: the user record is gone");
    for (size_t i = 1; i < accounts.size(); ++i) {
        BOOST_TEST(messages(accounts[i]) == 3u, "offline: " << accounts[i] << " keeps its queue");
        BOOST_TEST(info(accounts[i]).count == 3u);
    }
    BOOST_TEST(keys() == 3u * 4u);
    // An account with nothing stored: ok as well.
    host.delete_account(jid("nobody@example.org"));
    storage.complete();
    BOOST_REQUIRE(host.purge_results->size() == 1u);
    BOOST_TEST(host.purge_results->front().is_ok());
    BOOST_TEST(keys() == 3u * 4u);
}

BOOST_FIXTURE_TEST_CASE(a_purge_the_writer_refuses_reports_the_error, PurgeFixture) {
    storage.busy = true;
    auto results = host.delete_account(jid("alice@example.org"));
    BOOST_REQUIRE(results.size() == 1u);
    BOOST_TEST(results[0].code() == "busy");
    storage.busy = false;
    BOOST_TEST(storage.complete() == 0u);
    BOOST_TEST(host.purge_results->size() == 1u, "offline: done ran once");
    BOOST_TEST(messages("alice@example.org") == 3u, "offline: refused, so nothing removed");
    // A failed write is an error too.
    storage.fail_writes = 1;
    host.delete_account(jid("alice@example.org"));
    storage.complete();
    BOOST_REQUIRE(host.purge_results->size() == 1u);
    BOOST_TEST(!host.purge_results->front().is_ok());
    BOOST_TEST(messages("alice@example.org") == 3u);
}

// --- The module on two workers ---

BOOST_FIXTURE_TEST_CASE(stored_without_a_bounce_and_delivered_in_each_senders_order_with_a_delay, OfflineFixture) {
    auto& alice = bind(0, "alice@example.org/a");
    auto& carol = bind(1, "carol@example.org/c");
    for (int i = 0; i < 10; ++i) {
        send(0, message("alice@example.org/a", "bob@example.org", "a" + std::to_string(i)));
        send(1, message("carol@example.org/c", "bob@example.org", "c" + std::to_string(i)));
    }
    wait_for(done, 20);
    BOOST_TEST(ids(0, alice).empty(), "offline: a stored message is not bounced");
    BOOST_TEST(ids(1, carol).empty());
    BOOST_TEST(queue("bob@example.org").count == 20u);

    auto& bob = bind(1, "bob@example.org/phone");
    come_online(1, bob);
    wait_for(flushes, 1);
    auto got = received(1, bob);
    BOOST_REQUIRE(got.size() == 20u);
    std::vector<std::string> from_alice, from_carol;
    for (const auto& m : got) {
        const std::string id(m.attr_or("id"));
        (id[0] == 'a' ? from_alice : from_carol).push_back(id);
        const xml::Element* d = m.child("delay", kNsDelay);
        BOOST_REQUIRE_MESSAGE(d, "offline: a delivered message carries a delay");
        BOOST_TEST(d->attr_or("from") == "example.org");
        BOOST_TEST(d->attr_or("stamp").size() == std::string("2024-05-01T12:00:00.123Z").size());
        BOOST_TEST(m.child("body", xmpp::kNsClient)->text() == id);
    }
    for (int i = 0; i < 10; ++i) {
        BOOST_TEST(from_alice[i] == "a" + std::to_string(i));
        BOOST_TEST(from_carol[i] == "c" + std::to_string(i));
    }
    BOOST_TEST(queue("bob@example.org").count == 0u, "offline: delivered messages are deleted");
    auto features = std::vector<std::string>();
    on(0, [&](loop::Worker& w) { features = w.hooks().features(); });
    BOOST_TEST((std::find(features.begin(), features.end(), "msgoffline") != features.end()));
}

BOOST_FIXTURE_TEST_CASE(more_than_one_batch_arrives_complete_and_in_order, OfflineFixture) {
    bind(0, "alice@example.org/a");
    const int n = static_cast<int>(kBatch) * 2 + 17;
    for (int i = 0; i < n; ++i) send(0, message("alice@example.org/a", "bob@example.org", std::to_string(i)));
    wait_for(done, n);
    auto& bob = bind(0, "bob@example.org/phone");
    come_online(0, bob);
    wait_for(flushes, 1);
    auto got = ids(0, bob);
    BOOST_REQUIRE(got.size() == static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) BOOST_TEST(got[i] == std::to_string(i));
    BOOST_TEST(queue("bob@example.org").count == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_message_to_an_offline_full_jid_is_stored_for_the_account, OfflineFixture) {
    auto& alice = bind(0, "alice@example.org/a");
    send(0, message("alice@example.org/a", "bob@example.org/laptop", "m1"));
    wait_for(done, 1);
    BOOST_TEST(ids(0, alice).empty());
    BOOST_TEST(queue("bob@example.org").count == 1u);
    auto& bob = bind(1, "bob@example.org/phone");
    come_online(1, bob);
    wait_for(flushes, 1);
    BOOST_TEST(ids(1, bob) == std::vector<std::string>{"m1"});
}

BOOST_FIXTURE_TEST_CASE(a_missing_account_gets_the_same_bounce_as_without_the_module, OfflineFixture) {
    auto& alice = bind(0, "alice@example.org/a");
    send(0, message("alice@example.org/a", "nobody@example.org", "m1"));
    wait_for(done, 1);
    auto got = received(0, alice);
    BOOST_REQUIRE(got.size() == 1u);
    const StanzaError expected = recipient_unavailable();
    BOOST_TEST(got[0].attr_or("type") == "error");
    BOOST_TEST(condition_of(got[0]) == expected.condition);
    BOOST_TEST(error_of(got[0])->attr_or("type") == expected.type);
    BOOST_TEST(queue("nobody@example.org").count == 0u);
}

BOOST_FIXTURE_TEST_CASE(headline_groupchat_chat_states_and_no_store_are_not_stored, OfflineFixture) {
    auto& alice = bind(0, "alice@example.org/a");
    send(0, message("alice@example.org/a", "bob@example.org", "h1", "headline"));
    send(0, message("alice@example.org/a", "bob@example.org", "g1", "groupchat"));
    xml::Element typing("message", std::string(xmpp::kNsClient));
    typing.set_attr("from", "alice@example.org/a");
    typing.set_attr("to", "bob@example.org");
    typing.set_attr("type", "chat");
    typing.set_attr("id", "t1");
    typing.add_child("composing", kNsChatStates);
    send(0, typing);
    xml::Element private_one = message("alice@example.org/a", "bob@example.org", "n1");
    private_one.add_child("no-store", kNsHints);
    send(0, private_one);
    wait_for(done, 4);
    // Headline: dropped by the router (§8.5.2.1.1); groupchat: bounced;
    // chat states: dropped quietly; no-store: the default bounce.
    BOOST_TEST(ids(0, alice) == (std::vector<std::string>{"error:g1", "error:n1"}));
    for (const auto& e : received(0, alice)) BOOST_TEST(condition_of(e) == "service-unavailable");
    BOOST_TEST(queue("bob@example.org").count == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_full_queue_bounces_with_resource_constraint_and_a_large_stanza_with_policy_violation,
                        SmallLimitsFixture) {
    auto& alice = bind(0, "alice@example.org/a");
    for (int i = 0; i < 4; ++i) send(0, message("alice@example.org/a", "bob@example.org", "m" + std::to_string(i)));
    wait_for(done, 4);
    auto got = received(0, alice);
    BOOST_REQUIRE(got.size() == 1u);
    BOOST_TEST(got[0].attr_or("id") == "m3");
    BOOST_TEST(condition_of(got[0]) == "resource-constraint");
    BOOST_TEST(error_of(got[0])->attr_or("type") == "wait");
    BOOST_TEST(error_of(got[0])->child("text", xmpp::kNsStanzas) != nullptr, "offline: the bounce says why");
    BOOST_TEST(queue("bob@example.org").count == 3u);

    send(0, message("alice@example.org/a", "carol@example.org", std::string(2000, 'x')));
    wait_for(done, 5);
    got = received(0, alice);
    BOOST_REQUIRE(got.size() == 2u);
    BOOST_TEST(condition_of(got[1]) == "policy-violation");
    BOOST_TEST(queue("carol@example.org").count == 0u);
}

BOOST_FIXTURE_TEST_CASE(two_sessions_coming_online_on_two_workers_get_the_queue_once_in_total, OfflineFixture) {
    bind(0, "alice@example.org/a");
    for (int i = 0; i < 30; ++i) send(0, message("alice@example.org/a", "bob@example.org", std::to_string(i)));
    wait_for(done, 30);
    auto& b0 = bind(0, "bob@example.org/zero");
    auto& b1 = bind(1, "bob@example.org/one");
    // Both events at once, each on its own worker.
    std::promise<void> p0, p1;
    for (unsigned i = 0; i < 2; ++i) {
        test::FakeSession* s = i == 0 ? &b0 : &b1;
        std::promise<void>* p = i == 0 ? &p0 : &p1;
        BOOST_REQUIRE(workers[i]->post([s, p, i](loop::Worker& w) {
            w.hooks().fire(module::SessionEvent::available,
                           sessions::SessionEntry{s->full_jid(), sessions::SessionRef{i, s->session_id()}, true, 0});
            p->set_value();
        }));
    }
    p0.get_future().get();
    p1.get_future().get();
    wait_for(flushes, 2);
    auto got0 = ids(0, b0), got1 = ids(1, b1);
    BOOST_TEST(got0.size() + got1.size() == 30u, "offline: each message once in total");
    std::set<std::string> all(got0.begin(), got0.end());
    all.insert(got1.begin(), got1.end());
    BOOST_TEST(all.size() == 30u, "offline: no message twice");
    BOOST_TEST(queue("bob@example.org").count == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_negative_priority_session_receives_nothing_until_it_raises_it, OfflineFixture) {
    auto& alice = bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/quiet", -1);
    come_online(1, bob, -1);
    send(0, message("alice@example.org/a", "bob@example.org", "m1"));
    wait_for(done, 1);
    BOOST_TEST(ids(0, alice).empty());
    BOOST_TEST(ids(1, bob).empty(), "offline: nothing for a negative priority");
    BOOST_TEST(queue("bob@example.org").count == 1u);
    // Its presence with priority 1, as c2s handles it: stanza_in hooks, then the registry.
    on(1, [&](loop::Worker& w) {
        xml::Element p("presence", std::string(xmpp::kNsClient));
        p.add_child("priority", std::string(xmpp::kNsClient)).add_text("1");
        const xmpp::Jid none;
        module::StanzaContext ctx{p, bob.full_jid(), none, true};
        w.hooks().run(module::HookPoint::stanza_in, ctx);
        registry.set_presence(bob.full_jid(), sessions::SessionRef{1, bob.session_id()}, true, 1);
    });
    wait_for(flushes, 1);
    BOOST_TEST(ids(1, bob) == std::vector<std::string>{"m1"});
}

BOOST_FIXTURE_TEST_CASE(a_message_stored_while_the_recipient_comes_online_is_delivered_without_a_new_login,
                        OfflineFixture) {
    bind(0, "alice@example.org/a");
    auto& bob = bind(1, "bob@example.org/phone");
    on(1, [&](loop::Worker&) {
        registry.set_presence(bob.full_jid(), sessions::SessionRef{1, bob.session_id()}, false, 0);
    });
    // The router decides "offline", then the presence is recorded before
    // the write completes; no `available` event is seen by the module.
    on(0, [&](loop::Worker& w) {
        w.router().route(message("alice@example.org/a", "bob@example.org", "m1"), jid("alice@example.org/a"),
                         jid("bob@example.org"), module::Origin::local_client);
        registry.set_presence(bob.full_jid(), sessions::SessionRef{1, bob.session_id()}, true, 0);
    });
    wait_for(done, 1);
    wait_for(flushes, 1);
    BOOST_TEST(ids(1, bob) == std::vector<std::string>{"m1"});
    BOOST_TEST(queue("bob@example.org").count == 0u);
}

BOOST_FIXTURE_TEST_CASE(a_session_gone_before_its_flush_leaves_the_queue_for_the_next_login, OfflineFixture) {
    bind(0, "alice@example.org/a");
    send(0, message("alice@example.org/a", "bob@example.org", "m1"));
    wait_for(done, 1);
    auto& bob = bind(1, "bob@example.org/phone");
    on(1, [&](loop::Worker& w) {
        registry.unbind(bob.full_jid(), sessions::SessionRef{1, bob.session_id()});
        w.hooks().fire(module::SessionEvent::available,
                       sessions::SessionEntry{bob.full_jid(), sessions::SessionRef{1, bob.session_id()}, true, 0});
    });
    wait_for(flushes, 1);
    BOOST_TEST(ids(1, bob).empty());
    BOOST_TEST(queue("bob@example.org").count == 1u, "offline: not deleted when not handed over");
    auto& again = bind(0, "bob@example.org/laptop");
    come_online(0, again);
    wait_for(flushes, 2);
    BOOST_TEST(ids(0, again) == std::vector<std::string>{"m1"});
}

BOOST_AUTO_TEST_SUITE_END()

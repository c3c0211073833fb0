#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <future>
#include <thread>

#include "loop/end_sessions.hpp"
#include "loop/host_accounts.hpp"
#include "store/accounts.hpp"
#include "support/seams_fixture.hpp"

using namespace parley;
using test::jid;

namespace {

// Runs an account operation on worker 0 through a real WorkerHost and waits
// (bounded) for its completion, which must come on that worker.
struct AccountsFixture : test::SeamsFixture {
    Status run(const std::function<void(module::Accounts&, std::function<void(Status)>)>& op) {
        auto done = std::make_shared<std::promise<std::pair<Status, std::thread::id>>>();
        auto fut = done->get_future();
        std::thread::id worker_thread;
        on(0, [&](loop::Worker&) {
            worker_thread = std::this_thread::get_id();
            op(hosts[0]->accounts(),
               [done](Status s) { done->set_value({std::move(s), std::this_thread::get_id()}); });
        });
        BOOST_REQUIRE_MESSAGE(fut.wait_for(std::chrono::seconds(30)) == std::future_status::ready,
                              "accounts: no completion");
        auto [s, thread] = fut.get();
        BOOST_TEST((thread == worker_thread), "accounts: the completion runs on the asking worker");
        settle();
        return s;
    }
    bool ended(unsigned w, test::FakeSession& s) {
        bool e = false;
        on(w, [&](loop::Worker&) { e = s.ended; });
        return e;
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(loop_host_accounts, AccountsFixture)

BOOST_AUTO_TEST_CASE(create_uses_the_store_and_its_rules) {
    Status s = run([](module::Accounts& a, auto done) { a.create(jid("dave@example.org"), "dave-password", done); });
    BOOST_REQUIRE_MESSAGE(s, "accounts: create: " << s.to_string());
    auto ok = accounts->check_password("dave", kDomain, "dave-password");
    BOOST_REQUIRE(ok);
    BOOST_TEST(ok.value(), "accounts: the new password logs in");
    auto stored = accounts->get("dave", kDomain);
    BOOST_REQUIRE(stored && stored.value());
    for (const auto& c : stored.value()->scram)
        BOOST_TEST(c.iterations == shared.config()->sasl.scram_iterations, "accounts: the configured iterations");
    BOOST_TEST(run([](module::Accounts& a, auto done) { a.create(jid("dave@example.org"), "other", done); }).code() ==
               "exists");
    BOOST_TEST(run([](module::Accounts& a, auto done) { a.create(jid("erin@example.org"), "", done); }).code() ==
               "invalid");
    BOOST_TEST(run([](module::Accounts& a, auto done) { a.create(jid("erin@elsewhere.example"), "pw", done); })
                   .code() == "invalid");
    BOOST_TEST(!accounts->exists("erin", kDomain).value());
    on(0, [&](loop::Worker&) {
        BOOST_TEST(hosts[0]->accounts().exists(jid("dave@example.org")).value());
        BOOST_TEST(!hosts[0]->accounts().exists(jid("nobody@example.org")).value());
    });
}

BOOST_AUTO_TEST_CASE(modules_check_passwords_with_the_stores_rules) {
    on(0, [&](loop::Worker&) {
        const module::Accounts& a = hosts[0]->accounts();
        for (const std::string& pw : std::vector<std::string>{"", "line\nbreak", std::string(1024, 'x'), "\xff\xfe"}) {
            Status s = a.check_new_password(pw);
            BOOST_TEST(s.code() == "invalid", "accounts: refused: " << s.to_string());
            BOOST_TEST(s.message() == store::check_new_password(pw).message(), "accounts: the store's rule and text");
            if (!pw.empty())
                BOOST_TEST(s.message().find(pw) == std::string::npos, "accounts: the text never holds the password");
        }
        BOOST_TEST(a.check_new_password("a fine password").is_ok());
        BOOST_TEST(a.check_new_password(std::string(1023, 'x')).is_ok());
    });
}

BOOST_AUTO_TEST_CASE(a_new_password_ends_the_other_sessions_only) {
    auto& phone = bind(0, "alice@example.org/phone");
    auto& laptop = bind(1, "alice@example.org/laptop");
    auto& bob = bind(1, "bob@example.org/desk");
    Status s = run([](module::Accounts& a, auto done) {
        a.set_password(jid("alice@example.org"), "new-password", jid("alice@example.org/phone"), done);
    });
    BOOST_REQUIRE_MESSAGE(s, "accounts: set_password: " << s.to_string());
    BOOST_TEST(accounts->check_password("alice", kDomain, "new-password").value());
    BOOST_TEST(!accounts->check_password("alice", kDomain, "secret-password").value());
    BOOST_TEST(!ended(0, phone), "accounts: the session that asked stays");
    BOOST_TEST(ended(1, laptop), "accounts: the other session, on the other worker, ends");
    BOOST_TEST(!ended(1, bob));
    BOOST_TEST(run([](module::Accounts& a, auto done) {
                   a.set_password(jid("nobody@example.org"), "pw", xmpp::Jid(), done);
               }).code() == "not-found");
}

BOOST_AUTO_TEST_CASE(remove_deletes_and_ends_every_session) {
    auto& phone = bind(0, "carol@example.org/phone");
    auto& laptop = bind(1, "carol@example.org/laptop");
    Status s = run([](module::Accounts& a, auto done) { a.remove(jid("carol@example.org"), "gone", done); });
    BOOST_REQUIRE_MESSAGE(s, "accounts: remove: " << s.to_string());
    BOOST_TEST(!accounts->exists("carol", kDomain).value());
    BOOST_TEST(ended(0, phone));
    BOOST_TEST(ended(1, laptop));
    BOOST_TEST(run([](module::Accounts& a, auto done) { a.remove(jid("carol@example.org"), "gone", done); }).code() ==
               "not-found");
}

BOOST_AUTO_TEST_CASE(sessions_named_picks_one_session_or_all_of_an_account) {
    bind(0, "alice@example.org/a");
    bind(1, "alice@example.org/b");
    bind(1, "bob@example.org/a");
    BOOST_TEST(loop::sessions_named(registry, jid("alice@example.org")).size() == 2u);
    auto one = loop::sessions_named(registry, jid("alice@example.org/b"));
    BOOST_REQUIRE(one.size() == 1u);
    BOOST_TEST(one[0].ref.worker == 1u);
    BOOST_TEST(loop::sessions_named(registry, jid("alice@example.org/c")).empty());
    BOOST_TEST(loop::sessions_named(registry, jid("alice@example.org"), jid("alice@example.org/a")).size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_stopped_module_gets_no_completion) {
    int called = 0;
    on(0, [&](loop::Worker&) {
        hosts[0]->accounts().create(jid("frank@example.org"), "frank-password", [&called](Status) { ++called; });
        hosts[0]->drop_all();  // the module stops while the job runs
    });
    // The job still finishes (the account is written); its completion is
    // dropped. Wait for the worker's count of running jobs to reach zero
    // (bounded).
    uint32_t running = 1;
    for (int i = 0; i < 100000 && running != 0; ++i) on(0, [&](loop::Worker&) { running = loop::HostAccounts::queued(); });
    BOOST_REQUIRE(running == 0u);
    BOOST_TEST(accounts->exists("frank", kDomain).value());
    on(0, [&](loop::Worker&) { BOOST_TEST(called == 0, "accounts: no done after stop"); });
}

BOOST_AUTO_TEST_SUITE_END()

// The invitations a module reaches through its host (Host::invitations,
// loop/host_invitations.hpp), on two running workers: tokens made as
// parleyctl makes them are found in the same database, used once per use,
// expired ones refused, uses given back (never past what was made), a race
// for the last use won once, and nothing completes for a stopped module.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <ctime>
#include <future>
#include <thread>

#include "loop/host_invitations.hpp"
#include "store/invites.hpp"
#include "support/seams_fixture.hpp"

using namespace parley;
namespace inv = parley::store::invites;
using Kind = module::InvitationUse::Kind;

namespace {

struct InvitationsFixture : test::SeamsFixture {
    // An invitation made and stored as `parleyctl invite create` does: with
    // the store's functions, in the database it opens by its full name.
    std::string make(uint32_t uses, int64_t created, int64_t expires = 0) {
        auto made = inv::make(uses, created, expires);
        BOOST_REQUIRE_MESSAGE(made, "invitations: make: " << made.status().to_string());
        auto db = env->database(inv::kDatabase, inv::kSchemaVersion);
        BOOST_REQUIRE_MESSAGE(db, "invitations: database: " << db.status().to_string());
        BOOST_REQUIRE(env->write([&](store::Txn& t) { return inv::put(t, db.value(), made->invite); }).is_ok());
        ids.push_back(made->invite.id);
        return made->token;
    }
    // What parleyctl's `invite list` would show.
    std::vector<inv::Invite> list() {
        auto db = env->database(inv::kDatabase, inv::kSchemaVersion);
        BOOST_REQUIRE(db);
        auto txn = env->begin_read();
        BOOST_REQUIRE(txn);
        auto l = inv::list(txn.value(), db.value());
        BOOST_REQUIRE(l);
        return l.value();
    }
    module::Invitations& invitations(unsigned w) {
        auto i = hosts[w]->invitations();
        BOOST_REQUIRE_MESSAGE(i, "invitations: " << i.status().to_string());
        return *i.value();
    }
    // Runs `op` on worker w and waits (bounded) for its completion, which
    // must come on that worker.
    template <class T>
    T run(unsigned w, const std::function<void(module::Invitations&, std::function<void(T)>)>& op) {
        auto done = std::make_shared<std::promise<std::pair<T, std::thread::id>>>();
        auto fut = done->get_future();
        std::thread::id worker_thread;
        on(w, [&](loop::Worker&) {
            worker_thread = std::this_thread::get_id();
            op(invitations(w), [done](T v) { done->set_value({std::move(v), std::this_thread::get_id()}); });
        });
        BOOST_REQUIRE_MESSAGE(fut.wait_for(std::chrono::seconds(30)) == std::future_status::ready,
                              "invitations: no completion");
        auto [v, thread] = fut.get();
        BOOST_TEST((thread == worker_thread), "invitations: the completion runs on the asking worker");
        return std::move(v);
    }
    module::InvitationUse use(unsigned w, const std::string& token) {
        auto r = run<Result<module::InvitationUse>>(w, [token](module::Invitations& i, auto done) { i.use(token, done); });
        BOOST_REQUIRE_MESSAGE(r, "invitations: use: " << r.status().to_string());
        return r.value();
    }
    Status give_back(unsigned w, const module::InvitationUse& u) {
        return run<Status>(w, [u](module::Invitations& i, auto done) { i.give_back(u, done); });
    }
    std::vector<std::string> ids;
};

int64_t now() { return static_cast<int64_t>(std::time(nullptr)); }

}  // namespace

BOOST_FIXTURE_TEST_SUITE(loop_host_invitations, InvitationsFixture)

BOOST_AUTO_TEST_CASE(a_token_parleyctl_made_is_used_once_per_use_and_given_back) {
    const std::string token = make(2, now());
    auto first = use(0, token);
    BOOST_TEST((first.kind == Kind::ok));
    BOOST_TEST(first.id == ids[0], "invitations: the public id, for the log");
    BOOST_TEST(first.receipt.find(token) == std::string::npos, "invitations: the receipt holds no token");
    BOOST_REQUIRE(list().size() == 1u);
    BOOST_TEST(list()[0].uses_left == 1u, "invitations: one use taken, in the database parleyctl reads");
    // The same invitation from the other worker: its last use.
    auto second = use(1, "  " + token + " ");
    BOOST_TEST((second.kind == Kind::ok), "invitations: spaces around the token are ignored");
    BOOST_TEST(list().empty(), "invitations: the last use removes it");
    BOOST_TEST((use(0, token).kind == Kind::unknown), "invitations: used up");
    // Given back: the record as it was, then one more use, never past two.
    BOOST_REQUIRE(give_back(1, second).is_ok());
    BOOST_REQUIRE(list().size() == 1u);
    BOOST_TEST(list()[0].uses_left == 1u);
    BOOST_REQUIRE(give_back(0, first).is_ok());
    BOOST_TEST(list()[0].uses_left == 2u);
    BOOST_REQUIRE(give_back(0, first).is_ok());
    BOOST_TEST(list()[0].uses_left == 2u, "invitations: never more than it was made for");
    BOOST_TEST((use(0, token).kind == Kind::ok), "invitations: a given-back use works");
}

BOOST_AUTO_TEST_CASE(unknown_and_expired_tokens_are_outcomes_not_errors) {
    BOOST_TEST((use(0, std::string(40, 'a')).kind == Kind::unknown));
    BOOST_TEST((use(0, "not a token").kind == Kind::unknown));
    // Made a while ago, expired a minute ago.
    const std::string old = make(3, now() - 3600, now() - 60);
    auto u = use(1, old);
    BOOST_TEST((u.kind == Kind::expired));
    BOOST_TEST(u.id == ids[0]);
    BOOST_TEST(u.receipt.empty(), "invitations: nothing to give back");
    BOOST_TEST(list().empty(), "invitations: an expired one is deleted when tried");
    // Only a use can be given back.
    BOOST_TEST(give_back(0, u).code() == "invalid");
    module::InvitationUse forged{Kind::ok, "aaaaaaaa", "not a receipt"};
    BOOST_TEST(give_back(0, forged).code() == "invalid");
    BOOST_TEST(list().empty(), "invitations: nothing was made up");
}

BOOST_AUTO_TEST_CASE(two_workers_racing_for_the_last_use_get_it_once) {
    const std::string token = make(1, now());
    std::atomic<int> ok{0}, unknown{0}, done{0};
    std::promise<void> both;
    auto both_done = both.get_future();
    for (unsigned w = 0; w < 2; ++w)
        on(w, [&, w](loop::Worker&) {
            invitations(w).use(token, [&](Result<module::InvitationUse> r) {
                if (r && r->kind == Kind::ok) ++ok;
                if (r && r->kind == Kind::unknown) ++unknown;
                if (++done == 2) both.set_value();
            });
        });
    BOOST_REQUIRE_MESSAGE(both_done.wait_for(std::chrono::seconds(30)) == std::future_status::ready,
                          "invitations: no completion");
    BOOST_TEST(ok.load() == 1, "invitations: one registration has it");
    BOOST_TEST(unknown.load() == 1, "invitations: the other finds it used up");
}

BOOST_AUTO_TEST_CASE(a_stopped_module_gets_no_completion) {
    const std::string token = make(1, now());
    int called = 0;
    on(0, [&](loop::Worker&) {
        invitations(0).use(token, [&called](Result<module::InvitationUse>) { ++called; });
        hosts[0]->drop_all();  // the module stops while the write waits
    });
    // The write still commits. A later write of this worker goes through
    // the same writer after it, so once its completion ran on the worker,
    // the first one's would have run too.
    auto sentinel = run<Result<module::InvitationUse>>(
        0, [](module::Invitations& i, auto done) { i.use(std::string(40, 'b'), done); });
    BOOST_TEST(sentinel.is_ok());
    BOOST_TEST(list().empty(), "invitations: the use was committed");
    on(0, [&](loop::Worker&) { BOOST_TEST(called == 0, "invitations: no done after stop"); });
}

BOOST_AUTO_TEST_SUITE_END()

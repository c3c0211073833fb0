#define BOOST_TEST_DYN_LINK
#include "store/accounts.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <tuple>

#include <boost/test/unit_test.hpp>

#include "store/env.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
using parley::store::AccountStore;
using parley::store::Env;

namespace {

constexpr const char* kDomain = "example.org";

struct AccountsFixture {
    test::TempDir tmp;
    std::string dir = tmp.sub("state");
    std::unique_ptr<Env> env;
    std::unique_ptr<AccountStore> accounts;

    AccountsFixture() {
        auto e = Env::open(dir, size_t{16} << 20);
        BOOST_REQUIRE_MESSAGE(e, "store: Env::open: " << e.status().to_string());
        env = std::move(e.value());
        auto a = AccountStore::open(*env);
        BOOST_REQUIRE_MESSAGE(a, "store: AccountStore::open: " << a.status().to_string());
        accounts = std::move(a.value());
    }
    ~AccountsFixture() {
        accounts.reset();
        env.reset();
    }
    void create(const std::string& node, const std::string& domain = kDomain,
                const std::string& pw = "pw") {
        Status s = accounts->create(node, domain, pw, 4096);
        BOOST_REQUIRE_MESSAGE(s,
                              "store: create " << node << "@" << domain << ": " << s.to_string());
    }
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(store_accounts, AccountsFixture)

BOOST_AUTO_TEST_CASE(create_get_exists) {
    BOOST_TEST(!accounts->exists("alice", kDomain).value());
    BOOST_TEST(!accounts->get("alice", kDomain).value().has_value());
    const auto before = std::time(nullptr);
    create("alice");
    BOOST_TEST(accounts->exists("alice", kDomain).value());
    BOOST_TEST(!accounts->exists("alice", "example.net").value(), "store: accounts are per domain");
    auto a = accounts->get("alice", kDomain);
    BOOST_REQUIRE(a && a.value());
    const store::Account& acc = *a.value();
    BOOST_TEST(acc.node == "alice");
    BOOST_TEST(acc.domain == kDomain);
    BOOST_TEST(acc.created_unix >= before);
    BOOST_REQUIRE(acc.scram.size() == 2u);
    BOOST_TEST(acc.scram[0].mechanism == "SCRAM-SHA-1");
    BOOST_TEST(acc.scram[1].mechanism == "SCRAM-SHA-256");
    for (const auto& c : acc.scram) {
        BOOST_TEST(c.iterations == 4096u);
        BOOST_TEST(c.salt.size() == store::scram::kSaltBytes);
        auto again = store::scram::derive(c.mechanism, "pw", c.salt, c.iterations);
        BOOST_REQUIRE(again);
        BOOST_TEST(again->stored_key == c.stored_key,
                   "store: the stored keys are the SCRAM keys of the password");
        BOOST_TEST(again->server_key == c.server_key);
        BOOST_TEST(store::scram::from_rfc5803(store::scram::to_rfc5803(c)).is_ok());
    }
    BOOST_TEST(acc.scram[0].salt != acc.scram[1].salt, "store: each credential has its own salt");
    Status twice = accounts->create("alice", kDomain, "other");
    BOOST_TEST(twice.code() == "exists", twice.to_string());
    BOOST_TEST(accounts->check_password("alice", kDomain, "pw").value(),
               "store: a failed create keeps the old password");
}

BOOST_AUTO_TEST_CASE(invalid_names) {
    BOOST_TEST(accounts->create("", kDomain, "pw").code() == "invalid");
    BOOST_TEST(accounts->create("bob", "", "pw").code() == "invalid");
    BOOST_TEST(accounts->create(std::string(600, 'n'), kDomain, "pw").code() == "invalid");
    BOOST_TEST(!accounts->exists("", kDomain).value());
    BOOST_TEST(!accounts->get(std::string(600, 'n'), kDomain).value().has_value());
    BOOST_TEST(accounts->remove("", kDomain).code() == "not-found");
}

BOOST_AUTO_TEST_CASE(list_is_sorted_and_per_domain) {
    for (const char* n : {"zed", "bob", "alice", "al", "carol-long-name"}) create(n);
    create("dave", "example.org.uk");
    create("erin", "a.example");
    auto l = accounts->list(kDomain);
    BOOST_REQUIRE(l);
    BOOST_TEST(
        (l.value() == std::vector<std::string>{"al", "alice", "bob", "carol-long-name", "zed"}),
        "store: list gives the nodes of one domain, sorted");
    BOOST_TEST((accounts->list("example.org.uk").value() == std::vector<std::string>{"dave"}));
    BOOST_TEST(accounts->list("nobody.example").value().empty());
    auto all = accounts->list("");
    BOOST_REQUIRE(all);
    BOOST_TEST((all.value() ==
                std::vector<std::string>{"al@example.org", "alice@example.org", "bob@example.org",
                                         "carol-long-name@example.org", "dave@example.org.uk",
                                         "erin@a.example", "zed@example.org"}));
}

BOOST_AUTO_TEST_CASE(remove_and_set_password) {
    create("alice", kDomain, "old password");
    auto before = accounts->get("alice", kDomain).value();
    BOOST_TEST(accounts->set_password("bob", kDomain, "x").code() == "not-found");
    BOOST_TEST(accounts->remove("bob", kDomain).code() == "not-found");
    BOOST_REQUIRE(accounts->set_password("alice", kDomain, "new password", 5000));
    auto after = accounts->get("alice", kDomain).value();
    BOOST_REQUIRE(after && before);
    BOOST_TEST(after->created_unix == before->created_unix,
               "store: set_password keeps the creation time");
    BOOST_TEST(after->scram[0].iterations == 5000u);
    BOOST_TEST(after->scram[0].salt != before->scram[0].salt,
               "store: a new password gets new salts");
    BOOST_TEST(!accounts->check_password("alice", kDomain, "old password").value());
    BOOST_TEST(accounts->check_password("alice", kDomain, "new password").value());
    BOOST_REQUIRE(accounts->remove("alice", kDomain));
    BOOST_TEST(!accounts->exists("alice", kDomain).value());
    BOOST_TEST(accounts->remove("alice", kDomain).code() == "not-found");
    BOOST_TEST(accounts->list(kDomain).value().empty());
}

BOOST_AUTO_TEST_CASE(a_deleted_account_leaves_a_tombstone_until_purged) {
    create("alice", kDomain, "pw");
    create("bob", "example.net", "pw");
    BOOST_TEST(accounts->deleted(10).value().empty());
    const auto before = std::time(nullptr);
    BOOST_REQUIRE(accounts->remove("alice", kDomain));
    BOOST_REQUIRE(accounts->remove("bob", "example.net"));
    auto gone = accounts->deleted(10).value();
    BOOST_REQUIRE(gone.size() == 2u);
    // In key order: by domain, then node.
    BOOST_TEST(gone[0].node + "@" + gone[0].domain == "bob@example.net");
    BOOST_TEST(gone[1].node + "@" + gone[1].domain == "alice@" + std::string(kDomain));
    BOOST_TEST(gone[1].deleted_unix >= before);
    BOOST_TEST(accounts->deleted(1).value().size() == 1u, "store: at most `max` tombstones");
    // The name stays taken until the modules removed the old account's data.
    auto again = accounts->create("alice", kDomain, "pw2");
    BOOST_TEST(again.code() == "exists", "store: no new account inherits a deleted one's data");
    BOOST_TEST(again.message().find("was deleted") != std::string::npos);
    BOOST_TEST(!accounts->exists("alice", kDomain).value());
    BOOST_REQUIRE(accounts->forget_deleted("alice", kDomain));
    BOOST_REQUIRE(accounts->forget_deleted("alice", kDomain));  // already gone: fine
    BOOST_TEST(accounts->deleted(10).value().size() == 1u);
    BOOST_TEST(accounts->create("alice", kDomain, "pw2").is_ok());
}

BOOST_AUTO_TEST_CASE(check_password_right_wrong_unknown) {
    create("alice", kDomain, "correct horse");
    BOOST_TEST(accounts->check_password("alice", kDomain, "correct horse").value());
    BOOST_TEST(!accounts->check_password("alice", kDomain, "correct horsE").value());
    BOOST_TEST(!accounts->check_password("alice", kDomain, "").value());
    BOOST_TEST(!accounts->check_password("alice", "example.net", "correct horse").value());
    auto unknown = accounts->check_password("nobody", kDomain, "correct horse");
    BOOST_REQUIRE(unknown);
    BOOST_TEST(!unknown.value(), "store: an unknown account is false, not an error");
}

BOOST_AUTO_TEST_CASE(typical_iterations_follow_the_domains_accounts) {
    // No account: the fallback (what new accounts would get).
    BOOST_TEST(accounts->typical_iterations(kDomain, 7777) == 7777u);
    // Accounts made before [sasl] scram_iterations changed keep their count:
    // that count is what a real account shows, whatever the fallback.
    for (const char* n : {"a", "bob", "carol", "x", "zed"}) BOOST_REQUIRE(accounts->create(n, kDomain, "pw", 5000));
    BOOST_REQUIRE(accounts->create("newer", kDomain, "pw", 6000));
    BOOST_TEST(accounts->typical_iterations(kDomain, 7777) == 5000u);
    // Another domain has its own accounts and its own count.
    BOOST_REQUIRE(accounts->create("solo", "example.net", "pw", 4096));
    BOOST_TEST(accounts->typical_iterations("example.net", 7777) == 4096u);
    BOOST_TEST(accounts->typical_iterations("example.com", 7777) == 7777u);
    // Changes made through the store are seen at once, not after the TTL.
    for (const char* n : {"a", "bob", "carol", "x", "zed"}) BOOST_REQUIRE(accounts->set_password(n, kDomain, "pw", 9000));
    BOOST_TEST(accounts->typical_iterations(kDomain, 7777) == 9000u);
    BOOST_REQUIRE(accounts->remove("solo", "example.net"));
    BOOST_TEST(accounts->typical_iterations("example.net", 7777) == 7777u);
}

BOOST_AUTO_TEST_CASE(typical_iterations_sample_is_bounded_and_wraps) {
    // More accounts than the sample, one count: every random starting point,
    // wrapping or not, finds it.
    for (size_t i = 0; i < AccountStore::kIterationSample + 20; ++i)
        BOOST_REQUIRE(accounts->create("u" + std::to_string(i), kDomain, "pw", 4100));
    for (int round = 0; round < 20; ++round) {
        BOOST_REQUIRE(accounts->create("r" + std::to_string(round), "example.net", "pw", 4100));
        BOOST_TEST(accounts->typical_iterations(kDomain, 1) == 4100u);  // cached after the first
        BOOST_TEST(accounts->typical_iterations("example.net", 1) == 4100u);  // recomputed each round
    }
}

BOOST_AUTO_TEST_CASE(unknown_accounts_cost_the_pbkdf2_of_a_real_one) {
    // Accounts of this domain were made with 5000 iterations; new ones
    // would get the fallback, 4096. A PLAIN check for a name without an
    // account must do what a real account's check does: SCRAM-SHA-256 with
    // 5000 iterations, once.
    create("seed");  // 4096, outnumbered below
    for (const char* n : {"alice", "bob", "carol"}) BOOST_REQUIRE(accounts->create(n, kDomain, "pw", 5000));
    auto work = [&](const char* node) {
        const auto before = store::scram::pbkdf2_work_on_this_thread();
        auto r = accounts->check_password(node, kDomain, "wrong", 4096);
        BOOST_REQUIRE(r);
        BOOST_TEST(!r.value());
        const auto after = store::scram::pbkdf2_work_on_this_thread();
        return std::tuple(after.calls - before.calls, after.sha1_iterations - before.sha1_iterations,
                          after.sha256_iterations - before.sha256_iterations);
    };
    const auto real = work("alice");
    BOOST_TEST(std::get<0>(real) == 1u);
    BOOST_TEST(std::get<2>(real) == 5000u);
    const auto unknown = work("nobody");
    BOOST_TEST(std::get<0>(unknown) == std::get<0>(real));
    BOOST_TEST(std::get<1>(unknown) == std::get<1>(real));
    BOOST_TEST(std::get<2>(unknown) == std::get<2>(real), "store: PLAIN for an unknown name did "
                                                              << std::get<2>(unknown) << " iterations, a real account "
                                                              << std::get<2>(real));
}

BOOST_AUTO_TEST_CASE(no_plaintext_password_in_the_files) {
    const std::string first = "Plaintext-Canary-One-7731";
    const std::string second = "Plaintext-Canary-Two-9182";
    create("alice", kDomain, first);
    BOOST_REQUIRE(accounts->set_password("alice", kDomain, second));
    create("bob", kDomain, first);
    accounts.reset();
    env.reset();  // close, so every page is on disk
    for (const char* f : {"/data.mdb", "/lock.mdb"}) {
        const std::string bytes = test::TempDir::read(dir + f);
        BOOST_TEST((!bytes.empty() || std::string(f) == "/lock.mdb"));
        BOOST_TEST(bytes.find(first) == std::string::npos,
                   "store: plaintext password found in " << f);
        BOOST_TEST(bytes.find(second) == std::string::npos,
                   "store: plaintext password found in " << f);
    }
    BOOST_TEST(test::TempDir::read(dir + "/data.mdb").find("alice") != std::string::npos,
               "store: the scan itself works (the node is in the file)");
}

BOOST_AUTO_TEST_CASE(two_handles_and_another_process_share_accounts) {
    auto e2 = Env::open(dir);
    BOOST_REQUIRE(e2);
    auto other = AccountStore::open(*e2.value());
    BOOST_REQUIRE(other);
    create("alice");
    BOOST_TEST(other.value()->exists("alice", kDomain).value(),
               "store: a second handle sees the commit");
    BOOST_REQUIRE(other.value()->create("bob", kDomain, "bobpw"));
    BOOST_TEST(accounts->check_password("bob", kDomain, "bobpw").value());

    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        // As parleyctl does while parleyd runs: its own Env, then a write.
        int code = 0;
        {
            auto e = Env::open(dir);
            auto store = e ? AccountStore::open(*e.value())
                           : Result<std::unique_ptr<AccountStore>>(e.status());
            if (!store)
                code = 10;
            else if (!store.value()->exists("alice", kDomain).value())
                code = 11;
            else if (!store.value()->create("carol", kDomain, "carolpw"))
                code = 12;
            else if (!store.value()->remove("bob", kDomain))
                code = 13;
        }
        ::_exit(code);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_REQUIRE_MESSAGE(WEXITSTATUS(status) == 0,
                          "store: the child process failed with code " << WEXITSTATUS(status));
    BOOST_TEST(accounts->check_password("carol", kDomain, "carolpw").value(),
               "store: another process's create is seen");
    BOOST_TEST(!other.value()->exists("bob", kDomain).value(),
               "store: another process's remove is seen");
    other.value().reset();
}

BOOST_AUTO_TEST_CASE(a_malformed_record_is_reported) {
    auto dbi = env->database(AccountStore::kDatabase, AccountStore::kSchemaVersion);
    BOOST_REQUIRE(dbi);
    BOOST_REQUIRE(env->write([&](store::Txn& t) {
        return t.put(dbi.value(), store::detail::account_key("mallory", kDomain),
                     std::string("\x01short", 6));
    }));
    auto a = accounts->get("mallory", kDomain);
    BOOST_REQUIRE(!a.is_ok());
    BOOST_TEST(a.status().code() == "corrupt");
    BOOST_TEST(a.status().message().find("mallory@example.org") != std::string::npos,
               a.status().message());
}

BOOST_AUTO_TEST_CASE(record_codec_round_trip) {
    store::Account a{"n", "d", {}, -5};
    auto c = store::scram::derive("SCRAM-SHA-256", "pw", "saltsalt", 4096);
    BOOST_REQUIRE(c);
    a.scram.push_back(c.value());
    const std::string v = store::detail::encode_account(a);
    store::Account b;
    BOOST_REQUIRE(store::detail::decode_account(v, b));
    BOOST_TEST(b.created_unix == -5);
    BOOST_REQUIRE(b.scram.size() == 1u);
    BOOST_TEST(b.scram[0].stored_key == c->stored_key);
    BOOST_TEST(!store::detail::decode_account(v + "x", b), "store: trailing bytes are refused");
    BOOST_TEST(!store::detail::decode_account(v.substr(0, v.size() - 1), b));
    std::string future = v;
    future[0] = 2;
    BOOST_TEST(!store::detail::decode_account(future, b),
               "store: an unknown record format is refused");
    std::string node, domain;
    BOOST_REQUIRE(store::detail::split_account_key(
        store::detail::account_key("alice", "example.org"), node, domain));
    BOOST_TEST(node == "alice");
    BOOST_TEST(domain == "example.org");
    BOOST_TEST(store::detail::account_key("alice", "example.org") == std::string("\0\x0b"
                                                                                 "example.org"
                                                                                 "\0\x05"
                                                                                 "alice",
                                                                                 20));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(store_accounts_schema)

BOOST_AUTO_TEST_CASE(a_newer_accounts_database_is_refused) {
    test::TempDir tmp;
    auto env = Env::open(tmp.sub("state"));
    BOOST_REQUIRE(env);
    BOOST_REQUIRE(env.value()->write([&](store::Txn& t) {
        return env.value()->set_schema_version(t, AccountStore::kDatabase,
                                               AccountStore::kSchemaVersion + 1);
    }));
    auto a = AccountStore::open(*env.value());
    BOOST_REQUIRE(!a.is_ok());
    BOOST_TEST(a.status().code() == "schema");
    const std::string& m = a.status().message();
    BOOST_TEST(m.find("'accounts'") != std::string::npos, m);
    BOOST_TEST(m.find("version 2") != std::string::npos, m);
    BOOST_TEST(m.find("version 1") != std::string::npos, m);
}

// The rules parleyctl and XEP-0077 share (store::check_new_password).
BOOST_AUTO_TEST_CASE(new_passwords_follow_one_set_of_rules) {
    BOOST_TEST(store::check_new_password("correct horse").is_ok());
    BOOST_TEST(store::check_new_password("p\xc3\xa4ssw\xc3\xb6rd \xf0\x9f\x94\x91").is_ok(), "store: UTF-8 is allowed");
    BOOST_TEST(store::check_new_password(std::string(store::kMaxPasswordBytes, 'x')).is_ok());
    const std::pair<std::string, const char*> refused[] = {
        {"", "empty"},
        {std::string(store::kMaxPasswordBytes + 1, 'x'), "longer than"},
        {"tab\there", "control"},
        {"new\nline", "control"},
        {std::string("nul\0x", 5), "control"},
        {"del\x7f", "control"},
        {"c1\xc2\x85", "control"},
        {"bad\xff", "UTF-8"},
        {"overlong\xc0\xaf", "UTF-8"},
        {"surrogate\xed\xa0\x80", "UTF-8"},
        {"cut\xe2\x82", "UTF-8"},
    };
    for (const auto& [pw, why] : refused) {
        Status s = store::check_new_password(pw);
        BOOST_TEST(s.code() == "invalid", "store: a password that is " << why << " must be refused");
        BOOST_TEST(s.message().find(why) != std::string::npos, s.message());
        BOOST_TEST(s.message().find(pw.empty() ? std::string("\x01") : pw) == std::string::npos,
                   "store: the message never repeats the password");
    }
}

BOOST_AUTO_TEST_SUITE_END()

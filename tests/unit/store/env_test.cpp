#define BOOST_TEST_DYN_LINK
#include "store/env.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "support/temp_dir.hpp"

using namespace parley;
using parley::store::Env;
using parley::store::Txn;

namespace {

struct EnvFixture {
    test::TempDir tmp;
    std::string dir = tmp.sub("state/nested");

    std::unique_ptr<Env> open(size_t map = size_t{16} << 20) {
        auto e = Env::open(dir, map);
        BOOST_REQUIRE_MESSAGE(e, "store: Env::open: " << e.status().to_string());
        return std::move(e.value());
    }
};

MDB_dbi db(Env& env, const std::string& name, uint32_t version = 1) {
    auto d = env.database(name, version);
    BOOST_REQUIRE_MESSAGE(d, "store: database " << name << ": " << d.status().to_string());
    return d.value();
}

std::optional<std::string> read(Env& env, MDB_dbi dbi, const std::string& key) {
    auto txn = env.begin_read();
    BOOST_REQUIRE_MESSAGE(txn, "store: begin_read: " << txn.status().to_string());
    auto v = txn->get(dbi, key);
    BOOST_REQUIRE(v);
    if (!v.value()) return std::nullopt;
    return std::string(*v.value());
}

Status put(Env& env, MDB_dbi dbi, const std::string& key, const std::string& value) {
    return env.write([&](Txn& t) { return t.put(dbi, key, value); });
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(store_env, EnvFixture)

BOOST_AUTO_TEST_CASE(creates_the_directory_private) {
    auto env = open();
    struct stat st {};
    BOOST_REQUIRE(::stat(dir.c_str(), &st) == 0);
    BOOST_TEST(S_ISDIR(st.st_mode));
    BOOST_TEST((st.st_mode & 0777) == 0700u, "store: the environment directory is 0700");
    BOOST_TEST(::access((dir + "/data.mdb").c_str(), F_OK) == 0);
    auto bad = Env::open(dir + "/data.mdb");
    BOOST_TEST(!bad.is_ok(), "store: a file is not a directory");
}

BOOST_AUTO_TEST_CASE(put_get_delete_and_abort_unless_committed) {
    auto env = open();
    MDB_dbi d = db(*env, "things");
    BOOST_TEST(!read(*env, d, "k").has_value(),
               "store: a missing key is an empty optional, not an error");
    BOOST_REQUIRE(put(*env, d, "k", "v1"));
    BOOST_TEST(read(*env, d, "k").value_or("") == "v1");
    {
        auto txn = env->begin_write();
        BOOST_REQUIRE(txn);
        BOOST_REQUIRE(txn->put(d, "k", "v2"));
        BOOST_REQUIRE(txn->put(d, "other", "x"));
    }  // dropped: aborted
    BOOST_TEST(read(*env, d, "k").value_or("") == "v1", "store: an uncommitted transaction aborts");
    BOOST_TEST(!read(*env, d, "other").has_value());
    Status exists = env->write([&](Txn& t) { return t.put(d, "k", "v3", MDB_NOOVERWRITE); });
    BOOST_TEST(exists.code() == "exists");
    bool gone = false;
    BOOST_REQUIRE(env->write([&](Txn& t) -> Status {
        auto r = t.del(d, "k");
        if (!r) return r.status();
        gone = r.value();
        auto again = t.del(d, "k");
        if (!again) return again.status();
        BOOST_TEST(!again.value(), "store: deleting a missing key is false, not an error");
        return Status::ok();
    }));
    BOOST_TEST(gone);
}

BOOST_AUTO_TEST_CASE(a_failed_write_is_sticky) {
    auto env = open();
    MDB_dbi d = db(*env, "things");
    auto txn = env->begin_write();
    BOOST_REQUIRE(txn);
    BOOST_REQUIRE(txn->put(d, "fine", "1"));
    Status bad = txn->put(d, "", "empty keys are refused by LMDB");
    BOOST_TEST(!bad.is_ok());
    BOOST_TEST(bad.message().find("mdb_put") != std::string::npos, bad.message());
    Status c = txn->commit();
    BOOST_TEST(!c.is_ok(), "store: commit after a failed put must fail");
    BOOST_TEST(!read(*env, d, "fine").has_value(),
               "store: nothing of a failed transaction is kept");
}

BOOST_AUTO_TEST_CASE(scan_walks_one_prefix_in_order) {
    auto env = open();
    MDB_dbi d = db(*env, "things");
    for (const char* k : {"a/2", "a/1", "b/1", "a", "a/3"}) BOOST_REQUIRE(put(*env, d, k, k));
    auto txn = env->begin_read();
    BOOST_REQUIRE(txn);
    std::vector<std::string> seen;
    BOOST_REQUIRE(txn->scan(d, "a/", [&](std::string_view k, std::string_view v) {
        BOOST_TEST(k == v);
        seen.emplace_back(k);
        return true;
    }));
    BOOST_TEST((seen == std::vector<std::string>{"a/1", "a/2", "a/3"}));
    seen.clear();
    BOOST_REQUIRE(txn->scan(d, "", [&](std::string_view k, std::string_view) {
        seen.emplace_back(k);
        return seen.size() < 2;
    }));
    BOOST_TEST((seen == std::vector<std::string>{"a", "a/1"}), "store: scan stops when told");
}

BOOST_AUTO_TEST_CASE(schema_versions_are_recorded_migrated_and_refused) {
    auto env = open();
    db(*env, "things", 3);
    auto v = env->schema_version("things");
    BOOST_REQUIRE(v);
    BOOST_TEST(v.value() == 3u);
    BOOST_TEST(env->schema_version("never").value() == 0u);

    // A database written by a newer binary.
    BOOST_REQUIRE(env->write([&](Txn& t) { return env->set_schema_version(t, "future", 7); }));
    auto refused = env->database("future", 2);
    BOOST_REQUIRE(!refused.is_ok());
    BOOST_TEST(refused.status().code() == "schema");
    const std::string& m = refused.status().message();
    BOOST_TEST(m.find("'future'") != std::string::npos, m);
    BOOST_TEST(m.find("version 7") != std::string::npos, m);
    BOOST_TEST(m.find("version 2") != std::string::npos, m);
    BOOST_TEST(m.find("newer Parley") != std::string::npos, m);
    BOOST_TEST(env->schema_version("future").value() == 7u,
               "store: a refused database is left alone");

    // An older one: migrated when a migration exists, refused otherwise.
    BOOST_REQUIRE(env->write([&](Txn& t) { return env->set_schema_version(t, "old", 1); }));
    BOOST_REQUIRE(env->write([&](Txn& t) { return env->set_schema_version(t, "older", 1); }));
    auto no_migration = env->database("older", 2);
    BOOST_TEST(no_migration.status().code() == "schema");
    int calls = 0;
    auto migrated = env->database("old", 2, [&](Txn& t, MDB_dbi dbi, uint32_t from) {
        ++calls;
        BOOST_TEST(from == 1u);
        return t.put(dbi, "migrated", "yes");
    });
    BOOST_REQUIRE_MESSAGE(migrated, "store: " << migrated.status().to_string());
    BOOST_TEST(calls == 1);
    BOOST_TEST(env->schema_version("old").value() == 2u);
    BOOST_TEST(read(*env, migrated.value(), "migrated").value_or("") == "yes");
}

BOOST_AUTO_TEST_CASE(a_full_map_grows) {
    auto env = open(size_t{1} << 20);
    MDB_dbi d = db(*env, "big");
    const std::string chunk(256 * 1024, 'x');
    for (int i = 0; i < 24; ++i) {
        Status s = put(*env, d, "chunk" + std::to_string(i), chunk);
        BOOST_REQUIRE_MESSAGE(s, "store: write " << i << " with a growing map: " << s.to_string());
    }
    BOOST_TEST(read(*env, d, "chunk23").value_or("").size() == chunk.size());
}

BOOST_AUTO_TEST_CASE(two_handles_in_one_process_share_the_environment) {
    auto a = open();
    auto b = open();
    MDB_dbi da = db(*a, "things");
    MDB_dbi dbb = db(*b, "things");
    BOOST_REQUIRE(put(*a, da, "from-a", "1"));
    BOOST_TEST(read(*b, dbb, "from-a").value_or("") == "1");
    BOOST_REQUIRE(put(*b, dbb, "from-b", "2"));
    BOOST_TEST(read(*a, da, "from-b").value_or("") == "2");
    b.reset();
    BOOST_REQUIRE(put(*a, da, "after", "3"));
    BOOST_TEST(read(*a, da, "after").value_or("") == "3",
               "store: closing one handle leaves the other working");
}

BOOST_AUTO_TEST_CASE(another_process_sees_commits_and_may_grow_the_map) {
    auto env = open(size_t{1} << 20);
    MDB_dbi d = db(*env, "things");
    BOOST_REQUIRE(put(*env, d, "parent", "here"));
    pid_t pid = ::fork();
    BOOST_REQUIRE(pid >= 0);
    if (pid == 0) {
        // The child: its own environment handle, as parleyctl would open.
        int code = 0;
        {
            auto e = Env::open(dir, size_t{1} << 20);
            auto dd = e ? e.value()->database("things", 1)
                        : Result<MDB_dbi>(Status::error("child", "no env"));
            if (!dd) code = 11;
            if (!code) {
                auto txn = e.value()->begin_read();
                if (!txn || !txn->get(dd.value(), "parent").value()) code = 12;
            }
            const std::string chunk(512 * 1024, 'c');
            for (int i = 0; !code && i < 8; ++i)
                if (!e.value()->write([&](Txn& t) {
                        return t.put(dd.value(), "child" + std::to_string(i), chunk);
                    }))
                    code = 13;
        }
        ::_exit(code);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(pid, &status, 0) == pid);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_REQUIRE_MESSAGE(WEXITSTATUS(status) == 0,
                          "store: the child process failed with code " << WEXITSTATUS(status));
    // The child grew the map past ours: the next transaction adopts its size.
    BOOST_TEST(read(*env, d, "child7").value_or("").size() == 512u * 1024u);
    BOOST_REQUIRE(put(*env, d, "parent2", "still writable"));
}

BOOST_AUTO_TEST_SUITE_END()

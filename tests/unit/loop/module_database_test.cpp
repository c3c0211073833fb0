// Module databases (Host::open_database) on two running workers: writes from
// both workers go through the environment's writer, complete on the worker
// that asked, in its order, and are all there afterwards; names, versions
// and environments of their own.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

#include "support/seams_fixture.hpp"

using namespace parley;

namespace {

std::string key(unsigned worker, int seq) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "w%u-%06d", worker, seq);
    return buf;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(loop_module_database)

BOOST_FIXTURE_TEST_CASE(writes_from_both_workers_complete_in_order_and_are_stored, test::SeamsFixture) {
    constexpr int kWrites = 300;
    std::shared_ptr<module::Database> db[2];
    std::vector<int> completed[2];  // each touched only on its worker
    std::atomic<int> done{0};
    for (unsigned w = 0; w < 2; ++w) {
        on(w, [&, w](loop::Worker&) {
            auto r = hosts[w]->open_database(module::DatabaseSpec{"notes", 1, {}, ""});
            BOOST_REQUIRE_MESSAGE(r, "store: open_database: " << r.status().to_string());
            db[w] = r.value();
            for (int i = 0; i < kWrites; ++i) {
                const std::string k = key(w, i);
                Status s = db[w]->write([k](store::Txn& txn, MDB_dbi d) { return txn.put(d, k, "value"); },
                                        [&, w, i](Status st) {
                                            BOOST_TEST(st.is_ok(), "store: " << st.to_string());
                                            completed[w].push_back(i);
                                            ++done;
                                        });
                BOOST_REQUIRE(s.is_ok());
            }
        });
    }
    for (int i = 0; i < 1000 && done < 2 * kWrites; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    BOOST_REQUIRE_EQUAL(done.load(), 2 * kWrites);
    for (unsigned w = 0; w < 2; ++w) {
        on(w, [&, w](loop::Worker&) {
            BOOST_TEST_REQUIRE(completed[w].size() == static_cast<size_t>(kWrites));
            for (int i = 0; i < kWrites; ++i)
                BOOST_TEST_REQUIRE(completed[w][i] == i, "store: completions in submission order");
        });
    }
    on(0, [&](loop::Worker&) {
        size_t found = 0;
        Status s = db[0]->read([&](const store::Txn& txn, MDB_dbi d) {
            return txn.scan(d, "w", [&](std::string_view, std::string_view v) {
                if (v == "value") ++found;
                return true;
            });
        });
        BOOST_TEST(s.is_ok());
        BOOST_TEST(found == static_cast<size_t>(2 * kWrites), "store: every completed write is there");
    });
    // The module's database is namespaced by the module's name.
    auto env = store::Env::open(dir.sub("state"));
    BOOST_REQUIRE(env);
    auto v = env.value()->schema_version("seams.notes");
    BOOST_TEST(v.value() == 1u);
    for (unsigned w = 0; w < 2; ++w) on(w, [&, w](loop::Worker&) { db[w].reset(); });
}

BOOST_FIXTURE_TEST_CASE(names_versions_and_own_environments, test::SeamsFixture) {
    on(0, [&](loop::Worker&) {
        auto& h = *hosts[0];
        BOOST_TEST(!h.open_database(module::DatabaseSpec{"Bad Name", 1, {}, ""}), "store: names are [a-z0-9_]+");
        BOOST_TEST(!h.open_database(module::DatabaseSpec{"x", 1, {}, "../etc"}), "store: no path in an environment name");
        BOOST_TEST(!h.open_database(module::DatabaseSpec{"x", 1, {}, "state"}));
        auto own = h.open_database(module::DatabaseSpec{"journal", 1, {}, "archive_test"});
        BOOST_REQUIRE_MESSAGE(own, "store: " << own.status().to_string());
        BOOST_TEST(std::filesystem::exists(dir.sub("archive_test") + "/data.mdb"),
                   "store: an environment of its own under data_dir");
        // Version 2 written, then a binary that knows only version 1 is
        // refused. (In an environment of its own, closed in between, as
        // across a restart: a process opens a database at one version.)
        BOOST_REQUIRE(h.open_database(module::DatabaseSpec{"versioned", 2, {}, "vt"}));
        auto older = h.open_database(module::DatabaseSpec{"versioned", 1, {}, "vt"});
        BOOST_TEST(!older);
        BOOST_TEST(older.status().code() == "schema");
        // An older database is migrated by the module's hook.
        int migrated_from = 0;
        BOOST_REQUIRE(h.open_database(module::DatabaseSpec{"migrating", 1, {}, "vt"}));
        auto newer = h.open_database(module::DatabaseSpec{
            "migrating", 3, [&](store::Txn&, MDB_dbi, uint32_t from) {
                migrated_from = static_cast<int>(from);
                return Status::ok();
            },
            "vt"});
        BOOST_TEST(newer.is_ok());
        BOOST_TEST(migrated_from == 1);
    });
}

BOOST_AUTO_TEST_SUITE_END()

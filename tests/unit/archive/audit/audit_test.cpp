#define BOOST_TEST_DYN_LINK
#include "archive/audit/audit.hpp"

#include <boost/test/unit_test.hpp>

#include "support/archive_fixture.hpp"

using namespace parley;
using namespace parley::archive;

namespace {

struct AuditFixture : test::ArchiveFixture {
    uint64_t log(const std::string& action, const std::string& result = "ok") {
        uint64_t seq = 0;
        edit([&](MDB_txn* t) {
            auto s = append_audit(journal, t, db, {0, 1000, "parleyctl (root)", action, "user alice@x", result});
            BOOST_REQUIRE_MESSAGE(s, s.status().to_string());
            seq = *s;
        });
        return seq;
    }
    AuditReport check() {
        return read([&](MDB_txn* t) {
            auto r = verify_audit(journal, t, db);
            BOOST_REQUIRE(r);
            return *r;
        });
    }
    std::string key(uint64_t seq) { return std::string(1, 'A') + layout::u64_be(seq); }
};

std::string problems(const AuditReport& r) {
    std::string out;
    for (const auto& p : r.problems) out += p + "\n";
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(archive_audit)

BOOST_AUTO_TEST_CASE(appends_lists_and_verifies) {
    AuditFixture f;
    BOOST_TEST(f.check().ok());  // empty
    BOOST_TEST(f.log("hold.add") == 1u);
    BOOST_TEST(f.log("search") == 2u);
    BOOST_TEST(f.log("purge", "removed 3") == 3u);
    auto events = f.read([&](MDB_txn* t) { return *list_audit(f.journal, t, f.db, 1, 10); });
    BOOST_REQUIRE(events.size() == 2u);
    BOOST_TEST(events[0].seq == 2u);
    BOOST_TEST(events[1].action == "purge");
    BOOST_TEST(events[1].result == "removed 3");
    AuditReport r = f.check();
    BOOST_TEST(r.ok(), problems(r));
    BOOST_TEST(r.events == 3u);
}

BOOST_AUTO_TEST_CASE(each_kind_of_tampering_is_caught) {
    {
        AuditFixture f;
        for (int i = 0; i < 4; ++i) f.log("search");
        f.edit([&](MDB_txn* t) {
            std::string k = f.key(2);
            MDB_val key{k.size(), k.data()}, v{};
            BOOST_REQUIRE(mdb_get(t, f.db, &key, &v) == 0);
            std::string value(static_cast<char*>(v.mv_data), v.mv_size);
            value[10] ^= 1;
            MDB_val nv{value.size(), value.data()};
            BOOST_REQUIRE(mdb_put(t, f.db, &key, &nv, 0) == 0);
        });
        AuditReport r = f.check();
        BOOST_REQUIRE(!r.ok());
        BOOST_TEST(problems(r).find("event 2 was altered") != std::string::npos, problems(r));
    }
    {
        AuditFixture f;
        for (int i = 0; i < 4; ++i) f.log("search");
        f.edit([&](MDB_txn* t) {
            std::string k = f.key(3);
            MDB_val key{k.size(), k.data()};
            BOOST_REQUIRE(mdb_del(t, f.db, &key, nullptr) == 0);
        });
        BOOST_TEST(problems(f.check()).find("events 3 to 3 are missing") != std::string::npos, problems(f.check()));
    }
    {
        AuditFixture f;
        for (int i = 0; i < 4; ++i) f.log("search");
        f.edit([&](MDB_txn* t) {
            std::string k = f.key(4);
            MDB_val key{k.size(), k.data()};
            BOOST_REQUIRE(mdb_del(t, f.db, &key, nullptr) == 0);
        });
        BOOST_TEST(problems(f.check()).find("ends early") != std::string::npos, problems(f.check()));
    }
}

BOOST_AUTO_TEST_SUITE_END()

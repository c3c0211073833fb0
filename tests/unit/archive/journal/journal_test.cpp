#define BOOST_TEST_DYN_LINK
#include "archive/journal/journal.hpp"

#include <boost/test/unit_test.hpp>

#include <fstream>
#include <iterator>

#include "archive/journal/raw_db.hpp"
#include "support/archive_fixture.hpp"

using namespace parley;
using namespace parley::archive;
using parley::test::chat;

namespace {

constexpr uint64_t kNow = 1'764'700'000'000;  // 2025-12-02

std::vector<uint64_t> ids(test::ArchiveFixture& f, Journal::Query q) {
    std::vector<uint64_t> out;
    f.read([&](MDB_txn* t) {
        BOOST_REQUIRE(f.journal.view(t, f.db, q, [&](uint64_t id) {
            out.push_back(id);
            return out.size() < 1000;
        }));
        return 0;
    });
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(archive_journal)

BOOST_AUTO_TEST_CASE(ids_increase_in_commit_order) {
    test::ArchiveFixture f;
    uint64_t a = f.append(chat("alice@x", "bob@x", "one"), kNow);
    uint64_t b = f.append(chat("alice@x", "bob@x", "two"), kNow);
    uint64_t c = f.append(chat("alice@x", "bob@x", "three"), kNow - 5000);  // the clock went back
    uint64_t d = f.append(chat("alice@x", "bob@x", "four"), kNow + 10);
    BOOST_TEST(a == first_id_at(kNow));
    BOOST_TEST(b == a + 1);
    BOOST_TEST(c == b + 1);
    BOOST_TEST(d == first_id_at(kNow + 10));
    BOOST_TEST(id_time_ms(c) == kNow);
}

BOOST_AUTO_TEST_CASE(get_round_trip_small_and_compressed) {
    test::ArchiveFixture f;
    Entry small = chat("alice@x", "bob@x", "hi");
    Entry big = chat("alice@x", "bob@x", std::string(4000, 'z'));
    uint64_t s = f.append(small, kNow);
    uint64_t b = f.append(big, kNow);
    f.read([&](MDB_txn* t) {
        auto rs = f.journal.get(t, f.db, s);
        auto rb = f.journal.get(t, f.db, b);
        BOOST_REQUIRE(rs && *rs && rb && *rb);
        BOOST_TEST(((*rs)->entry == small));
        BOOST_TEST(((*rb)->entry == big));
        BOOST_TEST((*rs)->prev == 0u);
        BOOST_TEST((*rb)->prev == s);
        auto missing = f.journal.get(t, f.db, b + 1);
        BOOST_REQUIRE(missing);
        BOOST_TEST(!*missing);
        // The large one is stored compressed.
        MDB_val k{9, nullptr}, v{};
        std::string key = layout::record_key(b);
        k.mv_data = key.data();
        BOOST_REQUIRE(mdb_get(t, f.db, &k, &v) == 0);
        BOOST_TEST(v.mv_size < 1000u);
        return 0;
    });
}

BOOST_AUTO_TEST_CASE(views_by_owner_and_peer_both_ways) {
    test::ArchiveFixture f;
    std::vector<uint64_t> ab, ac;
    for (int i = 0; i < 10; ++i) {
        ab.push_back(f.append(chat("alice@x", "bob@x", "m"), kNow + i));
        ac.push_back(f.append(chat("carol@x", "alice@x", "m"), kNow + i));
    }
    auto all = ids(f, {"alice@x", "", 0, UINT64_MAX, false});
    BOOST_TEST(all.size() == 20u);
    BOOST_TEST(std::is_sorted(all.begin(), all.end()));
    BOOST_TEST(ids(f, {"alice@x", "bob@x", 0, UINT64_MAX, false}) == ab, boost::test_tools::per_element());
    BOOST_TEST(ids(f, {"bob@x", "alice@x", 0, UINT64_MAX, false}) == ab, boost::test_tools::per_element());
    BOOST_TEST(ids(f, {"alice@x", "carol@x", 0, UINT64_MAX, false}) == ac, boost::test_tools::per_element());
    BOOST_TEST(ids(f, {"bob@x", "carol@x", 0, UINT64_MAX, false}).empty());
    BOOST_TEST(ids(f, {"dave@x", "", 0, UINT64_MAX, false}).empty());
    // Bounds are exclusive, both directions.
    auto mid = ids(f, {"alice@x", "bob@x", ab[2], ab[6], false});
    BOOST_TEST(mid == std::vector<uint64_t>(ab.begin() + 3, ab.begin() + 6), boost::test_tools::per_element());
    auto back = ids(f, {"alice@x", "bob@x", ab[2], ab[6], true});
    BOOST_TEST(back == std::vector<uint64_t>(ab.rbegin() + 4, ab.rbegin() + 7), boost::test_tools::per_element());
    auto newest = ids(f, {"bob@x", "", 0, UINT64_MAX, true});
    BOOST_TEST(newest == std::vector<uint64_t>(ab.rbegin(), ab.rend()), boost::test_tools::per_element());
    BOOST_TEST(ids(f, {"alice@x", "bob@x", ab[9], UINT64_MAX, false}).empty());
    BOOST_TEST(ids(f, {"alice@x", "bob@x", 0, ab[0], true}).empty());
}

BOOST_AUTO_TEST_CASE(records_walks_the_whole_journal_in_id_order_within_bounds) {
    test::ArchiveFixture f;
    std::vector<uint64_t> all;
    for (int i = 0; i < 4; ++i)  // over two UTC days: one walk crosses segments
        all.push_back(f.append(chat("u" + std::to_string(i) + "@x", "bob@x", "m" + std::to_string(i)),
                               kNow + static_cast<uint64_t>(i) * 40'000'000));
    auto walk = [&](uint64_t after, uint64_t before, size_t stop_at) {
        std::vector<uint64_t> out;
        Status s = f.read([&](MDB_txn* t) {
            return f.journal.records(t, f.db, after, before, [&](Record&& r) {
                BOOST_TEST(r.entry.stanza.find("m" + std::to_string(out.size())) != std::string::npos);
                out.push_back(r.id);
                return out.size() < stop_at;
            });
        });
        BOOST_REQUIRE_MESSAGE(s, s.to_string());
        return out;
    };
    BOOST_TEST(walk(0, UINT64_MAX, 100) == all, boost::test_tools::per_element());
    BOOST_TEST(walk(0, all[2], 100) == (std::vector<uint64_t>{all[0], all[1]}), boost::test_tools::per_element());
    BOOST_TEST(walk(0, UINT64_MAX, 3).size() == 3u);
    BOOST_TEST(walk(all[3], UINT64_MAX, 100).empty());

    // A record that does not open ends the walk with an error, not a gap.
    Status w = f.env->write([&](store::Txn& t) {
        auto v = raw::get(t.handle(), f.db, layout::record_key(all[1]));
        BOOST_REQUIRE(v && *v);
        std::string bad(**v);
        bad.back() = static_cast<char>(bad.back() ^ 1);
        return raw::put(t.handle(), f.db, layout::record_key(all[1]), bad);
    });
    BOOST_REQUIRE(w);
    size_t seen = 0;
    Status s = f.read(
        [&](MDB_txn* t) { return f.journal.records(t, f.db, 0, UINT64_MAX, [&](Record&&) { return ++seen < 100; }); });
    BOOST_TEST(!s);
    BOOST_TEST(seen == 1u);
}

BOOST_AUTO_TEST_CASE(nothing_readable_on_disk) {
    test::ArchiveFixture f;
    for (int i = 0; i < 50; ++i) f.append(chat("alice@example.org", "bob@example.org", "SECRETWORD"), kNow + i);
    f.append(chat("alice@example.org", "bob@example.org", std::string(3000, 'q') + "SECRETWORD"), kNow + 60);
    std::ifstream in(f.tmp.sub("archive") + "/data.mdb", std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_REQUIRE(bytes.size() > 4096u);
    BOOST_TEST(bytes.find("SECRETWORD") == std::string::npos);
    BOOST_TEST(bytes.find("alice") == std::string::npos);
    BOOST_TEST(bytes.find("example.org") == std::string::npos);
    BOOST_TEST(bytes.find("<message") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(wrong_key_and_rewrap) {
    test::ArchiveFixture f;
    uint64_t id = f.append(chat("alice@x", "bob@x", "kept"), kNow);
    Journal stranger(test::test_key());
    f.read([&](MDB_txn* t) {
        BOOST_TEST(f.journal.check_key(t, f.db).is_ok());
        Status s = stranger.check_key(t, f.db);
        BOOST_TEST(s.code() == "wrong-key");
        BOOST_TEST(stranger.get(t, f.db, id).status().code() == "wrong-key");
        return 0;
    });
    // An empty archive accepts any key: the first append makes its keys.
    test::ArchiveFixture empty;
    empty.read([&](MDB_txn* t) {
        BOOST_TEST(stranger.check_key(t, empty.db).is_ok());
        return 0;
    });

    SecretKey next = test::test_key();
    f.edit([&](MDB_txn* t) { BOOST_REQUIRE(f.journal.rewrap(t, f.db, next)); });
    Journal rotated(next);
    f.read([&](MDB_txn* t) {
        auto r = rotated.get(t, f.db, id);
        BOOST_REQUIRE_MESSAGE(r, r.status().to_string());
        BOOST_REQUIRE(*r);
        BOOST_TEST((*r)->entry.stanza.find("kept") != std::string::npos);
        BOOST_TEST(f.journal.check_key(t, f.db).code() == "wrong-key");
        return 0;
    });
    // Appending goes on under the rotated key, after the old history.
    uint64_t later = 0;
    Status s = f.env->write([&](store::Txn& t) {
        auto r = rotated.append(t.handle(), f.db, kNow, chat("alice@x", "bob@x", "after"));
        if (r) later = *r;
        return r ? Status::ok() : r.status();
    });
    BOOST_REQUIRE(s);
    BOOST_TEST(later == id + 1);
}

BOOST_AUTO_TEST_CASE(aborted_append_leaves_nothing) {
    test::ArchiveFixture f;
    uint64_t a = f.append(chat("alice@x", "bob@x", "one"), kNow);
    {
        auto t = f.env->begin_write();
        BOOST_REQUIRE(t);
        auto r = f.journal.append(t->handle(), f.db, kNow, chat("alice@x", "bob@x", "lost"));
        BOOST_REQUIRE(r);
        BOOST_TEST(*r == a + 1);
    }  // aborted
    uint64_t b = f.append(chat("alice@x", "bob@x", "two"), kNow);
    BOOST_TEST(b == a + 1);
    f.read([&](MDB_txn* t) {
        auto r = f.journal.get(t, f.db, b);
        BOOST_REQUIRE(r && *r);
        BOOST_TEST((*r)->entry.stanza.find("two") != std::string::npos);
        return 0;
    });
}

BOOST_AUTO_TEST_SUITE_END()

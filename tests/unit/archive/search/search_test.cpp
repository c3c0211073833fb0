#define BOOST_TEST_DYN_LINK
#include "archive/search/search.hpp"

#include <boost/test/unit_test.hpp>

#include "archive/retention/purge.hpp"
#include "support/archive_fixture.hpp"

using namespace parley;
using namespace parley::archive;
using parley::test::chat;

namespace {

constexpr uint64_t kT0 = 1'764'700'000'000;

std::vector<std::string> bodies(const SearchResult& r) {
    std::vector<std::string> out;
    for (const Record& rec : r.records) {
        auto a = rec.entry.stanza.find("<body>"), b = rec.entry.stanza.find("</body>");
        out.push_back(rec.entry.stanza.substr(a + 6, b - a - 6));
    }
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(archive_search)

BOOST_AUTO_TEST_CASE(words_owner_peer_and_limits) {
    test::ArchiveFixture f;
    f.append(chat("alice@x", "bob@x", "The quarterly REPORT is late"), kT0);
    f.append(chat("carol@x", "bob@x", "report filed"), kT0 + 1);
    f.append(chat("alice@x", "carol@x", "lunch?"), kT0 + 2);
    uint64_t last = f.append(chat("bob@x", "alice@x", "the report, finally"), kT0 + 3);
    auto run = [&](SearchQuery q) {
        return f.read([&](MDB_txn* t) {
            auto r = search(f.journal, t, f.db, q);
            BOOST_REQUIRE_MESSAGE(r, r.status().to_string());
            return *r;
        });
    };
    SearchResult all = run({"", "", 0, UINT64_MAX, {"report"}, 100});
    BOOST_TEST(bodies(all) == (std::vector<std::string>{"The quarterly REPORT is late", "report filed",
                                                        "the report, finally"}),
               boost::test_tools::per_element());
    BOOST_TEST(all.candidates == 3u);  // from the index, not a scan of 4 records
    BOOST_TEST(bodies(run({"alice@x", "", 0, UINT64_MAX, {"report"}, 100})).size() == 2u);
    BOOST_TEST(bodies(run({"bob@x", "carol@x", 0, UINT64_MAX, {"report"}, 100})) ==
                   std::vector<std::string>{"report filed"},
               boost::test_tools::per_element());
    BOOST_TEST(bodies(run({"", "", 0, UINT64_MAX, {"report", "late"}, 100})).size() == 1u);
    BOOST_TEST(run({"", "", 0, UINT64_MAX, {"nothing"}, 100}).records.empty());
    BOOST_TEST(bodies(run({"", "", 0, last, {"report"}, 100})).size() == 2u);
    SearchResult one = run({"", "", 0, UINT64_MAX, {"report"}, 1});
    BOOST_TEST(one.records.size() == 1u);
    BOOST_TEST(one.truncated);
    BOOST_TEST(run({"alice@x", "", 0, UINT64_MAX, {}, 100}).records.size() == 3u);
    auto bad = f.read([&](MDB_txn* t) { return search(f.journal, t, f.db, SearchQuery{}); });
    BOOST_TEST(bad.status().code() == "invalid");
}

BOOST_AUTO_TEST_CASE(each_result_streams_in_id_order_and_stops_when_told) {
    test::ArchiveFixture f;
    std::vector<uint64_t> reports;
    for (int i = 0; i < 5; ++i)
        reports.push_back(f.append(chat("alice@x", "bob@x", "report " + std::to_string(i)), kT0 + i));
    f.append(chat("alice@x", "bob@x", "nothing to see"), kT0 + 9);
    std::vector<uint64_t> seen;
    Status s = f.read([&](MDB_txn* t) {
        return search_each(f.journal, t, f.db, {"bob@x", "", 0, UINT64_MAX, {"report"}, 1}, [&](Record&& r) {
            seen.push_back(r.id);
            return true;
        });
    });
    BOOST_REQUIRE_MESSAGE(s, s.to_string());
    BOOST_TEST(seen == reports, boost::test_tools::per_element());  // no limit: q.limit is not used
    seen.clear();
    s = f.read([&](MDB_txn* t) {
        return search_each(f.journal, t, f.db, {"alice@x", "", reports[0], UINT64_MAX, {}, 100}, [&](Record&& r) {
            seen.push_back(r.id);
            return seen.size() < 2;
        });
    });
    BOOST_REQUIRE(s);
    BOOST_TEST(seen == (std::vector<uint64_t>{reports[1], reports[2]}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(purged_records_leave_the_index) {
    test::ArchiveFixture f;
    f.append(chat("alice@x", "bob@x", "secret plan"), kT0);
    Status s = f.env->write([&](store::Txn& t) {
        Policy p({Rule{Scope::all, "", "", 1, "config", 0}}, {});
        auto r = purge_batch(f.journal, t.handle(), f.db, p, {}, {kT0 + 2 * 86'400'000ull, 0, 100});
        BOOST_REQUIRE(r && r->removed == 1u);
        return Status::ok();
    });
    BOOST_REQUIRE(s);
    auto left = f.read([&](MDB_txn* t) {
        size_t n = 0;
        MDB_cursor* c = nullptr;
        BOOST_REQUIRE(mdb_cursor_open(t, f.db, &c) == 0);
        MDB_val k{}, v{};
        for (int rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT))
            if (static_cast<char*>(k.mv_data)[0] == 'W') ++n;
        mdb_cursor_close(c);
        return n;
    });
    BOOST_TEST(left == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

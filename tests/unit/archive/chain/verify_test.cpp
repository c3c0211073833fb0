#define BOOST_TEST_DYN_LINK
#include "archive/chain/verify.hpp"

#include <boost/test/unit_test.hpp>

#include "support/archive_fixture.hpp"

using namespace parley;
using namespace parley::archive;
using parley::test::chat;

namespace {

constexpr uint64_t kNow = 1'764'700'000'000;
constexpr uint64_t kDay = 86'400'000;

struct Chain : test::ArchiveFixture {
    std::vector<uint64_t> ids;
    explicit Chain(int n = 8, uint64_t start = kNow) {
        for (int i = 0; i < n; ++i) ids.push_back(append(chat("alice@x", "bob@x", "m" + std::to_string(i)), start + 10 * i));
    }
    Report check(VerifyOptions o = {}) {
        return read([&](MDB_txn* t) {
            auto r = verify(journal, t, db, o);
            BOOST_REQUIRE_MESSAGE(r, r.status().to_string());
            return *r;
        });
    }
    std::string raw(const std::string& key) {
        return read([&](MDB_txn* t) {
            MDB_val k{key.size(), const_cast<char*>(key.data())}, v{};
            BOOST_REQUIRE(mdb_get(t, db, &k, &v) == 0);
            return std::string(static_cast<char*>(v.mv_data), v.mv_size);
        });
    }
    void put(const std::string& key, const std::string& value) {
        edit([&](MDB_txn* t) {
            MDB_val k{key.size(), const_cast<char*>(key.data())}, v{value.size(), const_cast<char*>(value.data())};
            BOOST_REQUIRE(mdb_put(t, db, &k, &v, 0) == 0);
        });
    }
    void del(const std::string& key) {
        edit([&](MDB_txn* t) {
            MDB_val k{key.size(), const_cast<char*>(key.data())};
            BOOST_REQUIRE(mdb_del(t, db, &k, nullptr) == 0);
        });
    }
};

VerifyOptions chain_only() {
    VerifyOptions o;
    o.views = false;
    return o;
}

VerifyOptions only_owner(const std::string& owner) {
    VerifyOptions o;
    o.owner = owner;
    return o;
}

std::string kinds(const Report& r) {
    std::string out;
    for (const Finding& f : r.findings) out += std::string(to_string(f.kind)) + "@" + std::to_string(f.first) + " ";
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(archive_verify)

BOOST_AUTO_TEST_CASE(intact_archive_verifies) {
    Chain c;
    c.append(chat("alice@x", "bob@x", "next day"), kNow + kDay);
    Report r = c.check();
    BOOST_TEST(r.ok(), kinds(r));
    BOOST_TEST(r.records == 9u);
    BOOST_TEST(r.segments == 2u);
    test::ArchiveFixture empty;
    auto e = empty.read([&](MDB_txn* t) { return verify(empty.journal, t, empty.db, {}); });
    BOOST_REQUIRE(e);
    BOOST_TEST(e->ok());
    BOOST_TEST(e->records == 0u);
}

BOOST_AUTO_TEST_CASE(altered_record_is_named) {
    Chain c;
    std::string key = layout::record_key(c.ids[3]);
    std::string v = c.raw(key);
    v[v.size() - 20] ^= 1;  // one bit of the sealed payload
    c.put(key, v);
    Report r = c.check(chain_only());
    BOOST_REQUIRE_EQUAL(r.findings.size(), 1u);
    BOOST_TEST(r.findings[0].kind == Finding::Kind::altered);
    BOOST_TEST(r.findings[0].first == c.ids[3]);
}

BOOST_AUTO_TEST_CASE(a_segment_range_checks_those_days_only) {
    Chain c(4);                                                         // day 0
    for (int i = 0; i < 3; ++i)                                         // day 1
        c.ids.push_back(c.append(chat("alice@x", "bob@x", "d1"), kNow + kDay + static_cast<uint64_t>(i)));
    const uint32_t day0 = segment_of(c.ids[0]), day1 = segment_of(c.ids[4]);
    BOOST_REQUIRE_EQUAL(day1, day0 + 1);
    std::string key = layout::record_key(c.ids[1]);  // day 0 altered
    std::string v = c.raw(key);
    v[v.size() - 20] ^= 1;
    c.put(key, v);
    const std::string bob = c.read([&](MDB_txn* t) { return Journal::owner_tag(*c.journal.keys(t, c.db), "bob@x"); });
    c.del(std::string(1, layout::kOwner) + bob + layout::u64_be(c.ids[5]));  // day 1: a view key gone
    VerifyOptions o;
    o.first_segment = o.last_segment = day1;
    Report r1 = c.check(o);
    BOOST_TEST(r1.records == 3u);
    BOOST_TEST(r1.segments == 1u);
    BOOST_REQUIRE_EQUAL(r1.findings.size(), 1u);
    BOOST_TEST(r1.findings[0].kind == Finding::Kind::view_missing);
    BOOST_TEST(r1.findings[0].first == c.ids[5]);
    o.first_segment = o.last_segment = day0;
    Report r0 = c.check(o);
    BOOST_TEST(r0.records == 4u);
    // The altered record, and its views (which name a record that no
    // longer opens); nothing of day 1.
    BOOST_REQUIRE(!r0.findings.empty());
    BOOST_TEST(r0.findings[0].kind == Finding::Kind::altered);
    for (const Finding& f : r0.findings) BOOST_TEST(f.first == c.ids[1]);
    Report all = c.check();
    BOOST_TEST(all.findings.size() == r0.findings.size() + 1);  // the whole archive: both days
}

BOOST_AUTO_TEST_CASE(a_segment_range_finds_forged_views_of_those_days_under_every_tag) {
    Chain c(3);                                                         // day 0
    for (int i = 0; i < 3; ++i)                                         // day 1
        c.ids.push_back(c.append(chat("alice@x", "bob@x", "d1"), kNow + kDay + static_cast<uint64_t>(i)));
    for (int i = 0; i < 2; ++i)                                         // day 2
        c.ids.push_back(c.append(chat("alice@x", "bob@x", "d2"), kNow + 2 * kDay + static_cast<uint64_t>(i)));
    const uint32_t day1 = segment_of(c.ids[3]);
    ArchiveKeys keys = c.read([&](MDB_txn* t) { return *c.journal.keys(t, c.db); });
    // Forged views under tags that sort first, last and in between, each
    // naming a record of day 0, day 1 and day 2.
    const std::vector<std::string> tags = {std::string(layout::kIndexTagBytes, '\0'), std::string(layout::kIndexTagBytes, '\xff'),
                                           Journal::owner_tag(keys, "mallory@x")};
    for (const std::string& tag : tags)
        for (size_t i : {size_t{1}, size_t{4}, size_t{6}})
            for (char kind : {layout::kOwner, layout::kPeer})
                c.put(std::string(1, kind) + tag + layout::u64_be(c.ids[i]), "");
    VerifyOptions o;
    o.first_segment = o.last_segment = day1;
    Report r = c.check(o);
    BOOST_TEST(r.records == 3u);
    BOOST_REQUIRE_MESSAGE(r.findings.size() == tags.size() * 2, kinds(r));
    for (const Finding& f : r.findings) {
        BOOST_TEST(f.kind == Finding::Kind::view_extra);
        BOOST_TEST(f.first == c.ids[4], "archive: only the forged views of the day checked");
    }
    Report all = c.check();
    BOOST_TEST(all.findings.size() == tags.size() * 2 * 3, kinds(all));
}

BOOST_AUTO_TEST_CASE(altered_last_record_is_named) {
    Chain c;
    std::string key = layout::record_key(c.ids.back());
    std::string v = c.raw(key);
    v[2] ^= 1;  // its prev id
    c.put(key, v);
    Report r = c.check(chain_only());
    BOOST_REQUIRE_EQUAL(r.findings.size(), 1u);
    BOOST_TEST(r.findings[0].kind == Finding::Kind::altered);
    BOOST_TEST(r.findings[0].first == c.ids.back());
}

BOOST_AUTO_TEST_CASE(inserted_record_is_named) {
    Chain c;
    // A copy of a real record under a new id between two others.
    uint64_t fake = c.ids[4] + 1;
    c.put(layout::record_key(fake), c.raw(layout::record_key(c.ids[2])));
    Report r = c.check(chain_only());
    BOOST_REQUIRE_EQUAL(r.findings.size(), 1u);
    BOOST_TEST(r.findings[0].kind == Finding::Kind::inserted);
    BOOST_TEST(r.findings[0].first == fake);
}

BOOST_AUTO_TEST_CASE(removed_records_are_named) {
    Chain c;
    c.del(layout::record_key(c.ids[2]));
    c.del(layout::record_key(c.ids[3]));
    Report r = c.check(chain_only());
    BOOST_REQUIRE_EQUAL(r.findings.size(), 1u);
    BOOST_TEST(r.findings[0].kind == Finding::Kind::removed);
    BOOST_TEST(r.findings[0].first == c.ids[1]);
    BOOST_TEST(r.findings[0].last == c.ids[3]);
}

BOOST_AUTO_TEST_CASE(removed_first_and_last_are_named) {
    Chain c;
    c.del(layout::record_key(c.ids.front()));
    c.del(layout::record_key(c.ids.back()));
    Report r = c.check(chain_only());
    BOOST_REQUIRE_EQUAL(r.findings.size(), 2u);
    BOOST_TEST(r.findings[0].kind == Finding::Kind::removed);
    BOOST_TEST(r.findings[0].first == 0u);
    BOOST_TEST(r.findings[0].last == c.ids.front());
    BOOST_TEST(r.findings[1].kind == Finding::Kind::removed);
    BOOST_TEST(r.findings[1].last == c.ids.back());
}

BOOST_AUTO_TEST_CASE(whole_segment_removed_is_named) {
    Chain c(3);
    uint64_t next = c.append(chat("alice@x", "bob@x", "tomorrow"), kNow + kDay);
    c.del(layout::record_key(next));
    Report r = c.check(chain_only());
    BOOST_REQUIRE_EQUAL(r.findings.size(), 1u);
    BOOST_TEST(r.findings[0].kind == Finding::Kind::removed);
    BOOST_TEST(r.findings[0].last == next);
}

BOOST_AUTO_TEST_CASE(segment_head_tampering) {
    Chain c;
    std::string key = layout::segment_key(segment_of(c.ids[0]));
    std::string v = c.raw(key);
    v[17] ^= 1;  // its count
    c.put(key, v);
    Report r = c.check(chain_only());
    BOOST_REQUIRE(!r.ok());
    BOOST_TEST(r.findings[0].kind == Finding::Kind::segment);
    c.del(key);
    Report gone = c.check(chain_only());
    BOOST_REQUIRE(!gone.ok());
    BOOST_TEST(gone.findings[0].kind == Finding::Kind::segment);
}

BOOST_AUTO_TEST_CASE(views_checked) {
    Chain c(4);
    Report clean = c.check();
    BOOST_TEST(clean.ok(), kinds(clean));
    ArchiveKeys keys = c.read([&](MDB_txn* t) { return *c.journal.keys(t, c.db); });
    std::string bob_key = std::string(1, layout::kOwner) + Journal::owner_tag(keys, "bob@x") + layout::u64_be(c.ids[1]);
    c.del(bob_key);
    Report r = c.check();
    BOOST_REQUIRE_MESSAGE(r.findings.size() == 1u, kinds(r));
    BOOST_TEST(r.findings[0].kind == Finding::Kind::view_missing);
    BOOST_TEST(r.findings[0].first == c.ids[1]);
    BOOST_TEST(r.findings[0].text.find("bob@x") != std::string::npos);
    // Scoped to alice, bob's missing view is not hers.
    BOOST_TEST(c.check(only_owner("alice@x")).ok());
    c.put(bob_key, "");
    // Mallory's view claims a record she is not in.
    c.put(std::string(1, layout::kOwner) + Journal::owner_tag(keys, "mallory@x") + layout::u64_be(c.ids[2]), "");
    Report extra = c.check();
    BOOST_REQUIRE_MESSAGE(extra.findings.size() == 1u, kinds(extra));
    BOOST_TEST(extra.findings[0].kind == Finding::Kind::view_extra);
    BOOST_TEST(extra.findings[0].first == c.ids[2]);
}

BOOST_AUTO_TEST_CASE(wrong_key_refused) {
    Chain c(2);
    Journal stranger(test::test_key());
    auto r = c.read([&](MDB_txn* t) { return verify(stranger, t, c.db, {}); });
    BOOST_TEST(r.status().code() == "wrong-key");
}

BOOST_AUTO_TEST_SUITE_END()

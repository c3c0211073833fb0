#define BOOST_TEST_DYN_LINK
#include "archive/retention/purge.hpp"

#include <boost/test/unit_test.hpp>

#include "archive/chain/checkpoint.hpp"
#include "archive/chain/verify.hpp"
#include "support/archive_fixture.hpp"

using namespace parley;
using namespace parley::archive;
using parley::test::chat;

namespace {

constexpr uint64_t kDay = 86'400'000;
constexpr uint64_t kT0 = 1'764'700'000'000;

Rule rule(Scope s, std::string target, uint32_t days) { return Rule{s, std::move(target), "", days, "config", 0}; }

struct PurgeFixture : test::ArchiveFixture {
    PurgeResult purge(const Policy& p, const std::vector<LegalHold>& holds, uint64_t now, size_t batch = 2000) {
        PurgeResult total;
        uint64_t from = 0;
        for (int guard = 0; guard < 1000; ++guard) {
            PurgeResult r;
            Status s = env->write([&](store::Txn& t) {
                auto b = purge_batch(journal, t.handle(), db, p, holds, {now, from, batch});
                if (!b) return b.status();
                r = *b;
                return Status::ok();
            });
            BOOST_REQUIRE_MESSAGE(s, s.to_string());
            total.add(r);
            from = r.next_id;
            if (r.done) return total;
        }
        BOOST_FAIL("purge did not finish");
        return total;
    }
    Report check() {
        return read([&](MDB_txn* t) {
            auto r = verify(journal, t, db, {});
            BOOST_REQUIRE_MESSAGE(r, r.status().to_string());
            return *r;
        });
    }
    bool exists(uint64_t id) {
        return read([&](MDB_txn* t) {
            auto r = journal.get(t, db, id);
            return r && r->has_value();
        });
    }
    std::vector<uint64_t> view(const std::string& owner) {
        std::vector<uint64_t> out;
        read([&](MDB_txn* t) {
            return journal.view(t, db, {owner, "", 0, UINT64_MAX, false}, [&](uint64_t id) {
                out.push_back(id);
                return true;
            });
        });
        return out;
    }
};

std::string findings(const Report& r) {
    std::string out;
    for (const Finding& f : r.findings) out += std::string(to_string(f.kind)) + ": " + f.text + "\n";
    return out;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(archive_purge)

BOOST_AUTO_TEST_CASE(expired_records_go_and_the_rest_still_verifies) {
    PurgeFixture f;
    std::vector<uint64_t> old, young;
    for (int i = 0; i < 10; ++i) old.push_back(f.append(chat("alice@x", "bob@x", "old"), kT0 + i));
    for (int i = 0; i < 5; ++i) young.push_back(f.append(chat("alice@x", "bob@x", "young"), kT0 + 20 * kDay + i));
    Policy p({rule(Scope::all, "", 30)}, {});
    PurgeResult r = f.purge(p, {}, kT0 + 31 * kDay, 4);  // small batches: runs cross batch ends
    BOOST_TEST(r.removed == 10u);
    for (uint64_t id : old) BOOST_TEST(!f.exists(id));
    for (uint64_t id : young) BOOST_TEST(f.exists(id));
    BOOST_TEST(f.view("alice@x") == young, boost::test_tools::per_element());
    Report v = f.check();
    BOOST_TEST(v.ok(), findings(v));
    BOOST_TEST(v.purged == 10u);
    // Nothing more is due: a second pass removes nothing.
    BOOST_TEST(f.purge(p, {}, kT0 + 31 * kDay).removed == 0u);
    // Later the young ones go too, the whole segment included.
    BOOST_TEST(f.purge(p, {}, kT0 + 60 * kDay).removed == 5u);
    Report all = f.check();
    BOOST_TEST(all.ok(), findings(all));
    BOOST_TEST(all.purged == 15u);
}

BOOST_AUTO_TEST_CASE(holds_and_longer_policies_keep_records) {
    PurgeFixture f;
    uint64_t a = f.append(chat("alice@x", "bob@x", "1"), kT0);
    uint64_t b = f.append(chat("carol@x", "dave@x", "2"), kT0 + 1);
    uint64_t c = f.append(chat("carol@x", "erin@x", "3"), kT0 + 2);
    uint64_t d = f.append(chat("carol@x", "dave@x", "4"), kT0 + 3);
    Policy p({rule(Scope::all, "", 30), rule(Scope::user, "erin@x", 3650)}, {});
    std::vector<LegalHold> holds{{"CASE-7", Scope::user, "bob@x", "why", "legal", kT0, 0, ""}};
    PurgeResult r = f.purge(p, holds, kT0 + 40 * kDay);
    BOOST_TEST(r.removed == 2u);  // b and d
    BOOST_TEST(r.held == 1u);
    BOOST_TEST(f.exists(a));
    BOOST_TEST(!f.exists(b));
    BOOST_TEST(f.exists(c));
    BOOST_TEST(!f.exists(d));
    BOOST_TEST(r.runs.size() == 2u);  // c stands between them
    // c stays for erin, but carol's view of it is gone (her rule says 30 days).
    BOOST_TEST(r.views_removed == 1u);
    BOOST_TEST(f.view("carol@x").empty());
    BOOST_TEST(f.view("erin@x") == std::vector<uint64_t>{c}, boost::test_tools::per_element());
    Report v = f.check();
    BOOST_TEST(v.ok(), findings(v));
    BOOST_TEST(!r.summary().empty());
}

BOOST_AUTO_TEST_CASE(forever_purges_nothing) {
    PurgeFixture f;
    f.append(chat("alice@x", "bob@x", "1"), kT0);
    PurgeResult r = f.purge(Policy({rule(Scope::all, "", 0)}, {}), {}, kT0 + 9999 * kDay);
    BOOST_TEST(r.examined == 0u);
    BOOST_TEST(r.removed == 0u);
}

BOOST_AUTO_TEST_CASE(tampering_after_a_purge_is_still_caught) {
    PurgeFixture f;
    std::vector<uint64_t> ids;
    for (int i = 0; i < 6; ++i) ids.push_back(f.append(chat("alice@x", "bob@x", "m"), kT0 + (i < 3 ? 0 : 40 * kDay) + i));
    std::string kept_copy = f.read([&](MDB_txn* t) {
        MDB_val k{9, nullptr}, v{};
        std::string key = layout::record_key(ids[1]);
        k.mv_data = key.data();
        BOOST_REQUIRE(mdb_get(t, f.db, &k, &v) == 0);
        return std::string(static_cast<char*>(v.mv_data), v.mv_size);
    });
    f.purge(Policy({rule(Scope::all, "", 30)}, {}), {}, kT0 + 35 * kDay);
    BOOST_TEST(f.check().ok());
    // A purged record put back (a restored backup copy) is reported.
    f.edit([&](MDB_txn* t) {
        std::string key = layout::record_key(ids[1]);
        MDB_val k{key.size(), key.data()}, v{kept_copy.size(), kept_copy.data()};
        BOOST_REQUIRE(mdb_put(t, f.db, &k, &v, 0) == 0);
    });
    Report back = f.check();
    BOOST_REQUIRE(!back.ok());
    BOOST_TEST(back.findings[0].kind == Finding::Kind::inserted, findings(back));
    BOOST_TEST(back.findings[0].first == ids[1]);
    f.edit([&](MDB_txn* t) {
        std::string key = layout::record_key(ids[1]);
        MDB_val k{key.size(), key.data()};
        BOOST_REQUIRE(mdb_del(t, f.db, &k, nullptr) == 0);
    });
    // A checkpoint edited to cover more than was purged does not verify.
    auto cps = f.read([&](MDB_txn* t) { return *load_checkpoints(t, f.db, segment_of(ids[0])); });
    BOOST_REQUIRE(cps.size() == 1u);
    f.edit([&](MDB_txn* t) {
        std::string key = std::string(1, 'C') + layout::u32_be(cps[0].segment) + layout::u64_be(cps[0].first);
        MDB_val k{key.size(), key.data()}, v{};
        BOOST_REQUIRE(mdb_get(t, f.db, &k, &v) == 0);
        std::string value(static_cast<char*>(v.mv_data), v.mv_size);
        value[7] ^= 1;  // its last id
        MDB_val nv{value.size(), value.data()};
        BOOST_REQUIRE(mdb_put(t, f.db, &k, &nv, 0) == 0);
    });
    Report forged = f.check();
    BOOST_REQUIRE(!forged.ok());
    BOOST_TEST(findings(forged).find("checkpoint") != std::string::npos, findings(forged));
}

BOOST_AUTO_TEST_CASE(a_deleted_accounts_archive_goes_and_what_others_keep_stays) {
    PurgeFixture f;
    // alice's messages: with bob (both keep them), to an outside peer (only
    // her view), one with carol under a legal hold; and one of bob's alone.
    uint64_t shared = f.append(chat("alice@x", "bob@x", "hello bob"), kT0);
    Entry lone = chat("alice@x", "peer@remote", "only mine");
    lone.views = {{"alice@x", "peer@remote"}};
    uint64_t mine = f.append(lone, kT0 + 1);
    uint64_t held = f.append(chat("alice@x", "carol@x", "on hold"), kT0 + 2);
    Entry bobs = chat("bob@x", "peer@remote", "bob only");
    bobs.views = {{"bob@x", "peer@remote"}};
    uint64_t other = f.append(bobs, kT0 + 3);
    uint64_t mine2 = f.append(lone, kT0 + 4);
    std::vector<LegalHold> holds{{"CASE-1", Scope::user, "carol@x", "why", "legal", kT0, 0, ""}};
    PurgeResult total;
    uint64_t from = 0;
    for (int guard = 0; guard < 100; ++guard) {
        PurgeResult r;
        Status st = f.env->write([&](store::Txn& t) {
            auto b = forget_owner_batch(f.journal, t.handle(), f.db, "alice@x", holds, {kT0 + kDay, from, 2});
            if (!b) return b.status();
            r = *b;
            return Status::ok();
        });
        BOOST_REQUIRE_MESSAGE(st, st.to_string());
        total.add(r);
        from = r.next_id;
        if (r.done) break;
    }
    BOOST_TEST(total.examined == 4u);
    BOOST_TEST(total.removed == 2u);        // mine and mine2: in no one else's view
    BOOST_TEST(total.views_removed == 1u);  // alice's view of the message bob keeps
    BOOST_TEST(total.held == 1u);
    BOOST_TEST(!f.exists(mine));
    BOOST_TEST(!f.exists(mine2));
    BOOST_TEST(f.exists(shared));
    BOOST_TEST(f.exists(held));
    BOOST_TEST(f.exists(other));
    BOOST_TEST(f.view("alice@x") == std::vector<uint64_t>{held}, boost::test_tools::per_element());
    BOOST_TEST(f.view("bob@x") == (std::vector<uint64_t>{shared, other}), boost::test_tools::per_element());
    // What remains still proves itself: the removed records and the removed
    // view are accounted for, nothing is reported altered or missing.
    Report v = f.check();
    BOOST_TEST(v.ok(), findings(v));
    BOOST_TEST(v.purged == 2u);
}

BOOST_AUTO_TEST_CASE(one_record_goes_under_its_own_checkpoint_unless_held) {
    PurgeFixture f;
    uint64_t a = f.append(chat("alice@x", "bob@x", "first"), kT0);
    uint64_t b = f.append(chat("alice@x", "bob@x", "moderated away"), kT0 + 1);
    uint64_t c = f.append(chat("carol@x", "bob@x", "on hold"), kT0 + 2);
    uint64_t d = f.append(chat("alice@x", "bob@x", "last"), kT0 + 3);
    std::vector<LegalHold> holds{{"CASE-2", Scope::user, "carol@x", "why", "legal", kT0, 0, ""}};
    auto forget = [&](uint64_t id) {
        PurgeResult r;
        Status st = f.env->write([&](store::Txn& t) {
            auto x = forget_record(f.journal, t.handle(), f.db, id, holds, kT0 + kDay);
            if (!x) return x.status();
            r = *x;
            return Status::ok();
        });
        BOOST_REQUIRE_MESSAGE(st, st.to_string());
        return r;
    };
    PurgeResult gone = forget(b);
    BOOST_TEST(gone.removed == 1u);
    BOOST_TEST(gone.runs.size() == 1u);
    BOOST_TEST(!f.exists(b));
    BOOST_TEST(f.view("bob@x") == (std::vector<uint64_t>{a, c, d}), boost::test_tools::per_element());
    PurgeResult kept = forget(c);
    BOOST_TEST(kept.held == 1u);
    BOOST_TEST(kept.removed == 0u);
    BOOST_TEST(f.exists(c));
    PurgeResult again = forget(b);
    BOOST_TEST(again.examined == 0u, "a record already gone changes nothing");
    // The journal still proves itself: the gap is the checkpoint's.
    Report v = f.check();
    BOOST_TEST(v.ok(), findings(v));
    BOOST_TEST(v.purged == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

#define BOOST_TEST_DYN_LINK
#include "store/invites.hpp"

#include <boost/test/unit_test.hpp>

#include <set>

#include "store/env.hpp"
#include "support/temp_dir.hpp"

using namespace parley;
namespace inv = parley::store::invites;

namespace {

constexpr int64_t kNow = 1700000000;

struct InvitesFixture {
    test::TempDir tmp;
    std::unique_ptr<store::Env> env;
    MDB_dbi db = 0;
    InvitesFixture() {
        auto e = store::Env::open(tmp.sub("state"), size_t{16} << 20);
        BOOST_REQUIRE_MESSAGE(e, "invites: Env::open: " << e.status().to_string());
        env = std::move(e.value());
        auto d = env->database(inv::kDatabase, inv::kSchemaVersion);
        BOOST_REQUIRE_MESSAGE(d, "invites: database: " << d.status().to_string());
        db = d.value();
    }
    std::string add(uint32_t uses, int64_t expires = 0) {
        auto made = inv::make(uses, kNow, expires);
        BOOST_REQUIRE_MESSAGE(made, "invites: make: " << made.status().to_string());
        BOOST_REQUIRE(env->write([&](store::Txn& t) { return inv::put(t, db, made->invite); }).is_ok());
        return made->token;
    }
    inv::Consumed use(const std::string& token, int64_t now = kNow) {
        inv::Consumed out;
        Status s = env->write([&](store::Txn& t) {
            auto c = inv::consume(t, db, token, now);
            if (!c) return c.status();
            out = c.value();
            return Status::ok();
        });
        BOOST_REQUIRE_MESSAGE(s, "invites: consume: " << s.to_string());
        return out;
    }
    std::vector<inv::Invite> all() {
        auto txn = env->begin_read();
        BOOST_REQUIRE(txn);
        auto l = inv::list(txn.value(), db);
        BOOST_REQUIRE_MESSAGE(l, "invites: list: " << l.status().to_string());
        return l.value();
    }
};

using Kind = inv::Consumed::Kind;

}  // namespace

BOOST_FIXTURE_TEST_SUITE(store_invites, InvitesFixture)

BOOST_AUTO_TEST_CASE(a_token_is_40_base32_characters_and_only_its_hash_is_stored) {
    auto made = inv::make(1, kNow, 0);
    BOOST_REQUIRE(made);
    BOOST_TEST(made->token.size() == inv::kTokenChars);
    BOOST_TEST(made->token.find_first_not_of("abcdefghijklmnopqrstuvwxyz234567") == std::string::npos, made->token);
    BOOST_TEST(made->token.substr(0, inv::kIdChars) == made->invite.id);
    const std::string value = inv::detail::encode(made->invite);
    const std::string secret = made->token.substr(inv::kIdChars);
    BOOST_TEST(value.find(secret) == std::string::npos, "invites: the secret is never stored");
    std::string id, raw;
    BOOST_REQUIRE(inv::detail::split_token(made->token, id, raw));
    BOOST_TEST(value.find(raw) == std::string::npos, "invites: nor its raw bytes");
    BOOST_TEST(made->invite.secret_hash == inv::detail::sha256(raw));
    // Tokens differ.
    std::set<std::string> seen;
    for (int i = 0; i < 50; ++i) seen.insert(inv::make(1, kNow, 0)->token);
    BOOST_TEST(seen.size() == 50u);
}

BOOST_AUTO_TEST_CASE(the_record_codec_round_trips_and_refuses_malformed_values) {
    inv::Invite a;
    a.id = "abcdefgh";
    a.secret_hash = std::string(32, '\x07');
    a.uses = 5;
    a.uses_left = 3;
    a.created_unix = kNow;
    a.expires_unix = kNow + 60;
    inv::Invite b;
    BOOST_REQUIRE(inv::detail::decode(a.id, inv::detail::encode(a), b));
    BOOST_TEST(b.id == a.id);
    BOOST_TEST(b.secret_hash == a.secret_hash);
    BOOST_TEST(b.uses == 5u);
    BOOST_TEST(b.uses_left == 3u);
    BOOST_TEST(b.created_unix == kNow);
    BOOST_TEST(b.expires_unix == kNow + 60);
    std::string v = inv::detail::encode(a);
    BOOST_TEST(!inv::detail::decode(a.id, v.substr(1), b), "invites: a short value");
    BOOST_TEST(!inv::detail::decode("abc", v, b), "invites: a key of another width");
    v[0] = 9;
    BOOST_TEST(!inv::detail::decode(a.id, v, b), "invites: an unknown format");
    a.uses_left = 6;
    BOOST_TEST(!inv::detail::decode(a.id, inv::detail::encode(a), b), "invites: more uses left than made");
}

BOOST_AUTO_TEST_CASE(a_single_use_token_works_once) {
    const std::string token = add(1);
    BOOST_TEST(all().size() == 1u);
    BOOST_TEST((use(token).kind == Kind::ok));
    BOOST_TEST(all().empty(), "invites: a used-up invitation is deleted");
    BOOST_TEST((use(token).kind == Kind::unknown), "invites: the second use is refused");
}

BOOST_AUTO_TEST_CASE(a_token_for_n_uses_works_n_times) {
    const std::string token = add(3);
    for (int i = 0; i < 3; ++i) {
        auto c = use(token);
        BOOST_TEST((c.kind == Kind::ok), "use " << i);
        BOOST_TEST(c.before.uses_left == static_cast<uint32_t>(3 - i));
    }
    BOOST_TEST((use(token).kind == Kind::unknown));
}

BOOST_AUTO_TEST_CASE(an_expired_token_is_refused_and_deleted) {
    const std::string token = add(2, kNow + 600);
    BOOST_TEST((use(token, kNow + 599).kind == Kind::ok), "invites: still valid a second before its expiry");
    BOOST_TEST((use(token, kNow + 600).kind == Kind::expired));
    BOOST_TEST(all().empty());
    BOOST_TEST((use(token, kNow).kind == Kind::unknown), "invites: gone for good");
    BOOST_TEST(!inv::make(1, kNow, kNow), "invites: an expiry must be in the future");
    BOOST_TEST(!inv::make(0, kNow, 0), "invites: at least one use");
}

BOOST_AUTO_TEST_CASE(a_wrong_secret_or_garbage_is_unknown_and_changes_nothing) {
    const std::string token = add(2);
    std::string wrong = token;
    wrong.back() = wrong.back() == 'a' ? 'b' : 'a';
    BOOST_TEST((use(wrong).kind == Kind::unknown));
    BOOST_TEST((use(token.substr(0, 39)).kind == Kind::unknown));
    BOOST_TEST((use("").kind == Kind::unknown));
    BOOST_TEST((use(std::string(40, '!')).kind == Kind::unknown));
    BOOST_TEST((use(std::string(40, 'a')).kind == Kind::unknown));
    BOOST_TEST(all().front().uses_left == 2u, "invites: failed tries take no use");
    // The token as a person may paste it: upper case, spaces around.
    std::string upper = token;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    BOOST_TEST((use("  " + upper + " ").kind == Kind::ok));
}

BOOST_AUTO_TEST_CASE(refund_gives_back_one_use_even_after_the_last) {
    const std::string token = add(2);
    auto first = use(token);
    BOOST_REQUIRE((first.kind == Kind::ok));
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return inv::refund(t, db, first.before); }).is_ok());
    BOOST_TEST(all().front().uses_left == 2u);
    // A refund never goes past what it was made for.
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return inv::refund(t, db, first.before); }).is_ok());
    BOOST_TEST(all().front().uses_left == 2u);
    BOOST_REQUIRE((use(token).kind == Kind::ok));
    auto last = use(token);
    BOOST_REQUIRE((last.kind == Kind::ok));
    BOOST_TEST(all().empty());
    BOOST_REQUIRE(env->write([&](store::Txn& t) { return inv::refund(t, db, last.before); }).is_ok());
    BOOST_REQUIRE(all().size() == 1u);
    BOOST_TEST(all().front().uses_left == 1u);
    BOOST_TEST((use(token).kind == Kind::ok), "invites: the given-back use works");
}

BOOST_AUTO_TEST_CASE(remove_withdraws_by_id) {
    const std::string token = add(1);
    const std::string id = token.substr(0, inv::kIdChars);
    Result<bool> gone = false;
    BOOST_REQUIRE(env->write([&](store::Txn& t) {
        gone = inv::remove(t, db, id);
        return gone ? Status::ok() : gone.status();
    }));
    BOOST_TEST(gone.value());
    BOOST_TEST((use(token).kind == Kind::unknown));
    BOOST_REQUIRE(env->write([&](store::Txn& t) {
        gone = inv::remove(t, db, id);
        return gone ? Status::ok() : gone.status();
    }));
    BOOST_TEST(!gone.value(), "invites: a second removal finds nothing");
}

BOOST_AUTO_TEST_SUITE_END()

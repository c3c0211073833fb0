// sasl::ServerSession against a Cyrus SASL client in the same process, with
// a temporary account store.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sasl/sasl.h>
#include <sasl/saslplug.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "sasl/sasl_server.hpp"
#include "store/accounts.hpp"
#include "store/env.hpp"
#include "xmpp/base64.hpp"

using parley::sasl::ChannelBinding;
using parley::sasl::Outcome;
using parley::sasl::ServerSession;

namespace {

const char* kDomain = "example.com";

// One store and one Cyrus setup for the whole test process: Cyrus is
// process-wide. The server side must be set up before the client side.
struct World {
    std::string dir;
    std::unique_ptr<parley::store::Env> env;
    std::unique_ptr<parley::store::AccountStore> accounts;
    World() {
        char tmpl[] = "/tmp/parley-sasl-test-XXXXXX";
        dir = mkdtemp(tmpl);
        auto e = parley::store::Env::open(dir, size_t{64} << 20);
        BOOST_REQUIRE_MESSAGE(e, "sasl: store env: " << e.status().to_string());
        env = std::move(e.value());
        auto a = parley::store::AccountStore::open(*env);
        BOOST_REQUIRE_MESSAGE(a, "sasl: account store: " << a.status().to_string());
        accounts = std::move(a.value());
        BOOST_REQUIRE(accounts->create("alice", kDomain, "correct horse", 4096));
        BOOST_REQUIRE(accounts->create("bob", kDomain, "battery staple", 4096));
        parley::Status s = parley::sasl::init(
            accounts.get(), {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"});
        BOOST_REQUIRE_MESSAGE(s, "sasl: init: " << s.to_string());
        BOOST_REQUIRE_EQUAL(sasl_client_init(nullptr), SASL_OK);
    }
    ~World() {
        sasl_client_done();
        parley::sasl::shutdown();
        accounts.reset();
        env.reset();
        std::filesystem::remove_all(dir);
    }
};

World& world() {
    static World w;
    return w;
}

// What the client says about itself.
struct Creds {
    Creds(std::string c, std::string p, std::string z)
        : authcid(std::move(c)), password(std::move(p)), authzid(std::move(z)) {}
    std::string authcid, password, authzid;
    std::vector<char> secret;  // sasl_secret_t storage for Cyrus
};

int get_simple(void* ctx, int id, const char** result, unsigned* len) {
    auto* c = static_cast<Creds*>(ctx);
    const std::string& v = id == SASL_CB_AUTHNAME ? c->authcid : c->authzid;
    *result = v.c_str();
    if (len) *len = static_cast<unsigned>(v.size());
    return SASL_OK;
}

int get_secret(sasl_conn_t*, void* ctx, int, sasl_secret_t** out) {
    auto* c = static_cast<Creds*>(ctx);
    c->secret.assign(sizeof(sasl_secret_t) + c->password.size() + 1, 0);
    auto* s = reinterpret_cast<sasl_secret_t*>(c->secret.data());
    s->len = c->password.size();
    std::memcpy(s->data, c->password.data(), c->password.size());
    *out = s;
    return SASL_OK;
}

std::unique_ptr<ServerSession> server(bool secure, const ChannelBinding* cb = nullptr) {
    world();
    auto s = ServerSession::create(kDomain, "127.0.0.1;5222", "127.0.0.1;40000", secure, cb);
    BOOST_REQUIRE_MESSAGE(s, "sasl: ServerSession::create: " << s.status().to_string());
    return std::move(s.value());
}

bool offers(const ServerSession& s, const std::string& mech) {
    auto m = s.mechanisms();
    return std::find(m.begin(), m.end(), mech) != m.end();
}

// Runs a whole exchange: the Cyrus client against the ServerSession. The
// client also checks the server's final message (SCRAM's server signature).
Outcome exchange(ServerSession& srv, const std::string& mech, Creds creds, const ChannelBinding* client_cb = nullptr,
                 bool* client_verified = nullptr, const char* client_list = nullptr) {
    auto fn = [](auto* f) { return reinterpret_cast<int (*)()>(reinterpret_cast<void (*)()>(f)); };
    sasl_callback_t cbs[] = {
        {SASL_CB_AUTHNAME, fn(&get_simple), &creds},
        {SASL_CB_USER, fn(&get_simple), &creds},
        {SASL_CB_PASS, fn(&get_secret), &creds},
        {SASL_CB_LIST_END, nullptr, nullptr},
    };
    sasl_conn_t* c = nullptr;
    BOOST_REQUIRE_EQUAL(sasl_client_new("xmpp", kDomain, nullptr, nullptr, cbs, 0, &c), SASL_OK);
    sasl_channel_binding_t cb{};
    if (client_cb) {
        cb.name = client_cb->name.c_str();
        cb.len = client_cb->data.size();
        cb.data = reinterpret_cast<const unsigned char*>(client_cb->data.data());
        BOOST_REQUIRE_EQUAL(sasl_setprop(c, SASL_CHANNEL_BINDING, &cb), SASL_OK);
    }
    const char* out = nullptr;
    unsigned outlen = 0;
    const char* chosen = nullptr;
    // The client picks from `client_list` (default: just `mech`); Cyrus names
    // the plugin, without "-PLUS", whichever variant it uses.
    int rc = sasl_client_start(c, client_list ? client_list : mech.c_str(), nullptr, &out, &outlen, &chosen);
    BOOST_REQUIRE_MESSAGE(rc == SASL_OK || rc == SASL_CONTINUE, "sasl: client start " << mech << ": " << sasl_errdetail(c));
    std::string base = mech.size() > 5 && mech.substr(mech.size() - 5) == "-PLUS" ? mech.substr(0, mech.size() - 5) : mech;
    BOOST_REQUIRE_EQUAL(std::string(chosen), base);
    Outcome o = srv.start(mech, out ? std::optional<std::string_view>(std::string_view(out, outlen)) : std::nullopt);
    for (int i = 0; i < 10 && o.kind == Outcome::Kind::challenge; ++i) {
        rc = sasl_client_step(c, o.data.data(), static_cast<unsigned>(o.data.size()), nullptr, &out, &outlen);
        if (rc != SASL_OK && rc != SASL_CONTINUE) {
            BOOST_TEST_MESSAGE("sasl: client step failed: " << sasl_errdetail(c));
            break;
        }
        o = srv.step(std::string_view(out ? out : "", outlen));
    }
    if (client_verified) {
        *client_verified = false;
        if (o.kind == Outcome::Kind::success) {
            rc = o.data.empty() ? SASL_OK
                                : sasl_client_step(c, o.data.data(), static_cast<unsigned>(o.data.size()), nullptr,
                                                   &out, &outlen);
            *client_verified = rc == SASL_OK;
        }
    }
    sasl_dispose(&c);
    return o;
}

std::string kind(const Outcome& o) {
    switch (o.kind) {
        case Outcome::Kind::success: return "success";
        case Outcome::Kind::challenge: return "challenge";
        case Outcome::Kind::failure: return "failure:" + o.condition;
    }
    return "?";
}

ChannelBinding tls_exporter(char fill) { return ChannelBinding{"tls-exporter", std::string(32, fill)}; }

}  // namespace

BOOST_AUTO_TEST_SUITE(sasl_server)

BOOST_AUTO_TEST_CASE(scram_sha1_and_sha256_succeed) {
    for (const char* mech : {"SCRAM-SHA-1", "SCRAM-SHA-256"}) {
        auto s = server(false);
        BOOST_CHECK_MESSAGE(offers(*s, mech), "sasl: " << mech << " not offered");
        bool verified = false;
        Outcome o = exchange(*s, mech, Creds{"alice", "correct horse", ""}, nullptr, &verified);
        BOOST_CHECK_MESSAGE(o.kind == Outcome::Kind::success, "sasl: " << mech << ": " << kind(o));
        BOOST_CHECK_EQUAL(o.node, "alice");
        BOOST_CHECK_MESSAGE(verified, "sasl: " << mech << ": the client refused the server signature");
        BOOST_CHECK_EQUAL(s->attempted_user(), "alice");
    }
}

BOOST_AUTO_TEST_CASE(scram_wrong_password_and_unknown_user) {
    for (const char* mech : {"SCRAM-SHA-1", "SCRAM-SHA-256"}) {
        auto s = server(false);
        Outcome o = exchange(*s, mech, Creds{"alice", "wrong", ""});
        BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
        BOOST_CHECK(o.node.empty());
        BOOST_CHECK_EQUAL(s->attempted_user(), "alice");
        auto s2 = server(false);
        o = exchange(*s2, mech, Creds{"nobody", "whatever", ""});
        BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
        BOOST_CHECK_EQUAL(s2->attempted_user(), "nobody");
        // An unknown user gets a challenge like anyone else, with the same
        // salt each time: the answers do not tell who has an account.
        auto salt_of = [&](const char* user) {
            auto s3 = server(false);
            Outcome c = s3->start(mech, std::string_view(std::string("n,,n=") + user + ",r=abcdefghijklmnop"));
            BOOST_CHECK_EQUAL(kind(c), "challenge");
            size_t a = c.data.find(",s="), b = c.data.find(",i=");
            return a == std::string::npos || b == std::string::npos ? std::string() : c.data.substr(a + 3, b - a - 3);
        };
        const std::string salt = salt_of("nobody");
        BOOST_CHECK(!salt.empty());
        BOOST_CHECK_EQUAL(salt_of("nobody"), salt);
        BOOST_CHECK(salt_of("somebody") != salt);
    }
}

BOOST_AUTO_TEST_CASE(unknown_users_get_the_iteration_count_of_real_accounts) {
    auto iterations_of = [&](const char* domain, const char* user) {
        world();
        auto s = ServerSession::create(domain, "", "", false, nullptr);
        BOOST_REQUIRE(s);
        Outcome c = s.value()->start("SCRAM-SHA-256", std::string_view(std::string("n,,n=") + user + ",r=abcdefghijklmnop"));
        BOOST_CHECK_EQUAL(kind(c), "challenge");
        // The server-first message goes on after i= (XEP-0474's h=).
        size_t i = c.data.find(",i=");
        return i == std::string::npos ? std::string() : c.data.substr(i + 3, c.data.find(',', i + 3) - i - 3);
    };
    // [sasl] scram_iterations went up to 8192 after alice and bob were made
    // with 4096: a name without an account must still show 4096, as they do.
    parley::sasl::set_scram_iterations(8192);
    BOOST_CHECK_EQUAL(iterations_of(kDomain, "alice"), "4096");
    BOOST_CHECK_EQUAL(iterations_of(kDomain, "nobody"), "4096");
    // A domain without accounts shows what its first accounts will get.
    BOOST_CHECK_EQUAL(iterations_of("empty.example", "nobody"), "8192");
    parley::sasl::set_scram_iterations(4096);
    BOOST_CHECK_EQUAL(iterations_of("empty.example", "nobody"), "4096");
}

BOOST_AUTO_TEST_CASE(plain_for_an_unknown_user_costs_a_real_accounts_pbkdf2) {
    parley::sasl::set_scram_iterations(8192);
    auto work = [&](const char* user) {
        auto s = server(true);
        const auto before = parley::store::scram::pbkdf2_work_on_this_thread();
        Outcome o = exchange(*s, "PLAIN", Creds{user, "wrong", ""});
        BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
        const auto after = parley::store::scram::pbkdf2_work_on_this_thread();
        return std::pair(after.calls - before.calls, after.sha256_iterations - before.sha256_iterations);
    };
    const auto real = work("alice");
    const auto unknown = work("nobody");
    parley::sasl::set_scram_iterations(4096);
    BOOST_TEST(real.second == 4096u);
    BOOST_TEST(unknown.first == real.first);
    BOOST_TEST(unknown.second == real.second, "sasl: PLAIN for an unknown user did " << unknown.second
                                                   << " PBKDF2 iterations, for alice " << real.second);
}

BOOST_AUTO_TEST_CASE(user_names_are_prepared) {
    auto s = server(false);
    Outcome o = exchange(*s, "SCRAM-SHA-256", Creds{"Alice", "correct horse", ""});
    BOOST_CHECK_EQUAL(kind(o), "success");
    BOOST_CHECK_EQUAL(o.node, "alice");
    auto s2 = server(true);
    o = exchange(*s2, "PLAIN", Creds{"alice@example.com", "correct horse", ""});
    BOOST_CHECK_EQUAL(kind(o), "success");
    BOOST_CHECK_EQUAL(o.node, "alice");
    auto s3 = server(true);
    o = exchange(*s3, "PLAIN", Creds{"alice@other.example", "correct horse", ""});
    BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
}

BOOST_AUTO_TEST_CASE(plain_only_when_secure) {
    auto insecure = server(false);
    BOOST_CHECK(!offers(*insecure, "PLAIN"));
    Outcome o = insecure->start("PLAIN", std::string_view("\0alice\0correct horse", 20));
    BOOST_CHECK_EQUAL(kind(o), "failure:invalid-mechanism");

    auto s = server(true);
    BOOST_CHECK(offers(*s, "PLAIN"));
    o = exchange(*s, "PLAIN", Creds{"alice", "correct horse", ""});
    BOOST_CHECK_EQUAL(kind(o), "success");
    BOOST_CHECK_EQUAL(o.node, "alice");
    auto s2 = server(true);
    o = exchange(*s2, "PLAIN", Creds{"alice", "wrong", ""});
    BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
    BOOST_CHECK_EQUAL(s2->attempted_user(), "alice");
    auto s3 = server(true);
    o = exchange(*s3, "PLAIN", Creds{"nobody", "wrong", ""});
    BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
}

BOOST_AUTO_TEST_CASE(plus_variants_with_channel_binding) {
    auto plain_tls = server(true);
    BOOST_CHECK(!offers(*plain_tls, "SCRAM-SHA-256-PLUS"));
    BOOST_CHECK(plain_tls->channel_binding_types().empty());

    const ChannelBinding cb = tls_exporter('x');
    for (const char* mech : {"SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"}) {
        auto s = server(true, &cb);
        BOOST_CHECK_MESSAGE(offers(*s, mech), "sasl: " << mech << " not offered with channel binding");
        BOOST_CHECK(s->channel_binding_types() == std::vector<std::string>{"tls-exporter"});
        bool verified = false;
        Outcome o = exchange(*s, mech, Creds{"alice", "correct horse", ""}, &cb, &verified);
        BOOST_CHECK_MESSAGE(o.kind == Outcome::Kind::success, "sasl: " << mech << ": " << kind(o));
        BOOST_CHECK(verified);

        // Another TLS connection's binding: refused.
        auto s2 = server(true, &cb);
        const ChannelBinding other = tls_exporter('y');
        o = exchange(*s2, mech, Creds{"alice", "correct horse", ""}, &other);
        BOOST_CHECK_MESSAGE(o.kind == Outcome::Kind::failure, "sasl: " << mech << " with a foreign binding: " << kind(o));
    }
    // A client that could bind but was led to think we cannot (downgrade): refused.
    auto s = server(true, &cb);
    // (The client negotiates from a list without -PLUS, so it sends "y".)
    Outcome o = exchange(*s, "SCRAM-SHA-256", Creds{"alice", "correct horse", ""}, &cb, nullptr, "SCRAM-SHA-256 PLAIN");
    BOOST_CHECK_MESSAGE(o.kind == Outcome::Kind::failure, "sasl: downgrade from -PLUS accepted: " << kind(o));
    // A client without channel binding still uses plain SCRAM.
    auto s2 = server(true, &cb);
    o = exchange(*s2, "SCRAM-SHA-256", Creds{"alice", "correct horse", ""});
    BOOST_CHECK_EQUAL(kind(o), "success");
}

BOOST_AUTO_TEST_CASE(a_scram_only_list_with_channel_binding) {
    // Every mechanism with a -PLUS variant: Cyrus 2.1.28's sasl_listmech
    // wrote one byte past its buffer when a channel binding was set
    // (AddressSanitizer: heap-buffer-overflow in strcat).
    for (const auto& mechs : std::vector<std::vector<std::string>>{
             {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"},
             {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"}}) {
        BOOST_REQUIRE(parley::sasl::init(world().accounts.get(), mechs));
        const ChannelBinding cb = tls_exporter('z');
        auto s = server(true, &cb);
        BOOST_TEST(s->mechanisms() == mechs, "sasl: offered with channel binding, in the configured order");
        auto no_cb = server(true);
        std::vector<std::string> without;
        for (const auto& m : mechs)
            if (m.find("-PLUS") == std::string::npos) without.push_back(m);
        BOOST_TEST(no_cb->mechanisms() == without, "sasl: no -PLUS without channel binding");
    }
    BOOST_REQUIRE(parley::sasl::init(world().accounts.get(), {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS",
                                                              "SCRAM-SHA-1", "PLAIN"}));
}

BOOST_AUTO_TEST_CASE(authzid_must_be_the_authcid) {
    for (const char* mech : {"SCRAM-SHA-256", "PLAIN"}) {
        auto s = server(true);
        Outcome o = exchange(*s, mech, Creds{"alice", "correct horse", "bob@example.com"});
        BOOST_CHECK_MESSAGE(kind(o) == "failure:invalid-authzid", "sasl: " << mech << ": " << kind(o));
        auto s2 = server(true);
        o = exchange(*s2, mech, Creds{"alice", "correct horse", "alice@example.com"});
        BOOST_CHECK_MESSAGE(kind(o) == "success", "sasl: " << mech << " with own bare JID: " << kind(o));
        BOOST_CHECK_EQUAL(o.node, "alice");
    }
}

BOOST_AUTO_TEST_CASE(gs2_channel_binding_names) {
    BOOST_CHECK_EQUAL(parley::sasl::gs2_channel_binding_name("p=tls-exporter,,n=a,r=x"), "tls-exporter");
    BOOST_CHECK_EQUAL(parley::sasl::gs2_channel_binding_name("p=tls-unique,a=b,n=a,r=x"), "tls-unique");
    BOOST_CHECK_EQUAL(parley::sasl::gs2_channel_binding_name("n,,n=a,r=x"), "");
    BOOST_CHECK_EQUAL(parley::sasl::gs2_channel_binding_name("y,,n=a,r=x"), "");
    BOOST_CHECK_EQUAL(parley::sasl::gs2_channel_binding_name("p=no-comma"), "");
    BOOST_CHECK_EQUAL(parley::sasl::gs2_channel_binding_name(""), "");
}

BOOST_AUTO_TEST_CASE(a_name_that_is_no_account_name_never_reaches_cyrus) {
    // Over nodeprep's 1023 bytes: Cyrus's canonicalization leaked 1049 bytes
    // for such a name (LeakSanitizer, found by sasl_fuzz).
    const std::string long_name(2000, 'c');
    auto s = server(true);
    Outcome o = s->start("SCRAM-SHA-256", "n,,n=" + long_name + ",r=xyz");
    BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
    BOOST_CHECK_EQUAL(kind(s->step("c=biws,r=xyz,p=AAAA")), "failure:malformed-request");
    auto p = server(true);
    o = p->start("PLAIN", std::string("\0", 1) + long_name + std::string("\0pw", 3));
    BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
    // Without an initial response, the first step is the one checked.
    auto q = server(true);
    o = q->start("SCRAM-SHA-1", std::nullopt);
    BOOST_REQUIRE_EQUAL(kind(o), "challenge");
    BOOST_CHECK_EQUAL(kind(q->step("n,,n=" + long_name + ",r=xyz")), "failure:not-authorized");
    // A real name still works the same way.
    auto r = server(true);
    o = exchange(*r, "SCRAM-SHA-256", Creds{"alice", "correct horse", ""});
    BOOST_CHECK_EQUAL(kind(o), "success");
}

BOOST_AUTO_TEST_CASE(protocol_misuse) {
    auto s = server(false);
    BOOST_CHECK_EQUAL(kind(s->step("x")), "failure:malformed-request");
    BOOST_CHECK_EQUAL(kind(s->start("DIGEST-MD5", std::nullopt)), "failure:invalid-mechanism");
    // A step after a refused start ends there (found by sasl_fuzz: Cyrus
    // crashed on a connection that never started a mechanism).
    BOOST_CHECK_EQUAL(kind(s->step("x")), "failure:malformed-request");
    auto plus = server(false);
    BOOST_CHECK_EQUAL(kind(plus->start("SCRAM-SHA-1-PLUS", std::nullopt)), "failure:invalid-mechanism");
    BOOST_CHECK_EQUAL(kind(plus->step("p=tls-exporter,,n=alice,r=abc")), "failure:malformed-request");
    auto s2 = server(false);
    Outcome o = s2->start("SCRAM-SHA-1", std::string_view("garbage"));
    BOOST_CHECK_EQUAL(kind(o), "failure:malformed-request");
    // No initial response: an empty challenge, then the client's first message.
    auto s3 = server(false);
    o = s3->start("SCRAM-SHA-1", std::nullopt);
    BOOST_CHECK_EQUAL(kind(o), "challenge");
    BOOST_CHECK(o.data.empty());
    o = s3->step("n,,n=bob,r=abcdefghijklmnop");
    BOOST_CHECK_EQUAL(kind(o), "challenge");
    BOOST_CHECK_EQUAL(s3->attempted_user(), "bob");
}

BOOST_AUTO_TEST_CASE(server_first_carries_the_xep0474_hash_of_what_is_offered) {
    // Computed here from XEP-0474 0.5.0 §4.1 (sort, join with 0x1E, 0x1F
    // before the XEP-0440 types, hash of the SCRAM mechanism, base64).
    auto expected = [](const ServerSession& s, gnutls_digest_algorithm_t alg, size_t size) {
        auto mechs = s.mechanisms();
        auto types = s.channel_binding_types();
        std::sort(mechs.begin(), mechs.end());
        std::sort(types.begin(), types.end());
        std::string in;
        for (const auto& m : mechs) in += (in.empty() ? "" : "\x1e") + m;
        if (!types.empty()) {
            in += '\x1f';
            for (size_t i = 0; i < types.size(); ++i) in += (i ? "\x1e" : "") + types[i];
        }
        std::string d(size, '\0');
        BOOST_REQUIRE(gnutls_hash_fast(alg, in.data(), in.size(), d.data()) == 0);
        return parley::xmpp::base64_encode(d);
    };
    const ChannelBinding cb = tls_exporter('h');
    struct Case {
        const char* mech;
        bool secure;
        const ChannelBinding* cb;
        const char* first;
        gnutls_digest_algorithm_t alg;
        size_t size;
    };
    for (const Case& c : {Case{"SCRAM-SHA-256", false, nullptr, "n,,n=alice,r=abc", GNUTLS_DIG_SHA256, 32},
                          Case{"SCRAM-SHA-256", true, nullptr, "n,,n=alice,r=abc", GNUTLS_DIG_SHA256, 32},
                          Case{"SCRAM-SHA-1", true, &cb, "n,,n=alice,r=abc", GNUTLS_DIG_SHA1, 20},
                          Case{"SCRAM-SHA-256-PLUS", true, &cb, "p=tls-exporter,,n=alice,r=abc", GNUTLS_DIG_SHA256, 32},
                          Case{"SCRAM-SHA-1-PLUS", true, &cb, "p=tls-exporter,,n=nobody,r=abc", GNUTLS_DIG_SHA1, 20}}) {
        auto s = server(c.secure, c.cb);
        Outcome o = s->start(c.mech, std::string_view(c.first));
        BOOST_REQUIRE_MESSAGE(kind(o) == "challenge", "sasl: " << c.mech << ": " << kind(o));
        const size_t h = o.data.find(",h=");
        BOOST_REQUIRE_MESSAGE(h != std::string::npos, "sasl: no XEP-0474 h= in " << o.data);
        BOOST_CHECK_EQUAL(o.data.substr(h + 3), expected(*s, c.alg, c.size));
        BOOST_CHECK(o.data.find(",i=") < h);
    }
}

BOOST_AUTO_TEST_CASE(cyrus_loads_plain_and_no_scram) {
    // SCRAM is ours: Cyrus must not even load its SCRAM plugin.
    world();
    std::set<std::string> loaded;
    sasl_server_plugin_info(
        nullptr,
        [](server_sasl_mechanism_t* m, sasl_info_callback_stage_t stage, void* rock) {
            if (stage == SASL_INFO_LIST_MECH && m && m->plug && m->plug->mech_name)
                static_cast<std::set<std::string>*>(rock)->insert(m->plug->mech_name);
        },
        &loaded);
    BOOST_CHECK(loaded.count("PLAIN"));
    for (const auto& m : loaded) BOOST_CHECK_MESSAGE(m.rfind("SCRAM-", 0) != 0, "sasl: Cyrus loaded " << m);
}

BOOST_AUTO_TEST_SUITE_END()

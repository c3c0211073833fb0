// sasl::ScramServer on its own: RFC 5802 and RFC 7677 test vectors through
// the server (server nonce fixed through the test seam), strict parsing,
// channel binding, decoys for names without an account, and XEP-0474's "h"
// attribute, checked against a client computed here with GnuTLS directly.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <algorithm>
#include <map>

#include "sasl/scram_server.hpp"
#include "store/scram.hpp"
#include "xmpp/base64.hpp"

using parley::sasl::ChannelBinding;
using parley::sasl::Outcome;
using parley::sasl::ScramCredentials;
using parley::sasl::ScramServer;
using parley::sasl::ScramServerOptions;
using parley::store::scram::ScramCredential;

namespace {

const char* kDomain = "example.com";

std::string b64(std::string_view s) { return parley::xmpp::base64_encode(s); }
std::string unb64(std::string_view s) {
    auto r = parley::xmpp::base64_decode(s);
    BOOST_REQUIRE_MESSAGE(r, "scram test: bad base64 " << s);
    return r.value();
}

// Accounts in memory: node -> credentials; counts decoy lookups.
struct FakeCredentials : ScramCredentials {
    std::map<std::string, std::vector<ScramCredential>> accounts;
    uint32_t iterations = 4096;
    bool broken = false;
    parley::Result<std::optional<ScramCredential>> find(std::string_view node, std::string_view domain,
                                                        std::string_view mechanism) override {
        if (broken) return parley::Status::error("io", "disk on fire");
        if (domain != kDomain) return std::optional<ScramCredential>();
        auto it = accounts.find(std::string(node));
        if (it != accounts.end())
            for (const auto& c : it->second)
                if (c.mechanism == mechanism) return std::optional<ScramCredential>(c);
        return std::optional<ScramCredential>();
    }
    uint32_t decoy_iterations(std::string_view) override { return iterations; }
};

ScramCredential derive(const char* mech, const char* password, const std::string& salt, uint32_t i = 4096) {
    auto c = parley::store::scram::derive(mech, password, salt, i);
    BOOST_REQUIRE_MESSAGE(c, "scram test: derive: " << c.status().to_string());
    return c.value();
}

// The RFC examples' user: "user", password "pencil".
FakeCredentials& rfc_accounts() {
    static FakeCredentials f = [] {
        FakeCredentials f;
        f.accounts["user"] = {derive("SCRAM-SHA-1", "pencil", unb64("QSXCR+Q6sek8bf92")),
                              derive("SCRAM-SHA-256", "pencil", unb64("W22ZaJ0SNY7soEsUEjb6gQ=="))};
        f.accounts["other"] = {derive("SCRAM-SHA-256", "secret", "0123456789abcdef")};
        return f;
    }();
    return f;
}

ScramServerOptions opts(const std::string& mech, const std::string& server_nonce = "SERVERNONCE") {
    ScramServerOptions o;
    o.mechanism = mech;
    o.domain = kDomain;
    o.fixed_server_nonce = server_nonce;
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

// A SCRAM client written from RFC 5802 §3 with GnuTLS calls of its own.
struct Client {
    gnutls_mac_algorithm_t mac;
    gnutls_digest_algorithm_t dig;
    size_t size;
    explicit Client(std::string_view mech) {
        const bool sha1 = mech.substr(0, 11) == "SCRAM-SHA-1" && (mech.size() == 11 || mech[11] == '-');
        mac = sha1 ? GNUTLS_MAC_SHA1 : GNUTLS_MAC_SHA256;
        dig = sha1 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_SHA256;
        size = sha1 ? 20 : 32;
    }
    std::string hmac(std::string_view key, std::string_view msg) const {
        std::string out(size, '\0');
        BOOST_REQUIRE(gnutls_hmac_fast(mac, key.data(), key.size(), msg.data(), msg.size(), out.data()) == 0);
        return out;
    }
    // Returns the proof (base64) and sets the expected server signature.
    std::string proof(std::string_view password, const std::string& auth_message, const std::string& salt,
                      uint32_t iterations, std::string* server_signature = nullptr) const {
        std::string salted(size, '\0');
        gnutls_datum_t key{reinterpret_cast<unsigned char*>(const_cast<char*>(password.data())),
                           static_cast<unsigned>(password.size())};
        gnutls_datum_t s{reinterpret_cast<unsigned char*>(const_cast<char*>(salt.data())),
                         static_cast<unsigned>(salt.size())};
        BOOST_REQUIRE(gnutls_pbkdf2(mac, &key, &s, iterations, salted.data(), salted.size()) == 0);
        const std::string client_key = hmac(salted, "Client Key");
        std::string stored(size, '\0');
        BOOST_REQUIRE(gnutls_hash_fast(dig, client_key.data(), client_key.size(), stored.data()) == 0);
        std::string p = hmac(stored, auth_message);
        for (size_t i = 0; i < size; ++i) p[i] = static_cast<char>(p[i] ^ client_key[i]);
        if (server_signature) *server_signature = b64(hmac(hmac(salted, "Server Key"), auth_message));
        return b64(p);
    }
};

// The value of attribute `name` in a SCRAM message, or empty.
std::string attr(const std::string& msg, char name) {
    size_t pos = 0;
    while (pos <= msg.size()) {
        size_t end = msg.find(',', pos);
        if (end == std::string::npos) end = msg.size();
        if (end - pos >= 2 && msg[pos] == name && msg[pos + 1] == '=') return msg.substr(pos + 2, end - pos - 2);
        pos = end + 1;
    }
    return {};
}

// A whole exchange by Client: client-first `first` (gs2 header included),
// `final_extra` inserted after r= in client-final, `cb_data` appended to the
// gs2 header in c=. Returns the server's last outcome.
struct Run {
    Outcome first, last;
    std::string server_signature;
};
Run run(ScramServer& srv, const std::string& mech, const std::string& first, const std::string& password,
        const std::string& cb_data = "", const std::string& final_extra = "") {
    Run r;
    r.first = srv.on_client_first(first);
    if (r.first.kind != Outcome::Kind::challenge) {
        r.last = r.first;
        return r;
    }
    const std::string& sf = r.first.data;
    const size_t gs2_end = first.find(",n=") != std::string::npos ? first.find(",n=") + 1 : 0;
    const std::string gs2 = first.substr(0, gs2_end);
    const std::string bare = first.substr(gs2_end);
    const std::string without_proof = "c=" + b64(gs2 + cb_data) + ",r=" + attr(sf, 'r') + final_extra;
    const std::string auth_message = bare + "," + sf + "," + without_proof;
    Client c(mech);
    const std::string p = c.proof(password, auth_message, unb64(attr(sf, 's')),
                                  static_cast<uint32_t>(std::stoul(attr(sf, 'i'))), &r.server_signature);
    r.last = srv.on_client_final(without_proof + ",p=" + p);
    return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(scram_server)

BOOST_AUTO_TEST_CASE(rfc5802_sha1_test_vector) {
    ScramServer s(opts("SCRAM-SHA-1", "3rfcNHYJY1ZVvWVs7j"), rfc_accounts());
    Outcome o = s.on_client_first("n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
    BOOST_REQUIRE_EQUAL(kind(o), "challenge");
    BOOST_CHECK_EQUAL(o.data, "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096");
    BOOST_CHECK_EQUAL(s.authcid(), "user");
    o = s.on_client_final("c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=");
    BOOST_REQUIRE_EQUAL(kind(o), "success");
    BOOST_CHECK_EQUAL(o.data, "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=");
    BOOST_CHECK_EQUAL(o.node, "user");
    BOOST_CHECK(s.done());
    BOOST_CHECK_EQUAL(kind(s.step("c=biws")), "failure:malformed-request");
}

BOOST_AUTO_TEST_CASE(rfc7677_sha256_test_vector) {
    ScramServer s(opts("SCRAM-SHA-256", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"), rfc_accounts());
    Outcome o = s.step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
    BOOST_REQUIRE_EQUAL(kind(o), "challenge");
    BOOST_CHECK_EQUAL(o.data,
                      "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    o = s.step("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
               "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    BOOST_REQUIRE_EQUAL(kind(o), "success");
    BOOST_CHECK_EQUAL(o.data, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
}

BOOST_AUTO_TEST_CASE(random_server_nonce_extends_the_client_nonce) {
    ScramServer a(opts("SCRAM-SHA-256", ""), rfc_accounts());
    ScramServer b(opts("SCRAM-SHA-256", ""), rfc_accounts());
    const std::string ra = attr(a.on_client_first("n,,n=user,r=abc").data, 'r');
    const std::string rb = attr(b.on_client_first("n,,n=user,r=abc").data, 'r');
    BOOST_CHECK(ra.rfind("abc", 0) == 0 && ra.size() >= 3 + 24);
    BOOST_CHECK(ra != rb);
    BOOST_CHECK(ra.find(',') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_client_of_our_own_succeeds_and_checks_the_server) {
    for (const char* mech : {"SCRAM-SHA-1", "SCRAM-SHA-256"}) {
        ScramServer s(opts(mech, ""), rfc_accounts());
        Run r = run(s, mech, "n,,n=user,r=client-nonce", "pencil");
        BOOST_CHECK_MESSAGE(kind(r.last) == "success", "scram: " << mech << ": " << kind(r.last));
        BOOST_CHECK_EQUAL(r.last.data, "v=" + r.server_signature);
    }
}

BOOST_AUTO_TEST_CASE(wrong_proof_wrong_nonce_bad_channel_binding) {
    {
        ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
        Run r = run(s, "SCRAM-SHA-256", "n,,n=user,r=abc", "wrong");
        BOOST_CHECK_EQUAL(kind(r.last), "failure:not-authorized");
        BOOST_CHECK_EQUAL(r.last.data, "e=invalid-proof");
        BOOST_CHECK(r.last.node.empty());
    }
    {
        // The right proof for a nonce that is not the exchange's.
        ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
        Outcome f = s.on_client_first("n,,n=user,r=abc");
        BOOST_REQUIRE_EQUAL(kind(f), "challenge");
        const std::string wp = "c=biws,r=abcOTHER";
        Client c("SCRAM-SHA-256");
        const std::string p = c.proof("pencil", "n=user,r=abc," + f.data + "," + wp, unb64(attr(f.data, 's')), 4096);
        Outcome o = s.on_client_final(wp + ",p=" + p);
        BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
    }
    {
        // c= with another gs2 header than client-first's ("y,," for "n,,").
        ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
        Outcome f = s.on_client_first("n,,n=user,r=abc");
        const std::string wp = "c=" + b64("y,,") + ",r=" + attr(f.data, 'r');
        Client c("SCRAM-SHA-256");
        const std::string p = c.proof("pencil", "n=user,r=abc," + f.data + "," + wp, unb64(attr(f.data, 's')), 4096);
        Outcome o = s.on_client_final(wp + ",p=" + p);
        BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
        BOOST_CHECK_EQUAL(o.data, "e=channel-bindings-dont-match");
    }
    {
        // c= that is not base64 at all.
        ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
        Outcome f = s.on_client_first("n,,n=user,r=abc");
        Outcome o = s.on_client_final("c=b!ws,r=" + attr(f.data, 'r') + ",p=" + b64(std::string(32, 'x')));
        BOOST_CHECK_EQUAL(kind(o), "failure:malformed-request");
    }
}

BOOST_AUTO_TEST_CASE(malformed_client_first_messages) {
    const std::string nul("n,,n=us\0er,r=abc", 16);
    for (const std::string& m : std::vector<std::string>{
             "", "n", "n,", "x,,n=user,r=abc", "F,n,,n=user,r=abc", "n,n=user,r=abc", "n,,r=abc", "n,,n=,r=abc",
             "n,,n=us=er,r=abc", "n,,n=us=2c,r=abc", "n,,n=user", "n,,n=user,r=", "n,,n=user,r=a,b",
             "n,,n=user,r=a,1=x", "n,,n=user,r=a,x=", "n,,n=user,r=a,r=b", "n,,n=user\xff,r=abc",
             "n,,n=\xc0\xaf,r=abc", "p=,,n=user,r=abc", "p=tls exporter,,n=user,r=abc", "n,a=,n=user,r=abc",
             "n,a=bo=b,n=user,r=abc", "n,,n=user,x=y,r=abc", nul}) {
        ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
        Outcome o = s.on_client_first(m);
        BOOST_CHECK_MESSAGE(kind(o) == "failure:malformed-request", "scram: client-first '" << m << "': " << kind(o));
        BOOST_CHECK(s.done());
    }
    // Mandatory extensions (RFC 5802 §5.1 "m") fail wherever they are.
    for (const std::string& m : std::vector<std::string>{"n,,m=ext,n=user,r=abc", "n,,n=user,r=abc,m=ext"}) {
        ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
        Outcome o = s.on_client_first(m);
        BOOST_CHECK_EQUAL(kind(o), "failure:malformed-request");
        BOOST_CHECK_EQUAL(o.data, "e=extensions-not-supported");
    }
    // Optional extensions are ignored, escapes are read.
    ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
    BOOST_CHECK_EQUAL(kind(s.on_client_first("n,,n=us=2Cer,r=abc,x=opt=ional")), "challenge");
}

BOOST_AUTO_TEST_CASE(malformed_client_final_messages) {
    for (const std::string& tail : std::vector<std::string>{
             "c=biws,r=NONCE",                                    // no proof
             "r=NONCE,c=biws,p=PROOF",                            // order
             "c=biws,p=PROOF",                                    // no nonce
             "c=biws,r=NONCE,p=c2hvcnQ=",                         // proof of the wrong size
             "c=biws,r=NONCE,p=!!!!",                             // proof not base64
             "c=biws,r=NONCE,p=PROOF,x=y",                        // something after the proof
             "c=,r=NONCE,p=PROOF",                                // empty channel binding
             "c=biws,r=NONCE,m=must,p=PROOF",                     // mandatory extension
             "c=biws,r=NONCE,c=biws,p=PROOF",                     // repeated attribute
             std::string("c=biws,r=NONCE,p=PROOF\0", 23),         // NUL
         }) {
        ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
        Outcome f = s.on_client_first("n,,n=user,r=abc");
        BOOST_REQUIRE_EQUAL(kind(f), "challenge");
        std::string m = tail;
        const std::string nonce = attr(f.data, 'r');
        const std::string proof = b64(std::string(32, 'p'));
        for (auto [key, value] : {std::pair<std::string, std::string>{"NONCE", nonce}, {"PROOF", proof}})
            if (size_t at = m.find(key); at != std::string::npos) m.replace(at, key.size(), value);
        Outcome o = s.on_client_final(m);
        BOOST_CHECK_MESSAGE(kind(o) == "failure:malformed-request", "scram: client-final '" << m << "': " << kind(o));
    }
    // An optional extension in client-final is signed like the rest.
    ScramServer s(opts("SCRAM-SHA-256"), rfc_accounts());
    Run r = run(s, "SCRAM-SHA-256", "n,,n=user,r=abc", "pencil", "", ",x=19C6532F");
    BOOST_CHECK_EQUAL(kind(r.last), "success");
    // Out of order: client-final first.
    ScramServer t(opts("SCRAM-SHA-256"), rfc_accounts());
    BOOST_CHECK_EQUAL(kind(t.on_client_final("c=biws,r=abc,p=" + b64(std::string(32, 'p')))), "failure:malformed-request");
}

BOOST_AUTO_TEST_CASE(channel_binding) {
    const ChannelBinding cb{"tls-exporter", std::string(32, 'x')};
    auto plus = [&](const std::string& mech) {
        ScramServerOptions o = opts(mech);
        o.channel_binding = cb;
        o.binding_advertised = true;
        return o;
    };
    for (const char* mech : {"SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"}) {
        ScramServer ok(plus(mech), rfc_accounts());
        Run r = run(ok, mech, "p=tls-exporter,,n=user,r=abc", "pencil", cb.data);
        BOOST_CHECK_MESSAGE(kind(r.last) == "success", "scram: " << mech << ": " << kind(r.last));
        // Another connection's binding data.
        ScramServer foreign(plus(mech), rfc_accounts());
        r = run(foreign, mech, "p=tls-exporter,,n=user,r=abc", "pencil", std::string(32, 'y'));
        BOOST_CHECK_EQUAL(kind(r.last), "failure:not-authorized");
        BOOST_CHECK_EQUAL(r.last.data, "e=channel-bindings-dont-match");
        // A type this stream does not have.
        ScramServer other(plus(mech), rfc_accounts());
        BOOST_CHECK_EQUAL(kind(other.on_client_first("p=tls-unique,,n=user,r=abc")), "failure:not-authorized");
        // -PLUS without binding.
        ScramServer none(plus(mech), rfc_accounts());
        BOOST_CHECK_EQUAL(kind(none.on_client_first("n,,n=user,r=abc")), "failure:not-authorized");
    }
    // A binding with a mechanism that does not bind.
    ScramServer nb(plus("SCRAM-SHA-256"), rfc_accounts());
    BOOST_CHECK_EQUAL(kind(nb.on_client_first("p=tls-exporter,,n=user,r=abc")), "failure:not-authorized");
    // "y" (the client can bind, thinks we cannot) where we advertise binding.
    ScramServer y(plus("SCRAM-SHA-256"), rfc_accounts());
    Outcome o = y.on_client_first("y,,n=user,r=abc");
    BOOST_CHECK_EQUAL(kind(o), "failure:not-authorized");
    BOOST_CHECK_EQUAL(o.data, "e=server-does-support-channel-binding");
    // "y" where we do not: fine, and c= must carry the same "y,,".
    ScramServer y2(opts("SCRAM-SHA-256"), rfc_accounts());
    Run r = run(y2, "SCRAM-SHA-256", "y,,n=user,r=abc", "pencil");
    BOOST_CHECK_EQUAL(kind(r.last), "success");
    // Plain SCRAM with "n" on a stream that binds: the client cannot bind.
    ScramServer n(plus("SCRAM-SHA-256"), rfc_accounts());
    r = run(n, "SCRAM-SHA-256", "n,,n=user,r=abc", "pencil");
    BOOST_CHECK_EQUAL(kind(r.last), "success");
}

BOOST_AUTO_TEST_CASE(authzid) {
    ScramServer own(opts("SCRAM-SHA-256"), rfc_accounts());
    Run r = run(own, "SCRAM-SHA-256", "n,a=user@example.com,n=user,r=abc", "pencil");
    BOOST_CHECK_EQUAL(kind(r.last), "success");
    ScramServer other(opts("SCRAM-SHA-256"), rfc_accounts());
    r = run(other, "SCRAM-SHA-256", "n,a=other,n=user,r=abc", "pencil");
    BOOST_CHECK_EQUAL(kind(r.last), "failure:invalid-authzid");
    // Without the password the authzid is not even looked at.
    ScramServer wrong(opts("SCRAM-SHA-256"), rfc_accounts());
    r = run(wrong, "SCRAM-SHA-256", "n,a=other,n=user,r=abc", "wrong");
    BOOST_CHECK_EQUAL(kind(r.last), "failure:not-authorized");
}

BOOST_AUTO_TEST_CASE(unknown_users_are_indistinguishable) {
    FakeCredentials& f = rfc_accounts();
    f.iterations = 4096;
    auto first = [&](const std::string& user) {
        ScramServer s(opts("SCRAM-SHA-256", "SN"), f);
        Outcome o = s.on_client_first("n,,n=" + user + ",r=abc");
        BOOST_CHECK_EQUAL(kind(o), "challenge");
        BOOST_CHECK_EQUAL(s.authcid(), user);
        return o.data;
    };
    const std::string real = first("other"), nobody = first("nobody");
    BOOST_CHECK_EQUAL(attr(nobody, 'i'), attr(real, 'i'));
    BOOST_CHECK_EQUAL(unb64(attr(nobody, 's')).size(), unb64(attr(real, 's')).size());
    BOOST_CHECK_EQUAL(first("nobody"), nobody);  // the same salt every time
    BOOST_CHECK(attr(first("somebody"), 's') != attr(nobody, 's'));
    // The decoy count follows what real accounts show.
    f.iterations = 10000;
    BOOST_CHECK_EQUAL(attr(first("nobody"), 'i'), "10000");
    f.iterations = 4096;
    // A real name with a wrong password and an unknown name fail alike.
    ScramServer a(opts("SCRAM-SHA-256"), f), b(opts("SCRAM-SHA-256"), f);
    Run ra = run(a, "SCRAM-SHA-256", "n,,n=other,r=abc", "wrong");
    Run rb = run(b, "SCRAM-SHA-256", "n,,n=nobody,r=abc", "whatever");
    BOOST_CHECK_EQUAL(kind(ra.last), "failure:not-authorized");
    BOOST_CHECK_EQUAL(kind(rb.last), kind(ra.last));
    BOOST_CHECK_EQUAL(rb.last.text, ra.last.text);
    BOOST_CHECK_EQUAL(rb.last.data, ra.last.data);
    // An account without a credential of this hash is answered the same way.
    ScramServer c(opts("SCRAM-SHA-1"), f);
    Run rc = run(c, "SCRAM-SHA-1", "n,,n=other,r=abc", "secret");
    BOOST_CHECK_EQUAL(kind(rc.last), "failure:not-authorized");
    // A store failure is the server's problem, not a wrong password.
    FakeCredentials broken;
    broken.broken = true;
    ScramServer d(opts("SCRAM-SHA-256"), broken);
    BOOST_CHECK_EQUAL(kind(d.on_client_first("n,,n=user,r=abc")), "failure:temporary-auth-failure");
}

BOOST_AUTO_TEST_CASE(xep0474_hash_matches_an_independent_computation) {
    // The example of XEP-0474 0.5.0 §4.3, given in another order.
    BOOST_CHECK_EQUAL(parley::sasl::downgrade_protection_hash("SCRAM-SHA-1-PLUS", {"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"},
                                                              {"tls-server-end-point", "tls-exporter"}),
                      "G6k/rBLDqgOhRRaCuuatSDFkJ08=");
    // SHA-256 for SCRAM-SHA-256, PLAIN sorted in, no 0x1F without XEP-0440.
    auto sha256 = [](std::string_view s) {
        std::string d(32, '\0');
        BOOST_REQUIRE(gnutls_hash_fast(GNUTLS_DIG_SHA256, s.data(), s.size(), d.data()) == 0);
        return b64(d);
    };
    BOOST_CHECK_EQUAL(
        parley::sasl::downgrade_protection_hash("SCRAM-SHA-256", {"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}, {}),
        sha256("PLAIN\x1eSCRAM-SHA-1\x1eSCRAM-SHA-256"));
    BOOST_CHECK_EQUAL(parley::sasl::downgrade_protection_hash("SCRAM-SHA-256-PLUS",
                                                              {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}, {"tls-exporter"}),
                      sha256("SCRAM-SHA-256\x1eSCRAM-SHA-256-PLUS\x1ftls-exporter"));
    BOOST_CHECK_EQUAL(parley::sasl::downgrade_protection_hash("PLAIN", {"PLAIN"}, {}), "");
}

BOOST_AUTO_TEST_CASE(xep0474_attribute_is_in_server_first_and_signed) {
    const std::string h =
        parley::sasl::downgrade_protection_hash("SCRAM-SHA-256", {"SCRAM-SHA-256", "SCRAM-SHA-1"}, {});
    ScramServerOptions o = opts("SCRAM-SHA-256", "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");
    o.downgrade_hash = h;
    ScramServer s(o, rfc_accounts());
    Run r = run(s, "SCRAM-SHA-256", "n,,n=user,r=rOprNGfwEbeRWgbNEkqO", "pencil");
    BOOST_CHECK_EQUAL(r.first.data, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,"
                                    "i=4096,h=" + h);
    BOOST_CHECK_EQUAL(kind(r.last), "success");
    // The RFC's proof, made without "h" (a MITM stripped it from what the
    // client saw), no longer fits.
    ScramServer t(o, rfc_accounts());
    BOOST_REQUIRE_EQUAL(kind(t.on_client_first("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")), "challenge");
    Outcome f = t.on_client_final("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                  "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
    BOOST_CHECK_EQUAL(kind(f), "failure:not-authorized");
}

BOOST_AUTO_TEST_CASE(unsupported_mechanisms) {
    BOOST_CHECK(ScramServer::supports("SCRAM-SHA-1"));
    BOOST_CHECK(ScramServer::supports("SCRAM-SHA-256-PLUS"));
    BOOST_CHECK(!ScramServer::supports("SCRAM-SHA-512"));
    BOOST_CHECK(!ScramServer::supports("PLAIN"));
    BOOST_CHECK(!ScramServer::supports("-PLUS"));
    ScramServer s(opts("SCRAM-MD5"), rfc_accounts());
    BOOST_CHECK_EQUAL(kind(s.step("n,,n=user,r=abc")), "failure:malformed-request");
}

BOOST_AUTO_TEST_SUITE_END()

// libFuzzer target: the server side of SASL (server/sasl: PLAIN on Cyrus
// SASL, SCRAM in our own ScramServer) fed arbitrary client messages for
// each mechanism we offer: PLAIN, SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS
// variants with a tls-exporter channel binding, against a real account
// store (LMDB in the run's temporary directory, which tests/fuzz/run
// removes) holding two accounts. Any input: no crash, no sanitizer report,
// no leak (LeakSanitizer runs at exit), and an outcome that makes sense (a
// success names an account that exists, and a SCRAM success needs the
// right proof). authcid_in() and gs2_channel_binding_name(), which c2s uses
// before anything is evaluated, read the same first message.
//
// Input: byte 0 picks the mechanism, byte 1 the options (bit 0: a secure
// stream, bit 1: first message as initial response, bit 2: a channel
// binding; bit 3: drive a ScramServer directly instead of a ServerSession,
// with bit 4: channel binding advertised, bit 5: an XEP-0474 hash, bit 6: a
// fixed server nonce), the rest is the client's messages separated by 0xFF
// bytes. In messages after the first, the two bytes 0x01 'N' stand for the
// nonce of the server's last challenge (its r= value), 0x01 'C' for base64
// of the first message's gs2 header and the binding data, and 0x01 'P' for
// the proof the real password of the named account (or "x") gives over
// the exchange so far (the message up to it, less ",p=", as
// client-final-without-proof): so inputs reach the checks of SCRAM's final
// message, and its success, rather than stopping at the nonce.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "log/log.hpp"
#include "sasl/sasl_server.hpp"
#include "sasl/scram_server.hpp"
#include "xmpp/base64.hpp"
#include "store/accounts.hpp"
#include "store/env.hpp"

namespace {

constexpr const char* kDomain = "fuzz.example";
constexpr const char* kMechs[] = {"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS", "SCRAM-SHA-256-PLUS"};
constexpr size_t kMaxMessages = 8;

struct World {
    std::unique_ptr<parley::store::Env> env;
    std::unique_ptr<parley::store::AccountStore> accounts;
    World() {
        const char* base = std::getenv("TMPDIR");
        std::string tmpl = std::string(base && *base ? base : "/tmp") + "/parley-sasl-fuzz-XXXXXX";
        const char* dir = mkdtemp(tmpl.data());
        if (!dir) std::abort();
        auto e = parley::store::Env::open(dir, size_t{16} << 20);
        if (!e) std::abort();
        env = std::move(e.value());
        auto a = parley::store::AccountStore::open(*env);
        if (!a) std::abort();
        accounts = std::move(a.value());
        if (!accounts->create("alice", kDomain, "correct horse", 4096)) std::abort();
        if (!accounts->create("bob", kDomain, "battery staple", 5000)) std::abort();
        if (!parley::sasl::init(accounts.get(), {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256", "SCRAM-SHA-1-PLUS",
                                                 "SCRAM-SHA-1", "PLAIN"}))
            std::abort();
    }
};

World& world() {
    static World* w = [] {
        parley::log::set_level(parley::log::Level::error);
        return new World();  // lives until exit: Cyrus is process-wide
    }();
    return *w;
}

std::string nonce_of(const std::string& challenge) {
    size_t r = challenge.find("r=");
    if (r == std::string::npos) return {};
    size_t end = challenge.find(',', r);
    return challenge.substr(r + 2, end == std::string::npos ? std::string::npos : end - r - 2);
}

// The value of attribute `name` of a server-first message, or empty.
std::string attr_of(const std::string& msg, char name) {
    size_t pos = 0;
    while (pos < msg.size()) {
        size_t end = msg.find(',', pos);
        if (end == std::string::npos) end = msg.size();
        if (end - pos >= 2 && msg[pos] == name && msg[pos + 1] == '=') return msg.substr(pos + 2, end - pos - 2);
        pos = end + 1;
    }
    return {};
}

// What the client side knows to fill the placeholders.
struct Exchange {
    std::string mech;        // with -PLUS or not
    std::string first;       // the client's first message as sent
    std::string server_first;
    std::string cb_data;     // the binding the stream has
    bool proof_used = false; // a 0x01 'P' was filled with a right proof
};

// SCRAM's ClientKey and StoredKey from a password, cached per (hash,
// password, salt, iterations): PBKDF2 costs milliseconds.
std::pair<std::string, std::string> client_keys(bool sha1, const std::string& password, const std::string& salt,
                                                uint32_t iterations) {
    static std::map<std::string, std::pair<std::string, std::string>> cache;
    const std::string key = std::string(sha1 ? "1" : "2") + '\0' + password + '\0' + salt + '\0' + std::to_string(iterations);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    const size_t n = sha1 ? 20 : 32;
    const auto mac = sha1 ? GNUTLS_MAC_SHA1 : GNUTLS_MAC_SHA256;
    std::string salted(n, '\0'), ck(n, '\0'), sk(n, '\0');
    gnutls_datum_t k{reinterpret_cast<unsigned char*>(const_cast<char*>(password.data())),
                     static_cast<unsigned>(password.size())};
    gnutls_datum_t sa{reinterpret_cast<unsigned char*>(const_cast<char*>(salt.data())), static_cast<unsigned>(salt.size())};
    if (gnutls_pbkdf2(mac, &k, &sa, iterations, salted.data(), n) < 0) std::abort();
    gnutls_hmac_fast(mac, salted.data(), n, "Client Key", 10, ck.data());
    gnutls_hash_fast(sha1 ? GNUTLS_DIG_SHA1 : GNUTLS_DIG_SHA256, ck.data(), n, sk.data());
    if (cache.size() > 64) cache.clear();
    return cache[key] = {ck, sk};
}

std::string proof_for(const Exchange& x, const std::string& prefix) {
    const size_t second = x.first.find(',', x.first.find(',') + 1);
    if (second == std::string::npos) return "x";
    const std::string bare = x.first.substr(second + 1);
    std::string without_proof = prefix;
    if (without_proof.size() >= 3 && without_proof.compare(without_proof.size() - 3, 3, ",p=") == 0)
        without_proof.resize(without_proof.size() - 3);
    std::string user = attr_of(bare, 'n');
    const std::string password = user == "alice" ? "correct horse" : user == "bob" ? "battery staple" : "x";
    auto salt = parley::xmpp::base64_decode(attr_of(x.server_first, 's'));
    const std::string iter = attr_of(x.server_first, 'i');
    if (!salt || salt.value().empty() || iter.empty() || iter.size() > 7) return "x";
    const bool sha1 = x.mech.rfind("SCRAM-SHA-1", 0) == 0 && (x.mech.size() == 11 || x.mech[11] == '-');
    const uint32_t iterations = static_cast<uint32_t>(std::strtoul(iter.c_str(), nullptr, 10));
    if (iterations == 0 || iterations > 100000) return "x";
    auto [ck, sk] = client_keys(sha1, password, salt.value(), iterations);
    const std::string auth = bare + "," + x.server_first + "," + without_proof;
    std::string sig(ck.size(), '\0');
    gnutls_hmac_fast(sha1 ? GNUTLS_MAC_SHA1 : GNUTLS_MAC_SHA256, sk.data(), sk.size(), auth.data(), auth.size(),
                     sig.data());
    for (size_t i = 0; i < sig.size(); ++i) sig[i] = static_cast<char>(sig[i] ^ ck[i]);
    return parley::xmpp::base64_encode(sig);
}

std::string fill(std::string_view msg, const std::string& nonce, Exchange& x) {
    std::string out;
    for (size_t i = 0; i < msg.size(); ++i) {
        if (msg[i] != '\x01' || i + 1 >= msg.size()) {
            out += msg[i];
            continue;
        }
        const char what = msg[i + 1];
        if (what == 'N') {
            out += nonce;
        } else if (what == 'C') {
            const size_t second = x.first.find(',', x.first.find(',') + 1);
            const std::string gs2 = second == std::string::npos ? x.first : x.first.substr(0, second + 1);
            out += parley::xmpp::base64_encode(gs2 + (gs2.rfind("p=", 0) == 0 ? x.cb_data : std::string()));
        } else if (what == 'P') {
            out += proof_for(x, out);
            x.proof_used = true;
        } else {
            out += msg[i];
            continue;
        }
        ++i;
    }
    return out;
}

// ScramServer's keys straight from the fuzz world's account store.
struct StoreKeys : parley::sasl::ScramCredentials {
    parley::store::AccountStore* accounts = nullptr;
    parley::Result<std::optional<parley::store::scram::ScramCredential>> find(std::string_view node,
                                                                             std::string_view domain,
                                                                             std::string_view mechanism) override {
        auto a = accounts->get(node, domain);
        if (!a) return a.status();
        if (a.value())
            for (const auto& c : a.value()->scram)
                if (c.mechanism == mechanism) return std::optional<parley::store::scram::ScramCredential>(c);
        return std::optional<parley::store::scram::ScramCredential>();
    }
    uint32_t decoy_iterations(std::string_view) override { return 4096; }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    World& w = world();
    if (size < 2) return 0;
    const std::string mech = kMechs[data[0] % (sizeof kMechs / sizeof kMechs[0])];
    const bool secure = data[1] & 1, initial = data[1] & 2, bound = data[1] & 4;
    std::vector<std::string_view> messages;
    std::string_view rest(reinterpret_cast<const char*>(data + 2), size - 2);
    while (messages.size() < kMaxMessages) {
        size_t sep = rest.find('\xff');
        messages.push_back(rest.substr(0, sep));
        if (sep == std::string_view::npos) break;
        rest.remove_prefix(sep + 1);
    }

    (void)parley::sasl::authcid_in(mech, messages[0], kDomain);
    const std::string cb_name = parley::sasl::gs2_channel_binding_name(messages[0]);
    if (!cb_name.empty() && cb_name.size() + 3 > messages[0].size()) std::abort();  // "p=" NAME ","

    const parley::sasl::ChannelBinding cb{"tls-exporter", std::string(32, '\x5a')};
    Exchange x;
    x.mech = mech;
    x.cb_data = cb.data;
    parley::sasl::Outcome o;
    size_t next = 0;
    std::string nonce;
    // Runs the exchange; the first message goes either with the start
    // (x.first set before) or as the first step.
    auto drive = [&](bool first_sent, auto&& first_step, auto&& next_step) {
        o = first_step();
        if (first_sent && o.kind == parley::sasl::Outcome::Kind::challenge) x.server_first = o.data;
        while (o.kind == parley::sasl::Outcome::Kind::challenge && next < messages.size()) {
            const std::string n = nonce_of(o.data);
            if (!n.empty()) nonce = n;
            std::string msg;
            if (!first_sent) {
                msg = x.first = std::string(messages[next]);
                first_sent = true;
            } else {
                msg = fill(messages[next], nonce, x);
            }
            ++next;
            const bool had_server_first = !x.server_first.empty();
            o = next_step(msg);
            if (!had_server_first && o.kind == parley::sasl::Outcome::Kind::challenge) x.server_first = o.data;
        }
    };

    if ((data[1] & 8) && mech != "PLAIN") {
        // ScramServer on its own, with the options ServerSession never
        // combines this way.
        static StoreKeys keys;
        keys.accounts = w.accounts.get();
        parley::sasl::ScramServerOptions opts;
        opts.mechanism = mech;
        opts.domain = kDomain;
        if (bound) opts.channel_binding = cb;
        opts.binding_advertised = data[1] & 16;
        if (data[1] & 32)
            opts.downgrade_hash = parley::sasl::downgrade_protection_hash(mech, {mech, "PLAIN"}, {"tls-exporter"});
        if (data[1] & 64) opts.fixed_server_nonce = "FIXED";
        parley::sasl::ScramServer srv(opts, keys);
        x.first = std::string(messages[next++]);
        drive(true, [&] { return srv.step(x.first); }, [&](const std::string& m) { return srv.step(m); });
        if (o.kind == parley::sasl::Outcome::Kind::success && !x.proof_used) std::abort();  // no proof, no entry
        if (o.kind != parley::sasl::Outcome::Kind::challenge) (void)srv.step("x");
    } else {
        auto s = parley::sasl::ServerSession::create(kDomain, "127.0.0.1;5222", "127.0.0.1;40000", secure,
                                                     bound && secure ? &cb : nullptr);
        if (!s) std::abort();  // nothing in the input can make creation fail
        parley::sasl::ServerSession& ss = *s.value();
        (void)ss.mechanisms();
        (void)ss.channel_binding_types();
        if (initial) x.first = std::string(messages[next]);
        drive(initial, [&] { return initial ? ss.start(mech, messages[next++]) : ss.start(mech, std::nullopt); },
              [&](const std::string& m) { return ss.step(m); });
        if (o.kind == parley::sasl::Outcome::Kind::success && mech != "PLAIN" && !x.proof_used) std::abort();
        // Steps after the end are refused, never crash.
        if (o.kind != parley::sasl::Outcome::Kind::challenge) (void)ss.step("x");
    }
    // SASL_FUZZ_TRACE=1: print each outcome, to see a seed reach what it should.
    static const bool trace = std::getenv("SASL_FUZZ_TRACE") != nullptr;
    if (trace)
        std::fprintf(stderr, "sasl_fuzz: %s -> %d %s %s\n", mech.c_str(), static_cast<int>(o.kind), o.condition.c_str(),
                     o.data.c_str());
    if (o.kind == parley::sasl::Outcome::Kind::success) {
        // Without a password nobody gets in by accident: only the two real
        // accounts, and only with a message the fuzzer built to fit.
        auto exists = w.accounts->exists(o.node, kDomain);
        if (!exists || !exists.value()) std::abort();
    }
    return 0;
}

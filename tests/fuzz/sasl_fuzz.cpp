// libFuzzer target: the server side of SASL (server/sasl on Cyrus SASL)
// fed arbitrary client messages for each mechanism we offer: PLAIN,
// SCRAM-SHA-1, SCRAM-SHA-256 and their -PLUS variants with a tls-exporter
// channel binding, against a real account store (LMDB in the run's
// temporary directory, which tests/fuzz/run removes) holding two accounts.
// Any input: no crash, no sanitizer report, no leak (LeakSanitizer runs at
// exit), and an outcome that makes sense (a success names an account that
// exists). authcid_in() and gs2_channel_binding_name(), which c2s uses
// before anything is evaluated, read the same first message.
//
// Input: byte 0 picks the mechanism, byte 1 the options (bit 0: a secure
// stream, bit 1: first message as initial response, bit 2: a channel
// binding), the rest is the client's messages separated by 0xFF bytes. In
// messages after the first, the two bytes 0x01 'N' stand for the nonce of
// the server's last challenge (its r= value), so that inputs reach the
// checks of SCRAM's final message rather than stopping at the nonce.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "log/log.hpp"
#include "sasl/sasl_server.hpp"
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

std::string with_nonce(std::string_view msg, const std::string& nonce) {
    std::string out;
    for (size_t i = 0; i < msg.size(); ++i) {
        if (msg[i] == '\x01' && i + 1 < msg.size() && msg[i + 1] == 'N') {
            out += nonce;
            ++i;
        } else {
            out += msg[i];
        }
    }
    return out;
}

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
    auto s = parley::sasl::ServerSession::create(kDomain, "127.0.0.1;5222", "127.0.0.1;40000", secure,
                                                 bound && secure ? &cb : nullptr);
    if (!s) std::abort();  // nothing in the input can make creation fail
    parley::sasl::ServerSession& ss = *s.value();
    (void)ss.mechanisms();
    (void)ss.channel_binding_types();

    size_t next = 0;
    parley::sasl::Outcome o =
        initial ? ss.start(mech, messages[next++]) : ss.start(mech, std::nullopt);
    std::string nonce;
    while (o.kind == parley::sasl::Outcome::Kind::challenge && next < messages.size()) {
        const std::string n = nonce_of(o.data);
        if (!n.empty()) nonce = n;
        const std::string msg = with_nonce(messages[next++], nonce);
        o = ss.step(msg);
    }
    if (o.kind == parley::sasl::Outcome::Kind::success) {
        // Without a password nobody gets in by accident: only the two real
        // accounts, and only with a message the fuzzer built to fit.
        auto exists = w.accounts->exists(o.node, kDomain);
        if (!exists || !exists.value()) std::abort();
    }
    // Steps after the end are refused, never crash.
    if (o.kind != parley::sasl::Outcome::Kind::challenge) (void)ss.step("x");
    return 0;
}

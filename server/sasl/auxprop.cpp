// The "parley" auxprop plugin and the PLAIN check. What Cyrus 2.1.28 asks:
// the SCRAM server plugin (plugins/scram.c) requests "*userPassword" and
// "*authPassword" (the '*' marks a property of the authentication id, not
// of the authorization id), then canonicalizes the authcid, which runs the
// auxprop lookup with the canonical user "node@realm" (the internal
// canonuser plugin appends "@" + user realm when the name has no '@'). It
// uses the plaintext userPassword if present, else the RFC 5803 values of
// authPassword whose scheme matches its mechanism. We never serve
// userPassword: only the derived SCRAM keys are stored. PLAIN goes through
// SASL_CB_SERVER_USERDB_CHECKPASS; when that fails, Cyrus falls back to
// pwcheck_method "auxprop", which finds no userPassword here and fails too.
#include "sasl/auxprop.hpp"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <stringprep.h>
#include <strings.h>

#include <atomic>
#include <cstring>
#include <vector>

#include "log/log.hpp"
#include "store/accounts.hpp"
#include "store/scram.hpp"

namespace parley::sasl::detail {

namespace {

std::atomic<store::AccountStore*> g_accounts{nullptr};

constexpr const char* kAuthPassword = "authPassword";
// Longer names are refused before any work (RFC 7622 caps a local part at
// 1023 bytes).
constexpr size_t kMaxNode = 1023;

// Unknown users get made-up SCRAM keys, stable per name (so a repeated
// query shows the same salt), from a key that lives only in this process:
// the exchange then runs to the end and fails like a wrong password, and the
// server's answers do not tell who has an account.
// Their iteration count is the one the domain's real accounts show
// (AccountStore::typical_iterations), [sasl] scram_iterations, which new
// accounts get, when the domain has none yet: the count does not give them
// away either, even after scram_iterations changed.
std::atomic<uint32_t> g_decoy_iterations{4096};

std::string decoy_bytes(std::string_view label, std::string_view user, size_t n) {
    static const std::string key = [] {
        std::string k(32, '\0');
        gnutls_rnd(GNUTLS_RND_KEY, k.data(), k.size());
        return k;
    }();
    std::string msg = std::string(label) + '\0' + std::string(user);
    std::string out(32, '\0');
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.data(), key.size(), msg.data(), msg.size(), out.data());
    out.resize(n);
    return out;
}

std::vector<store::scram::ScramCredential> decoys(std::string_view user, uint32_t iterations) {
    std::vector<store::scram::ScramCredential> out;
    for (auto [mech, len] : {std::pair<const char*, size_t>{"SCRAM-SHA-1", 20}, {"SCRAM-SHA-256", 32}}) {
        store::scram::ScramCredential c;
        c.mechanism = mech;
        c.iterations = iterations;
        c.salt = decoy_bytes(std::string("salt ") + mech, user, 16);
        c.stored_key = decoy_bytes(std::string("stored ") + mech, user, len);
        c.server_key = decoy_bytes(std::string("server ") + mech, user, len);
        out.push_back(std::move(c));
    }
    return out;
}

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

int lookup(void*, sasl_server_params_t* sparams, unsigned flags, const char* user, unsigned ulen) noexcept {
    try {
        if (!sparams || !user) return SASL_BADPARAM;
        // Nothing of ours belongs to the authorization id.
        if (flags & SASL_AUXPROP_AUTHZID) return SASL_OK;
        const propval* to_fetch = sparams->utils->prop_get(sparams->propctx);
        if (!to_fetch) return SASL_NOMEM;
        const propval* wanted = nullptr;
        for (const propval* cur = to_fetch; cur->name; ++cur) {
            if (cur->name[0] != '*' || !iequals(cur->name + 1, kAuthPassword)) continue;
            if (cur->values && !(flags & SASL_AUXPROP_OVERRIDE)) continue;  // already known
            wanted = cur;
        }
        // Not asked for authPassword (e.g. the PLAIN fallback asking for
        // userPassword): no store access at all.
        if (!wanted) return SASL_OK;
        if (wanted->values) sparams->utils->prop_erase(sparams->propctx, wanted->name);

        store::AccountStore* accounts = g_accounts.load();
        if (!accounts) return SASL_FAIL;
        const std::string domain = sparams->user_realm ? std::string(sparams->user_realm) : std::string();
        std::string node;
        if (!local_node(std::string_view(user, ulen), domain, node)) return SASL_NOUSER;  // not even a valid name
        auto account = accounts->get(node, domain);
        if (!account) {
            log::error("sasl", "cannot read account {}@{}: {}", node, domain, account.status().message());
            return SASL_FAIL;
        }
        const bool real = account.value() && !account.value()->scram.empty();
        const auto creds = real ? account.value()->scram
                                : decoys(node, accounts->typical_iterations(domain, g_decoy_iterations.load()));
        for (const auto& cred : creds) {
            const std::string v = store::scram::to_rfc5803(cred);
            sparams->utils->prop_set(sparams->propctx, wanted->name, v.data(), static_cast<int>(v.size()));
        }
        return SASL_OK;
    } catch (const std::exception& e) {
        log::error("sasl", "auxprop lookup: {}", e.what());
        return SASL_FAIL;
    }
}

char g_plug_name[] = "parley";

sasl_auxprop_plug_t g_plug = {
    0,             // features
    0,             // spare
    nullptr,       // glob_context
    nullptr,       // auxprop_free: static, nothing to free
    &lookup,       // auxprop_lookup
    g_plug_name,   // name, matched by the auxprop_plugin option
    nullptr,       // auxprop_store: accounts are changed through the store, never by Cyrus
};

int plug_init(const sasl_utils_t*, int max_version, int* out_version, sasl_auxprop_plug_t** plug,
              const char*) noexcept {
    if (max_version < SASL_AUXPROP_PLUG_VERSION) return SASL_BADVERS;
    *out_version = SASL_AUXPROP_PLUG_VERSION;
    *plug = &g_plug;
    return SASL_OK;
}

}  // namespace

void set_accounts(store::AccountStore* accounts) { g_accounts.store(accounts); }
store::AccountStore* accounts() { return g_accounts.load(); }

int add_auxprop_plugin() { return sasl_auxprop_add_plugin(kAuxpropName, &plug_init); }

std::string nodeprep(std::string_view node) {
    if (node.empty() || node.size() > kMaxNode || node.find('\0') != std::string_view::npos) return {};
    // stringprep works in place and may grow the string (case folding).
    std::string buf(node);
    buf.resize(node.size() * 4 + 16, '\0');
    if (stringprep(buf.data(), buf.size(), Stringprep_profile_flags(0), stringprep_xmpp_nodeprep) != STRINGPREP_OK) return {};
    buf.resize(std::strlen(buf.c_str()));
    if (buf.empty() || buf.size() > kMaxNode) return {};
    return buf;
}

void set_decoy_iterations(uint32_t iterations) { g_decoy_iterations.store(iterations); }

bool local_node(std::string_view canonical, std::string_view domain, std::string& node) {
    std::string_view local = canonical;
    const size_t at = canonical.rfind('@');
    if (at != std::string_view::npos) {
        if (!iequals(canonical.substr(at + 1), domain)) return false;
        local = canonical.substr(0, at);
    }
    node = nodeprep(local);
    return !node.empty();
}

// PLAIN: the password is checked by deriving the SCRAM keys with the stored
// salt (PBKDF2, scram_iterations rounds, ~1-3 ms). The c2s session runs
// PLAIN steps on libuv's thread pool, so this never stalls a loop; SCRAM
// logins do no PBKDF2 at all. Any thread.
int checkpass(sasl_conn_t* conn, void*, const char* user, const char* pass, unsigned passlen,
              struct propctx*) noexcept {
    try {
        store::AccountStore* accounts = g_accounts.load();
        if (!accounts || !user || !pass) return SASL_FAIL;
        const void* realm = nullptr;
        if (sasl_getprop(conn, SASL_DEFUSERREALM, &realm) != SASL_OK || !realm) return SASL_FAIL;
        const std::string domain(static_cast<const char*>(realm));
        std::string node;
        if (!local_node(user, domain, node)) return SASL_NOUSER;
        auto ok = accounts->check_password(node, domain, std::string_view(pass, passlen), g_decoy_iterations.load());
        if (!ok) {
            log::error("sasl", "cannot check the password of {}@{}: {}", node, domain, ok.status().message());
            return SASL_FAIL;
        }
        return ok.value() ? SASL_OK : SASL_BADAUTH;
    } catch (const std::exception& e) {
        log::error("sasl", "checkpass: {}", e.what());
        return SASL_FAIL;
    }
}

}  // namespace parley::sasl::detail

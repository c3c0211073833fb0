// The "parley" auxprop plugin and the PLAIN check. What Cyrus 2.1.28's
// PLAIN asks: its server plugin canonicalizes the authcid, which runs the
// auxprop lookup (the plugin named by our auxprop_plugin option must exist,
// or Cyrus logs an error for every login), then checks the password through
// SASL_CB_SERVER_USERDB_CHECKPASS (checkpass() below); when that fails,
// Cyrus falls back to pwcheck_method "auxprop", which asks for the
// plaintext "userPassword" (without this plugin, that fallback fails with
// SASL_NOMECH, "unknown password verifier(s) auxprop", and a wrong
// password gets "invalid-mechanism" instead of "not-authorized"). We never
// serve it, nor anything else: only the
// derived SCRAM keys are stored, and SCRAM runs in our own ScramServer,
// which reads them from the AccountStore itself.
#include "sasl/auxprop.hpp"

#include <stringprep.h>
#include <strings.h>

#include <atomic>
#include <cstring>

#include "log/log.hpp"
#include "store/accounts.hpp"

namespace parley::sasl::detail {

namespace {

std::atomic<store::AccountStore*> g_accounts{nullptr};

// Longer names are refused before any work (RFC 7622 caps a local part at
// 1023 bytes).
constexpr size_t kMaxNode = 1023;

// For names without an account: SCRAM's decoy keys and PLAIN's decoy PBKDF2
// use the iteration count the domain's real accounts show
// (AccountStore::typical_iterations), and this one, [sasl]
// scram_iterations, which new accounts get, when the domain has none yet.
std::atomic<uint32_t> g_decoy_iterations{4096};

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Serves nothing: no property of ours is a password (see the top).
int lookup(void*, sasl_server_params_t* sparams, unsigned, const char* user, unsigned) noexcept {
    return sparams && user ? SASL_OK : SASL_BADPARAM;
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
uint32_t decoy_iterations() { return g_decoy_iterations.load(); }

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

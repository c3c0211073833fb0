#include "sasl/sasl_server.hpp"

#include <sasl/saslplug.h>

#include <algorithm>
#include <cstring>
#include <mutex>
#include <set>

#include "log/log.hpp"
#include "sasl/auxprop.hpp"
#include "sasl/scram_server.hpp"
#include "store/accounts.hpp"

namespace parley::sasl {

namespace {

// The Cyrus plugin files we load; every other file in the plugin directory
// (sasldb above all, but also SCRAM, which Parley runs itself, DIGEST-MD5,
// NTLM, ...) is never opened.
constexpr const char* kPluginFiles[] = {"libplain."};
// What Cyrus may offer: its internal EXTERNAL and anything else stay out.
constexpr const char* kCyrusMechList = "PLAIN";
constexpr const char* kService = "xmpp";

// The configuration and what Cyrus loaded.
struct Options {
    std::mutex mutex;
    std::vector<std::string> mechanisms;  // as configured, with -PLUS
    std::set<std::string> cyrus;          // mechanisms Cyrus loaded (of kCyrusMechList)
    bool active = false;
};

Options& options() {
    static Options o;
    return o;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool is_scram(std::string_view mech) { return mech.rfind("SCRAM-", 0) == 0; }

// ScramServer's keys: the AccountStore given to init().
class StoreCredentials final : public ScramCredentials {
public:
    Result<std::optional<store::scram::ScramCredential>> find(std::string_view node, std::string_view domain,
                                                              std::string_view mechanism) override {
        store::AccountStore* accounts = detail::accounts();
        if (!accounts) return Status::error("sasl", "no account store");
        auto account = accounts->get(node, domain);
        if (!account) return account.status();
        if (account.value())
            for (auto& c : account.value()->scram)
                if (c.mechanism == mechanism) return std::optional<store::scram::ScramCredential>(std::move(c));
        return std::optional<store::scram::ScramCredential>();
    }
    uint32_t decoy_iterations(std::string_view domain) override {
        store::AccountStore* accounts = detail::accounts();
        const uint32_t fallback = detail::decoy_iterations();
        return accounts ? accounts->typical_iterations(domain, fallback) : fallback;
    }
};

StoreCredentials& store_credentials() {
    static StoreCredentials c;
    return c;
}

int getopt_cb(void*, const char*, const char* option, const char** result, unsigned* len) noexcept {
    if (!option || !result) return SASL_BADPARAM;
    *result = nullptr;
    const char* value = nullptr;
    if (std::strcmp(option, "auxprop_plugin") == 0) {
        value = detail::kAuxpropName;
    } else if (std::strcmp(option, "mech_list") == 0) {
        value = kCyrusMechList;
    } else if (std::strcmp(option, "pwcheck_method") == 0) {
        value = "auxprop";  // never saslauthd or the like
    } else if (std::strcmp(option, "auto_transition") == 0) {
        value = "no";  // never write a password anywhere
    } else if (std::strcmp(option, "log_level") == 0) {
        // Cyrus's levels: 3 warn, 4 note. Never 7, which logs passwords.
        value = log::level() == log::Level::debug ? "4" : "3";
    } else if (std::strcmp(option, "sasldb_path") == 0) {
        value = "/nonexistent/parley-uses-no-sasldb";  // belt and braces: sasldb is not loaded
    }
    if (!value) return SASL_FAIL;
    *result = value;
    if (len) *len = static_cast<unsigned>(std::strlen(value));
    return SASL_OK;
}

int log_cb(void*, int level, const char* message) noexcept {
    if (!message) return SASL_OK;
    try {
        switch (level) {
            case SASL_LOG_ERR: log::error("sasl", "cyrus: {}", message); break;
            case SASL_LOG_WARN: log::warn("sasl", "cyrus: {}", message); break;
            case SASL_LOG_PASS: break;  // may hold a password
            default: log::debug("sasl", "cyrus: {}", message); break;  // FAIL, NOTE, DEBUG: the core logs outcomes
        }
    } catch (...) {
    }
    return SASL_OK;
}

int verifyfile_cb(void*, const char* file, sasl_verify_type_t type) noexcept {
    if (!file) return SASL_FAIL;
    if (type != SASL_VRFY_PLUGIN) return SASL_FAIL;  // no config file, no plugin list file
    const char* base = std::strrchr(file, '/');
    base = base ? base + 1 : file;
    for (const char* prefix : kPluginFiles)
        if (std::strncmp(base, prefix, std::strlen(prefix)) == 0) return SASL_OK;
    return SASL_CONTINUE;  // skipped quietly
}

void* mutex_alloc() noexcept { return new (std::nothrow) std::mutex(); }
int mutex_lock(void* m) noexcept {
    static_cast<std::mutex*>(m)->lock();
    return SASL_OK;
}
int mutex_unlock(void* m) noexcept {
    static_cast<std::mutex*>(m)->unlock();
    return SASL_OK;
}
void mutex_free(void* m) noexcept { delete static_cast<std::mutex*>(m); }

// Cyrus stores every callback as int (*)(void); the cast goes through the
// generic void (*)(void) so that the compiler knows it is meant.
template <typename F>
sasl_callback_ft as_callback(F* f) {
    return reinterpret_cast<sasl_callback_ft>(reinterpret_cast<void (*)()>(f));
}

const sasl_callback_t* global_callbacks() {
    static const sasl_callback_t callbacks[] = {
        {SASL_CB_GETOPT, as_callback(&getopt_cb), nullptr},
        {SASL_CB_LOG, as_callback(&log_cb), nullptr},
        {SASL_CB_VERIFYFILE, as_callback(&verifyfile_cb), nullptr},
        {SASL_CB_SERVER_USERDB_CHECKPASS, as_callback(&detail::checkpass), nullptr},
        {SASL_CB_LIST_END, nullptr, nullptr},
    };
    return callbacks;
}

Status sasl_status(const std::string& what, int rc) {
    return Status::error("sasl", what + ": " + sasl_errstring(rc, nullptr, nullptr));
}

// RFC 6120 §6.5 conditions for Cyrus results.
const char* condition_of(int rc) {
    switch (rc) {
        case SASL_BADAUTH:
        case SASL_NOUSER:
        case SASL_NOVERIFY:
        case SASL_BADBINDING:
        case SASL_WEAKPASS:
        case SASL_UNAVAIL:
            return "not-authorized";
        case SASL_NOAUTHZ: return "invalid-authzid";
        case SASL_BADPROT:
        case SASL_BADPARAM:
        case SASL_BADSERV:
            return "malformed-request";
        case SASL_NOMECH: return "invalid-mechanism";
        case SASL_ENCRYPT: return "encryption-required";
        case SASL_TOOWEAK: return "mechanism-too-weak";
        case SASL_DISABLED: return "account-disabled";
        case SASL_EXPIRED: return "credentials-expired";
        default: return "temporary-auth-failure";  // SASL_FAIL, SASL_NOMEM, SASL_TRYAGAIN, ...
    }
}

// Cyrus's mechanism lists are space-separated.
std::set<std::string> split_names(std::string_view rest) {
    std::set<std::string> out;
    while (!rest.empty()) {
        size_t sp = rest.find(' ');
        std::string_view m = rest.substr(0, sp);
        if (!m.empty()) out.emplace(m);
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
    }
    return out;
}

void note_loaded(server_sasl_mechanism_t* m, sasl_info_callback_stage_t stage, void* rock) noexcept {
    if (stage != SASL_INFO_LIST_MECH || !m || !m->plug || !m->plug->mech_name) return;
    try {
        static_cast<std::set<std::string>*>(rock)->insert(m->plug->mech_name);
    } catch (...) {
    }
}

}  // namespace

Status init(store::AccountStore* accounts, const std::vector<std::string>& mechanisms) {
    Options& o = options();
    {
        std::lock_guard<std::mutex> lock(o.mutex);
        o.mechanisms = mechanisms;
    }
    detail::set_accounts(accounts);
    if (o.active) return Status::ok();

    // Must come before sasl_server_init: Cyrus refuses the change after it.
    sasl_set_mutex(&mutex_alloc, &mutex_lock, &mutex_unlock, &mutex_free);
    // No application name: Cyrus then reads no configuration file at all.
    int rc = sasl_server_init(global_callbacks(), nullptr);
    if (rc != SASL_OK) return sasl_status("sasl_server_init", rc);
    rc = detail::add_auxprop_plugin();
    if (rc != SASL_OK) {
        sasl_server_done();
        return sasl_status("registering the auxprop plugin", rc);
    }
    {
        std::set<std::string> loaded;
        sasl_server_plugin_info(nullptr, &note_loaded, &loaded);
        std::set<std::string> cyrus;
        for (const auto& m : split_names(kCyrusMechList))
            if (loaded.count(m)) cyrus.insert(m);
        std::lock_guard<std::mutex> lock(o.mutex);
        o.cyrus = std::move(cyrus);
    }
    o.active = true;
    log::debug("sasl", "SASL ready: SCRAM by Parley, {} by Cyrus SASL", kCyrusMechList);
    return Status::ok();
}

void set_scram_iterations(uint32_t iterations) { detail::set_decoy_iterations(iterations); }

void shutdown() {
    Options& o = options();
    if (!o.active) return;
    sasl_server_done();
    o.active = false;
    detail::set_accounts(nullptr);
}

// ---- ServerSession ---------------------------------------------------------

ServerSession::ServerSession(std::string domain, bool secure) : domain_(std::move(domain)), secure_(secure) {}

ServerSession::~ServerSession() = default;

Result<std::unique_ptr<ServerSession>> ServerSession::create(const std::string& domain, const std::string& local_addr,
                                                             const std::string& remote_addr, bool secure,
                                                             const ChannelBinding* cb) {
    if (!options().active) return Status::error("sasl", "SASL is not initialized");
    std::unique_ptr<ServerSession> s(new ServerSession(domain, secure));
    s->local_addr_ = local_addr;
    s->remote_addr_ = remote_addr;
    if (cb && !cb->name.empty() && !cb->data.empty()) s->cb_ = *cb;
    return s;
}

Status ServerSession::open_cyrus() {
    callbacks_[0] = {SASL_CB_PROXY_POLICY, as_callback(&ServerSession::proxy_policy), this};
    callbacks_[1] = {SASL_CB_LIST_END, nullptr, nullptr};
    sasl_conn_t* conn = nullptr;
    const char* local = local_addr_.empty() ? nullptr : local_addr_.c_str();
    const char* remote = remote_addr_.empty() ? nullptr : remote_addr_.c_str();
    int rc = sasl_server_new(kService, domain_.c_str(), domain_.c_str(), local, remote, callbacks_, 0, &conn);
    if (rc == SASL_BADPARAM && (local || remote)) {
        // An address Cyrus cannot parse only costs us its use in logs.
        if (conn) sasl_dispose(&conn);
        rc = sasl_server_new(kService, domain_.c_str(), domain_.c_str(), nullptr, nullptr, callbacks_, 0, &conn);
    }
    if (rc != SASL_OK) {
        if (conn) sasl_dispose(&conn);
        return sasl_status("sasl_server_new", rc);
    }
    conn_.reset(conn);

    // No SASL security layer: XMPP relies on TLS (RFC 6120 §6.3.6).
    sasl_security_properties_t props{};
    props.min_ssf = 0;
    props.max_ssf = 0;
    props.maxbufsize = 0;
    // Plaintext mechanisms need TLS: Cyrus lifts NOPLAINTEXT itself when an
    // external SSF is set below.
    props.security_flags = SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS;
    rc = sasl_setprop(conn, SASL_SEC_PROPS, &props);
    if (rc != SASL_OK) return sasl_status("sasl_setprop(SASL_SEC_PROPS)", rc);
    if (secure_) {
        sasl_ssf_t ssf = 256;
        rc = sasl_setprop(conn, SASL_SSF_EXTERNAL, &ssf);
        if (rc != SASL_OK) return sasl_status("sasl_setprop(SASL_SSF_EXTERNAL)", rc);
    }
    return Status::ok();
}

std::vector<std::string> ServerSession::mechanisms() const {
    std::vector<std::string> out;
    std::vector<std::string> configured;
    std::set<std::string> cyrus;
    {
        std::lock_guard<std::mutex> lock(options().mutex);
        configured = options().mechanisms;
        cyrus = options().cyrus;
    }
    for (const auto& m : configured) {
        const bool plus = ends_with(m, "-PLUS");
        const std::string base = plus ? m.substr(0, m.size() - 5) : m;
        if (is_scram(base)) {
            if (!ScramServer::supports(base)) continue;
            if (plus && !cb_) continue;
        } else {
            if (plus || !cyrus.count(base)) continue;
            if (base == "PLAIN" && !secure_) continue;
        }
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
    return out;
}

std::vector<std::string> ServerSession::channel_binding_types() const {
    if (!cb_) return {};
    return {cb_->name};
}

int ServerSession::proxy_policy(sasl_conn_t*, void* context, const char* requested_user, unsigned rlen,
                                const char* auth_identity, unsigned alen, const char*, unsigned,
                                struct propctx*) noexcept {
    // The authzid, when given, must be the authenticated account itself
    // (its bare JID, or the same local part): no proxy authorization.
    auto* self = static_cast<ServerSession*>(context);
    try {
        std::string authz, authn;
        const bool ok = requested_user && auth_identity &&
                        detail::local_node(std::string_view(requested_user, rlen), self->domain_, authz) &&
                        detail::local_node(std::string_view(auth_identity, alen), self->domain_, authn) &&
                        authz == authn;
        if (ok) return SASL_OK;
    } catch (...) {
    }
    self->authzid_refused_ = true;
    sasl_seterror(self->conn_.get(), SASL_NOLOG, "the authorization identity is not the authenticated one");
    return SASL_NOAUTHZ;
}

namespace {

// The authcid as the client wrote it in its first message, or empty.
std::string raw_authcid(std::string_view mech, std::string_view msg) {
    std::string user;
    if (mech == "PLAIN") {
        // authzid NUL authcid NUL password: take the middle field only.
        size_t a = msg.find('\0');
        if (a == std::string_view::npos) return {};
        size_t b = msg.find('\0', a + 1);
        if (b == std::string_view::npos) return {};
        user = std::string(msg.substr(a + 1, b - a - 1));
    } else if (mech.substr(0, 6) == "SCRAM-") {
        // gs2-header "n=" saslname "," ... (RFC 5802 §7)
        size_t c1 = msg.find(',');
        size_t c2 = c1 == std::string_view::npos ? c1 : msg.find(',', c1 + 1);
        if (c2 == std::string_view::npos || msg.substr(c2 + 1, 2) != "n=") return {};
        std::string_view name = msg.substr(c2 + 3);
        name = name.substr(0, name.find(','));
        for (size_t i = 0; i < name.size(); ++i) {
            if (name.substr(i, 3) == "=2C") user += ',', i += 2;
            else if (name.substr(i, 3) == "=3D") user += '=', i += 2;
            else user += name[i];
        }
    }
    return user;
}

}  // namespace

std::string authcid_in(std::string_view mech, std::string_view msg, std::string_view domain) {
    // No length bound of our own: the account store's nodeprep decides, as
    // it does for Cyrus. A shorter bound here let a name padded with
    // characters nodeprep deletes (U+00AD, U+200B) reach Cyrus as "alice"
    // while the throttle saw no account at all.
    const std::string user = raw_authcid(mech, msg);
    if (user.empty()) return {};
    std::string node;
    if (!detail::local_node(user, domain, node)) return {};
    return node;
}

std::string gs2_channel_binding_name(std::string_view msg) {
    if (msg.size() < 3 || msg.substr(0, 2) != "p=") return {};
    const size_t comma = msg.find(',');
    if (comma == std::string_view::npos) return {};
    return std::string(msg.substr(2, comma - 2));
}

bool ServerSession::note_user_from(std::string_view msg) {
    // The authcid for logs and throttling, read from the client's first
    // message in case the mechanism never gets as far as reading it.
    std::string node = authcid_in(mech_, msg, domain_);
    if (!node.empty()) attempted_user_ = node;
    // PLAIN and SCRAM name the account in their first message. One that is
    // no account name of this domain (unreadable, over nodeprep's 1023
    // bytes, not preparable, another domain) never reaches the mechanism:
    // Cyrus's canonicalization of names past its 1024-byte buffer leaks
    // (found by sasl_fuzz), and nothing good can come of it.
    if (!node.empty() || !(mech_ == "PLAIN" || mech_.rfind("SCRAM-", 0) == 0)) return true;
    unnamed_malformed_ = raw_authcid(mech_, msg).empty();
    return false;
}

Outcome ServerSession::refuse_unnamed() {
    done_ = true;
    // A name that is not one of ours fails like a wrong password; a message
    // with no name in it is malformed.
    if (unnamed_malformed_)
        return Outcome{Outcome::Kind::failure, {}, {}, "malformed-request", "the authentication exchange is malformed"};
    return Outcome{Outcome::Kind::failure, {}, {}, "not-authorized", "authentication failed"};
}

Outcome ServerSession::start(const std::string& mech, std::optional<std::string_view> initial) {
    if (started_) return Outcome{Outcome::Kind::failure, {}, {}, "malformed-request", "authentication already started"};
    started_ = true;
    const auto offered = mechanisms();
    if (std::find(offered.begin(), offered.end(), mech) == offered.end()) {
        // Finished: a later step() must not reach a mechanism that never
        // started (Cyrus dereferenced its missing mechanism: sasl_fuzz).
        done_ = true;
        return Outcome{Outcome::Kind::failure, {}, {}, "invalid-mechanism", "mechanism not offered"};
    }
    mech_ = mech;
    if (initial && !note_user_from(*initial)) return refuse_unnamed();
    // A first message without initial response: the next one is the client's first.
    first_pending_ = !initial;
    if (is_scram(mech)) return start_scram(initial);
    if (Status st = open_cyrus(); !st) {
        log::error("sasl", "cannot start {}: {}", mech, st.message());
        done_ = true;
        return Outcome{Outcome::Kind::failure, {}, {}, "temporary-auth-failure", "authentication is not available now"};
    }
    const char* out = nullptr;
    unsigned outlen = 0;
    int rc = sasl_server_start(conn_.get(), mech.c_str(), initial ? initial->data() : nullptr,
                               initial ? static_cast<unsigned>(initial->size()) : 0, &out, &outlen);
    return finish(rc, out, outlen);
}

Outcome ServerSession::start_scram(std::optional<std::string_view> initial) {
    ScramServerOptions opts;
    opts.mechanism = mech_;
    opts.domain = domain_;
    opts.channel_binding = cb_;
    const auto cb_types = channel_binding_types();
    // RFC 5802 §6: where we advertise channel binding (XEP-0440), a client
    // that says "y" was misled about it.
    opts.binding_advertised = !cb_types.empty();
    // XEP-0474: what this session advertises is what send_features() in c2s
    // put on the stream (the same mechanisms() and channel_binding_types()).
    opts.downgrade_hash = downgrade_protection_hash(mech_, mechanisms(), cb_types);
    scram_ = std::make_unique<ScramServer>(std::move(opts), store_credentials());
    if (!initial) return Outcome{Outcome::Kind::challenge, {}, {}, {}, {}};  // empty challenge: send client-first
    return finish_scram(scram_->on_client_first(*initial));
}

Outcome ServerSession::step(std::string_view data) {
    if (!started_ || done_)
        return Outcome{Outcome::Kind::failure, {}, {}, "malformed-request", "no authentication exchange is in progress"};
    if (first_pending_) {
        first_pending_ = false;
        if (!note_user_from(data)) return refuse_unnamed();
    }
    if (scram_) return finish_scram(scram_->step(data));
    const char* out = nullptr;
    unsigned outlen = 0;
    int rc = sasl_server_step(conn_.get(), data.data(), static_cast<unsigned>(data.size()), &out, &outlen);
    return finish(rc, out, outlen);
}

Outcome ServerSession::finish_scram(Outcome o) {
    if (!scram_->authcid().empty()) attempted_user_ = scram_->authcid();
    if (o.kind != Outcome::Kind::challenge) done_ = true;  // ScramServer logged why it failed
    return o;
}

Outcome ServerSession::finish(int rc, const char* out, unsigned outlen) {
    Outcome o;
    const void* authid = nullptr;
    if (sasl_getprop(conn_.get(), SASL_AUTHUSER, &authid) == SASL_OK && authid) {
        std::string node;
        if (detail::local_node(static_cast<const char*>(authid), domain_, node)) attempted_user_ = node;
    }
    if (rc == SASL_CONTINUE) {
        o.kind = Outcome::Kind::challenge;
        if (out) o.data.assign(out, outlen);
        return o;
    }
    done_ = true;
    if (rc == SASL_OK) {
        std::string node;
        if (!authid || !detail::local_node(static_cast<const char*>(authid), domain_, node)) {
            o.kind = Outcome::Kind::failure;
            o.condition = "not-authorized";
            o.text = "authentication failed";
            return o;
        }
        o.kind = Outcome::Kind::success;
        o.node = node;
        if (out) o.data.assign(out, outlen);
        return o;
    }
    o.kind = Outcome::Kind::failure;
    o.condition = authzid_refused_ ? "invalid-authzid" : condition_of(rc);
    // Cyrus's detail may name the user but never holds the secret; it
    // stays in our log, the client gets a plain reason.
    const char* detail = sasl_errdetail(conn_.get());
    log::debug("sasl", "{} for '{}' failed: {}", mech_, attempted_user_, detail ? detail : sasl_errstring(rc, nullptr, nullptr));
    if (o.condition == "invalid-authzid") o.text = "the authorization identity must be your own account";
    else if (o.condition == "not-authorized") o.text = "authentication failed";
    else if (o.condition == "malformed-request") o.text = "the authentication exchange is malformed";
    else if (o.condition == "temporary-auth-failure") o.text = "authentication is not available now";
    return o;
}

}  // namespace parley::sasl

#include "sasl/sasl_server.hpp"

#include <sasl/saslplug.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <mutex>
#include <set>

#include "log/log.hpp"
#include "sasl/auxprop.hpp"

namespace parley::sasl {

namespace {

// The Cyrus plugin files we load; every other file in the plugin directory
// (sasldb above all, but also DIGEST-MD5, NTLM, ...) is never opened.
constexpr const char* kPluginFiles[] = {"libscram.", "libplain."};
constexpr const char* kService = "xmpp";

// Configuration served to Cyrus by getopt. Cyrus holds on to the returned
// strings, so every value ever served stays alive (re-init is rare).
struct Options {
    std::mutex mutex;
    std::vector<std::string> mechanisms;  // as configured, with -PLUS
    std::set<std::string> binds;          // loaded mechanisms that can bind to the channel (-PLUS)
    const std::string* mech_list = nullptr;
    std::list<std::string> keep;
    bool active = false;
};

Options& options() {
    static Options o;
    return o;
}

bool ends_with(std::string_view s, std::string_view suffix) {
    return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Cyrus lists a SCRAM plugin once and derives the -PLUS variant itself.
std::string base_mech_list(const std::vector<std::string>& mechs) {
    std::vector<std::string> out;
    for (std::string m : mechs) {
        if (ends_with(m, "-PLUS")) m.resize(m.size() - 5);
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
    std::string list;
    for (const auto& m : out) list += (list.empty() ? "" : " ") + m;
    return list;
}

int getopt_cb(void*, const char*, const char* option, const char** result, unsigned* len) noexcept {
    if (!option || !result) return SASL_BADPARAM;
    *result = nullptr;
    const char* value = nullptr;
    if (std::strcmp(option, "auxprop_plugin") == 0) {
        value = detail::kAuxpropName;
    } else if (std::strcmp(option, "mech_list") == 0) {
        std::lock_guard<std::mutex> lock(options().mutex);
        value = options().mech_list ? options().mech_list->c_str() : nullptr;
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

void note_channel_binding(server_sasl_mechanism_t* m, sasl_info_callback_stage_t stage, void* rock) noexcept {
    if (stage != SASL_INFO_LIST_MECH || !m || !m->plug || !m->plug->mech_name) return;
    if (m->plug->features & SASL_FEAT_CHANNEL_BINDING) {
        try {
            static_cast<std::set<std::string>*>(rock)->insert(m->plug->mech_name);
        } catch (...) {
        }
    }
}

// Cyrus splits the names of a space-separated list.
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

}  // namespace

Status init(store::AccountStore* accounts, const std::vector<std::string>& mechanisms) {
    Options& o = options();
    {
        std::lock_guard<std::mutex> lock(o.mutex);
        o.mechanisms = mechanisms;
        o.keep.push_back(base_mech_list(mechanisms));
        o.mech_list = &o.keep.back();
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
        std::set<std::string> binds;
        sasl_server_plugin_info(nullptr, &note_channel_binding, &binds);
        std::lock_guard<std::mutex> lock(o.mutex);
        o.binds = std::move(binds);
    }
    o.active = true;
    log::debug("sasl", "Cyrus SASL ready; mechanisms {}", *o.mech_list);
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
    s->callbacks_[0] = {SASL_CB_PROXY_POLICY, as_callback(&ServerSession::proxy_policy), s.get()};
    s->callbacks_[1] = {SASL_CB_LIST_END, nullptr, nullptr};
    sasl_conn_t* conn = nullptr;
    // SASL_SUCCESS_DATA: XMPP carries the server's last SCRAM message in
    // <success/> (RFC 6120 §6.3.10).
    int rc = sasl_server_new(kService, domain.c_str(), domain.c_str(), local_addr.empty() ? nullptr : local_addr.c_str(),
                             remote_addr.empty() ? nullptr : remote_addr.c_str(), s->callbacks_, SASL_SUCCESS_DATA,
                             &conn);
    if (rc == SASL_BADPARAM && (!local_addr.empty() || !remote_addr.empty())) {
        // An address Cyrus cannot parse only costs us its use in logs.
        if (conn) sasl_dispose(&conn);
        rc = sasl_server_new(kService, domain.c_str(), domain.c_str(), nullptr, nullptr, s->callbacks_,
                             SASL_SUCCESS_DATA, &conn);
    }
    if (rc != SASL_OK) {
        if (conn) sasl_dispose(&conn);
        return sasl_status("sasl_server_new", rc);
    }
    s->conn_.reset(conn);

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
    if (secure) {
        sasl_ssf_t ssf = 256;
        rc = sasl_setprop(conn, SASL_SSF_EXTERNAL, &ssf);
        if (rc != SASL_OK) return sasl_status("sasl_setprop(SASL_SSF_EXTERNAL)", rc);
    }
    // What Cyrus offers, read before any channel binding is set: with one
    // set, Cyrus 2.1.28's sasl_listmech sizes its buffer one separator short
    // when every listed mechanism has a -PLUS variant (a SCRAM-only
    // mech_list), and writes past it. Which -PLUS variants exist comes from
    // the plugins' features (init()).
    const char* list = nullptr;
    unsigned len = 0;
    if (sasl_listmech(conn, nullptr, "", " ", "", &list, &len, nullptr) == SASL_OK && list)
        s->available_ = split_names(std::string_view(list, len));
    if (cb && !cb->name.empty() && !cb->data.empty()) {
        s->cb_name_ = cb->name;
        s->cb_data_ = cb->data;
        s->cbinding_.name = s->cb_name_.c_str();
        s->cbinding_.critical = 0;  // clients without -PLUS are still served
        s->cbinding_.len = s->cb_data_.size();
        s->cbinding_.data = reinterpret_cast<const unsigned char*>(s->cb_data_.data());
        rc = sasl_setprop(conn, SASL_CHANNEL_BINDING, &s->cbinding_);
        if (rc != SASL_OK) return sasl_status("sasl_setprop(SASL_CHANNEL_BINDING)", rc);
    }
    return s;
}

std::vector<std::string> ServerSession::mechanisms() const {
    std::vector<std::string> out;
    std::vector<std::string> configured;
    std::set<std::string> binds;
    {
        std::lock_guard<std::mutex> lock(options().mutex);
        configured = options().mechanisms;
        binds = options().binds;
    }
    for (const auto& m : configured) {
        const bool plus = ends_with(m, "-PLUS");
        const std::string base = plus ? m.substr(0, m.size() - 5) : m;
        if (!available_.count(base)) continue;
        if (plus && (cb_data_.empty() || !binds.count(base))) continue;
        if (m == "PLAIN" && !secure_) continue;
        if (std::find(out.begin(), out.end(), m) == out.end()) out.push_back(m);
    }
    return out;
}

std::vector<std::string> ServerSession::channel_binding_types() const {
    if (cb_name_.empty()) return {};
    return {cb_name_};
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
    // message in case Cyrus never got as far as canonicalizing it.
    std::string node = authcid_in(mech_, msg, domain_);
    if (!node.empty()) attempted_user_ = node;
    // PLAIN and SCRAM name the account in their first message. One that is
    // no account name of this domain (unreadable, over nodeprep's 1023
    // bytes, not preparable, another domain) never reaches Cyrus: its
    // canonicalization of names past its 1024-byte buffer leaks (found by
    // sasl_fuzz), and nothing good can come of it.
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
        // Finished: a later step() must not reach Cyrus, whose connection
        // has no mechanism and would dereference it (found by sasl_fuzz).
        done_ = true;
        return Outcome{Outcome::Kind::failure, {}, {}, "invalid-mechanism", "mechanism not offered"};
    }
    mech_ = mech;
    if (initial && !note_user_from(*initial)) return refuse_unnamed();
    const char* out = nullptr;
    unsigned outlen = 0;
    int rc = sasl_server_start(conn_.get(), mech.c_str(), initial ? initial->data() : nullptr,
                               initial ? static_cast<unsigned>(initial->size()) : 0, &out, &outlen);
    // A first message without initial response: the next one is the client's first.
    first_pending_ = !initial;
    return finish(rc, out, outlen);
}

Outcome ServerSession::step(std::string_view data) {
    if (!started_ || done_)
        return Outcome{Outcome::Kind::failure, {}, {}, "malformed-request", "no authentication exchange is in progress"};
    if (first_pending_) {
        first_pending_ = false;
        if (!note_user_from(data)) return refuse_unnamed();
    }
    const char* out = nullptr;
    unsigned outlen = 0;
    int rc = sasl_server_step(conn_.get(), data.data(), static_cast<unsigned>(data.size()), &out, &outlen);
    return finish(rc, out, outlen);
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

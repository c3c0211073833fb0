// SASL authentication for client streams: SCRAM by Parley, PLAIN by Cyrus
// SASL.
//
// SCRAM-SHA-1 and SCRAM-SHA-256 and their -PLUS variants run in our own
// ScramServer (sasl/scram_server.hpp), which verifies proofs against the
// stored RFC 5803 keys of the AccountStore and adds XEP-0474's downgrade
// protection attribute "h" (the hash of the mechanisms and channel binding
// types this session offers) to its server-first message; Cyrus's SCRAM
// plugin could not, as it writes that message itself. PLAIN stays on Cyrus.
//
// init() sets Cyrus up once per process, before any worker starts: mutex
// callbacks (workers authenticate concurrently), options served from our
// configuration only (no /etc/sasl2 file is read; only the PLAIN plugin file
// is loaded, so no sasldb is ever opened), Cyrus's log routed to ours, and a
// quiet in-process auxprop plugin "parley" that serves no property (Cyrus's
// PLAIN asks for one). PLAIN is checked through
// AccountStore::check_password; no plaintext password is stored anywhere.
// shutdown() undoes init() at exit, after the last ServerSession is gone.
//
// ServerSession is one authentication attempt on one stream: the c2s
// session makes a fresh one per attempt. It offers the configured
// mechanisms (PLAIN only when Cyrus has it and the stream is secure), the
// -PLUS variants only with TLS channel binding (tls-unique on TLS 1.2,
// tls-exporter on TLS 1.3; XEP-0440 lists the type), and opens a Cyrus
// connection only when PLAIN is started. Loop-affine: only the worker that
// owns the stream, or one thread at a time that it hands the session to
// (PLAIN runs on the thread pool); Cyrus itself may be used from any thread
// after init().
#pragma once

#include <sasl/sasl.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"
#include "sasl/login_throttle.hpp"

namespace parley::store {
class AccountStore;
}

namespace parley::sasl {

class ScramServer;

// Process-wide, once, before the first ServerSession. `mechanisms` in
// offering order, e.g. {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256",
// "SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"}. A second call while active
// only replaces the account store and the mechanisms (tests use this).
Status init(store::AccountStore* accounts, const std::vector<std::string>& mechanisms);
void shutdown();
// Unknown users are answered with decoy SCRAM keys of this iteration count
// ([sasl] scram_iterations, what new accounts get). Any thread.
void set_scram_iterations(uint32_t iterations);

// The TLS channel binding for SCRAM-*-PLUS (name as in RFC 5056 registry).
struct ChannelBinding {
    std::string name;
    std::string data;
};

struct Outcome {
    enum class Kind { challenge, success, failure };
    Kind kind = Kind::failure;
    // The challenge, or additional data with success (raw bytes). On a
    // SCRAM failure, the server-final "e=..." of RFC 5802, which XMPP's
    // <failure/> cannot carry: for logs and tests only.
    std::string data;
    std::string node;       // on success: the authenticated local part, realm stripped
    std::string condition;  // on failure: RFC 6120 §6.5 condition, e.g. "not-authorized"
    std::string text;       // on failure: a short human-readable reason (no secrets)
};

// The authentication id (local part, nodeprep'ed, realm `domain` stripped)
// that a client's first message of `mech` names, read before the mechanism
// evaluates anything, so that the login throttle can be asked first; empty when it
// names none, another realm, or an invalid name. Any thread.
std::string authcid_in(std::string_view mech, std::string_view first_message, std::string_view domain);

// The channel binding type a SCRAM client-first message asks for (its
// gs2 header "p=NAME,"), empty for "n", "y" or anything else. Any thread.
std::string gs2_channel_binding_name(std::string_view first_message);

class ServerSession {
public:
    // `domain` is the stream's host: the server FQDN and the user realm.
    // Addresses in Cyrus form "ip;port" (may be empty). `cb` is nullptr
    // without TLS; it is copied.
    static Result<std::unique_ptr<ServerSession>> create(const std::string& domain, const std::string& local_addr,
                                                         const std::string& remote_addr, bool secure,
                                                         const ChannelBinding* cb);
    ~ServerSession();
    ServerSession(const ServerSession&) = delete;
    ServerSession& operator=(const ServerSession&) = delete;

    // Offered now, in configured order.
    std::vector<std::string> mechanisms() const;
    // XEP-0440: the channel-binding types this stream supports.
    std::vector<std::string> channel_binding_types() const;

    Outcome start(const std::string& mech, std::optional<std::string_view> initial);
    Outcome step(std::string_view data);
    // The authcid tried (local part, realm stripped), for logs and
    // throttling; empty while unknown.
    std::string attempted_user() const { return attempted_user_; }

private:
    ServerSession(std::string domain, bool secure);
    static int proxy_policy(sasl_conn_t* conn, void* context, const char* requested_user, unsigned rlen,
                            const char* auth_identity, unsigned alen, const char* def_realm, unsigned urlen,
                            struct propctx* propctx) noexcept;
    Status open_cyrus();
    Outcome start_scram(std::optional<std::string_view> initial);
    Outcome finish(int rc, const char* out, unsigned outlen);
    Outcome finish_scram(Outcome o);
    // False when the first message of PLAIN or SCRAM names no account.
    bool note_user_from(std::string_view client_message);
    Outcome refuse_unnamed();

    struct ConnDeleter {
        void operator()(sasl_conn_t* c) const { sasl_dispose(&c); }
    };
    std::string domain_;
    bool secure_;
    bool started_ = false;
    bool done_ = false;
    bool authzid_refused_ = false;
    bool first_pending_ = false;      // started without initial response: the next step carries it
    bool unnamed_malformed_ = false;  // see refuse_unnamed()
    std::string mech_;
    std::string attempted_user_;
    std::string local_addr_, remote_addr_;  // for Cyrus
    std::optional<ChannelBinding> cb_;
    std::unique_ptr<ScramServer> scram_;
    sasl_callback_t callbacks_[2]{};  // per Cyrus connection: the proxy policy; Cyrus keeps the pointer
    std::unique_ptr<sasl_conn_t, ConnDeleter> conn_;  // only once PLAIN starts
};

}  // namespace parley::sasl

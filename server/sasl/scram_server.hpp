// The server side of SCRAM (RFC 5802; SCRAM-SHA-256 per RFC 7677), with
// channel binding (-PLUS) and XEP-0474 SASL SCRAM Downgrade Protection.
//
// Parley runs SCRAM itself rather than through Cyrus SASL because Cyrus's
// SCRAM plugin writes the server-first message alone ("r=,s=,i=" and nothing
// else), so XEP-0474's "h" attribute could not be added. Hashes and HMACs go
// through GnuTLS. The server never sees a password: it verifies the client's
// proof against the stored RFC 5803 keys (StoredKey, ServerKey, salt,
// iteration count) that ScramCredentials hands out, so a login costs no
// PBKDF2 on the server.
//
// One ScramServer is one exchange: on_client_first() answers with the
// server-first message (or fails), on_client_final() with the server-final
// "v=" on success (or fails); any message after the end fails. Parsing is
// strict (RFC 5802 §7): a syntax error is "malformed-request"; a channel
// binding that does not fit the stream, a nonce that is not ours, a wrong
// proof are "not-authorized". A name without an account (or without a
// credential for this hash) runs the exchange to the end with decoy keys: a
// salt derived from the name with a per-process secret (the same on every
// attempt), the iteration count real accounts show, and the same failure as
// a wrong password at the end. A failure's Outcome::data holds the
// server-final message "e=..." that RFC 5802 would send; XMPP's <failure/>
// has no room for it, so the caller only logs it.
//
// Loop-affine: a ScramServer belongs to the thread that drives it (the
// worker owning the stream). The free functions are pure: any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"
#include "sasl/sasl_server.hpp"
#include "store/scram.hpp"

namespace parley::sasl {

// Where ScramServer reads stored keys. Implementations are called on the
// thread that drives the ScramServer.
class ScramCredentials {
public:
    virtual ~ScramCredentials() = default;
    // The credential of `mechanism` ("SCRAM-SHA-1", "SCRAM-SHA-256": never
    // "-PLUS") of node@domain; nullopt when there is no account or it holds
    // no credential of that mechanism. An error only when the store failed.
    virtual Result<std::optional<store::scram::ScramCredential>> find(std::string_view node, std::string_view domain,
                                                                      std::string_view mechanism) = 0;
    // The iteration count that names without an account are shown (what
    // real accounts of `domain` show).
    virtual uint32_t decoy_iterations(std::string_view domain) = 0;
};

struct ScramServerOptions {
    std::string mechanism;  // e.g. "SCRAM-SHA-256" or "SCRAM-SHA-256-PLUS"
    std::string domain;     // the realm: the client's name is a local part of it
    // This stream's TLS channel binding; -PLUS needs it.
    std::optional<ChannelBinding> channel_binding;
    // The server advertised channel binding on this stream (RFC 5802 §6):
    // a client that says "y" (it can bind but thinks we cannot) is refused.
    bool binding_advertised = false;
    // XEP-0474: the "h" value to add to the server-first message (see
    // downgrade_protection_hash()); empty: no "h" attribute.
    std::string downgrade_hash;
    // Test seam: the server's part of the nonce, instead of a fresh random
    // one (RFC test vectors need it). Never set outside tests.
    std::string fixed_server_nonce;
};

class ScramServer {
public:
    // SCRAM-SHA-1 and SCRAM-SHA-256, with or without "-PLUS".
    static bool supports(std::string_view mechanism);

    // `credentials` must outlive the ScramServer.
    ScramServer(ScramServerOptions options, ScramCredentials& credentials);
    ~ScramServer();
    ScramServer(const ScramServer&) = delete;
    ScramServer& operator=(const ScramServer&) = delete;

    // The client's message, whichever step this is.
    Outcome step(std::string_view message);
    Outcome on_client_first(std::string_view message);
    Outcome on_client_final(std::string_view message);

    // The authcid read from client-first (prepared local part), empty before
    // it or when it is not a valid name of the domain.
    const std::string& authcid() const { return node_; }
    bool done() const { return state_ == State::done; }

private:
    enum class State { first, final, done };
    Outcome fail(const char* condition, const char* server_error, std::string_view why);

    ScramServerOptions options_;
    ScramCredentials& credentials_;
    std::string hash_mech_;  // mechanism without "-PLUS"
    bool plus_ = false;
    State state_ = State::first;
    std::string gs2_header_, client_first_bare_, server_first_, nonce_;
    std::string node_, authzid_;
    bool real_ = false;  // keys from a real credential, not decoys
    store::scram::ScramCredential cred_;
};

// XEP-0474 version 0.5.0 (2025-10-25) §"Server Sends Downgrade Protection
// Hash": the "h" value for an exchange of `mechanism`: the advertised SASL
// mechanisms sorted (i;octet) and joined by 0x1E; then, if channel binding
// types were advertised (XEP-0440), 0x1F and those types sorted and joined by
// 0x1E; hashed with the hash of `mechanism` and base64-encoded. Empty for a
// mechanism that is not SCRAM.
std::string downgrade_protection_hash(std::string_view mechanism, std::vector<std::string> mechanisms,
                                      std::vector<std::string> channel_binding_types);

}  // namespace parley::sasl

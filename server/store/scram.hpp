// SCRAM credentials (RFC 5802, RFC 7677) and their RFC 5803 text form.
//
// A credential holds what a server needs to verify a SCRAM login and never
// the password: the salt, the iteration count, StoredKey = H(ClientKey) and
// ServerKey. derive() computes them from a password (PBKDF2 through GnuTLS);
// to_rfc5803() gives the authPassword value that Cyrus SASL's SCRAM plugin
// reads through our auxprop plugin:
//   "SCRAM-SHA-1$4096:<base64 salt>$<base64 StoredKey>:<base64 ServerKey>"
// The caller normalises the password (SASLprep) the same way for every use.
// Pure functions over values: any thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "errors/status.hpp"

namespace parley::store::scram {

struct ScramCredential {
    std::string mechanism;  // "SCRAM-SHA-1" or "SCRAM-SHA-256"
    uint32_t iterations = 0;
    std::string salt, stored_key, server_key;  // raw bytes
};

constexpr size_t kSaltBytes = 16;

// Digest size of a known mechanism (20 or 32), 0 for any other name.
size_t hash_size(std::string_view mechanism);

// RFC 5802 section 3: SaltedPassword = PBKDF2(HMAC-H, password, salt, i);
// ClientKey = HMAC(SaltedPassword, "Client Key"); StoredKey = H(ClientKey);
// ServerKey = HMAC(SaltedPassword, "Server Key"). Code "invalid" for an
// unknown mechanism, an empty salt or zero iterations.
Result<ScramCredential> derive(std::string_view mechanism, std::string_view password,
                               std::string_view salt, uint32_t iterations);

// The PBKDF2 work derive() did on the calling thread so far: calls and
// iterations per mechanism. Tests use it to show that a check for a name
// without an account does the work a real account's check does.
struct Pbkdf2Work {
    uint64_t calls = 0;
    uint64_t sha1_iterations = 0;
    uint64_t sha256_iterations = 0;
};
Pbkdf2Work pbkdf2_work_on_this_thread();

// kSaltBytes fresh random bytes (gnutls_rnd, GNUTLS_RND_RANDOM).
Result<std::string> random_salt();

std::string to_rfc5803(const ScramCredential& credential);
// Parses the form above strictly: known mechanism, decimal iterations > 0,
// canonical padded base64, key lengths matching the hash. Code "invalid".
Result<ScramCredential> from_rfc5803(std::string_view text);

// Equal contents, in time independent of where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// Standard base64 (RFC 4648 section 4) with padding; decode is strict and
// returns false on anything non-canonical. Thin wrappers over the one codec
// in xmpp/base64.hpp.
std::string base64_encode(std::string_view raw);
bool base64_decode(std::string_view text, std::string& out);

}  // namespace parley::store::scram

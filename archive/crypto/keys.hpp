// The archive's keys and the GnuTLS primitives it uses: AES-256-GCM,
// HMAC-SHA-256, SHA-256.
//
// Two random 256-bit keys protect an archive: the data key (AES-256-GCM of
// every payload) and the chain key (HMAC-SHA-256 of the integrity chain and
// of the pseudonymous index keys). Neither is ever written in clear: the
// archive stores them wrapped (AES-256-GCM) under the key-encryption key read
// from the key file named in the config. Rotating the key file re-wraps the
// two keys and rewrites nothing else, so history stays readable and its
// chain still verifies.
//
// A key file holds one line of 64 hexadecimal digits (32 random bytes) and
// must not be readable or writable by group or others (mode 0600 or 0400),
// else it is refused. Secrets live in SecretBytes, which zeroes its memory
// when destroyed, and are never logged or put in a Status message.
//
// Value types and free functions: any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "errors/status.hpp"

namespace parley::archive {

constexpr size_t kKeyBytes = 32;
constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kDigestBytes = 32;
using Digest = std::array<uint8_t, kDigestBytes>;

// 32 secret bytes, zeroed on destruction.
class SecretKey {
public:
    SecretKey() { bytes_.fill(0); }
    ~SecretKey();
    SecretKey(const SecretKey&) = default;
    SecretKey& operator=(const SecretKey&) = default;
    uint8_t* data() { return bytes_.data(); }
    const uint8_t* data() const { return bytes_.data(); }
    static constexpr size_t size() { return kKeyBytes; }
    // A short public name of the key (the first 8 bytes of SHA-256 over
    // "parley-archive-kid" and the key, in hex): says which key file an
    // archive expects without revealing anything of the key.
    std::string id() const;

private:
    std::array<uint8_t, kKeyBytes> bytes_;
};

// Fresh random key (gnutls_rnd, GNUTLS_RND_KEY).
Result<SecretKey> random_key();

// Reads a key file: code "not-found" (missing), "insecure" (group or other
// may read or write it), "invalid" (not 64 hex digits). The messages name
// the file, never its content.
Result<SecretKey> read_key_file(const std::string& path);
// Writes a new random key file with mode 0600; refuses ("exists") to
// overwrite one.
Result<SecretKey> create_key_file(const std::string& path);

// AES-256-GCM. seal() returns ciphertext || tag; open() gives code
// "corrupt" when the tag does not verify (wrong key, altered bytes or
// altered associated data).
Result<std::string> seal(const SecretKey& key, const uint8_t (&nonce)[kNonceBytes], std::string_view aad,
                         std::string_view plaintext);
Result<std::string> open(const SecretKey& key, const uint8_t (&nonce)[kNonceBytes], std::string_view aad,
                         std::string_view sealed);

Digest sha256(std::string_view data);
Digest hmac_sha256(const SecretKey& key, std::string_view data);
// Equal without an early exit (the time does not depend on where they differ).
bool equal_constant_time(std::string_view a, std::string_view b);
std::string_view as_view(const Digest& d);
std::string to_hex(std::string_view bytes);

// The two keys of one archive.
struct ArchiveKeys {
    SecretKey data;   // AES-256-GCM of payloads
    SecretKey chain;  // HMAC of the chain and the index keys
};

// Wraps the archive keys under a key-encryption key: a blob of
// kek id (16 hex chars) | nonce | AES-256-GCM(data || chain).
Result<std::string> wrap_keys(const ArchiveKeys& keys, const SecretKey& kek);
// Unwraps; code "wrong-key" names the key id the archive expects and the one
// given, "corrupt" when the blob is damaged.
Result<ArchiveKeys> unwrap_keys(std::string_view blob, const SecretKey& kek);

}  // namespace parley::archive

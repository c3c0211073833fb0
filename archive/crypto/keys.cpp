#include "archive/crypto/keys.hpp"

#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

namespace parley::archive {

namespace {

constexpr std::string_view kKidLabel = "parley-archive-kid";
constexpr std::string_view kWrapLabel = "parley-archive-keys-v1";
constexpr size_t kKidHexChars = 16;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

struct AeadDeleter {
    void operator()(gnutls_aead_cipher_hd_t h) const { gnutls_aead_cipher_deinit(h); }
};
using Aead = std::unique_ptr<std::remove_pointer_t<gnutls_aead_cipher_hd_t>, AeadDeleter>;

Result<Aead> aead(const SecretKey& key) {
    gnutls_datum_t k{const_cast<uint8_t*>(key.data()), static_cast<unsigned>(key.size())};
    gnutls_aead_cipher_hd_t h = nullptr;
    int rc = gnutls_aead_cipher_init(&h, GNUTLS_CIPHER_AES_256_GCM, &k);
    if (rc < 0) return Status::error("crypto", std::string("AES-256-GCM init: ") + gnutls_strerror(rc));
    return Aead(h);
}

}  // namespace

SecretKey::~SecretKey() { gnutls_memset(bytes_.data(), 0, bytes_.size()); }

std::string SecretKey::id() const {
    std::string in(kKidLabel);
    in.append(reinterpret_cast<const char*>(bytes_.data()), bytes_.size());
    Digest d = sha256(in);
    gnutls_memset(in.data(), 0, in.size());
    return to_hex(std::string_view(reinterpret_cast<const char*>(d.data()), kKidHexChars / 2));
}

Result<SecretKey> random_key() {
    SecretKey k;
    int rc = gnutls_rnd(GNUTLS_RND_KEY, k.data(), k.size());
    if (rc < 0) return Status::error("crypto", std::string("random key: ") + gnutls_strerror(rc));
    return k;
}

Result<SecretKey> read_key_file(const std::string& path) {
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int e = errno;
        return Status::error(e == ENOENT ? "not-found" : "io",
                             "archive key file " + path + ": " + std::strerror(e));
    }
    struct stat st {};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        return Status::error("invalid", "archive key file " + path + ": not a regular file");
    }
    if ((st.st_mode & 077) != 0) {
        ::close(fd);
        return Status::error("insecure", "archive key file " + path +
                                             ": group or others may access it (chmod 600 it)");
    }
    char buf[130];
    ssize_t n = ::read(fd, buf, sizeof buf);
    ::close(fd);
    if (n < 0) return Status::error("io", "archive key file " + path + ": " + std::strerror(errno));
    size_t len = static_cast<size_t>(n);
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' ')) --len;
    SecretKey k;
    bool ok = len == 2 * kKeyBytes;
    for (size_t i = 0; ok && i < kKeyBytes; ++i) {
        int hi = hex_value(buf[2 * i]), lo = hex_value(buf[2 * i + 1]);
        if (hi < 0 || lo < 0) ok = false;
        else k.data()[i] = static_cast<uint8_t>(hi * 16 + lo);
    }
    gnutls_memset(buf, 0, sizeof buf);
    if (!ok) return Status::error("invalid", "archive key file " + path + ": expected one line of 64 hex digits");
    return k;
}

Result<SecretKey> create_key_file(const std::string& path) {
    auto k = random_key();
    if (!k) return k.status();
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        return Status::error(e == EEXIST ? "exists" : "io", "archive key file " + path + ": " + std::strerror(e));
    }
    std::string hex = to_hex(std::string_view(reinterpret_cast<const char*>(k->data()), k->size())) + "\n";
    bool written = ::write(fd, hex.data(), hex.size()) == static_cast<ssize_t>(hex.size()) && ::fsync(fd) == 0;
    int e = errno;
    gnutls_memset(hex.data(), 0, hex.size());
    ::close(fd);
    if (!written) {
        ::unlink(path.c_str());
        return Status::error("io", "archive key file " + path + ": " + std::strerror(e));
    }
    return k;
}

Result<std::string> seal(const SecretKey& key, const uint8_t (&nonce)[kNonceBytes], std::string_view aad,
                         std::string_view plaintext) {
    auto h = aead(key);
    if (!h) return h.status();
    std::string out(plaintext.size() + kTagBytes, '\0');
    size_t out_len = out.size();
    int rc = gnutls_aead_cipher_encrypt(h->get(), nonce, kNonceBytes, aad.data(), aad.size(), kTagBytes,
                                        plaintext.data(), plaintext.size(), out.data(), &out_len);
    if (rc < 0) return Status::error("crypto", std::string("AES-256-GCM encrypt: ") + gnutls_strerror(rc));
    out.resize(out_len);
    return out;
}

Result<std::string> open(const SecretKey& key, const uint8_t (&nonce)[kNonceBytes], std::string_view aad,
                         std::string_view sealed) {
    if (sealed.size() < kTagBytes) return Status::error("corrupt", "sealed payload shorter than its tag");
    auto h = aead(key);
    if (!h) return h.status();
    std::string out(sealed.size(), '\0');
    size_t out_len = out.size();
    int rc = gnutls_aead_cipher_decrypt(h->get(), nonce, kNonceBytes, aad.data(), aad.size(), kTagBytes,
                                        sealed.data(), sealed.size(), out.data(), &out_len);
    if (rc < 0) return Status::error("corrupt", "payload does not decrypt (wrong key or altered bytes)");
    out.resize(out_len);
    return out;
}

Digest sha256(std::string_view data) {
    Digest d{};
    gnutls_hash_fast(GNUTLS_DIG_SHA256, data.data(), data.size(), d.data());
    return d;
}

Digest hmac_sha256(const SecretKey& key, std::string_view data) {
    Digest d{};
    gnutls_hmac_fast(GNUTLS_MAC_SHA256, key.data(), key.size(), data.data(), data.size(), d.data());
    return d;
}

bool equal_constant_time(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
    return diff == 0;
}

std::string_view as_view(const Digest& d) { return {reinterpret_cast<const char*>(d.data()), d.size()}; }

std::string to_hex(std::string_view bytes) {
    static const char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out.push_back(kDigits[c >> 4]);
        out.push_back(kDigits[c & 15]);
    }
    return out;
}

Result<std::string> wrap_keys(const ArchiveKeys& keys, const SecretKey& kek) {
    uint8_t nonce[kNonceBytes];
    int rc = gnutls_rnd(GNUTLS_RND_NONCE, nonce, sizeof nonce);
    if (rc < 0) return Status::error("crypto", std::string("nonce: ") + gnutls_strerror(rc));
    std::string kid = kek.id();
    std::string plain(reinterpret_cast<const char*>(keys.data.data()), kKeyBytes);
    plain.append(reinterpret_cast<const char*>(keys.chain.data()), kKeyBytes);
    auto sealed = seal(kek, nonce, std::string(kWrapLabel) + kid, plain);
    gnutls_memset(plain.data(), 0, plain.size());
    if (!sealed) return sealed.status();
    std::string blob = kid;
    blob.append(reinterpret_cast<const char*>(nonce), kNonceBytes);
    blob += *sealed;
    return blob;
}

Result<ArchiveKeys> unwrap_keys(std::string_view blob, const SecretKey& kek) {
    if (blob.size() != kKidHexChars + kNonceBytes + 2 * kKeyBytes + kTagBytes)
        return Status::error("corrupt", "the archive's wrapped keys are damaged (wrong length)");
    std::string_view kid = blob.substr(0, kKidHexChars);
    std::string given = kek.id();
    if (kid != given)
        return Status::error("wrong-key", "the archive was sealed with key " + std::string(kid) +
                                              ", the key file holds key " + given);
    uint8_t nonce[kNonceBytes];
    std::memcpy(nonce, blob.data() + kKidHexChars, kNonceBytes);
    auto plain = open(kek, nonce, std::string(kWrapLabel) + std::string(kid),
                      blob.substr(kKidHexChars + kNonceBytes));
    if (!plain) return Status::error("corrupt", "the archive's wrapped keys do not open with key " + given);
    ArchiveKeys keys;
    std::memcpy(keys.data.data(), plain->data(), kKeyBytes);
    std::memcpy(keys.chain.data(), plain->data() + kKeyBytes, kKeyBytes);
    gnutls_memset(plain->data(), 0, plain->size());
    return keys;
}

}  // namespace parley::archive

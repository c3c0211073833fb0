// TLS for parley-bench's client sessions, on GnuTLS, over our own buffers.
//
// TlsClientContext holds what every client session shares: the CA the
// server's certificate must chain to and one priority cache (the GnuTLS
// default priorities, parsed once). It is immutable after load() and may be
// used from any thread (GnuTLS credentials are read-only once set up).
//
// TlsClient is one connection's TLS state. It never touches the socket: the
// session feeds it the ciphertext it read and writes out whatever
// take_output() returns. GnuTLS reads the fed bytes through our pull
// function and writes records through our push function, which appends to
// our output buffer and so never blocks. The server's certificate is
// verified against the CA for the name given to start(), which is also sent
// as SNI. Loop-affine: only the thread that owns the session.
#pragma once

#include <gnutls/gnutls.h>

#include <memory>
#include <string>
#include <string_view>

namespace parley::bench {

class TlsClientContext {
public:
    // Reads the CA file (PEM); on failure returns null and sets `err`.
    static std::unique_ptr<TlsClientContext> load(const std::string& ca_file, std::string& err);
    ~TlsClientContext();
    TlsClientContext(const TlsClientContext&) = delete;
    TlsClientContext& operator=(const TlsClientContext&) = delete;

    gnutls_certificate_credentials_t credentials() const { return cred_; }
    gnutls_priority_t priority() const { return priority_; }

private:
    TlsClientContext() = default;
    gnutls_certificate_credentials_t cred_ = nullptr;
    gnutls_priority_t priority_ = nullptr;
};

class TlsClient {
public:
    enum class Progress { done, again, failed };

    TlsClient() = default;
    ~TlsClient();
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    // Sets up a client session for `server_name`. False (and `err`) on failure.
    bool start(const TlsClientContext& ctx, const std::string& server_name, std::string& err);
    // Ciphertext read from the socket.
    void feed(std::string_view ciphertext) { in_.append(ciphertext); }
    // Advances the handshake with what was fed; `again` wants more input.
    Progress handshake(std::string& err);
    // Decrypts every complete record fed so far, appending the plaintext.
    // `failed` on a fatal error; `closed` becomes true on the peer's close_notify.
    Progress read(std::string& plain, bool& closed, std::string& err);
    // Encrypts all of `plain` into the output buffer.
    bool write(std::string_view plain, std::string& err);
    // Queues a close_notify.
    void bye();
    // The records to send; the buffer is left empty.
    std::string take_output();
    bool has_output() const { return !out_.empty(); }

private:
    static ssize_t push(gnutls_transport_ptr_t self, const void* data, size_t len);
    static ssize_t pull(gnutls_transport_ptr_t self, void* data, size_t len);
    static int pull_timeout(gnutls_transport_ptr_t self, unsigned ms);
    bool input_shrank(size_t& left) const;

    gnutls_session_t session_ = nullptr;
    std::string in_;
    size_t in_pos_ = 0;
    std::string out_;
};

}  // namespace parley::bench

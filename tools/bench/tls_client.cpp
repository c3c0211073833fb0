#include "tls_client.hpp"

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace parley::bench {

namespace {

std::string tls_error(const char* op, int rc) { return std::string(op) + ": " + gnutls_strerror(rc); }

}  // namespace

std::unique_ptr<TlsClientContext> TlsClientContext::load(const std::string& ca_file, std::string& err) {
    std::unique_ptr<TlsClientContext> ctx(new TlsClientContext());
    int rc = gnutls_certificate_allocate_credentials(&ctx->cred_);
    if (rc < 0) {
        err = tls_error("gnutls_certificate_allocate_credentials", rc);
        return nullptr;
    }
    rc = gnutls_certificate_set_x509_trust_file(ctx->cred_, ca_file.c_str(), GNUTLS_X509_FMT_PEM);
    if (rc <= 0) {
        err = "cannot load the CA certificate " + ca_file + (rc < 0 ? ": " + std::string(gnutls_strerror(rc)) : ": no certificate in it");
        return nullptr;
    }
    // One priority cache for all sessions: parsing a priority string per
    // session would cost CPU and memory in the bench, not in the server.
    const char* err_pos = nullptr;
    rc = gnutls_priority_init(&ctx->priority_, nullptr, &err_pos);
    if (rc < 0) {
        err = tls_error("gnutls_priority_init", rc);
        return nullptr;
    }
    return ctx;
}

TlsClientContext::~TlsClientContext() {
    if (priority_ != nullptr) gnutls_priority_deinit(priority_);
    if (cred_ != nullptr) gnutls_certificate_free_credentials(cred_);
}

TlsClient::~TlsClient() {
    if (session_ != nullptr) gnutls_deinit(session_);
}

bool TlsClient::start(const TlsClientContext& ctx, const std::string& server_name, std::string& err) {
    int rc = gnutls_init(&session_, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
    if (rc < 0) {
        session_ = nullptr;
        err = tls_error("gnutls_init", rc);
        return false;
    }
    if ((rc = gnutls_priority_set(session_, ctx.priority())) < 0 ||
        (rc = gnutls_credentials_set(session_, GNUTLS_CRD_CERTIFICATE, ctx.credentials())) < 0 ||
        (rc = gnutls_server_name_set(session_, GNUTLS_NAME_DNS, server_name.data(), server_name.size())) < 0) {
        err = tls_error("gnutls session setup", rc);
        return false;
    }
    gnutls_session_set_verify_cert(session_, server_name.c_str(), 0);
    gnutls_transport_set_ptr(session_, this);
    gnutls_transport_set_push_function(session_, &TlsClient::push);
    gnutls_transport_set_pull_function(session_, &TlsClient::pull);
    gnutls_transport_set_pull_timeout_function(session_, &TlsClient::pull_timeout);
    return true;
}

// True while fed bytes remain and the last call consumed some: then GnuTLS
// stopped for a post-handshake message, not for want of input. `left` is
// the count seen at the previous AGAIN (bounding the retries).
bool TlsClient::input_shrank(size_t& left) const {
    const size_t now = in_.size() - in_pos_;
    const bool go_on = now > 0 && now < left;
    left = now;
    return go_on;
}

TlsClient::Progress TlsClient::handshake(std::string& err) {
    size_t left = SIZE_MAX;
    for (;;) {
        const int rc = gnutls_handshake(session_);
        if (rc == GNUTLS_E_SUCCESS) return Progress::done;
        if (rc == GNUTLS_E_AGAIN && input_shrank(left)) continue;
        if (rc == GNUTLS_E_AGAIN) return Progress::again;
        if (rc == GNUTLS_E_INTERRUPTED || gnutls_error_is_fatal(rc) == 0) continue;
        err = tls_error("TLS handshake", rc);
        if (rc == GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR) {
            gnutls_datum_t text{};
            const unsigned status = gnutls_session_get_verify_cert_status(session_);
            if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &text, 0) == 0) {
                err += " (" + std::string(reinterpret_cast<const char*>(text.data), text.size) + ")";
                gnutls_free(text.data);
            }
        }
        return Progress::failed;
    }
}

TlsClient::Progress TlsClient::read(std::string& plain, bool& closed, std::string& err) {
    char buf[16384];
    size_t left = SIZE_MAX;
    for (;;) {
        const ssize_t n = gnutls_record_recv(session_, buf, sizeof buf);
        if (n > 0) {
            plain.append(buf, static_cast<size_t>(n));
            continue;
        }
        if (n == 0) {
            closed = true;
            return Progress::done;
        }
        const int rc = static_cast<int>(n);
        // After a post-handshake message (a TLS 1.3 NewSessionTicket)
        // GnuTLS answers AGAIN even when more records were fed: only an
        // empty input means we must wait.
        if (rc == GNUTLS_E_AGAIN && input_shrank(left)) continue;
        if (rc == GNUTLS_E_AGAIN) return Progress::again;
        if (rc == GNUTLS_E_INTERRUPTED || gnutls_error_is_fatal(rc) == 0) continue;
        err = tls_error("TLS read", rc);
        return Progress::failed;
    }
}

bool TlsClient::write(std::string_view plain, std::string& err) {
    while (!plain.empty()) {
        const ssize_t n = gnutls_record_send(session_, plain.data(), plain.size());
        if (n > 0) {
            plain.remove_prefix(static_cast<size_t>(n));
            continue;
        }
        const int rc = static_cast<int>(n);
        if (rc == GNUTLS_E_INTERRUPTED || rc == GNUTLS_E_AGAIN) continue;  // our push never blocks
        err = tls_error("TLS write", rc);
        return false;
    }
    return true;
}

void TlsClient::bye() {
    if (session_ != nullptr) gnutls_bye(session_, GNUTLS_SHUT_WR);
}

std::string TlsClient::take_output() {
    std::string out;
    out.swap(out_);
    return out;
}

ssize_t TlsClient::push(gnutls_transport_ptr_t self, const void* data, size_t len) {
    static_cast<TlsClient*>(self)->out_.append(static_cast<const char*>(data), len);
    return static_cast<ssize_t>(len);
}

ssize_t TlsClient::pull(gnutls_transport_ptr_t self, void* data, size_t len) {
    auto* t = static_cast<TlsClient*>(self);
    const size_t avail = t->in_.size() - t->in_pos_;
    if (avail == 0) {
        gnutls_transport_set_errno(t->session_, EAGAIN);
        return -1;
    }
    const size_t n = len < avail ? len : avail;
    std::memcpy(data, t->in_.data() + t->in_pos_, n);
    t->in_pos_ += n;
    if (t->in_pos_ == t->in_.size()) {
        t->in_.clear();
        t->in_pos_ = 0;
    }
    return static_cast<ssize_t>(n);
}

int TlsClient::pull_timeout(gnutls_transport_ptr_t self, unsigned) {
    auto* t = static_cast<TlsClient*>(self);
    if (t->in_.size() > t->in_pos_) return 1;
    gnutls_transport_set_errno(t->session_, EAGAIN);
    return -1;
}

}  // namespace parley::bench

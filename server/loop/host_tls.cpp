#include "loop/host_tls.hpp"

#include "net/tls.hpp"

namespace parley::loop {

namespace {

class Stream final : public module::TlsStream {
public:
    explicit Stream(std::unique_ptr<net::TlsSession> s) : s_(std::move(s)) {}
    Status feed(const char* data, size_t len, std::string& plain) override { return s_->feed(data, len, plain); }
    bool has_output() const override { return s_->has_output(); }
    std::string take_output() override { return s_->take_output(); }
    bool handshake_done() const override { return s_->handshake_done(); }
    bool peer_closed() const override { return s_->peer_closed(); }
    Status write(std::string_view plain) override { return s_->write(plain); }
    void bye() override { s_->bye(); }

private:
    std::unique_ptr<net::TlsSession> s_;
};

class Server final : public module::TlsServer {
public:
    explicit Server(std::shared_ptr<const net::TlsContext> ctx) : ctx_(std::move(ctx)) {}
    Result<std::unique_ptr<module::TlsStream>> accept() const override {
        // Mode starttls is the plain server handshake (no ALPN): what the
        // stream does after <proceed/>, and what a module's own protocol
        // wants from the first byte. (Mode direct would offer "xmpp-client".)
        auto s = net::TlsSession::create(ctx_, net::TlsSession::Mode::starttls);
        if (!s) return s.status();
        return std::unique_ptr<module::TlsStream>(new Stream(std::move(s.value())));
    }

private:
    std::shared_ptr<const net::TlsContext> ctx_;
};

}  // namespace

Result<std::shared_ptr<const module::TlsServer>> make_tls_server(const module::TlsIdentity& identity) {
    auto ctx = net::TlsContext::create({net::TlsCertificate{identity.name, identity.certificate, identity.key}});
    if (!ctx) return ctx.status();
    return std::shared_ptr<const module::TlsServer>(std::make_shared<Server>(std::move(ctx.value())));
}

}  // namespace parley::loop

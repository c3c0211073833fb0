// MemoryTransport: a net::Transport without a socket, so that a session is
// driven in unit tests on a running worker: the test feeds stream events and
// stanzas as the peer (open(), stanza(), end()), and reads what the session
// sent (`out`: each element serialized; `errors`: stream error conditions).
//
// It claims to be secure (as a TLS stream would be) when `secure_` is set, so
// that PLAIN and bind can be tested. Closing completes on the worker's next
// turn (posted), as a socket's close callback would: then the user hears
// on_transport_closed() and the transport deletes itself. Holds delay that,
// as on a real transport. Loop-affine: create and use it on its worker only
// (through SeamsFixture::on()).
#pragma once

#include <string>
#include <vector>

#include "loop/worker.hpp"
#include "net/transport.hpp"
#include "xml/serializer.hpp"

namespace parley::test {

class MemoryTransport final : public net::Transport {
public:
    MemoryTransport(loop::Worker& worker, bool secure) : worker_(worker), secure_(secure) {}

    // --- the peer ---
    void open(const std::string& to) {
        xml::StreamHeader h;
        h.name = "stream";
        h.ns = std::string(xml::kStreamNs);
        h.default_ns = "jabber:client";
        h.attrs.emplace_back("to", to);
        h.attrs.emplace_back("version", "1.0");
        if (user_) user_->on_stream_open(h);
    }
    void stanza(xml::Element e) {
        if (user_ && !closing_) user_->on_stanza(std::move(e));
    }
    void end() {
        if (user_ && !closing_) user_->on_stream_close();
    }

    std::vector<std::string> out;
    std::vector<std::string> errors;
    bool restarted = false;

    // --- net::Transport ---
    void set_user(net::TransportUser* user) override { user_ = user; }
    void send(const xml::Element& element) override {
        if (closing_) return;
        std::string s;
        xml::serialize(element, s, user_ ? user_->default_ns() : std::string_view{});
        out.push_back(std::move(s));
    }
    void send_raw(std::string_view bytes) override {
        if (!closing_) out.emplace_back(bytes);
    }
    void send_stream_header(std::string_view, std::string_view, std::string_view) override {}
    void stream_error(xmpp::StreamErrorCondition condition, std::string_view) override {
        if (closing_) return;
        errors.emplace_back(xmpp::condition_name(condition));
        close_stream();
    }
    // Ends the stream (as </stream:stream> or a stream error does); close_now()
    // alone is a connection lost.
    void close_stream() override {
        if (!closing_) ended_ = true;
        close_now();
    }
    void close_now() override {
        if (closing_) return;
        closing_ = true;
        release_later();
    }
    void flush() override {}
    void restart_stream() override { restarted = true; }
    void starttls_after_current() override {}
    Status start_tls(net::TlsSession::Mode) override { return Status::error("tls", "no TLS in memory"); }
    void authenticated(xml::StreamLimits) override {}
    void set_deadline(uint64_t) override {}
    void hold() override { ++holds_; }
    void release() override {
        if (--holds_ == 0 && closing_) finish();
    }
    bool closing() const override { return closing_; }
    bool stream_ended() const override { return ended_; }
    bool secure() const override { return secure_; }
    net::TlsSession* tls() override { return nullptr; }
    const std::string& remote_ip() const override { return ip_; }
    const std::string& remote_addr() const override { return addr_; }
    const std::string& local_addr() const override { return addr_; }

private:
    void release_later() {
        ++holds_;
        worker_.post([this](loop::Worker&) { release(); });
    }
    void finish() {
        if (user_) std::exchange(user_, nullptr)->on_transport_closed();
        delete this;
    }

    loop::Worker& worker_;
    bool secure_;
    bool closing_ = false;
    bool ended_ = false;
    int holds_ = 0;
    net::TransportUser* user_ = nullptr;
    std::string ip_ = "127.0.0.1";
    std::string addr_ = "127.0.0.1;0";
};

}  // namespace parley::test

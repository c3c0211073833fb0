// MemClient: a client of a SeamsFixture's workers over an in-memory
// transport (MemoryTransport, c2s::Session), for unit tests that drive real
// sessions without sockets: open the stream, log in with PLAIN as alice,
// bind, and read what the server wrote. Every call goes through the
// fixture's on(), so the transport and session are touched on their worker
// only. Waits are bounded (5 s).
#pragma once

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "c2s/session.hpp"
#include "support/memory_transport.hpp"
#include "support/seams_fixture.hpp"
#include "xmpp/base64.hpp"

namespace parley::test {

inline xml::Element auth_plain(const std::string& node, const std::string& password) {
    xml::Element a("auth", std::string(xmpp::kNsSasl));
    a.set_attr("mechanism", "PLAIN");
    a.add_text(xmpp::base64_encode(std::string(1, '\0') + node + std::string(1, '\0') + password));
    return a;
}

// A client on worker w over an in-memory transport, logged in with PLAIN.
struct MemClient {
    SeamsFixture& f;
    unsigned w;
    MemoryTransport* t = nullptr;
    c2s::Session* s = nullptr;
    MemClient(SeamsFixture& fx, unsigned worker) : f(fx), w(worker) {
        f.on(w, [&](loop::Worker& wk) {
            t = new MemoryTransport(wk, true);
            s = new c2s::Session(wk, *t, net::TlsSession::Mode::starttls);
        });
    }
    std::string out() {
        std::string all;
        f.on(w, [&](loop::Worker&) {
            for (const auto& x : t->out) all += x;
        });
        return all;
    }
    bool wait_for(const std::string& what) {
        for (int i = 0; i < 500; ++i) {
            if (out().find(what) != std::string::npos) return true;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    void peer(std::function<void(MemoryTransport&)> fn) {
        f.on(w, [&](loop::Worker&) { fn(*t); });
    }
    // Logged in and restarted: ready to bind or resume.
    void login() {
        peer([](MemoryTransport& m) { m.open("example.org"); });
        BOOST_REQUIRE(wait_for("<mechanism>PLAIN</mechanism>"));
        peer([](MemoryTransport& m) { m.stanza(auth_plain("alice", "secret-password")); });
        BOOST_REQUIRE(wait_for("<success"));
        peer([](MemoryTransport& m) {
            m.out.clear();
            m.open("example.org");
        });
        BOOST_REQUIRE(wait_for("urn:ietf:params:xml:ns:xmpp-bind"));
    }
    void bind(const std::string& resource) {
        peer([&](MemoryTransport& m) {
            xml::Element iq("iq", std::string(xmpp::kNsClient));
            iq.set_attr("type", "set");
            iq.set_attr("id", "b1");
            iq.add_child("bind", std::string(xmpp::kNsBind)).add_child("resource", std::string(xmpp::kNsBind)).add_text(resource);
            m.stanza(std::move(iq));
        });
        BOOST_REQUIRE(wait_for("</jid>"));
    }
};

}  // namespace parley::test

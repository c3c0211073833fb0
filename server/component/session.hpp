// component::Session: the server side of one XEP-0114 connection
// (jabber:component:accept), on the component listener.
//
// It rides on a net::StreamTransport like a client stream, so the same
// parser, the same RFC 6120 §11 restrictions (no DTD, comments, PIs,
// undeclared prefixes) and the same limits apply: [limits]
// max_stanza_bytes_before_auth until the handshake succeeds,
// max_stanza_bytes and max_depth after it; the handshake must complete
// within [component_listener] handshake_timeout_s.
//
// The conversation: the component opens a stream whose 'to' names its
// domain (not configured, or added only by a reload: <host-unknown/>); we
// answer with a header carrying that domain and a fresh random id; the
// component sends <handshake>hex(SHA-1(id + secret))</handshake>; a match
// gets an empty <handshake/>, anything else <not-authorized/> and the end
// of the stream. A domain already connected gets <conflict/>: the first
// connection keeps running. Once accepted the session is registered in the
// process-wide component::Directory and every stanza for its domain is
// sent here (see component/routing.hpp).
//
// From the component: message, presence and iq only
// (<unsupported-stanza-type/> otherwise); 'from' and 'to' are required
// (<improper-addressing/>, RFC 6120 §4.9.3.14, as between servers) and
// 'from' must be the component's domain or a JID at it
// (<invalid-from/>, RFC 6120 §4.9.3.9: a stream error, since a spoofed
// address is a protocol violation of a peer, not a bad stanza). Accepted
// stanzas are translated to jabber:client and routed with
// module::Origin::remote_server. Connects and disconnects are logged; the
// secret never is. Loop-affine: only the owning worker.
#pragma once

#include <uv.h>

#include <cstdint>
#include <string>

#include "errors/status.hpp"
#include "net/transport.hpp"

namespace parley::loop {
class Worker;
}

namespace parley::component {

class Session final : public net::TransportUser {
  public:
    // Accepts the pending connection on the component listener `server`.
    static Status accept(loop::Worker& worker, uv_stream_t* server);

    // Sends a routed stanza (jabber:client) to the component.
    void send_stanza(const xml::Element& stanza);
    const std::string& domain() const { return domain_; }

    // net::TransportUser
    void on_stream_open(const xml::StreamHeader& header) override;
    void on_stanza(xml::Element stanza) override;
    void on_stream_close() override;
    void on_deadline() override;
    void on_transport_closed() override;
    std::string_view default_ns() const override;

  private:
    Session(loop::Worker& worker, net::Transport& transport);
    void handshake(const xml::Element& stanza);
    void from_component(xml::Element stanza);

    enum class Phase { header, handshake, established };
    loop::Worker& worker_;
    net::Transport* transport_;
    uint64_t id_;
    Phase phase_ = Phase::header;
    std::string domain_;
    std::string stream_id_;
    bool registered_ = false;  // in the Directory
};

}  // namespace parley::component

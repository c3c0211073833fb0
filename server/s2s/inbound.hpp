// s2s::Inbound: one incoming server-to-server stream (RFC 6120,
// jabber:server), accepted on the [s2s] listeners.
//
// The conversation, as the receiving server:
//   - the header must be a jabber:server stream addressed ('to') to a
//     domain served here (a virtual host, a module's service domain, a
//     component), else <host-unknown/>;
//   - TLS first, always: STARTTLS is offered as required; anything else
//     before it ends the stream (<policy-violation/>). The peer's client
//     certificate is asked for;
//   - then SASL EXTERNAL (XEP-0178) is offered when that certificate proves
//     the domain the header's 'from' names (TlsSession::verify_domain), and
//     dialback (XEP-0220) when [s2s] dialback is on. A <db:result/> for a
//     domain the certificate proves is accepted at once (XEP-0344); any
//     other is checked with that domain's authoritative server
//     (Links::verify), and answered valid, or invalid and the stream ends;
//   - <db:verify/> asks us, as an authoritative server, whether a key is
//     ours: answered from the key alone;
//   - stanzas (message, presence, iq) only once a domain is authenticated;
//     'from' and 'to' are required (<improper-addressing/>); 'from' must be
//     at an authenticated domain (<invalid-from/>) and 'to' at a domain
//     served here (<host-unknown/>): a peer that lies about addresses loses
//     its stream. Accepted stanzas are routed as module::Origin::remote_server.
//   - stream management (XEP-0198), when [s2s] stream_management is on:
//     offered with the other features after TLS; <enable/> once a domain
//     is authenticated gets <enabled/> (no resumption), and from then on
//     every stanza received is counted and <r/> answered with <a h/>;
//   - bidirectional streams (XEP-0288), when [s2s] bidi is on: the feature
//     is offered; a peer that sends <bidi/> (after TLS) gets our stanzas
//     for each pair it authenticated (local -> remote) over this stream
//     too (Links::offer_bidi), instead of a connection of ours.
// Limits: [limits] max_stanza_bytes_before_auth until a domain is
// authenticated, then max_stanza_bytes; [s2s] handshake_timeout_s until
// then, then idle_timeout_s without traffic. At most kMaxPendingVerifies
// dialback checks wait per stream. Loop-affine.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "errors/status.hpp"
#include "module/module_api.hpp"
#include "net/transport.hpp"

namespace parley::loop {
class Worker;
}

namespace parley::s2s {

class Inbound final : public net::TransportUser {
public:
    static constexpr size_t kMaxPendingVerifies = 16;

    // Accepts the pending connection of an s2s listener.
    static Status accept(loop::Worker& worker, uv_stream_t* server, bool direct_tls);

    // The answer of a remote authoritative server to our check of the
    // key the peer gave for `remote` -> `local`.
    void dialback_checked(const std::string& remote, const std::string& local, bool valid);

    // A stanza (jabber:client) of ours for the peer, on a bidirectional
    // stream; false when the stream is closing (then its offers are
    // withdrawn, and the caller sends the stanza another way).
    bool send_stanza(const xml::Element& stanza);

    // Policy (module::Host::s2s_close): ends the stream with
    // <policy-violation/> if `which` picks a domain authenticated on it.
    bool close_if(const std::function<bool(const module::S2sAuth&)>& which, std::string_view text);

    // net::TransportUser
    void on_stream_open(const xml::StreamHeader& header) override;
    void on_stanza(xml::Element stanza) override;
    void on_stream_close() override;
    void on_deadline() override;
    void on_transport_closed() override;
    std::string_view default_ns() const override;

private:
    Inbound(loop::Worker& worker, net::Transport& transport);
    void send_features();
    void on_auth(const xml::Element& el);
    void on_db_result(const xml::Element& el);
    void on_db_verify(const xml::Element& el);
    void answer_result(const std::string& remote, const std::string& local, std::string_view type,
                       std::string_view error_condition = {}, std::string_view error_text = {});
    // `remote` proven for `local`; `certificate_valid`, `dialback`: how.
    void authenticate(const std::string& remote, const std::string& local, const char* how, bool certificate_valid,
                      bool dialback);
    void withdraw_bidi();
    // The federation gates' refusal for accepting `remote`, or nullopt.
    std::optional<std::string> gate(const std::string& remote, bool certificate_valid, bool dialback) const;
    void on_remote_stanza(xml::Element stanza);

    loop::Worker& worker_;
    net::Transport* transport_;
    uint64_t id_;
    std::string stream_id_;
    std::string header_from_;  // the peer's domain as its latest header says (may be empty)
    std::string header_to_;    // our domain it addressed
    bool opened_ = false;      // the first header arrived
    bool sasl_done_ = false;
    size_t pending_verifies_ = 0;
    std::set<std::pair<std::string, std::string>> pairs_;  // (local, remote) authenticated
    struct How {
        bool certificate_valid = false, dialback = false;
    };
    std::map<std::string, How> authenticated_;  // remote domains proven on this stream, and how (first)
    bool bidi_ = false;        // the peer asked for XEP-0288
    bool sm_ = false;          // XEP-0198 enabled: stanzas received are counted
    uint32_t handled_ = 0;     // h
    bool bidi_offered_ = false;  // Links heard offers for pairs_
};

}  // namespace parley::s2s

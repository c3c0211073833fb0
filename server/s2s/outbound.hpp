// s2s::Outbound: one outgoing server-to-server connection, carrying the
// stanzas of one (local domain, remote domain) pair (RFC 6120, jabber:server).
//
// The conversation, as the initiating server:
//   1. where: a static route ([[s2s.route]]: address, port, STARTTLS or
//      direct TLS); else DNS (RFC 6120 §3.2, XEP-0368) through the
//      worker's resolver: the SRV records of _xmpps-server._tcp (direct
//      TLS) and _xmpp-server._tcp (STARTTLS) of the remote domain, ordered
//      together by priority and weight; the A/AAAA addresses of each
//      target in turn. A single SRV record with the target "." means the
//      domain does not federate: the link fails without a fallback.
//      Without SRV records (or when the SRV lookup fails) the domain's own
//      A/AAAA addresses on port 5269 are tried. An attempt that fails
//      before TLS is up (no connection, a refused or broken TLS handshake,
//      no STARTTLS, a timeout) moves on to the next address, then the next
//      target, up to kMaxAttempts; a failure after it (the certificate,
//      authentication, policy) ends the link. The certificate is always
//      checked against the remote domain, never against an SRV target;
//   2. the stream header (from = local, to = remote); TLS always: STARTTLS
//      when offered (a peer that does not offer it is refused), or direct
//      TLS (XEP-0368, ALPN xmpp-server), with SNI = the remote domain and
//      the local host's certificate shown as a client certificate;
//   3. the peer's certificate is checked for the remote domain
//      (TlsSession::verify_domain). If it does not verify and [s2s]
//      dialback is off, the link fails: we never send a user's stanza to a
//      peer that could not prove its domain as policy requires;
//   4. authentication of our side: SASL EXTERNAL (XEP-0178) when the peer
//      offers it, else (or when EXTERNAL fails) dialback (XEP-0220) if
//      allowed: <db:result/> with the XEP-0185 key, valid or not;
//   5. established: the link's queue goes out; later stanzas go straight
//      through. The link closes after [s2s] idle_timeout_s without traffic.
// Stream management (XEP-0198, [s2s] stream_management): when the peer
// offers it, <enable/> once established; every stanza sent from then on is
// kept until the peer's <a h/> covers it (an ack is asked for as soon as
// none is outstanding, so about once a round trip, and once a second
// while some wait: Links' tick). A peer that lets [s2s] queue_max_stanzas
// new stanzas wait unacknowledged loses the link (<resource-constraint/>). If the link
// breaks, what was not acknowledged goes to Links (link_closed) to be sent
// again on the next connection, once. No resumption: a new stream is a new
// count.
// Bidirectional (XEP-0288, [s2s] bidi): when the peer offers it and its
// certificate proved its domain, <bidi/> is sent before authenticating;
// the peer may then send its stanzas from remote to local on this stream
// (checked as on an incoming stream, s2s::receive_stanza).
// Every phase before 5 runs under [s2s] handshake_timeout_s.
//
// The same stream carries our dialback verifications (<db:verify/>) for
// the remote domain once it is secure (Links::verify).
//
// The object deletes itself after its transport closed (or, before there is
// one, when the lookup or connect fails), telling Links first. Loop-affine.
#pragma once

#include <uv.h>

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "errors/stanza_error.hpp"
#include "net/resolver.hpp"
#include "net/transport.hpp"
#include "s2s/links.hpp"

namespace parley::net {
class StreamTransport;
}
namespace parley::loop {
class Worker;
}

namespace parley::s2s {

class Outbound final : public net::TransportUser {
public:
    // A connection for the pair; begin() starts looking up and connecting.
    // It reports to `links` on this worker (link_established, link_closed),
    // possibly from within begin() when it fails at once.
    static Outbound* create(loop::Worker& worker, Links& links, std::string local, std::string remote);
    void begin();

    // A stanza in jabber:client, once established. `retried`: it was sent
    // before on a link that broke unacknowledged. False (and `stanza`
    // untouched) when the stream is not there to take it; true when sent
    // (`stanza` may then have been moved from).
    bool send_stanza(xml::Element& stanza, bool retried = false);
    // Stream management (XEP-0198, when the peer offers it): stanzas sent
    // and not yet acknowledged, and a request for an ack (<r/>) unless
    // one is outstanding.
    size_t unacknowledged() const { return unacked_.size(); }
    void ask_ack();
    // Sends the verifications Links holds for this pair, if the stream can carry them.
    void send_verifies();
    bool established() const { return phase_ == Phase::established; }
    bool bidirectional() const { return bidi_; }
    bool certificate_valid() const { return cert_ok_; }
    bool used_dialback() const { return phase_ == Phase::established && !authenticated_; }
    const std::string& local() const { return local_; }
    const std::string& remote() const { return remote_; }
    // Worker shutdown or an idle link: ends the stream.
    void close();
    // Policy (module::Host::s2s_close): ends the link with <policy-violation/>.
    void refuse(std::string text);

    // net::TransportUser
    void on_stream_open(const xml::StreamHeader& header) override;
    void on_stanza(xml::Element stanza) override;
    void on_stream_close() override;
    void on_tls_established() override;
    void on_deadline() override;
    void on_transport_closed() override;
    std::string_view default_ns() const override;

    // Connection attempts one link makes (addresses of every target) before it fails.
    static constexpr unsigned kMaxAttempts = 8;

private:
    enum class Phase { resolving, connecting, features, starttls, tls, sasl, dialback, established, closed };
    Outbound(loop::Worker& worker, Links& links, std::string local, std::string remote);
    void resolve();
    void on_srv(net::Answer answer, std::vector<net::SrvTarget> records, const std::string& error);
    void next_target();
    void next_address();
    void connect_to(const sockaddr_storage& addr, bool direct_tls);
    Status start_tls();
    void open_stream();
    void on_features(const xml::Element& features);
    void try_dialback(const std::string& why);
    void on_dialback_result(const xml::Element& el);
    void on_verify_answer(const xml::Element& el);
    // The link failed before it was established: report, close.
    void fail(StanzaError error, const std::string& log_text);
    void touch();  // idle deadline restarts

    loop::Worker& worker_;
    Links& links_;
    std::string local_, remote_;
    net::StreamTransport* transport_ = nullptr;
    Phase phase_ = Phase::resolving;
    std::string stream_id_;      // the peer's id for our stream (dialback key)
    bool authenticated_ = false; // SASL EXTERNAL succeeded
    bool cert_ok_ = false;       // the peer's certificate proves remote_
    bool bidi_ = false;          // XEP-0288 asked for: the peer may send on this stream
    bool sm_offered_ = false;    // the peer's features offered XEP-0198
    bool sm_ = false;            // <enable/> sent: stanzas are counted from then on
    bool ack_asked_ = false;     // an <r/> is outstanding
    uint32_t acked_ = 0;         // the peer's last h
    std::deque<Links::Unconfirmed> unacked_;
    size_t fresh_unacked_ = 0;   // of unacked_, those sent for the first time
    void on_sm(const xml::Element& el);
    void start_sm();
    bool reported_ = false;      // Links heard link_closed
    bool refused_ = false;       // refused by policy while looking up
    bool tls_up_ = false;        // past this, a failure does not try another address
    // Where to go: SRV targets (or the domain itself), and the addresses
    // of the one being tried.
    std::string remote_ascii_;   // remote_ as DNS names it
    int srv_waiting_ = 0;
    bool srv_ = false;           // the targets came from SRV records
    unsigned srv_unavailable_ = 0;
    bool lookup_cancelled_ = false;
    std::vector<net::SrvTarget> targets_;
    size_t next_target_ = 0;
    std::vector<sockaddr_storage> addresses_;
    size_t next_address_ = 0;
    bool direct_tls_ = false;    // of the target being tried
    unsigned attempts_ = 0;
    std::string target_text_;    // for the log: "host:port (SRV, direct TLS)"
    std::unique_ptr<StanzaError> error_;
    std::unordered_map<std::string, std::deque<VerifyRequest>> verifies_;  // by stream id, sent
};

}  // namespace parley::s2s

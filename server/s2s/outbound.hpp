// s2s::Outbound: one outgoing server-to-server connection, carrying the
// stanzas of one (local domain, remote domain) pair (RFC 6120, jabber:server).
//
// The conversation, as the initiating server:
//   1. where: a static route ([[s2s.route]]: address, port, STARTTLS or
//      direct TLS), else the remote domain's addresses on port 5269 (looked
//      up on libuv's thread pool; DNS SRV is not implemented yet, so a
//      domain that publishes only SRV records is not found);
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

#include "errors/stanza_error.hpp"
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

    // A stanza in jabber:client, once established.
    void send_stanza(const xml::Element& stanza);
    // Sends the verifications Links holds for this pair, if the stream can carry them.
    void send_verifies();
    bool established() const { return phase_ == Phase::established; }
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

private:
    enum class Phase { resolving, connecting, features, starttls, tls, sasl, dialback, established, closed };
    Outbound(loop::Worker& worker, Links& links, std::string local, std::string remote);
    void resolve();
    static void on_resolved(uv_getaddrinfo_t* req, int status, struct addrinfo* res);
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
    bool reported_ = false;      // Links heard link_closed
    bool refused_ = false;       // refused by policy while looking up
    std::unique_ptr<StanzaError> error_;
    std::unordered_map<std::string, std::deque<VerifyRequest>> verifies_;  // by stream id, sent
};

}  // namespace parley::s2s

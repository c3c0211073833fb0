// mod_sm: XEP-0198 Stream Management 1.6 for client streams: acknowledgements
// both ways and resumption on any worker.
//
// After bind, <enable/> starts two counters in the session's slot (plain
// data, so it moves with the session when another worker resumes it):
// - inbound 'h': a client stanza counts once the server has handled it: the
//   routed hook sees every stanza a client sends, with its session, and its
//   RoutedContext::when_done tells when the router carried it out (after any
//   module held it for a durable write, e.g. an archive) or bounced it. <r/>
//   is answered at once with what is handled so far; if stanzas are still in
//   hand, an unrequested <a/> follows once they are all handled.
// - outbound: every stanza written to the client (the host's output
//   observers, module::OutputObserver) is counted and kept until the client
//   acknowledges it. The server asks for acknowledgements (<r/>) at the end
//   of the loop turn in which it wrote stanzas, and again after
//   `ack_request_every` more while an answer is awaited. A client that lets
//   more than `max_unacked` stanzas go unacknowledged is asked at once and
//   has 30 s to bring them under it; otherwise, or past twice the bound, it
//   loses its session (<resource-constraint/> stream error), and those
//   stanzas are re-routed as below: memory stays bounded and nothing is
//   lost.
// With resume='true' the session gets an SM-ID (ResumptionDirectory) and is
// kept (Host::keep_session) for the resumption timeout (min of the client's
// 'max' and `resume_timeout`) when its connection is lost. <resume/> on any
// worker takes it over (StreamControl::resume): <resumed h=.../>, then the
// stanzas the client did not acknowledge, in order, then those queued while
// it was away (the host writes those; they are counted then). When a session
// ends with stanzas unacknowledged (timeout, queue bound, the stream closed),
// messages go back through the router addressed to the session's full JID
// with a XEP-0203 delay, as RFC 6121 treats a message to a resource that is
// gone (the account's other resources or the offline decision point;
// groupchat bounces to its room, headlines are dropped); iq requests are
// answered service-unavailable; presence, iq results and errors are dropped
// (presence is state the contacts resend; subscription requests are kept by
// the roster).
//
// One instance per worker; loop-affine. Callbacks hold a weak token so that
// nothing runs into a stopped instance.
#pragma once

#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "module/module_api.hpp"
#include "resumption_directory.hpp"

namespace parley::mod_sm {

inline constexpr const char* kNsSm = "urn:xmpp:sm:3";
inline constexpr const char* kNsDelay = "urn:xmpp:delay";

// The stream management state of one session.
struct SmSlot final : module::SessionSlot {
    struct Sent {
        xml::Element stanza;
        int64_t unix_ms;  // when it was first written: the delay stamp if re-routed
    };
    // Inbound.
    uint32_t h_in = 0;        // client stanzas handled (mod 2^32)
    uint32_t pending_in = 0;  // client stanzas routed but not yet handled
    bool ack_owed = false;    // an <r/> was answered while some were pending
    // Outbound.
    uint32_t h_out = 0;          // stanzas written (mod 2^32)
    uint32_t acked = 0;          // the client's last 'h'
    uint32_t requested_at = 0;   // h_out when the last <r/> went out
    bool awaiting = false;       // an <r/> is unanswered
    bool scheduled = false;      // an end-of-turn check is due
    int64_t over_since = 0;      // steady ms since unacked passed max_unacked; 0: it has not
    std::deque<Sent> unacked;    // h_out - acked stanzas, oldest first
    // Resumption.
    std::string id;              // SM-ID; empty when not resumable
    uint64_t timeout_s = 0;

    size_t memory_bytes() const override;
};

struct Settings {
    uint64_t resume_timeout_s = 300;
    size_t max_unacked = 1000;
    uint32_t ack_request_every = 10;
};

class StreamManagement final : public module::Module {
public:
    // `directory`: for tests; otherwise the module's service is used.
    explicit StreamManagement(ResumptionDirectory* directory = nullptr) : directory_(directory) {}

    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    Status reload(const config::Section& section) override;
    void stop() override;

    const Settings& settings() const { return settings_; }
    // How long a client over max_unacked has to acknowledge.
    static constexpr int64_t kGraceMs = 30000;
    // Tests: the steady clock (ms) used for that grace.
    void set_clock(std::function<int64_t()> clock) { clock_ = std::move(clock); }
    // A client stanza of session `id` (on this worker) was handled.
    void handled_here(uint64_t id);

private:
    SmSlot* slot(uint64_t session_id) const;
    void on_enable(const module::StreamInfo& info, const xml::Element& el, module::StreamControl& stream);
    void on_resume(const module::StreamInfo& info, const xml::Element& el, module::StreamControl& stream);
    void on_request(const module::StreamInfo& info, module::StreamControl& stream);
    void on_ack(const module::StreamInfo& info, const xml::Element& el, module::StreamControl& stream);
    void on_routed(module::RoutedContext& c);
    void on_output(uint64_t session_id, const xml::Element& stanza);
    void on_closed(const module::SessionInfo& info);
    void resumed(const std::string& previd, uint32_t h, Status st, const module::SessionInfo* now,
                 module::StreamControl& stream);
    // The client says it handled `h` stanzas: drops them from the queue.
    // false when it claims more than were sent (nothing changes).
    bool apply_ack(SmSlot& s, uint32_t h);
    void too_high(SmSlot& s, uint32_t h, module::StreamControl& stream);
    void schedule(uint64_t session_id, SmSlot& s);
    void end_of_turn();
    void send_nonza(uint64_t session_id, xml::Element el);
    void reroute(SmSlot& s, const module::SessionInfo& info);

    module::Host* host_ = nullptr;
    ResumptionDirectory* directory_;
    Settings settings_;
    std::vector<uint64_t> due_;  // sessions with an end-of-turn check
    bool turn_armed_ = false;
    std::shared_ptr<StreamManagement*> alive_;
    std::function<int64_t()> clock_;
};

// <failed xmlns='urn:xmpp:sm:3' [h]><condition/><text/></failed>
xml::Element failed(const std::string& condition, const std::string& text, std::optional<uint32_t> h = std::nullopt);
// A strict unsigned 32-bit decimal ('h'), or nullopt.
std::optional<uint32_t> parse_h(std::string_view s);
// XEP-0082 date-time in UTC with milliseconds.
std::string xep0082_stamp(int64_t unix_ms);

extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;
extern const config::OptionSpec kOptions[];
inline constexpr size_t kOptionCount = 3;

}  // namespace parley::mod_sm

// mod_archive: feeds the compliance journal (archive/) from the router's
// routed hook and provides it to other modules as the "archive/1" service
// (journal_service.hpp).
//
// Every message stanza the router decided on is considered once, with the
// router's outcome. plan() says whether it goes into the journal and into
// which views: the sender's archive (a local account that sent it) and the
// recipient's (a local account it was delivered to or stored for), following
// XEP-0313's rules (chat and normal messages with a body, not those the
// sender marked no-store or no-permanent-store, never error, headline or
// groupchat). In compliance mode the journal keeps every message stanza
// (the views stay as above); otherwise only what some view keeps. Copies the
// server makes of what it journaled already (carbons, MAM results, a stream
// management resend) are not journaled twice.
//
// Durable mode (the default): the stanza is held until its record is on
// disk, so nothing is delivered, acknowledged (XEP-0198 waits for the same
// completion) or given a stanza-id that a crash could lose; if the record
// cannot be written the stanza bounces. Async mode delivers at once and
// writes behind; the last records before a crash may be lost.
//
// The recipient's copy carries <stanza-id by='recipient'/> (XEP-0359) with
// the record's id; the sender's carbon copies carry <stanza-id by='sender'/>
// inside the forwarded message (XEP-0313 §4.1.3: never at the top level of
// what another account receives; a stanza_out hook removes it there). Any
// stanza-id a client wrote claiming one of our addresses is removed first,
// so nobody can forge one. Views follow the owners' preferences (Prefs).
//
// Thread affinity: Archiver is loop-affine (one per worker); Service is
// process-wide (see journal_service.hpp).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "config/config.hpp"
#include "module/module_api.hpp"
#include "../roster/roster_service.hpp"
#include "journal_service.hpp"
#include "keeper.hpp"

namespace parley::mod_archive {

extern const module::XepInfo kXeps[];
extern const size_t kXepCount;
extern const config::OptionSpec kOptions[];
extern const size_t kOptionCount;

inline constexpr int kRoutedPriority = 500;  // after blocking (1000), before offline (0) and carbons (-100)
inline constexpr std::string_view kNsSid = "urn:xmpp:sid:0";
inline constexpr std::string_view kNsHints = "urn:xmpp:hints";

struct Settings {
    std::string key_file;  // resolved against the config file's directory
    bool compliance = false;
    bool durable = true;
    archive::Prefs::Default default_prefs = archive::Prefs::Default::always;
};
Result<Settings> read_settings(const config::Section& section);

// What one routed message becomes.
struct Plan {
    bool journal = false;
    std::vector<archive::View> views;
    bool sender_view = false;     // views include the sender's (its carbon copies get a stanza-id)
    bool recipient_view = false;  // views include the recipient's (it gets a stanza-id)
};
struct PlanInput {
    const xml::Element& stanza;
    const xmpp::Jid& from;
    const xmpp::Jid& to;
    module::Origin origin;
    module::RouteOutcome::Kind outcome;
    bool from_local_account;  // from is an account of a served domain
    bool to_local_account;
    bool compliance;
    // The stanza already carries our stanza-id for its recipient: a copy of
    // something journaled before (a stream management resend).
    bool journaled_before;
    // A room service journals the groupchat messages sent to this domain
    // (JournalService::set_room_journal).
    bool room_journals = false;
};
Plan plan(const PlanInput& in);
// Drops the views whose owner's preferences do not keep the peer, and the
// journal entry with them unless in compliance mode.
void apply_prefs(Plan& p, bool compliance, const std::function<bool(const archive::View&)>& keeps);

// Removes every <stanza-id xmlns='urn:xmpp:sid:0'/> whose 'by' is_ours
// says is one of our addresses; returns how many.
size_t strip_stanza_ids(xml::Element& stanza, const std::function<bool(std::string_view by)>& is_ours);

// Whether a warning that can repeat for every message (the writer's queue
// is full, a record failed) is logged now: the first, then at most one per
// interval, saying how many were left out in between. Under overload a line
// per message would add ~30,000 log lines a second to a server that is
// already behind; the counters keep the exact figures.
class LogThrottle {
public:
    explicit LogThrottle(uint64_t interval_ms) : interval_ms_(interval_ms) {}
    // nullopt: stay quiet (counted); else how many were left out before this one.
    std::optional<uint64_t> due(uint64_t now_ms) {
        if (started_ && now_ms < next_ms_) {
            ++left_out_;
            return std::nullopt;
        }
        started_ = true;
        next_ms_ = now_ms + interval_ms_;
        return std::exchange(left_out_, 0);
    }

private:
    uint64_t interval_ms_;
    uint64_t next_ms_ = 0;
    uint64_t left_out_ = 0;
    bool started_ = false;
};

class Service final : public archive::JournalService {
public:
    Status start(module::ServiceHost& host) override;
    const archive::Journal& journal() const override { return *journal_; }
    bool compliance() const override { return settings_.compliance; }
    bool durable() const override { return settings_.durable; }
    std::shared_ptr<module::Database> database(unsigned worker) const override;
    Result<uint64_t> append(module::Host& host, archive::Entry entry, std::function<void(Status)> done) override;
    Result<archive::Prefs> prefs(unsigned worker, const std::string& owner) const override;
    Status set_prefs(module::Host& host, const std::string& owner, archive::Prefs prefs,
                     std::function<void(Status)> done) override;
    void set_room_journal(const std::string& domain, bool on) override;
    bool room_journal(std::string_view domain) const override;
    uint64_t last_id() const override;
    Status audit(module::Host& host, std::string who, std::string action, std::string scope, std::string result,
                 std::function<void(Status)> done) override;
    Status forget(module::Host& host, uint64_t id, std::string who, std::string why,
                  std::function<void(Status, bool removed)> done) override;

    // From each worker's module start/stop, on that worker.
    void attach(unsigned worker, std::shared_ptr<module::Database> journal, std::shared_ptr<module::Database> prefs);
    void detach(unsigned worker);
    // The last id on disk: ids given from now on are above it.
    void observe_last(uint64_t id);

private:
    Settings settings_;
    std::optional<archive::Journal> journal_;
    std::vector<std::shared_ptr<module::Database>> dbs_;
    std::vector<std::shared_ptr<module::Database>> prefs_dbs_;
    // Assigning an id and submitting its write happen under one lock, so the
    // writer's FIFO queue holds ids in increasing order.
    mutable std::mutex order_;
    uint64_t last_ = 0;
    mutable std::mutex rooms_lock_;
    std::map<std::string, int, std::less<>> room_domains_;  // domain -> how many instances journal its rooms
};

class Archiver final : public module::Module {
public:
    Status configure(const config::Section& section) override;
    Status start(module::Host& host) override;
    void stop() override;

    struct Counters {
        uint64_t journaled = 0;
        uint64_t refused = 0;  // bounced: the record could not be written (durable mode)
        uint64_t lost = 0;     // async mode: a record that could not be written
    };
    const Counters& counters() const { return counters_; }

private:
    void on_routed(module::RoutedContext& c);
    module::HookResult on_out(module::StanzaContext& c);
    bool view_keeps(const archive::View& v) const;
    bool ours(std::string_view jid) const;
    bool local_account(const xmpp::Jid& jid) const;

    module::Host* host_ = nullptr;
    Service* service_ = nullptr;
    KeeperSettings keeper_settings_;
    std::shared_ptr<module::Database> db_;
    std::shared_ptr<module::Database> prefs_db_;
    const roster::RosterService* roster_ = nullptr;  // optional: the "roster" preference
    std::unique_ptr<Keeper> keeper_;                 // worker 0 only
    std::shared_ptr<bool> alive_;
    Counters counters_;
    LogThrottle busy_log_{1000};    // "cannot archive a message now"
    LogThrottle failed_log_{1000};  // "a journal record was not written"
};

}  // namespace parley::mod_archive

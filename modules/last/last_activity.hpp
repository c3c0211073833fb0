// mod_last: Last Activity (XEP-0012 2.0), answered by the server.
//
// - To a served domain: the server's uptime in seconds (Host::uptime_seconds,
//   the same figure the admin socket reports), no text.
// - To an account's bare JID, for the account itself and for contacts
//   allowed to see its presence (a subscription from or both, read through
//   the roster service roster/1): seconds='0' while the account has an
//   available session; otherwise the seconds since its last available
//   session went away (unavailable presence, or the session ended for any
//   reason), with the status text of that session's unavailable presence
//   when it sent one. No record yet (the account has not gone offline since
//   this module runs): item-not-found (XEP-0012 says nothing of this case).
//   Anyone else gets exactly the error an account that does not exist gets
//   (recipient_unavailable()), not XEP-0012's forbidden, which would
//   tell them the account exists. A bound session that never sent available
//   presence counts as offline here, as it does for presence.
// - Queries to a full JID are routed to that client by the core, as any iq.
//
// Recording: a stanza_in hook (lowest priority, so it sees only what other
// hooks let through) keeps the status text of a session's unavailable
// broadcast in the session's slot; when the account's last available
// session goes away (session events unavailable, and closed for a session
// that was available) the time and that text are written through the
// environment's writer to "last.activity" in data_dir/state (key: the bare
// JID; value: u64 big-endian Unix seconds, then the status text, at most
// kMaxStatusBytes). A write never replaces a later record (two workers may
// commit in either order). Time is the wall clock, since records outlive
// restarts; a clock stepped back makes the seconds 0, never negative.
// A deleted account's record is removed (Host::on_account_deleted), and
// none is written for it when its sessions end after the deletion.
//
// One Module instance per worker; loop-affine.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "../roster/roster_service.hpp"
#include "module/module_api.hpp"

namespace parley::mod_last {

inline constexpr const char* kNsLast = "jabber:iq:last";
inline constexpr int kStatusHookPriority = -1000;  // after every other hook
inline constexpr size_t kMaxStatusBytes = 1024;

struct LastRecord {
    int64_t when = 0;  // Unix seconds
    std::string status;
};
std::string encode_record(const LastRecord& r);
// Code "corrupt" when `data` is not a record.
Result<LastRecord> decode_record(std::string_view data);
// The first `max` bytes of `s`, cut at a UTF-8 character boundary.
std::string truncate_utf8(std::string_view s, size_t max);

class LastActivity final : public module::Module {
public:
    Status start(module::Host& host) override;
    // Unix seconds now; tests replace it.
    void set_clock(std::function<int64_t()> now) { now_ = std::move(now); }

private:
    void account_query(const module::IqRequest& req, std::shared_ptr<module::IqResponder> r);
    bool may_see(const xmpp::Jid& account, const xmpp::Jid& requester) const;
    module::HookResult presence(module::StanzaContext& ctx);
    void session_available(const module::SessionInfo& s);
    void session_gone(const module::SessionInfo& s);
    // A deleted account (worker 0): its record goes, durably, before `done`.
    void purge(const xmpp::Jid& user, std::function<void(Status)> done);
    std::optional<uint64_t> session_id_of(const xmpp::Jid& full) const;

    module::Host* host_ = nullptr;
    std::shared_ptr<module::Database> db_;
    const roster::RosterService* rosters_ = nullptr;
    std::function<int64_t()> now_;
};

extern const module::XepInfo kXeps[];
inline constexpr size_t kXepCount = 1;

}  // namespace parley::mod_last

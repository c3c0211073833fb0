// The roster service ("roster/1"): what other modules may read of the
// rosters that modules/roster keeps (RFC 6121 rosters and presence
// subscriptions), e.g. PEP's "presence" access model, last activity of
// contacts, blocking's pushes.
//
// The module roster provides it; a module that uses it lists "roster" among
// its dependencies and gets it with module::service<roster::RosterService>(host),
// which is nullptr when the roster module is not loaded (then treat every
// contact as unsubscribed). Reads only: every change goes through the roster
// module (roster sets, subscription stanzas), which keeps pushes and
// presence consistent.
//
// Thread-safety: every method may be called from any worker's loop thread,
// passing that worker's index (Host::worker_index()): it reads through that
// worker's handle of the roster database in an MVCC read transaction, so it
// never waits for a writer and never blocks a loop. Not for other threads.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "errors/status.hpp"
#include "module/module_api.hpp"
#include "xmpp/jid.hpp"

namespace parley::roster {

// RFC 6121 §2.1.2.5: the subscription attribute of a roster item.
enum class Subscription { none, to, from, both };
const char* to_string(Subscription s);

// One contact in a user's roster, as stored.
struct Item {
    xmpp::Jid jid;                    // the contact's bare JID
    std::string name;                 // "" when none was set
    Subscription subscription = Subscription::none;
    bool ask = false;                 // pending out: the user asked for the contact's presence
    bool pending_in = false;          // the contact asked for the user's presence, unanswered
    bool approved = false;            // pre-approved (RFC 6121 §3.4)
    std::vector<std::string> groups;  // in the order the client gave them
    // false: not in the user's roster, only the server's record of an
    // unanswered inbound request (RFC 6121 §3.1.3), kept so that the request
    // is delivered again at the next login.
    bool in_roster = true;
};

class RosterService : public module::Service {
public:
    static constexpr const char* kServiceName = "roster/1";

    // The item for `contact` in `user`'s roster (both bare JIDs), or nullopt.
    virtual Result<std::optional<Item>> item(unsigned worker, const xmpp::Jid& user, const xmpp::Jid& contact) const = 0;
    // Every item of `user`'s roster (hidden records included), in JID order.
    virtual Result<std::vector<Item>> items(unsigned worker, const xmpp::Jid& user) const = 0;
    // Whether `contact` may see `user`'s presence: a subscription of from or
    // both in user's roster, or contact is user's own account.
    virtual bool presence_visible_to(unsigned worker, const xmpp::Jid& user, const xmpp::Jid& contact) const = 0;
};

}  // namespace parley::roster

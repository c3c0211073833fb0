// Routing rules of RFC 6121 §8.5 for stanzas to a local account, as pure
// functions: given the stanza's kind and type and what the registry knows,
// what happens. The Router applies the decision; unit tests check the rules
// without a running server. Any thread.
#pragma once

#include <string_view>
#include <vector>

#include "errors/stanza_error.hpp"
#include "sessions/registry.hpp"

namespace parley::router {

struct Decision {
    enum class Action {
        deliver,     // to every session in `targets`
        bounce,      // error reply with `error`
        drop,        // silently
        handle_iq,   // the server answers on the account's behalf
        to_bare,     // re-route to the bare JID (full JID not online)
        unavailable, // an existing account with no session that takes it: the
                     // router's decision point (modules may take the stanza:
                     // offline storage, probes, subscriptions); by default
                     // bounced with `error`, or dropped when `error` is empty
    };
    Action action = Action::drop;
    StanzaError error;
    std::vector<sessions::SessionEntry> targets;
};

// A bounce here is always recipient_unavailable() (errors/stanza_error.hpp),
// whether the account exists or not.
// `kind` is "message", "presence" or "iq"; `type` the type attribute ("" if none).
// To a full JID: `found` is the session bound to it, if any.
Decision decide_full(std::string_view kind, std::string_view type, const sessions::SessionEntry* found);
// To a bare JID: the account's sessions and whether the account exists.
Decision decide_bare(std::string_view kind, std::string_view type, const std::vector<sessions::SessionEntry>& sessions,
                     bool account_exists);

}  // namespace parley::router

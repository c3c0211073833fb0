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

// The one error for a stanza to an account that is neither delivered nor
// answered: the same condition and text whether the account does not exist
// or exists with no available resource (RFC 6121 §8.5.1, §8.5.2.2), so that
// nobody learns from a bounce which accounts exist. Every refusal of a
// stanza addressed to an account (bare or full JID) uses it, the Router's
// too (an iq on behalf of an account that no handler serves).
StanzaError recipient_unavailable();

// `kind` is "message", "presence" or "iq"; `type` the type attribute ("" if none).
// To a full JID: `found` is the session bound to it, if any.
Decision decide_full(std::string_view kind, std::string_view type, const sessions::SessionEntry* found);
// To a bare JID: the account's sessions and whether the account exists.
Decision decide_bare(std::string_view kind, std::string_view type, const std::vector<sessions::SessionEntry>& sessions,
                     bool account_exists);

}  // namespace parley::router

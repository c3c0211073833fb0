// Ending bound sessions from outside their worker: the control socket's
// `kick`, an account deleted or its password changed (parleyctl, XEP-0077).
// Each session is ended on the worker that owns it, with a <not-authorized/>
// stream error and a text saying why. Any thread (the registry is
// thread-safe and a worker is reached by posting to it).
#pragma once

#include <string>
#include <vector>

#include "sessions/registry.hpp"
#include "xmpp/jid.hpp"

namespace parley::daemon {
class Shared;
}

namespace parley::loop {

// The sessions `jid` names: a full JID its one session (if bound), a bare
// JID every session of the account; without the session bound to `keep`
// (a full JID; empty: none kept).
std::vector<sessions::SessionEntry> sessions_named(const sessions::Registry& registry, const xmpp::Jid& jid,
                                                   const xmpp::Jid& keep = {});

// Asks the worker of each session to end it (if it is still there) with a
// <not-authorized/> stream error carrying `text`. Returns how many were
// asked; a session whose worker has stopped is not counted.
size_t end_sessions(const daemon::Shared& shared, const std::vector<sessions::SessionEntry>& which,
                    const std::string& text);

}  // namespace parley::loop

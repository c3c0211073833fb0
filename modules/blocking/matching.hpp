// JID matching of XEP-0191 (1.3) §5, which is XEP-0016's: which blocklist
// items a JID is caught by. Pure functions; any thread.
#pragma once

#include <string>
#include <vector>

#include "xmpp/jid.hpp"

namespace parley::mod_blocking {

// The item strings (prepared JIDs, as stored) that would catch `jid`, most
// specific first: user@domain/resource, user@domain, domain/resource (only
// for a JID without a user part), domain. A blocklist catches `jid` when it
// holds any of them.
std::vector<std::string> items_catching(const xmpp::Jid& jid);

// Whether blocklist item `item` catches `jid`.
bool catches(const xmpp::Jid& item, const xmpp::Jid& jid);

// A user's own addresses are never blocked for that user (XEP-0191 §6: no
// rule blocks one of a user's resources from another; and a user who blocks
// their own server's domain still hears from the server itself): the
// account's own bare and full JIDs, and its server (the domain, with or
// without a resource).
bool exempt(const xmpp::Jid& user, const xmpp::Jid& jid);

}  // namespace parley::mod_blocking

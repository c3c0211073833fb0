// The blocklists as stored: the LMDB database `blocking.items` (schema
// version 1) in the live state, one key per blocked item, so that a check is
// a few point lookups and a change touches only its items.
//
//   key:   str16 user's domain, str16 user's node (as the accounts' keys), then
//          the blocked JID, prepared, as the rest of the key
//   value: empty
//
// A user's items are the keys starting with the account's key; they sort by
// the JID's bytes. The functions take a transaction and run on whichever
// thread holds it: reads on a worker, writes on the environment's writer
// thread (they touch nothing but the transaction and what they return).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "errors/status.hpp"
#include "store/env.hpp"
#include "xmpp/jid.hpp"

namespace parley::mod_blocking {

// LMDB's largest key (MDB_MAXKEYSIZE in Debian's build).
inline constexpr size_t kMaxKey = 511;

// The key prefix of `user`'s items (a bare JID).
std::string user_prefix(const xmpp::Jid& user);
// False when the key for `item` would be longer than LMDB allows.
bool storable(const xmpp::Jid& user, const std::string& item);

// Every item of `user`, in key order.
Result<std::vector<std::string>> read_items(const store::Txn& txn, MDB_dbi db, const xmpp::Jid& user);

// Adds `items` (already blocked ones are no change). Code "quota" when the
// list would then hold more than `max_items` items: nothing of it is kept
// (the writer rolls the request back).
Status add_items(store::Txn& txn, MDB_dbi db, const xmpp::Jid& user, const std::vector<std::string>& items,
                 size_t max_items);
// Removes `items`; `removed` receives those that were there.
Status remove_items(store::Txn& txn, MDB_dbi db, const xmpp::Jid& user, const std::vector<std::string>& items,
                    std::vector<std::string>& removed);
// Removes every item of `user`; `removed` receives them.
Status remove_all(store::Txn& txn, MDB_dbi db, const xmpp::Jid& user, std::vector<std::string>& removed);

}  // namespace parley::mod_blocking

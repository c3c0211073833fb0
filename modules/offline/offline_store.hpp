// The offline message queues of mod_offline as LMDB records (the layout is
// in modules/offline/README.md, "Storage").
//
// One database, `offline.messages`, holds for each account with stored
// messages a user record (the next sequence number, how many messages and
// bytes are stored) and the messages themselves, keyed by account and a
// sequence number given inside the write transaction, so the order of the
// queue is the order in which the writer committed the messages. append()
// checks the quota inside the same transaction, so concurrent writers on
// several workers can never take a queue past it.
//
// The functions that write run on the environment's writer thread and
// touch only the transaction they are given (they may run twice when the
// map grows); the reads run on any thread in a read transaction. Plain
// functions of their arguments: any thread.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"
#include "store/env.hpp"
#include "xml/element.hpp"
#include "xmpp/jid.hpp"

namespace parley::mod_offline {

inline constexpr const char* kDatabaseName = "messages";
inline constexpr uint32_t kSchemaVersion = 1;

// Limits of one account's queue.
struct Quota {
    uint64_t max_messages = 1000;
    uint64_t max_bytes = 10 * 1024 * 1024;
};

// The queue of one account as its user record counts it.
struct QueueInfo {
    uint64_t next_seq = 0;
    uint64_t count = 0;
    uint64_t bytes = 0;  // of the stored stanzas' XML
};

struct StoredMessage {
    uint64_t seq = 0;
    int64_t stored_ms = 0;  // Unix milliseconds when it was accepted
    std::string xml;        // the stanza as stored (with its <delay/>)
};

// str16(domain) str16(node): the part of every key that names the account
// (its bare JID, as the router normalised it). Code "invalid" when a key
// would pass LMDB's limit.
Result<std::string> owner_key(const xmpp::Jid& bare);

// Appends one message to the queue of `owner`; code "quota" (nothing
// written) when it would take the queue past `quota`.
Status append(store::Txn& txn, MDB_dbi db, std::string_view owner, int64_t stored_ms, std::string_view xml,
              const Quota& quota);

// Removes the messages `seqs` of `owner` that are still there and updates
// its user record (removed with the last message).
Status remove(store::Txn& txn, MDB_dbi db, std::string_view owner, const std::vector<uint64_t>& seqs);

// Removes the whole queue of `owner` (a deleted account): every message and
// the user record. `removed` receives how many messages there were. The
// owner key is length-prefixed, so the scan never reaches another account
// whose name merely starts the same.
Status remove_queue(store::Txn& txn, MDB_dbi db, std::string_view owner, uint64_t& removed);

// The first `max` messages of `owner`'s queue, oldest first. A record that
// cannot be decoded is returned with an empty `xml` (so it is removed with
// the rest, never delivered and never blocking the queue).
Result<std::vector<StoredMessage>> first_messages(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                                                  size_t max);

// The user record of `owner` (zeros when it has none).
Result<QueueInfo> queue_info(const store::Txn& txn, MDB_dbi db, std::string_view owner);

// XEP-0082 date-time in UTC with milliseconds: 2024-05-01T12:00:00.123Z.
std::string xep0082_stamp(int64_t unix_ms);

// Parses one stanza as stored (a single element, default namespace
// jabber:client); code "corrupt" when it is not one well-formed element.
Result<xml::Element> parse_stored(std::string_view xml);

}  // namespace parley::mod_offline

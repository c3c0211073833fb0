// The PEP store: every account's nodes, items and private XML in one LMDB
// database, `pep.data` (doc/storage.md; the layout is in README "Storage").
//
// One database, so that a publish (node created or checked, item written,
// the oldest items trimmed, the account's counters updated) is one
// transaction. Reads take a read transaction on the calling worker (MVCC,
// never waiting for a writer); writes are functions run by the
// environment's writer thread inside its transaction (Host::open_database),
// so two workers publishing to the same account are serialised there, and
// checks (preconditions, limits) see the state they change. A write
// function may run twice (map growth): each starts by resetting its
// outcome. A refusal (precondition, limit) aborts only that request:
// the function returns code "refused" and fills `refused` with the stanza
// error for the client.
//
// Pure functions over a transaction: any thread that holds one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors/stanza_error.hpp"
#include "errors/status.hpp"
#include "node_config.hpp"
#include "store/env.hpp"

namespace parley::mod_pep {

inline constexpr uint32_t kStoreVersion = 1;

struct Limits {
    uint32_t max_nodes = 100;                  // per account
    uint32_t max_items = 1000;                 // per node: what "max" means
    uint64_t max_account_bytes = 10u << 20;    // stored items and private XML of one account
    uint32_t max_members = 100;                // whitelist affiliations per node
};

struct NodeRecord {
    NodeConfig config;
    std::vector<std::string> members;  // bare JIDs with affiliation member (whitelist), sorted
    uint64_t next_seq = 1;             // publication order of the next item
    uint32_t items = 0;
    uint64_t bytes = 0;                // stored size of its items
};

struct StoredItem {
    std::string id;
    std::string publisher;  // the full JID that published it
    uint64_t seq = 0;
    int64_t published_ms = 0;
    std::string payload;    // encode_element() of the payload; empty when the item had none
};

struct AccountRecord {
    uint32_t nodes = 0;
    uint64_t bytes = 0;
};

// --- Reads ---
Result<std::optional<NodeRecord>> read_node(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                                            std::string_view node);
// Every node of `owner`, in key order.
Status read_nodes(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                  std::vector<std::pair<std::string, NodeRecord>>& out);
// The node's items oldest first; with newest > 0 only the `newest` most recent.
Status read_items(const store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, size_t newest,
                  std::vector<StoredItem>& out);
Result<std::optional<StoredItem>> read_item(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                                            std::string_view node, std::string_view id);
Result<AccountRecord> read_account(const store::Txn& txn, MDB_dbi db, std::string_view owner);

// Whether the keys of this owner, node and item id fit LMDB's key size.
bool keys_fit(size_t max_key_size, std::string_view owner, std::string_view node, std::string_view id = {});

// --- Writes (in the writer's transaction) ---
struct PublishRequest {
    std::string owner, node, id, publisher;
    std::string payload;           // encoded; empty: an item without payload
    int64_t now_ms = 0;
    NodeConfig create_config;      // for auto-create: defaults and publish-options applied
    SubmittedForm preconditions;   // publish-options to check against an existing node
};
struct PublishOutcome {
    NodeConfig config;             // the node's configuration after the publish
    std::vector<std::string> members;
    bool created = false;
    std::vector<std::string> trimmed;  // ids removed to keep max_items (oldest first)
};
Status publish(store::Txn& txn, MDB_dbi db, const PublishRequest& req, const Limits& limits, PublishOutcome& out,
               StanzaError& refused);

// Removes one item; refused with item-not-found when the node or item is absent.
Status retract(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, std::string_view id,
               NodeRecord& node_out, StanzaError& refused);

// Creates a node with `config`; refused with conflict when it exists.
Status create_node(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, const NodeConfig& config,
                   const Limits& limits, StanzaError& refused);
// Replaces the configuration (trimming items over the new max_items).
Status configure_node(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node,
                      const SubmittedForm& form, const Limits& limits, NodeRecord& node_out,
                      std::vector<std::string>& trimmed, StanzaError& refused);
// Deletes the node and its items, or only its items (purge).
Status delete_node(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, bool purge_only,
                   NodeRecord& node_out, StanzaError& refused);
// Sets affiliations: "member" adds to the whitelist, "none" removes.
Status set_members(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node,
                   const std::vector<std::pair<std::string, std::string>>& changes, const Limits& limits,
                   StanzaError& refused);

// --- A deleted account ---
// Removes every record of `owner`: its counters, nodes, items, their order
// index and its private XML (bookmarks included). `removed` counts the
// records. Every key is a kind byte and str16(owner) first, so the scan
// never reaches an account whose name merely starts the same.
Status remove_owner(store::Txn& txn, MDB_dbi db, std::string_view owner, uint64_t& removed);
// Takes `member` (a bare JID) off the whitelist of every node of every
// account; `changed` counts the nodes. A scan of every node record: rare
// (account deletion) and bounded by the server's node count. A damaged
// node record is left as it is (it is reported when read).
Status forget_member(store::Txn& txn, MDB_dbi db, std::string_view member, uint64_t& changed);

// --- Private XML storage (XEP-0049), keyed by the element's namespace and name ---
Result<std::optional<std::string>> read_private(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                                                std::string_view ns, std::string_view name);
// Stores each (ns, name, encoded element); the whole set or nothing.
Status write_private(store::Txn& txn, MDB_dbi db, std::string_view owner,
                     const std::vector<std::tuple<std::string, std::string, std::string>>& elements,
                     const Limits& limits, StanzaError& refused);

}  // namespace parley::mod_pep

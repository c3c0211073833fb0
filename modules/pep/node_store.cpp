#include "node_store.hpp"

#include <algorithm>

#include "element_codec.hpp"

namespace parley::mod_pep {

namespace {

constexpr uint8_t kFormat = 1;

std::string key_account(std::string_view owner) {
    std::string k(1, 'a');
    put_str16(k, owner);
    return k;
}

std::string key_node(std::string_view owner, std::string_view node) {
    std::string k(1, 'n');
    put_str16(k, owner);
    put_str16(k, node);
    return k;
}

std::string key_nodes_of(std::string_view owner) {
    std::string k(1, 'n');
    put_str16(k, owner);
    return k;
}

std::string key_item(std::string_view owner, std::string_view node, std::string_view id) {
    std::string k(1, 'i');
    put_str16(k, owner);
    put_str16(k, node);
    put_str16(k, id);
    return k;
}

// The order index: newest first, so that the most recent items are the
// start of the range.
std::string key_order(std::string_view owner, std::string_view node, uint64_t seq) {
    std::string k(1, 'o');
    put_str16(k, owner);
    put_str16(k, node);
    put_u64(k, ~seq);
    return k;
}

std::string key_order_of(std::string_view owner, std::string_view node) {
    std::string k(1, 'o');
    put_str16(k, owner);
    put_str16(k, node);
    return k;
}

std::string key_private(std::string_view owner, std::string_view ns, std::string_view name) {
    std::string k(1, 'p');
    put_str16(k, owner);
    put_str16(k, ns);
    put_str16(k, name);
    return k;
}

Status corrupt(std::string_view what, std::string_view owner) {
    return Status::error("corrupt", "pep: " + std::string(what) + " of " + std::string(owner) + " is damaged");
}

std::string encode_node(const NodeRecord& n) {
    std::string v;
    v.push_back(static_cast<char>(kFormat));
    const NodeConfig& c = n.config;
    v.push_back(static_cast<char>(c.access));
    v.push_back(static_cast<char>(c.persist_items));
    put_u32(v, c.max_items);
    v.push_back(static_cast<char>(c.send_last));
    v.push_back(static_cast<char>((c.deliver_notifications ? 1 : 0) | (c.deliver_payloads ? 2 : 0) |
                                  (c.notify_retract ? 4 : 0) | (c.notify_delete ? 8 : 0)));
    put_str16(v, c.title.substr(0, 1024));
    put_u16(v, static_cast<uint16_t>(n.members.size()));
    for (const auto& m : n.members) put_str16(v, m);
    put_u64(v, n.next_seq);
    put_u32(v, n.items);
    put_u64(v, n.bytes);
    return v;
}

bool decode_node(std::string_view data, NodeRecord& n) {
    Reader r(data);
    uint8_t format = 0, access = 0, persist = 0, last = 0, flags = 0;
    uint16_t members = 0;
    std::string_view title;
    if (!r.u8(format) || format != kFormat || !r.u8(access) || access > 2 || !r.u8(persist) ||
        !r.u32(n.config.max_items) || !r.u8(last) || last > 2 || !r.u8(flags) || !r.str16(title) || !r.u16(members))
        return false;
    n.config.access = static_cast<AccessModel>(access);
    n.config.persist_items = persist != 0;
    n.config.send_last = static_cast<SendLast>(last);
    n.config.deliver_notifications = flags & 1;
    n.config.deliver_payloads = flags & 2;
    n.config.notify_retract = flags & 4;
    n.config.notify_delete = flags & 8;
    n.config.title = std::string(title);
    n.members.clear();
    for (uint16_t i = 0; i < members; ++i) {
        std::string_view m;
        if (!r.str16(m)) return false;
        n.members.emplace_back(m);
    }
    return r.u64(n.next_seq) && r.u32(n.items) && r.u64(n.bytes) && r.empty();
}

std::string encode_item(const StoredItem& it) {
    std::string v;
    v.push_back(static_cast<char>(kFormat));
    put_u64(v, it.seq);
    put_u64(v, static_cast<uint64_t>(it.published_ms));
    put_str16(v, it.publisher);
    v.append(it.payload);
    return v;
}

bool decode_item(std::string_view data, StoredItem& it) {
    Reader r(data);
    uint8_t format = 0;
    uint64_t ms = 0;
    std::string_view publisher;
    if (!r.u8(format) || format != kFormat || !r.u64(it.seq) || !r.u64(ms) || !r.str16(publisher)) return false;
    it.published_ms = static_cast<int64_t>(ms);
    it.publisher = std::string(publisher);
    it.payload = std::string(r.rest());
    return true;
}

std::string encode_account(const AccountRecord& a) {
    std::string v;
    v.push_back(static_cast<char>(kFormat));
    put_u32(v, a.nodes);
    put_u64(v, a.bytes);
    return v;
}

uint64_t item_bytes(const StoredItem& it) { return it.id.size() + it.publisher.size() + it.payload.size() + 32; }

Result<AccountRecord> account_in(const store::Txn& txn, MDB_dbi db, std::string_view owner) {
    AccountRecord a;
    auto v = txn.get(db, key_account(owner));
    if (!v) return v.status();
    if (!*v) return a;
    Reader r(**v);
    uint8_t format = 0;
    if (!r.u8(format) || format != kFormat || !r.u32(a.nodes) || !r.u64(a.bytes) || !r.empty())
        return corrupt("the account record", owner);
    return a;
}

// Deletes item `id` (and its order entry) if present; returns its stored size.
Result<uint64_t> remove_item(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node,
                             std::string_view id) {
    const std::string k = key_item(owner, node, id);
    auto v = txn.get(db, k);
    if (!v) return v.status();
    if (!*v) return uint64_t{0};
    StoredItem old;
    if (!decode_item(**v, old)) return corrupt("an item", owner);
    old.id = std::string(id);
    const uint64_t size = item_bytes(old);
    auto d1 = txn.del(db, k);
    if (!d1) return d1.status();
    auto d2 = txn.del(db, key_order(owner, node, old.seq));
    if (!d2) return d2.status();
    return size;
}

// Removes the oldest items past `keep`; their ids, oldest first, go to `trimmed`.
Status trim(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, NodeRecord& n, uint32_t keep,
            AccountRecord& account, std::vector<std::string>* trimmed) {
    if (n.items <= keep) return Status::ok();
    std::vector<std::string> old;
    size_t seen = 0;
    Status s = txn.scan(db, key_order_of(owner, node), [&](std::string_view, std::string_view id) {
        if (seen++ >= keep) old.emplace_back(id);
        return true;
    });
    if (!s) return s;
    std::reverse(old.begin(), old.end());
    for (const auto& id : old) {
        auto size = remove_item(txn, db, owner, node, id);
        if (!size) return size.status();
        if (*size == 0) continue;
        n.items = n.items > 0 ? n.items - 1 : 0;
        n.bytes = n.bytes >= *size ? n.bytes - *size : 0;
        account.bytes = account.bytes >= *size ? account.bytes - *size : 0;
        if (trimmed) trimmed->push_back(id);
    }
    return Status::ok();
}

Status refuse(StanzaError& refused, StanzaError e) {
    refused = std::move(e);
    return Status::error("refused", refused.text);
}

Status put_node(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, const NodeRecord& n) {
    return txn.put(db, key_node(owner, node), encode_node(n));
}

}  // namespace

bool keys_fit(size_t max_key_size, std::string_view owner, std::string_view node, std::string_view id) {
    return 1 + 2 + owner.size() + 2 + node.size() + 2 + std::max<size_t>(id.size(), 8) <= max_key_size &&
           owner.size() < 0xffff && node.size() < 0xffff && id.size() < 0xffff;
}

Result<std::optional<NodeRecord>> read_node(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                                            std::string_view node) {
    auto v = txn.get(db, key_node(owner, node));
    if (!v) return v.status();
    if (!*v) return std::optional<NodeRecord>();
    NodeRecord n;
    if (!decode_node(**v, n)) return corrupt("node " + std::string(node), owner);
    return std::optional<NodeRecord>(std::move(n));
}

Status read_nodes(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                  std::vector<std::pair<std::string, NodeRecord>>& out) {
    const std::string prefix = key_nodes_of(owner);
    bool bad = false;
    Status s = txn.scan(db, prefix, [&](std::string_view key, std::string_view value) {
        Reader r(key.substr(prefix.size()));
        std::string_view name;
        NodeRecord n;
        if (!r.str16(name) || !r.empty() || !decode_node(value, n)) {
            bad = true;
            return false;
        }
        out.emplace_back(std::string(name), std::move(n));
        return true;
    });
    if (!s) return s;
    return bad ? corrupt("a node record", owner) : Status::ok();
}

Status read_items(const store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, size_t newest,
                  std::vector<StoredItem>& out) {
    std::vector<std::string> ids;
    Status s = txn.scan(db, key_order_of(owner, node), [&](std::string_view, std::string_view id) {
        ids.emplace_back(id);
        return newest == 0 || ids.size() < newest;
    });
    if (!s) return s;
    std::reverse(ids.begin(), ids.end());
    for (auto& id : ids) {
        auto it = read_item(txn, db, owner, node, id);
        if (!it) return it.status();
        if (*it) out.push_back(std::move(**it));
    }
    return Status::ok();
}

Result<std::optional<StoredItem>> read_item(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                                            std::string_view node, std::string_view id) {
    auto v = txn.get(db, key_item(owner, node, id));
    if (!v) return v.status();
    if (!*v) return std::optional<StoredItem>();
    StoredItem it;
    if (!decode_item(**v, it)) return corrupt("an item of node " + std::string(node), owner);
    it.id = std::string(id);
    return std::optional<StoredItem>(std::move(it));
}

Result<AccountRecord> read_account(const store::Txn& txn, MDB_dbi db, std::string_view owner) {
    return account_in(txn, db, owner);
}

Status publish(store::Txn& txn, MDB_dbi db, const PublishRequest& req, const Limits& limits, PublishOutcome& out,
               StanzaError& refused) {
    out = PublishOutcome{};
    auto existing = read_node(txn, db, req.owner, req.node);
    if (!existing) return existing.status();
    auto account = account_in(txn, db, req.owner);
    if (!account) return account.status();
    NodeRecord n;
    if (*existing) {
        n = std::move(**existing);
        if (auto e = check_preconditions(req.preconditions, n.config)) return refuse(refused, std::move(*e));
    } else {
        if (account->nodes >= limits.max_nodes)
            return refuse(refused, pubsub_error(StanzaError::cancel("not-allowed", "this account has " +
                                                                                       std::to_string(account->nodes) +
                                                                                       " nodes, the most it may have"),
                                                "max-nodes-exceeded"));
        n.config = req.create_config;
        ++account->nodes;
        out.created = true;
    }
    StoredItem it{req.id, req.publisher, n.next_seq++, req.now_ms, req.payload};
    const uint64_t size = item_bytes(it);
    auto old = remove_item(txn, db, req.owner, req.node, req.id);
    if (!old) return old.status();
    if (*old > 0) {
        n.items = n.items > 0 ? n.items - 1 : 0;
        n.bytes = n.bytes >= *old ? n.bytes - *old : 0;
        account->bytes = account->bytes >= *old ? account->bytes - *old : 0;
    }
    if (account->bytes + size > limits.max_account_bytes)
        return refuse(refused, StanzaError::wait("resource-constraint",
                                                 "this account's PEP storage is full (" +
                                                     std::to_string(account->bytes) + " of " +
                                                     std::to_string(limits.max_account_bytes) + " bytes used)"));
    if (Status s = txn.put(db, key_item(req.owner, req.node, req.id), encode_item(it)); !s) return s;
    if (Status s = txn.put(db, key_order(req.owner, req.node, it.seq), req.id); !s) return s;
    ++n.items;
    n.bytes += size;
    account->bytes += size;
    if (Status s = trim(txn, db, req.owner, req.node, n, n.config.effective_max(limits.max_items), *account, &out.trimmed);
        !s)
        return s;
    if (Status s = put_node(txn, db, req.owner, req.node, n); !s) return s;
    out.config = n.config;
    out.members = n.members;
    return txn.put(db, key_account(req.owner), encode_account(*account));
}

Status retract(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, std::string_view id,
               NodeRecord& node_out, StanzaError& refused) {
    auto existing = read_node(txn, db, owner, node);
    if (!existing) return existing.status();
    if (!*existing) return refuse(refused, StanzaError::cancel("item-not-found", "no such node"));
    NodeRecord n = std::move(**existing);
    auto size = remove_item(txn, db, owner, node, id);
    if (!size) return size.status();
    if (*size == 0) return refuse(refused, StanzaError::cancel("item-not-found", "no item with that id"));
    auto account = account_in(txn, db, owner);
    if (!account) return account.status();
    n.items = n.items > 0 ? n.items - 1 : 0;
    n.bytes = n.bytes >= *size ? n.bytes - *size : 0;
    account->bytes = account->bytes >= *size ? account->bytes - *size : 0;
    if (Status s = put_node(txn, db, owner, node, n); !s) return s;
    node_out = n;
    return txn.put(db, key_account(owner), encode_account(*account));
}

Status create_node(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, const NodeConfig& config,
                   const Limits& limits, StanzaError& refused) {
    auto existing = read_node(txn, db, owner, node);
    if (!existing) return existing.status();
    if (*existing) return refuse(refused, StanzaError::cancel("conflict", "the node exists already"));
    auto account = account_in(txn, db, owner);
    if (!account) return account.status();
    if (account->nodes >= limits.max_nodes)
        return refuse(refused, pubsub_error(StanzaError::cancel("not-allowed", "this account has " +
                                                                                   std::to_string(account->nodes) +
                                                                                   " nodes, the most it may have"),
                                            "max-nodes-exceeded"));
    NodeRecord n;
    n.config = config;
    ++account->nodes;
    if (Status s = put_node(txn, db, owner, node, n); !s) return s;
    return txn.put(db, key_account(owner), encode_account(*account));
}

Status configure_node(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node,
                      const SubmittedForm& form, const Limits& limits, NodeRecord& node_out,
                      std::vector<std::string>& trimmed, StanzaError& refused) {
    trimmed.clear();
    auto existing = read_node(txn, db, owner, node);
    if (!existing) return existing.status();
    if (!*existing) return refuse(refused, StanzaError::cancel("item-not-found", "no such node"));
    NodeRecord n = std::move(**existing);
    if (auto e = apply_fields(form, n.config, limits.max_items)) return refuse(refused, std::move(*e));
    auto account = account_in(txn, db, owner);
    if (!account) return account.status();
    if (Status s = trim(txn, db, owner, node, n, n.config.effective_max(limits.max_items), *account, &trimmed); !s)
        return s;
    if (Status s = put_node(txn, db, owner, node, n); !s) return s;
    node_out = n;
    return txn.put(db, key_account(owner), encode_account(*account));
}

Status delete_node(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node, bool purge_only,
                   NodeRecord& node_out, StanzaError& refused) {
    auto existing = read_node(txn, db, owner, node);
    if (!existing) return existing.status();
    if (!*existing) return refuse(refused, StanzaError::cancel("item-not-found", "no such node"));
    NodeRecord n = std::move(**existing);
    auto account = account_in(txn, db, owner);
    if (!account) return account.status();
    if (Status s = trim(txn, db, owner, node, n, 0, *account, nullptr); !s) return s;
    node_out = n;
    if (purge_only) {
        if (Status s = put_node(txn, db, owner, node, n); !s) return s;
    } else {
        auto d = txn.del(db, key_node(owner, node));
        if (!d) return d.status();
        account->nodes = account->nodes > 0 ? account->nodes - 1 : 0;
    }
    return txn.put(db, key_account(owner), encode_account(*account));
}

Status set_members(store::Txn& txn, MDB_dbi db, std::string_view owner, std::string_view node,
                   const std::vector<std::pair<std::string, std::string>>& changes, const Limits& limits,
                   StanzaError& refused) {
    auto existing = read_node(txn, db, owner, node);
    if (!existing) return existing.status();
    if (!*existing) return refuse(refused, StanzaError::cancel("item-not-found", "no such node"));
    NodeRecord n = std::move(**existing);
    for (const auto& [jid, affiliation] : changes) {
        auto at = std::lower_bound(n.members.begin(), n.members.end(), jid);
        const bool present = at != n.members.end() && *at == jid;
        if (affiliation == "member" && !present) n.members.insert(at, jid);
        else if (affiliation == "none" && present) n.members.erase(at);
    }
    if (n.members.size() > limits.max_members)
        return refuse(refused, StanzaError::cancel("not-allowed", "a node may have at most " +
                                                                      std::to_string(limits.max_members) + " members"));
    return put_node(txn, db, owner, node, n);
}

Result<std::optional<std::string>> read_private(const store::Txn& txn, MDB_dbi db, std::string_view owner,
                                                std::string_view ns, std::string_view name) {
    auto v = txn.get(db, key_private(owner, ns, name));
    if (!v) return v.status();
    if (!*v) return std::optional<std::string>();
    return std::optional<std::string>(std::string(**v));
}

Status write_private(store::Txn& txn, MDB_dbi db, std::string_view owner,
                     const std::vector<std::tuple<std::string, std::string, std::string>>& elements,
                     const Limits& limits, StanzaError& refused) {
    auto account = account_in(txn, db, owner);
    if (!account) return account.status();
    for (const auto& [ns, name, data] : elements) {
        const std::string k = key_private(owner, ns, name);
        auto old = txn.get(db, k);
        if (!old) return old.status();
        const uint64_t old_size = *old ? (*old)->size() : 0;
        account->bytes = account->bytes >= old_size ? account->bytes - old_size : 0;
        if (account->bytes + data.size() > limits.max_account_bytes)
            return refuse(refused, StanzaError::wait("resource-constraint",
                                                     "this account's private storage is full (" +
                                                         std::to_string(account->bytes) + " of " +
                                                         std::to_string(limits.max_account_bytes) + " bytes used)"));
        account->bytes += data.size();
        if (Status s = txn.put(db, k, data); !s) return s;
    }
    return txn.put(db, key_account(owner), encode_account(*account));
}

Status remove_owner(store::Txn& txn, MDB_dbi db, std::string_view owner, uint64_t& removed) {
    removed = 0;
    for (char kind : {'a', 'n', 'i', 'o', 'p'}) {
        std::string prefix(1, kind);
        put_str16(prefix, owner);
        // Copied first: a key seen by the scan dies with the first del.
        std::vector<std::string> keys;
        Status s = txn.scan(db, prefix, [&](std::string_view key, std::string_view) {
            keys.emplace_back(key);
            return true;
        });
        if (!s) return s;
        for (const auto& k : keys) {
            auto d = txn.del(db, k);
            if (!d) return d.status();
        }
        removed += keys.size();
    }
    return Status::ok();
}

Status forget_member(store::Txn& txn, MDB_dbi db, std::string_view member, uint64_t& changed) {
    changed = 0;
    std::vector<std::pair<std::string, std::string>> rewritten;  // key, new value
    Status s = txn.scan(db, "n", [&](std::string_view key, std::string_view value) {
        NodeRecord n;
        if (!decode_node(value, n)) return true;
        // find, not a binary search: a damaged order must not hide an entry.
        auto at = std::find(n.members.begin(), n.members.end(), member);
        if (at == n.members.end()) return true;
        n.members.erase(at);
        rewritten.emplace_back(std::string(key), encode_node(n));
        return true;
    });
    if (!s) return s;
    for (const auto& [k, v] : rewritten) {
        if (Status p = txn.put(db, k, v); !p) return p;
    }
    changed = rewritten.size();
    return Status::ok();
}

}  // namespace parley::mod_pep

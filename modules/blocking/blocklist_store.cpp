#include "blocklist_store.hpp"

#include <fmt/format.h>


namespace parley::mod_blocking {

namespace {

void put_str16(std::string& out, const std::string& s) {
    out += static_cast<char>((s.size() >> 8) & 0xff);
    out += static_cast<char>(s.size() & 0xff);
    out += s;
}

}  // namespace

std::string user_prefix(const xmpp::Jid& user) {
    std::string k;
    k.reserve(4 + user.domain().size() + user.node().size());
    put_str16(k, user.domain());
    put_str16(k, user.node());
    return k;
}

bool storable(const xmpp::Jid& user, const std::string& item) {
    return !item.empty() && user_prefix(user).size() + item.size() <= kMaxKey;
}

Result<std::vector<std::string>> read_items(const store::Txn& txn, MDB_dbi db, const xmpp::Jid& user) {
    const std::string prefix = user_prefix(user);
    std::vector<std::string> out;
    Status s = txn.scan(db, prefix, [&](std::string_view key, std::string_view) {
        out.emplace_back(key.substr(prefix.size()));
        return true;
    });
    if (!s) return s;
    return out;
}

Status add_items(store::Txn& txn, MDB_dbi db, const xmpp::Jid& user, const std::vector<std::string>& items,
                 size_t max_items) {
    const std::string prefix = user_prefix(user);
    for (const auto& item : items) {
        if (!storable(user, item)) return Status::error("invalid", fmt::format("cannot store the item '{}'", item));
        Status s = txn.put(db, prefix + item, {});
        if (!s) return s;
    }
    size_t count = 0;
    Status s = txn.scan(db, prefix, [&](std::string_view, std::string_view) { return ++count <= max_items; });
    if (!s) return s;
    if (count > max_items)
        return Status::error("quota", fmt::format("a blocklist holds at most {} items", max_items));
    return Status::ok();
}

Status remove_items(store::Txn& txn, MDB_dbi db, const xmpp::Jid& user, const std::vector<std::string>& items,
                    std::vector<std::string>& removed) {
    removed.clear();
    const std::string prefix = user_prefix(user);
    for (const auto& item : items) {
        if (!storable(user, item)) continue;  // never stored
        auto r = txn.del(db, prefix + item);
        if (!r) return r.status();
        if (r.value()) removed.push_back(item);
    }
    return Status::ok();
}

Status remove_all(store::Txn& txn, MDB_dbi db, const xmpp::Jid& user, std::vector<std::string>& removed) {
    auto items = read_items(txn, db, user);
    if (!items) return items.status();
    removed = std::move(items.value());
    const std::string prefix = user_prefix(user);
    for (const auto& item : removed) {
        auto r = txn.del(db, prefix + item);
        if (!r) return r.status();
    }
    return Status::ok();
}

}  // namespace parley::mod_blocking

// Small helpers over a raw LMDB transaction, for the archive library (which
// knows nothing of server/store): string views in and out, LMDB's codes
// turned into Status ("not-found" is a value: nullopt or false).
// Free functions: the thread that owns the transaction.
#pragma once

#include <lmdb.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "errors/status.hpp"

namespace parley::archive::raw {

inline std::string_view view_of(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }
inline MDB_val val_of(std::string_view s) { return {s.size(), const_cast<char*>(s.data())}; }

inline Status error(int rc, std::string_view op) {
    return Status::error(rc == MDB_MAP_FULL ? "map-full" : "store",
                         "archive " + std::string(op) + ": " + mdb_strerror(rc));
}

inline Result<std::optional<std::string_view>> get(MDB_txn* txn, MDB_dbi db, std::string_view key) {
    MDB_val k = val_of(key), v{};
    int rc = mdb_get(txn, db, &k, &v);
    if (rc == MDB_NOTFOUND) return std::optional<std::string_view>();
    if (rc != 0) return error(rc, "read");
    return std::optional<std::string_view>(view_of(v));
}

inline Status put(MDB_txn* txn, MDB_dbi db, std::string_view key, std::string_view value, unsigned flags = 0) {
    MDB_val k = val_of(key), v = val_of(value);
    int rc = mdb_put(txn, db, &k, &v, flags);
    if (rc == MDB_KEYEXIST) return Status::error("exists", "archive write: the key exists");
    if (rc != 0) return error(rc, "write");
    return Status::ok();
}

inline Result<bool> del(MDB_txn* txn, MDB_dbi db, std::string_view key) {
    MDB_val k = val_of(key);
    int rc = mdb_del(txn, db, &k, nullptr);
    if (rc == MDB_NOTFOUND) return false;
    if (rc != 0) return error(rc, "delete");
    return true;
}

using Cursor = std::unique_ptr<MDB_cursor, void (*)(MDB_cursor*)>;

inline Result<Cursor> cursor(MDB_txn* txn, MDB_dbi db) {
    MDB_cursor* c = nullptr;
    int rc = mdb_cursor_open(txn, db, &c);
    if (rc != 0) return error(rc, "cursor");
    return Cursor(c, mdb_cursor_close);
}

// Calls fn(key, value) for each key starting with prefix, from the first
// key >= from (empty: the prefix itself), in order, while fn returns true.
template <class Fn>
Status scan(MDB_txn* txn, MDB_dbi db, std::string_view prefix, std::string_view from, Fn&& fn) {
    auto c = cursor(txn, db);
    if (!c) return c.status();
    std::string start(from.empty() ? prefix : from);
    MDB_val k = val_of(start), v{};
    int rc = mdb_cursor_get(c->get(), &k, &v, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(c->get(), &k, &v, MDB_NEXT)) {
        std::string_view key = view_of(k);
        if (key.substr(0, prefix.size()) != prefix) break;
        if (!fn(key, view_of(v))) return Status::ok();
    }
    if (rc != 0 && rc != MDB_NOTFOUND) return error(rc, "scan");
    return Status::ok();
}

// Length-prefixed strings (u16 big-endian length).
inline void put_str16(std::string& out, std::string_view s) {
    size_t n = s.size() > 0xffff ? 0xffff : s.size();
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n & 0xff));
    out.append(s.substr(0, n));
}
inline bool get_str16(std::string_view& in, std::string& out) {
    if (in.size() < 2) return false;
    size_t n = static_cast<size_t>(static_cast<uint8_t>(in[0]) << 8 | static_cast<uint8_t>(in[1]));
    if (in.size() < 2 + n) return false;
    out.assign(in.substr(2, n));
    in.remove_prefix(2 + n);
    return true;
}

}  // namespace parley::archive::raw

// Storage of users' archiving preferences (journal_service.hpp Prefs): the
// database "archive.prefs" in the live state (data_dir/state), one record per
// account: key the bare JID, value
//   u8 default (0 always, 1 never, 2 roster) | u16 n | n × str16 always | u16 m | m × str16 never
// (str16: u16 length and bytes; big-endian). Free functions: any thread,
// within the transaction they are given.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "journal_service.hpp"
#include "store/env.hpp"

namespace parley::mod_archive {

inline constexpr const char* kPrefsDatabase = "prefs";
inline constexpr uint32_t kPrefsVersion = 1;
inline constexpr size_t kMaxPrefsJids = 1000;  // per list

std::string encode_prefs(const archive::Prefs& p);
Result<archive::Prefs> decode_prefs(std::string_view bytes);

// The stored preferences of owner, or nullopt.
Result<std::optional<archive::Prefs>> load_prefs(const store::Txn& txn, MDB_dbi db, std::string_view owner);
Status store_prefs(store::Txn& txn, MDB_dbi db, std::string_view owner, const archive::Prefs& p);

}  // namespace parley::mod_archive

// `parleyctl archive ...`: the compliance officer's commands over the journal
// of the compliance archive (archive/, modules/archive/README.md).
//
//   keygen FILE                    a new key file (mode 0600); prints its key id, never the key
//   verify [--user JID] [--json]   the integrity chain and the views (archive/chain/verify.hpp)
//   search (--user JID [--with JID] | --words TEXT) [--start TIME] [--end TIME] [--limit N] [--json]
//                                  one account's archive, or everyone's messages with every
//                                  word of TEXT (the word index), in id order
//   export ... / verify-export DIR  archive_export.hpp
//   rotate-key --new-key FILE      re-wraps the archive's keys under another key file
//   audit [--limit N] [--json]     the audit log's last events, and its check (exit 1 when changed)
//
// The commands read the configuration as parleyd does: data_dir, and the
// key file of [modules.archive] (key_file, relative to the configuration's
// directory). The journal is the database "archive.journal" of the LMDB
// environment data_dir/archive, which parleyctl opens next to a running
// parleyd (LMDB allows readers and writers in other processes): verify and
// search only read. rotate-key writes, and only while parleyd is stopped
// (it holds the unwrapped keys and its configuration names the old file).
// parleyctl never creates the archive: a command on a data directory
// without one says so.
//
// The helpers below are pure and exposed for the unit tests.
//
// Thread affinity: parleyctl's main thread (one command per process); the
// helpers are any thread.
#pragma once

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "errors/status.hpp"

namespace parley::ctl {

// Runs `parleyctl archive ARGS` (args without "archive"), writing what it
// says to out and err. Returns the exit status: 0 done; verify: 1 when it
// found something, 2 when it could not verify (bad usage, no archive, wrong
// key); the other commands: 1 on failure, 2 on bad usage.
int archive_command(const std::string& config_path, std::vector<std::string> args,
                    std::ostream& out, std::ostream& err);

// The usage lines of the archive commands, for parleyctl's usage().
extern const char* const kArchiveUsage;

namespace archive_cli {

// An ISO 8601 time in milliseconds since the Unix epoch: a date
// ("2026-12-03", midnight UTC) or a date and time with seconds, optional
// fraction (milliseconds count; more digits are cut) and a zone that is
// "Z" or an offset ("2026-12-03T10:00:00Z", "2026-12-03T11:00:00.250+01:00").
// nullopt when the text is not one, or is before 1970 or after 9999.
// XEP-0082's Date and DateTime profiles: xmpp/datetime.hpp.
std::optional<uint64_t> parse_time(std::string_view text);

// Milliseconds since the epoch as "2026-12-03T10:00:00.250Z" (UTC).
std::string format_time(uint64_t unix_ms);

// The text of a stored stanza's <body/> (jabber:client; the first one
// without xml:lang, else the first), nullopt when it has none. Code
// "corrupt" when the text is not one well-formed stanza.
Result<std::optional<std::string>> stanza_body(std::string_view stanza_xml);

// The archive library's messages name record ids in decimal; people and
// clients know them as stanza-ids. Every decimal number in text that can
// only be an id (2^40 or more: any id made after 1970-01-13) becomes its
// 16 hex digits; smaller numbers (counts) stay.
std::string ids_as_stanza_ids(std::string_view text);

// A search result row's text cell: control characters shown as \n, \t or
// \xNN, so that one message stays on one line.
std::string one_line(std::string_view text);

}  // namespace archive_cli

}  // namespace parley::ctl

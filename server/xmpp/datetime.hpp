// XEP-0082 dates and times as milliseconds since the Unix epoch (UTC), the
// one implementation behind MAM's start/end fields and stamps (modules/mam)
// and the times parleyctl reads and prints (tools/parleyctl).
//
// Profiles (XEP-0082 §3):
//   DateTime  CCYY-MM-DDThh:mm:ss[.sss](Z|(+|-)hh:mm)   the zone is required:
//             a time without one would be local time somewhere, ambiguous
//             for a server and an archive read from anywhere
//   Date      CCYY-MM-DD                                its midnight UTC
// Parsing is exact: four-digit years, two-digit fields, dates that exist
// (2023-02-29 does not), hours 00-23, minutes 00-59, seconds 00-59 or 60
// (a leap second, read as the last millisecond-precision moment of :59, as
// the epoch count has no place for it), offsets up to 23:59. A fraction has
// at least one digit; the first three count, more are cut (not rounded), so
// a value never moves past the instant written. 'T' and 'Z' are also taken
// in lower case (ISO 8601 allows it; some clients write it). Instants before
// 1970-01-01T00:00:00Z or after 9999-12-31T23:59:59.999Z (after the offset is
// applied) are refused: the first cannot be counted in an unsigned epoch, the
// second cannot be written back in four digits. nullopt for anything else.
//
// Formatting writes the DateTime profile in UTC with milliseconds
// ("2025-12-02T18:26:40.007Z"), or the Date profile; for every ms up to
// kMaxDateTimeMs, parse_datetime(format_datetime(ms)) == ms. No C library
// time zone or locale is involved (no timegm, no gmtime).
//
// Pure functions: any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace parley::xmpp {

// 9999-12-31T23:59:59.999Z, the last instant the profiles can write.
inline constexpr uint64_t kMaxDateTimeMs = 253'402'300'799'999;

// The DateTime profile.
std::optional<uint64_t> parse_datetime(std::string_view text);
// The Date profile: midnight UTC of that day.
std::optional<uint64_t> parse_date(std::string_view text);
// A DateTime, or else a Date (what a person types on a command line).
std::optional<uint64_t> parse_date_or_datetime(std::string_view text);

// "CCYY-MM-DDThh:mm:ss.sssZ". ms above kMaxDateTimeMs is written with more
// than four year digits, which no parse_* reads back.
std::string format_datetime(uint64_t ms);
// "CCYY-MM-DD", the UTC day of ms.
std::string format_date(uint64_t ms);

}  // namespace parley::xmpp

#include "xmpp/datetime.hpp"

#include <fmt/format.h>

namespace parley::xmpp {

namespace {

constexpr int64_t kMsPerDay = 86'400'000;

// Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's
// days_from_civil and civil_from_days): exact for every year here, and free
// of the C library's time zone handling.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const auto yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
    int64_t year;
    unsigned month, day;
};

Civil civil_from_days(int64_t z) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const auto doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    return {static_cast<int64_t>(yoe) + era * 400 + (m <= 2), m, d};
}

bool leap(unsigned y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(unsigned y, unsigned m) {
    static const unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly n digits at pos.
bool digits(std::string_view t, size_t& pos, size_t n, unsigned& out) {
    if (pos + n > t.size()) return false;
    out = 0;
    for (size_t i = 0; i < n; ++i) {
        const char c = t[pos + i];
        if (c < '0' || c > '9') return false;
        out = out * 10 + static_cast<unsigned>(c - '0');
    }
    pos += n;
    return true;
}

bool expect(std::string_view t, size_t& pos, char c) {
    if (pos >= t.size() || t[pos] != c) return false;
    ++pos;
    return true;
}

bool expect_either(std::string_view t, size_t& pos, char upper, char lower) {
    return expect(t, pos, upper) || expect(t, pos, lower);
}

// CCYY-MM-DD at pos: the day's number since 1970-01-01 (may be negative).
std::optional<int64_t> read_date(std::string_view t, size_t& pos) {
    unsigned year = 0, month = 0, day = 0;
    if (!digits(t, pos, 4, year) || !expect(t, pos, '-') || !digits(t, pos, 2, month) || !expect(t, pos, '-') ||
        !digits(t, pos, 2, day))
        return std::nullopt;
    if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)) return std::nullopt;
    return days_from_civil(year, month, day);
}

// Milliseconds since the epoch, if representable by the profiles.
std::optional<uint64_t> in_range(int64_t ms) {
    if (ms < 0 || static_cast<uint64_t>(ms) > kMaxDateTimeMs) return std::nullopt;
    return static_cast<uint64_t>(ms);
}

}  // namespace

std::optional<uint64_t> parse_date(std::string_view t) {
    size_t pos = 0;
    auto days = read_date(t, pos);
    if (!days || pos != t.size()) return std::nullopt;
    return in_range(*days * kMsPerDay);
}

std::optional<uint64_t> parse_datetime(std::string_view t) {
    size_t pos = 0;
    auto days = read_date(t, pos);
    if (!days) return std::nullopt;
    unsigned hour = 0, minute = 0, second = 0, ms = 0;
    if (!expect_either(t, pos, 'T', 't') || !digits(t, pos, 2, hour) || !expect(t, pos, ':') ||
        !digits(t, pos, 2, minute) || !expect(t, pos, ':') || !digits(t, pos, 2, second))
        return std::nullopt;
    if (hour > 23 || minute > 59 || second > 60) return std::nullopt;
    if (pos < t.size() && t[pos] == '.') {
        ++pos;
        size_t n = 0;
        for (; pos < t.size() && t[pos] >= '0' && t[pos] <= '9'; ++pos, ++n)
            if (n < 3) ms = ms * 10 + static_cast<unsigned>(t[pos] - '0');
        if (n == 0) return std::nullopt;
        for (; n < 3; ++n) ms *= 10;
    }
    if (second == 60) {
        // A leap second: the last instant of :59 that milliseconds can say.
        second = 59;
        ms = 999;
    }
    int64_t offset_min = 0;
    if (expect_either(t, pos, 'Z', 'z')) {
    } else if (pos < t.size() && (t[pos] == '+' || t[pos] == '-')) {
        const int sign = t[pos] == '-' ? -1 : 1;
        ++pos;
        unsigned oh = 0, om = 0;
        if (!digits(t, pos, 2, oh) || !expect(t, pos, ':') || !digits(t, pos, 2, om) || oh > 23 || om > 59)
            return std::nullopt;
        offset_min = sign * static_cast<int64_t>(oh * 60 + om);
    } else {
        return std::nullopt;  // no zone: local time somewhere (see the header)
    }
    if (pos != t.size()) return std::nullopt;
    const int64_t seconds = *days * 86400 + hour * 3600 + minute * 60 + second - offset_min * 60;
    return in_range(seconds * 1000 + ms);
}

std::optional<uint64_t> parse_date_or_datetime(std::string_view t) {
    // A Date is exactly ten characters; anything longer must be a DateTime.
    return t.size() == 10 ? parse_date(t) : parse_datetime(t);
}

std::string format_datetime(uint64_t ms) {
    const auto days = static_cast<int64_t>(ms / kMsPerDay);
    const uint64_t in_day = ms % kMsPerDay;
    const Civil c = civil_from_days(days);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", c.year, c.month, c.day, in_day / 3'600'000,
                       in_day / 60'000 % 60, in_day / 1000 % 60, in_day % 1000);
}

std::string format_date(uint64_t ms) {
    const Civil c = civil_from_days(static_cast<int64_t>(ms / kMsPerDay));
    return fmt::format("{:04}-{:02}-{:02}", c.year, c.month, c.day);
}

}  // namespace parley::xmpp

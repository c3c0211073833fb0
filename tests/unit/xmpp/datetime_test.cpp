#define BOOST_TEST_DYN_LINK
#include "xmpp/datetime.hpp"

#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

using namespace parley::xmpp;

namespace {

constexpr uint64_t kT0 = 1'764'700'000'000;  // 2025-12-02T18:26:40Z
constexpr uint64_t kDay = 86'400'000;

}  // namespace

BOOST_AUTO_TEST_SUITE(xmpp_datetime)

BOOST_AUTO_TEST_CASE(datetime_profile_reads_zones_and_fractions) {
    BOOST_TEST(parse_datetime("1970-01-01T00:00:00Z").value() == 0u);
    BOOST_TEST(parse_datetime("2025-12-02T18:26:40Z").value() == kT0, "datetime: plain UTC");
    BOOST_TEST(parse_datetime("2025-12-02T18:26:40.5Z").value() == kT0 + 500, "datetime: one fraction digit");
    BOOST_TEST(parse_datetime("2025-12-02T18:26:40.25Z").value() == kT0 + 250);
    BOOST_TEST(parse_datetime("2025-12-02T18:26:40.007Z").value() == kT0 + 7);
    BOOST_TEST(parse_datetime("2025-12-02T18:26:40.123999Z").value() == kT0 + 123, "datetime: past ms is cut");
    BOOST_TEST(parse_datetime("2025-12-02T19:26:40+01:00").value() == kT0, "datetime: an offset east");
    BOOST_TEST(parse_datetime("2025-12-02T17:26:40.123-01:00").value() == kT0 + 123, "datetime: west");
    BOOST_TEST(parse_datetime("2025-12-02T17:56:40-00:30").value() == kT0);
    BOOST_TEST(parse_datetime("2025-12-03T04:11:40+09:45").value() == kT0, "datetime: across midnight");
    BOOST_TEST(parse_datetime("2025-12-02t18:26:40z").value() == kT0, "datetime: lower-case t and z");
    BOOST_TEST(parse_datetime("2024-02-29T00:00:00Z").has_value(), "datetime: a leap day");
    BOOST_TEST(parse_datetime("2000-02-29T00:00:00Z").has_value(), "datetime: 2000 is a leap year");
    BOOST_TEST(parse_datetime("2016-12-31T23:59:60Z").value() == parse_datetime("2016-12-31T23:59:59.999Z").value(),
               "datetime: a leap second is the last ms of :59");
    BOOST_TEST(parse_datetime("9999-12-31T23:59:59.999Z").value() == kMaxDateTimeMs);
    BOOST_TEST(parse_datetime("1970-01-01T01:00:00+01:00").value() == 0u, "datetime: the epoch with an offset");
}

BOOST_AUTO_TEST_CASE(datetime_profile_refuses_what_is_not_one) {
    for (const char* bad :
         {"", "2025-12-02", "2025-12-02T18:26:40", "2025-12-02T18:26", "2025-12-02T18:26:40+0100",
          "2025-12-02T18:26:40+01", "2025-12-02T18:26:40.Z", "2025-12-02T18:26:40Zjunk", "2025-12-02T18:26:40Z ",
          " 2025-12-02T18:26:40Z", "2025-12-02 18:26:40Z", "2025-13-02T00:00:00Z", "2025-00-02T00:00:00Z",
          "2025-02-30T00:00:00Z", "2023-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2025-04-31T00:00:00Z",
          "2025-12-00T00:00:00Z", "2025-12-32T00:00:00Z", "2025-12-02T24:00:00Z", "2025-12-02T18:60:00Z",
          "2025-12-02T18:26:61Z", "2025-12-02T18:26:40+24:00", "2025-12-02T18:26:40+01:60",
          "2025-12-02T18:26:40.5+01:00x", "25-12-02T18:26:40Z", "2025-1-02T18:26:40Z", "+2025-12-02T18:26:40Z",
          "2025-12-02T1:26:40Z", "yesterday", "2025-12-02T18:26:4aZ", "2025-12-02T18:26:40,5Z"})
        BOOST_TEST(!parse_datetime(bad).has_value(), "datetime: must refuse '" << bad << "'");
}

BOOST_AUTO_TEST_CASE(datetime_refuses_instants_before_1970_and_after_9999) {
    BOOST_TEST(!parse_datetime("1969-12-31T23:59:59.999Z").has_value());
    BOOST_TEST(!parse_datetime("1970-01-01T00:30:00+01:00").has_value(), "datetime: before 1970 once in UTC");
    BOOST_TEST(!parse_datetime("0000-01-01T00:00:00Z").has_value());
    BOOST_TEST(!parse_datetime("9999-12-31T23:59:59-01:00").has_value(), "datetime: in year 10000 once in UTC");
    BOOST_TEST(parse_datetime("9999-12-31T23:59:59+01:00").has_value());
    BOOST_TEST(!parse_date("1969-12-31").has_value());
    BOOST_TEST(parse_date("9999-12-31").value() == kMaxDateTimeMs + 1 - kDay);
}

BOOST_AUTO_TEST_CASE(date_profile_is_midnight_utc) {
    BOOST_TEST(parse_date("1970-01-01").value() == 0u);
    BOOST_TEST(parse_date("2025-12-02").value() == kT0 - (18 * 3600 + 26 * 60 + 40) * 1000u);
    BOOST_TEST(parse_date("2024-02-29").has_value());
    for (const char* bad : {"", "2023-02-29", "2025-13-01", "2025-12-32", "2025-12-02Z", "2025-12-02T00:00:00Z",
                            "25-12-02", "2025-1-02", "2025/12/02"})
        BOOST_TEST(!parse_date(bad).has_value(), "date: must refuse '" << bad << "'");
    BOOST_TEST(parse_date_or_datetime("2025-12-02").value() == parse_date("2025-12-02").value());
    BOOST_TEST(parse_date_or_datetime("2025-12-02T18:26:40Z").value() == kT0);
    BOOST_TEST(!parse_date_or_datetime("2025-12-02T18:26:40").has_value());
}

BOOST_AUTO_TEST_CASE(formats_utc_with_milliseconds) {
    BOOST_TEST(format_datetime(0) == "1970-01-01T00:00:00.000Z");
    BOOST_TEST(format_datetime(kT0 + 7) == "2025-12-02T18:26:40.007Z");
    BOOST_TEST(format_datetime(951'782'400'000) == "2000-02-29T00:00:00.000Z");
    BOOST_TEST(format_datetime(kMaxDateTimeMs) == "9999-12-31T23:59:59.999Z");
    BOOST_TEST(format_date(kT0) == "2025-12-02");
    BOOST_TEST(format_date(kT0 - kT0 % kDay - 1) == "2025-12-01", "date: the last ms of the day before");
}

// Every instant in range survives format then parse, and format agrees with
// the date and time fields it parses from (against an independent path:
// the Date profile plus the time of day).
BOOST_AUTO_TEST_CASE(round_trip_over_many_instants) {
    std::mt19937_64 rng(20251202);
    std::uniform_int_distribution<uint64_t> any(0, kMaxDateTimeMs);
    std::vector<uint64_t> values = {0, 1, 999, 1000, kDay - 1, kDay, kT0, kMaxDateTimeMs, kMaxDateTimeMs - 1,
                                    951'782'400'000 - 1, 951'782'400'000, 4'107'542'400'000 /* 2100-03-01 */};
    for (int i = 0; i < 20000; ++i) values.push_back(any(rng));
    // Around every month boundary of a few years, including leap and
    // century years.
    for (const char* day : {"1972-02-29", "1999-12-31", "2000-02-29", "2000-03-01", "2100-02-28", "2100-03-01",
                            "2400-02-29", "9999-12-31"}) {
        uint64_t d = parse_date(day).value();
        values.push_back(d);
        if (d + kDay - 1 <= kMaxDateTimeMs) values.push_back(d + kDay - 1);
        if (d > 0) values.push_back(d - 1);
    }
    size_t failures = 0;
    for (uint64_t ms : values) {
        const std::string text = format_datetime(ms);
        auto back = parse_datetime(text);
        auto day = parse_date(format_date(ms));
        const bool ok = text.size() == 24 && back && *back == ms && day && *day == ms - ms % kDay &&
                        text.compare(0, 10, format_date(ms)) == 0;
        if (!ok && ++failures <= 5) BOOST_ERROR("datetime: " << ms << " -> '" << text << "' does not round-trip");
    }
    BOOST_TEST(failures == 0u);
    BOOST_TEST(values.size() > 20000u);
}

// The same instant written with any offset parses to the same value.
BOOST_AUTO_TEST_CASE(offsets_name_the_same_instant) {
    const std::string base = "2025-12-02T18:26:40.250";
    const uint64_t utc = parse_datetime(base + "Z").value();
    for (int minutes : {-23 * 60 - 59, -12 * 60, -30, 0, 45, 5 * 60 + 30, 14 * 60, 23 * 60 + 59}) {
        // Local time = UTC + offset.
        const uint64_t local = utc + static_cast<int64_t>(minutes) * 60'000;
        std::string text = format_datetime(local);
        text.pop_back();  // 'Z'
        const int m = minutes < 0 ? -minutes : minutes;
        char zone[16];
        std::snprintf(zone, sizeof zone, "%c%02d:%02d", minutes < 0 ? '-' : '+', m / 60, m % 60);
        BOOST_TEST(parse_datetime(text + zone).value() == utc, "datetime: " << text << zone);
    }
}

BOOST_AUTO_TEST_SUITE_END()

// YYYY-MM-DD dates (policy windows, incorporation dates) as civil days.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"

namespace exportwatch {

// Parses `s` exactly as absl::ParseCivilTime(s, day) would, for a
// 10-character YYYY-MM-DD. A real calendar date (every valid input) is read
// digit by digit: the general parser behind ParseCivilTime cost a few
// percent of a stage's CPU when called per event. Anything else gets
// ParseCivilTime's own verdict.
inline bool ParseIsoDay(absl::string_view s, absl::CivilDay* day) {
  if (s.size() != 10) return false;
  auto digits = [&](size_t from, size_t n) {
    int v = 0;
    for (size_t i = from; i < from + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return -1;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  const int y = digits(0, 4), m = digits(5, 2), d = digits(8, 2);
  if (y >= 0 && m >= 1 && m <= 12 && d >= 1 && s[4] == '-' && s[7] == '-') {
    static constexpr int kDays[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    const bool leap = y % 400 == 0 || (y % 4 == 0 && y % 100 != 0);
    if (d <= kDays[m] + (m == 2 && leap ? 1 : 0)) {
      *day = absl::CivilDay(y, m, d);
      return true;
    }
  }
  return absl::ParseCivilTime(s, day);
}

// Whole days since 1970-01-01 at `unix_seconds` (floored: -1 is day -1).
inline int64_t UnixDayOf(int64_t unix_seconds) {
  constexpr int64_t kSecondsPerDay = 86400;
  int64_t days = unix_seconds / kSecondsPerDay;
  if (unix_seconds % kSecondsPerDay < 0) --days;  // floor, not truncation
  return days;
}

// The UTC day of `unix_seconds`: absl::ToCivilDay(absl::FromUnixSeconds(t),
// absl::UTCTimeZone()) by arithmetic (the days-to-civil algorithm of
// Howard Hinnant's date library) instead of a time-zone lookup, which cost
// ~400 instructions per event in NEW_ENTITY_VELOCITY. Exact for any year
// an int64 of seconds reaches.
inline absl::CivilDay UtcDayOf(int64_t unix_seconds) {
  // Days since 0000-03-01 in 400-year eras of 146,097 days: March first, so
  // that a leap day ends its year.
  const int64_t z = UnixDayOf(unix_seconds) + 719'468;
  const int64_t era = (z >= 0 ? z : z - 146'096) / 146'097;
  const int64_t day_of_era = z - era * 146'097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1'460 + day_of_era / 36'524 - day_of_era / 146'096) / 365;
  const int64_t day_of_year =
      day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t month_from_march = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * month_from_march + 2) / 5 + 1);
  const int month =
      static_cast<int>(month_from_march < 10 ? month_from_march + 3 : month_from_march - 9);
  return absl::CivilDay(year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day);
}

}  // namespace exportwatch

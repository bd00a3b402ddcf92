// YYYY-MM-DD dates (policy windows, incorporation dates) as civil days.
#pragma once

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

}  // namespace exportwatch

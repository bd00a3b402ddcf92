// ParseIsoDay must agree with absl::ParseCivilTime on every input, and
// UtcDayOf with absl::ToCivilDay in UTC on every time.
#include "common/iso_date.h"

#include <string>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace exportwatch {
namespace {

void ExpectSameAsAbsl(const std::string& s) {
  absl::CivilDay ours(1, 1, 1), theirs(1, 1, 1);
  const bool ok = ParseIsoDay(s, &ours);
  const bool absl_ok = s.size() == 10 && absl::ParseCivilTime(s, &theirs);
  ASSERT_EQ(ok, absl_ok) << "'" << s << "'";
  if (ok) {
    EXPECT_EQ(ours, theirs) << "'" << s << "'";
  }
}

TEST(IsoDateTest, EveryDayOfFourCenturiesAgreesWithAbsl) {
  // 1899..2101 with every month and day 0..32: real dates, and the
  // impossible ones around them (Feb 29 of 1900 and 2100, Feb 30, Apr 31).
  int real = 0;
  for (int y = 1899; y <= 2101; ++y) {
    for (int m = 0; m <= 13; ++m) {
      for (int d = 0; d <= 32; ++d) {
        std::string s = absl::StrFormat("%04d-%02d-%02d", y, m, d);
        ExpectSameAsAbsl(s);
        absl::CivilDay day;
        if (ParseIsoDay(s, &day)) ++real;
      }
    }
  }
  EXPECT_EQ(real, 74'144);  // days from 1899-01-01 to 2101-12-31
}

TEST(IsoDateTest, MalformedTextAgreesWithAbsl) {
  for (const std::string s :
       {"", "2024-01-0", "2024-1-01", "2024/01/01", "20240101xx", "2024-01-01 ", " 2024-01-01",
        "+024-01-01", "-024-01-01", "2024-+1-01", "2024-01-+1", "abcd-01-01", "2024-0a-01",
        "0000-01-01", "9999-12-31", "2024-02-29", "2023-02-29", "2024-00-10", "2024-13-10"}) {
    ExpectSameAsAbsl(s);
  }
}

TEST(IsoDateTest, ReadsTheDate) {
  absl::CivilDay day;
  ASSERT_TRUE(ParseIsoDay("2024-02-29", &day));
  EXPECT_EQ(day, absl::CivilDay(2024, 2, 29));
  EXPECT_FALSE(ParseIsoDay("2023-02-29", &day));
  EXPECT_FALSE(ParseIsoDay("2023-02-2", &day));
}

absl::CivilDay AbslUtcDay(int64_t unix_seconds) {
  return absl::ToCivilDay(absl::FromUnixSeconds(unix_seconds), absl::UTCTimeZone());
}

TEST(IsoDateTest, UtcDayOfAgreesWithAbsl) {
  // Every day from 1800 to 2200 at its first and last second and at noon,
  // so every month end, leap day and century rule is crossed.
  const int64_t from =
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(1800, 1, 1), absl::UTCTimeZone()));
  const int64_t until =
      absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(2200, 1, 1), absl::UTCTimeZone()));
  int days = 0;
  for (int64_t t = from; t < until; t += 86400, ++days) {
    for (int64_t s : {t, t + 43'200, t + 86'399}) {
      ASSERT_EQ(UtcDayOf(s), AbslUtcDay(s)) << s;
    }
  }
  EXPECT_EQ(days, 146'097);  // four centuries
  // Random times over what events may carry (1970 to 9999) and far beyond.
  absl::BitGen gen;
  for (int i = 0; i < 200'000; ++i) {
    const int64_t s = absl::Uniform<int64_t>(gen, -400'000'000'000, 400'000'000'000);
    ASSERT_EQ(UtcDayOf(s), AbslUtcDay(s)) << s;
  }
  EXPECT_EQ(UnixDayOf(-86'401), -2);
  EXPECT_EQ(UnixDayOf(-1), -1);
  EXPECT_EQ(UnixDayOf(0), 0);
  EXPECT_EQ(UnixDayOf(86'399), 0);
  EXPECT_EQ(UnixDayOf(86'400), 1);
  EXPECT_EQ(UtcDayOf(0), absl::CivilDay(1970, 1, 1));
  EXPECT_EQ(UtcDayOf(-1), absl::CivilDay(1969, 12, 31));
  EXPECT_EQ(UtcDayOf(253'402'300'799), absl::CivilDay(9999, 12, 31));
}

}  // namespace
}  // namespace exportwatch

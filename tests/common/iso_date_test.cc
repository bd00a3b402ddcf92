// ParseIsoDay must agree with absl::ParseCivilTime on every input.
#include "common/iso_date.h"

#include <string>
#include <vector>

#include "absl/strings/str_format.h"
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

}  // namespace
}  // namespace exportwatch

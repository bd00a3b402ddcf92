// Country-group membership (Policy::InGroup): by group and country, within
// each membership's validity days (valid_until exclusive); a country in
// two groups, or twice in one, is answered for each; a '/' in a group's
// name cannot make another group's lookup match.
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "processor/policy/policy.h"

namespace exportwatch {
namespace {

int64_t Day(int y, int m, int d) {
  return absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()));
}

std::shared_ptr<const Policy> WithGroups() {
  v1::Policy p = (*Policy::FromProfile("current"))->proto();
  auto* g = p.add_country_groups();
  g->set_name("TEST_GROUP");
  auto* m = g->add_members();
  m->set_country("NL");
  m->set_valid_from("2024-01-01");
  m->set_valid_until("2024-07-01");
  m = g->add_members();  // back in from 2025
  m->set_country("NL");
  m->set_valid_from("2025-01-01");
  g->add_members()->set_country("BE");  // always
  auto* other = p.add_country_groups();
  other->set_name("OTHER_GROUP");
  other->add_members()->set_country("NL");
  auto* slashed = p.add_country_groups();  // a '/' in a name is allowed
  slashed->set_name("A/B");
  slashed->add_members()->set_country("NL");
  auto policy = Policy::Create(std::move(p));
  EXPECT_TRUE(policy.ok()) << policy.status();
  return *policy;
}

TEST(PolicyGroupsTest, MembershipByGroupCountryAndDay) {
  auto p = WithGroups();
  EXPECT_FALSE(p->InGroup("TEST_GROUP", "NL", Day(2023, 12, 31)));
  EXPECT_TRUE(p->InGroup("TEST_GROUP", "NL", Day(2024, 1, 1)));
  EXPECT_TRUE(p->InGroup("TEST_GROUP", "NL", Day(2024, 6, 30) + 86399));
  EXPECT_FALSE(p->InGroup("TEST_GROUP", "NL", Day(2024, 7, 1))) << "valid_until is exclusive";
  EXPECT_TRUE(p->InGroup("TEST_GROUP", "NL", Day(2030, 1, 1)));
  EXPECT_TRUE(p->InGroup("TEST_GROUP", "BE", Day(1990, 1, 1)));
  EXPECT_FALSE(p->InGroup("TEST_GROUP", "DE", Day(2025, 1, 1))) << "not a member";
  EXPECT_TRUE(p->InGroup("OTHER_GROUP", "NL", Day(2024, 9, 1))) << "its own intervals";
  EXPECT_FALSE(p->InGroup("OTHER_GROUP", "BE", Day(2024, 9, 1)));
  EXPECT_FALSE(p->InGroup("NO_SUCH_GROUP", "NL", Day(2025, 1, 1)));
  EXPECT_TRUE(p->InGroup("A/B", "NL", Day(2025, 1, 1)));
  // A "GROUP/CC" key could not tell this apart from A/B's member NL.
  EXPECT_FALSE(p->InGroup("A", "B/NL", Day(2025, 1, 1)));
}

}  // namespace
}  // namespace exportwatch

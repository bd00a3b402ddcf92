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

// IsRestricted and IsTier1 ask the groups found once at load time: they
// answer what InGroup answers, for members, non-members and "".
TEST(PolicyGroupsTest, RestrictedAndTier1AreTheirGroups) {
  auto p = WithGroups();
  int members = 0;
  for (const char* cc : {"CN", "MO", "IR", "NL", "US", "JP", "SG", "MY", "", "ZZ"}) {
    for (int64_t t : {Day(2020, 1, 1), Day(2025, 3, 1), Day(2030, 1, 1)}) {
      EXPECT_EQ(p->IsRestricted(cc, t), p->InGroup("D5_MACAU", cc, t)) << cc;
      EXPECT_EQ(p->IsTier1(cc, t), p->InGroup("TIER1", cc, t)) << cc;
      members += p->IsRestricted(cc, t) + p->IsTier1(cc, t);
    }
  }
  EXPECT_GT(members, 0) << "the profile's groups were not reached";
  EXPECT_TRUE(p->IsRestricted("CN", Day(2025, 3, 1)));
  EXPECT_FALSE(p->IsRestricted("", Day(2025, 3, 1)));
}

// A policy with no rules need not declare the groups: nothing is in them.
TEST(PolicyGroupsTest, NoGroupsNoMembers) {
  v1::Policy proto = (*Policy::FromProfile("current"))->proto();
  proto.clear_enabled_rules();
  proto.clear_quotas();
  proto.clear_country_groups();
  auto p = Policy::Create(std::move(proto));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_FALSE((*p)->IsRestricted("CN", Day(2025, 3, 1)));
  EXPECT_FALSE((*p)->IsTier1("US", Day(2025, 3, 1)));
}

}  // namespace
}  // namespace exportwatch

// QuotaView: the QueryService's view of the processors' quota windows.
#include "gtest/gtest.h"
#include "processor/alertd/query_service.h"

namespace exportwatch {
namespace {

v1::QuotaUsage Usage(double used, double limit, int64_t window_start) {
  v1::QuotaUsage u;
  u.set_rule_id("COUNTRY_QUOTA");
  u.set_quota_id("COUNTRY_QUOTA");
  u.mutable_subject()->set_id("AE");
  u.set_used(used);
  u.set_limit(limit);
  u.mutable_window_start()->set_seconds(window_start);
  u.mutable_window_end()->set_seconds(window_start + 100);
  return u;
}

// Within one window `used` only grows: a smaller one arriving later is a
// former shard owner's batch (a zombie) and must not replace the newer.
TEST(QuotaViewTest, ASmallerUsageOfTheSameWindowIsStaleAndIgnored) {
  QuotaView view;
  view.Put(Usage(5, 10, 1000));
  view.Put(Usage(3, 10, 1000));
  auto got = view.Get("COUNTRY_QUOTA", "AE", std::nullopt);
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->used(), 5);
  EXPECT_EQ(view.stale_ignored(), 1u);

  // An equal one replaces it (a policy reload can change the limit alone).
  view.Put(Usage(5, 20, 1000));
  EXPECT_EQ(view.Get("COUNTRY_QUOTA", "AE", std::nullopt)->limit(), 20);
  // A later window starts from nothing.
  view.Put(Usage(1, 20, 1100));
  EXPECT_EQ(view.Get("COUNTRY_QUOTA", "AE", std::nullopt)->used(), 1);
  EXPECT_EQ(view.Get("COUNTRY_QUOTA", "AE", 1050)->used(), 5);
  EXPECT_EQ(view.stale_ignored(), 1u);
  EXPECT_EQ(view.size(), 2u);
}

}  // namespace
}  // namespace exportwatch

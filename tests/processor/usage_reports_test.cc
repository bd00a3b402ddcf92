// UsageReports: the newest quota usage per window of a stateful batch.
#include <string>

#include "gtest/gtest.h"
#include "processor/detection_engine.h"
#include "processor/pipeline.h"

namespace exportwatch {
namespace {

// The state a report is made from (UsageSlot's `source`): one here, another
// in SourcedSlots.
const int kState = 0;

TEST(UsageReportsTest, KeepsTheNewestPerWindowInFirstReportOrder) {
  UsageReports reports;
  bool fresh = false;
  v1::QuotaUsage* vn = reports.Slot("COUNTRY_QUOTA", "VN", 1700000000, &kState, &fresh);
  EXPECT_TRUE(fresh);
  vn->set_used(1);
  vn->add_event_ids("e1");
  reports.Slot("COUNTRY_QUOTA", "SG", 1700000000, &kState, &fresh)->set_used(5);
  EXPECT_TRUE(fresh);
  // The same window again: the same message, as its last report left it,
  // for the rule to bring up to date.
  v1::QuotaUsage* again = reports.Slot("COUNTRY_QUOTA", "VN", 1700000000, &kState, &fresh);
  EXPECT_FALSE(fresh);
  EXPECT_EQ(again, vn);
  EXPECT_EQ(again->used(), 1);
  ASSERT_EQ(again->event_ids_size(), 1);
  EXPECT_EQ(again->event_ids(0), "e1");
  again->set_used(2);
  // Another window of the same quota and subject is another report.
  reports.Slot("COUNTRY_QUOTA", "VN", 0, &kState, &fresh)->set_used(7);
  EXPECT_TRUE(fresh);

  ASSERT_EQ(reports.size(), 3u);
  EXPECT_EQ(reports.key(0), "COUNTRY_QUOTA|VN|1700000000");
  EXPECT_EQ(reports.usage(0).used(), 2);
  EXPECT_EQ(reports.key(1), "COUNTRY_QUOTA|SG|1700000000");
  EXPECT_EQ(reports.usage(1).used(), 5);
  EXPECT_EQ(reports.key(2), "COUNTRY_QUOTA|VN|0");
  EXPECT_EQ(reports.usage(2).used(), 7);
  // The key is the quota-usage topic's key of the filled report (pipeline's
  // QuotaUsageKey), with and without window bounds.
  v1::QuotaUsage bounded;
  bounded.set_quota_id("COUNTRY_QUOTA");
  bounded.mutable_subject()->set_id("VN");
  bounded.mutable_window_start()->set_seconds(1700000000);
  EXPECT_EQ(reports.key(0), QuotaUsageKey(bounded));
  v1::QuotaUsage lifetime = bounded;
  lifetime.clear_window_start();
  EXPECT_EQ(reports.key(2), QuotaUsageKey(lifetime));

  reports.Clear();
  EXPECT_EQ(reports.size(), 0u);
  // A new batch: every window is fresh again, in a cleared message (the
  // slots' messages are reused, so SG's may be VN's old one).
  v1::QuotaUsage* next = reports.Slot("COUNTRY_QUOTA", "SG", 1700000000, &kState, &fresh);
  EXPECT_TRUE(fresh);
  EXPECT_EQ(next->used(), 0) << "a new batch starts from a cleared message";
  EXPECT_EQ(next->event_ids_size(), 0);
  v1::QuotaUsage* vn_again = reports.Slot("COUNTRY_QUOTA", "VN", 1700000000, &kState, &fresh);
  EXPECT_TRUE(fresh) << "a window reported in the last batch is fresh in this one";
  EXPECT_EQ(vn_again->used(), 0);
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports.key(0), "COUNTRY_QUOTA|SG|1700000000");
  EXPECT_EQ(reports.key(1), "COUNTRY_QUOTA|VN|1700000000");
}

// A slot last filled from another state is filled whole again: the same
// window's key in two shards (while the facts topic's partition count
// changes) must not update one shard's report with the other's shipment.
TEST(UsageReportsTest, AnotherSourceGetsAFreshSlot) {
  UsageReports reports;
  const int shard_a = 0, shard_b = 0;
  bool fresh = false;
  v1::QuotaUsage* a = reports.Slot("COUNTRY_QUOTA", "VN", 1700000000, &shard_a, &fresh);
  ASSERT_TRUE(fresh);
  a->add_event_ids("e1");
  v1::QuotaUsage* b = reports.Slot("COUNTRY_QUOTA", "VN", 1700000000, &shard_b, &fresh);
  EXPECT_TRUE(fresh);
  EXPECT_EQ(b, a) << "still one report per window";
  EXPECT_EQ(b->event_ids_size(), 0) << "cleared for the other state's report";
  b->add_event_ids("e2");
  reports.Slot("COUNTRY_QUOTA", "VN", 1700000000, &shard_b, &fresh);
  EXPECT_FALSE(fresh) << "the same state again: updated in place";
  EXPECT_EQ(reports.size(), 1u);
}

}  // namespace
}  // namespace exportwatch

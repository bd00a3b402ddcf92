// Issue 4, long versions (label slow): >= 200,000 events, >= 20 kills. The
// mock broker keeps ~5 MB per partition, so the topics get more partitions:
// every changelog partition must keep its whole history for a restore from
// an empty disk.
#include "tests/integration/scale_out_scenarios.h"

namespace exportwatch::testing {
namespace {

Size Long() {
  Size s;
  s.events = 200000;
  // ~2,500 events/s: the processors (on a shared 2-core machine) must keep
  // up, or a partition falls more than the mock's ~5 MB behind and the
  // records in between are gone (librdkafka then resets to the log start).
  s.chunk = 1000;
  s.pause = std::chrono::milliseconds(400);
  s.kills = 20;
  s.drain = std::chrono::seconds(900);
  s.cluster.facts_partitions = 32;
  s.cluster.trade_partitions = 65;
  s.cluster.cloud_partitions = 32;
  return s;
}

TEST(ScaleOutSlowTest, KillLoopExactlyOnce) { KillLoop(Long(), 201); }

TEST(ScaleOutSlowTest, ScaleOneThreeTwoExactlyOnce) { ScaleOneThreeTwo(Long(), 202); }

TEST(ScaleOutSlowTest, BrokerFaultsRecoverExactlyOnce) {
  Size s;
  s.events = 20000;
  s.chunk = 500;
  s.drain = std::chrono::seconds(600);
  BrokerFaults(s, 203, /*all=*/true);
}

TEST(ScaleOutSlowTest, LostDiskRestoresFromChangelog) { LostDisk(Long(), 204); }

}  // namespace
}  // namespace exportwatch::testing

// Issue 4 in CI: the multi-instance exactly-once scenarios at a size that
// runs in under a minute each (scale_out_slow_test.cc: the long versions).
#include "tests/integration/scale_out_scenarios.h"

namespace exportwatch::testing {
namespace {

TEST(ScaleOutTest, KillLoopExactlyOnce) { KillLoop(Size{}, 101); }

TEST(ScaleOutTest, ScaleOneThreeTwoExactlyOnce) { ScaleOneThreeTwo(Size{}, 102); }

TEST(ScaleOutTest, BrokerFaultsRecoverExactlyOnce) { BrokerFaults(Size{}, 103, /*all=*/false); }

TEST(ScaleOutTest, LostDiskRestoresFromChangelog) { LostDisk(Size{}, 104); }

}  // namespace
}  // namespace exportwatch::testing

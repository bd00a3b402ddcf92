// Acceptance 3 of the foundation: the processor, a separate process, is
// killed with SIGKILL mid-stream and restarted, several times; the alerts
// and the CONSIGNEE_LPP_QUOTA usage at the end equal those of an
// uninterrupted run (computed by the same engine in-process).
#include <random>
#include <thread>

#include "exportwatch/v1/internal.pb.h"
#include "state/rocksdb_state_store.h"
#include "tests/integration/cluster.h"
#include "tests/integration/verifier.h"

namespace exportwatch::testing {
namespace {

std::map<std::string, double> QuotaUsage(StateStore* store) {
  std::map<std::string, double> out;
  EXPECT_TRUE(store
                  ->Scan("p/", "",
                         [&](absl::string_view k, absl::string_view v) {
                           auto pos = k.find("/s/CONSIGNEE_LPP_QUOTA/");
                           if (pos == absl::string_view::npos) return true;
                           v1::QuotaState q;
                           q.ParseFromArray(v.data(), static_cast<int>(v.size()));
                           out[std::string(k.substr(pos))] = q.used();
                           return true;
                         })
                  .ok());
  return out;
}

TEST(CrashRecoveryTest, KillNineMidStreamChangesNothing) {
  Cluster cluster("aidr-2025");
  Expected expected("aidr-2025");
  // LPP shipments to 12 consignees among generated traffic: each crosses
  // 80% and 100% in the run.
  const std::vector<v1::Event> events = Workload(6000, 11);
  for (const auto& e : events) expected.Add(e);

  auto processor = cluster.StartProcessor("p");
  std::atomic<bool> produced_all{false};
  std::thread producer([&] {
    for (size_t i = 0; i < events.size(); ++i) {
      cluster.ProduceJson(TopicOf(events[i]), RecordKeyFor(events[i]), EventJson(events[i]));
      if (i % 70 == 0) {
        // A producer retry: the same event delivered twice must count once.
        cluster.ProduceJson(TopicOf(events[i]), RecordKeyFor(events[i]), EventJson(events[i]));
      }
      if (i % 200 == 199) {  // paced over ~6 s, so the kills land mid-stream
        cluster.Flush();
        std::this_thread::sleep_for(200ms);
      }
    }
    cluster.Flush();
    produced_all = true;
  });
  std::mt19937 rng(42);
  int kills = 0;
  while (!produced_all.load() || kills < 3) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1000));
    processor->Kill(SIGKILL);
    ++kills;
    processor = cluster.StartProcessor("p");
    if (kills >= 12) break;
  }
  producer.join();
  EXPECT_GE(kills, 3);
  std::cerr << "processor killed " << kills << " times\n";

  auto alerts = cluster.Collect(expected.ids().size(), 240s);
  std::set<std::string> got;
  for (const auto& a : alerts) EXPECT_TRUE(got.insert(a.alert_id()).second) << "duplicate";
  EXPECT_EQ(got, expected.ids());
  // And nothing beyond.
  EXPECT_EQ(cluster.Collect(expected.ids().size() + 1, 3s).size(), expected.ids().size());

  EXPECT_EQ(processor->Kill(SIGTERM) & 0x7f, 0) << "graceful stop";
  RocksDbStateStoreOptions so;
  so.path = cluster.dir().File("state-p");
  auto store = OpenRocksDbStateStore(so);
  ASSERT_TRUE(store.ok()) << store.status();
  auto usage = QuotaUsage(store->get());
  auto want = QuotaUsage(expected.store());
  EXPECT_GE(usage.size(), 12u);  // the 12 injected consignees, plus generated LPP buyers
  EXPECT_EQ(usage, want);
}

}  // namespace
}  // namespace exportwatch::testing

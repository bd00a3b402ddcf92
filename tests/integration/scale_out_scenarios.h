// Multi-instance exactly-once scenarios (issue 4), each checked by the
// verifier (verifier.h): kills, scaling, broker faults, a lost disk. The CI
// tests (scale_out_test.cc) and the long ones (scale_out_slow_test.cc) run
// the same scenarios at different sizes.
#pragma once

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/verifier.h"

namespace exportwatch::testing {

struct Size {
  int events = 4000;
  int chunk = 200;                       // events between pauses
  std::chrono::milliseconds pause{150};  // the pause
  int kills = 3;                         // kill-loop: at least this many
  std::chrono::seconds drain{120};       // wait for the last alerts
  ClusterOptions cluster;
};

inline void ExpectClean(const Verdict& v) {
  EXPECT_GT(v.expected, 10u);
  EXPECT_EQ(v.lost, 0u);
  EXPECT_EQ(v.duplicated, 0u);
  EXPECT_EQ(v.unexpected, 0u);
  EXPECT_GE(v.quota_keys, 12u);  // the 12 injected consignees at least
  EXPECT_EQ(v.quota_mismatched, 0u);
}

// Three processors in one group; one, chosen at random, is killed with
// SIGKILL at random moments and restarted at once with its state directory.
inline void KillLoop(const Size& size, uint64_t seed) {
  Cluster cluster("aidr-2025", size.cluster);
  ExactlyOnceRun run(&cluster, Workload(size.events, seed), "aidr-2025");
  // Small snapshot steps: the shards' snapshots (~0.5 MB here) take several,
  // so kills land in the middle of snapshots too.
  Fleet fleet(&cluster, {"--snapshot-step-bytes", "65536"});
  for (int i = 0; i < 3; ++i) fleet.Start(i);
  std::mt19937 rng(seed);
  const size_t every = static_cast<size_t>(size.events) / (size.kills + 1);
  size_t next_kill = every / 2 + rng() % every;
  int kills = 0;
  bool truncated = false;
  run.Produce(size.chunk, size.pause, [&](size_t produced) {
    if (!truncated && produced >= static_cast<size_t>(size.events) / 2) {
      PushFactsOutOfTheLog(cluster, fleet);
      truncated = true;
    }
    if (produced < next_kill) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 300));
    int victim = static_cast<int>(rng() % 3);
    fleet.Kill(victim);
    if (kills % 2 == 1) {
      // Restart after the session timeout (6 s): the others take the
      // victim's shards first, so shards move between instances.
      std::this_thread::sleep_for(7s);
    }
    fleet.Start(victim);
    ++kills;
    next_kill = produced + every / 2 + rng() % every;
  });
  // Kills the stream was too short for land after it (still mid-processing).
  while (kills < size.kills) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 800));
    int victim = static_cast<int>(rng() % 3);
    fleet.Kill(victim);
    fleet.Start(victim);
    ++kills;
  }
  std::cerr << "kill loop: " << kills << " SIGKILLs over " << size.events << " events\n";
  ExpectClean(run.Verify(size.drain, [&] { fleet.StopAll(); }));
}

// One processor, then three, then two (the third stopped gracefully).
inline void ScaleOneThreeTwo(const Size& size, uint64_t seed) {
  Cluster cluster("aidr-2025", size.cluster);
  ExactlyOnceRun run(&cluster, Workload(size.events, seed), "aidr-2025");
  Fleet fleet(&cluster);
  fleet.Start(0);
  int step = 0;
  run.Produce(size.chunk, size.pause, [&](size_t produced) {
    if (step == 0 && produced >= static_cast<size_t>(size.events) / 3) {
      PushFactsOutOfTheLog(cluster, fleet);
      fleet.Start(1);
      fleet.Start(2);
      step = 1;
      std::cerr << "scale: 1 -> 3 at " << produced << "\n";
    } else if (step == 1 && produced >= static_cast<size_t>(size.events) * 2 / 3) {
      fleet.Stop(2);
      step = 2;
      std::cerr << "scale: 3 -> 2 at " << produced << "\n";
    }
  });
  EXPECT_EQ(step, 2);
  ExpectClean(run.Verify(size.drain, [&] { fleet.StopAll(); }));
}

// Broker faults injected into the in-process mock cluster while three
// processors run: a broker down and up, Produce / Fetch / OffsetCommit
// errors, a slow broker. Nobody restarts a processor: they recover by
// themselves. Not injected: group membership changes while faults are
// active. librdkafka 2.0.2's mock group coordinator aborts the whole mock
// cluster then (rd_kafka_mock_cgrp_member_add / _member_sync_set: Assertion
// `!member->resp'), seen with queued JoinGroup errors and with a member
// leaving and rejoining after a broker outage; rebalances are covered by the
// kill and scale scenarios on the child mock broker instead.
// `all`: also a second broker outage (the long version).
inline void BrokerFaults(Size size, uint64_t seed, bool all) {
  size.cluster.in_process_broker = true;
  size.cluster.brokers = 3;
  Cluster cluster("aidr-2025", size.cluster);
  MockKafkaCluster* mock = cluster.mock();
  ASSERT_NE(mock, nullptr);
  // librdkafka 2.0.2's mock aborts the whole process (rdkafka_mock_cgrp.c:
  // assertion `!member->resp`) when a member re-sends JoinGroup or
  // SyncGroup while the mock still holds its previous one, which a member
  // does when its coordinator's connection drops, the coordinator is
  // declared gone, or the request times out mid-rebalance. A real broker
  // answers the stale request.
  // So the groups' coordinator is broker 3, which no fault below touches,
  // and the commit errors are ones that do not send the members looking
  // for a new coordinator. Partition leaders on brokers 1 and 2 still go
  // down, slow down and fail requests.
  for (const char* group : {"exportwatch-ingest", "exportwatch-stateful"}) {
    ASSERT_TRUE(mock->SetGroupCoordinator(group, 3).ok());
  }
  ExactlyOnceRun run(&cluster, Workload(size.events, seed), "aidr-2025");
  // A downed mock broker swallows in-flight requests: time them out sooner
  // than the default 60 s so that clients re-send. Not sooner than 10 s:
  // the mock holds a JoinGroup or SyncGroup for up to the session timeout
  // (6 s) while it waits for the other members, and a member that timed
  // it out would re-send it and trip the assertion above.
  Fleet fleet(&cluster, {"--kafka", "socket.timeout.ms=10000"});
  for (int i = 0; i < 3; ++i) fleet.Start(i);
  // Kafka protocol error codes and API keys (see MockKafkaCluster).
  constexpr int kNotLeader = 6, kTimedOut = 7;
  constexpr int16_t kProduce = 0, kFetch = 1, kOffsetCommit = 8;
  std::vector<std::function<void()>> faults = {
      [&] {
        ASSERT_TRUE(mock->SetBrokerDown(2, true).ok());
        std::this_thread::sleep_for(2s);
        ASSERT_TRUE(mock->SetBrokerDown(2, false).ok());
      },
      [&] {
        mock->PushRequestErrors(kProduce, {kNotLeader, kTimedOut, kNotLeader});
      },
      [&] {
        mock->PushRequestErrors(kFetch, {kNotLeader, kNotLeader, kTimedOut});
      },
      [&] {
        mock->PushRequestErrors(kOffsetCommit, {kTimedOut, kTimedOut});
      },
      [&] {
        ASSERT_TRUE(mock->SetBrokerRtt(1, absl::Milliseconds(300)).ok());
        std::this_thread::sleep_for(2s);
        ASSERT_TRUE(mock->SetBrokerRtt(1, absl::ZeroDuration()).ok());
      },

  };
  if (all) {
    faults.push_back([&] {
      ASSERT_TRUE(mock->SetBrokerDown(1, true).ok());
      std::this_thread::sleep_for(1500ms);
      ASSERT_TRUE(mock->SetBrokerDown(1, false).ok());
    });
  }
  size_t next = 0;
  const size_t every = static_cast<size_t>(size.events) / (faults.size() + 1);
  run.Produce(size.chunk, size.pause, [&](size_t produced) {
    if (next < faults.size() && produced >= (next + 1) * every) {
      std::cerr << "fault " << next << " at " << produced << "\n";
      faults[next++]();
    }
  });
  while (next < faults.size()) faults[next++]();
  ExpectClean(run.Verify(size.drain, [&] { fleet.StopAll(); }));
}

// One instance loses its disk mid-stream and restores from the changelog;
// afterwards a fresh instance alone restores every shard, and its restore
// rate is reported.
inline void LostDisk(const Size& size, uint64_t seed) {
  Cluster cluster("aidr-2025", size.cluster);
  ExactlyOnceRun run(&cluster, Workload(size.events, seed), "aidr-2025");
  Fleet fleet(&cluster);
  for (int i = 0; i < 3; ++i) fleet.Start(i);
  bool lost = false;
  run.Produce(size.chunk, size.pause, [&](size_t produced) {
    if (lost || produced < static_cast<size_t>(size.events) / 2) return;
    PushFactsOutOfTheLog(cluster, fleet);
    fleet.Kill(1);
    std::filesystem::remove_all(cluster.dir().File("state-p1"));
    fleet.Start(1);
    lost = true;
    std::cerr << "lost disk of p1 at " << produced << "\n";
  });
  EXPECT_TRUE(lost);
  ExpectClean(run.Verify(size.drain, [&] { fleet.StopAll(); }));

  // Restore rate: a new instance with an empty disk takes every shard.
  fleet.Start(9);
  const std::string log = cluster.dir().File("processor-p9.log");
  const int shards = size.cluster.facts_partitions;
  auto deadline = std::chrono::steady_clock::now() + 120s;
  int restored = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    std::string text = ReadFile(log);
    restored = 0;
    for (auto p = text.find("restored "); p != std::string::npos;
         p = text.find("restored ", p + 1)) {
      ++restored;
    }
    if (restored >= shards) break;
    std::this_thread::sleep_for(200ms);
  }
  EXPECT_GE(restored, shards);
  // The figures come from the per-shard log lines, not the exit metrics:
  // librdkafka 2.0.2 can abort in the sticky assignor when a consumer closes
  // soon after its first assignment, which loses the final metrics line but
  // says nothing about the restore.
  std::map<std::string, double> m;
  {
    std::istringstream lines(ReadFile(log));
    std::string line;
    while (std::getline(lines, line)) {
      int shard = 0;
      long records = 0, bytes = 0, batches = 0, ops = 0;
      double wall = 0, cpu = 0;
      const size_t at = line.find("shard ");
      if (at == std::string::npos ||
          std::sscanf(line.c_str() + at,
                      "shard %d restored %ld changelog records (%ld bytes, %ld batches, %ld key "
                      "writes) in %lf s, thread cpu %lf s",
                      &shard, &records, &bytes, &batches, &ops, &wall, &cpu) != 7) {
        continue;
      }
      m["shards_restored"] += 1;
      m["restored_records"] += records;
      m["restored_bytes"] += bytes;
      m["restored_ops"] += ops;
      m["restore_wall_s"] += wall;
      m["restore_cpu_s"] += cpu;
    }
  }
  fleet.Stop(9);
  EXPECT_EQ(m["shards_restored"], shards);
  EXPECT_GT(m["restored_records"], 0);
  EXPECT_GT(m["restored_ops"], 0);
  const double wall = m["restore_wall_s"], cpu = m["restore_cpu_s"];
  std::cerr << "restore from empty disk: " << m["shards_restored"] << " shards, "
            << m["restored_records"] << " changelog records, " << m["restored_ops"]
            << " key writes, " << m["restored_bytes"] << " bytes in " << wall << " s wall, " << cpu
            << " s restoring-thread cpu: " << m["restored_ops"] / wall << " key writes/s, "
            << m["restored_ops"] / cpu << " key writes/cpu-s, " << m["restored_bytes"] / wall / 1e6
            << " MB/s" << std::endl;
}

}  // namespace exportwatch::testing

// The exactly-once verifier for multi-instance runs: a workload, a fault-free
// in-process run of it (Expected), and a comparison of what a real
// deployment produced with it:
//  - alerts, by alert_id, as a subscriber of alertd receives them: lost
//    (expected, never delivered), duplicated (delivered twice), unexpected;
//  - the quota counters (CONSIGNEE_LPP_QUOTA and COUNTRY_QUOTA usage) as the
//    state changelog holds them: restored from the changelog topic into a
//    fresh store after the run, the way a new instance would see them.
#pragma once

#include <signal.h>

#include <chrono>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka_source.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/changelog.h"
#include "processor/gen/generator.h"
#include "processor/task_state.h"
#include "tests/common/contract_events.h"
#include "tests/integration/cluster.h"

namespace exportwatch::testing {

// Quota usage by (rule, key, window): the key without its shard prefix, so
// that stores with different shard layouts compare.
inline std::map<std::string, double> QuotaCounters(StateStore* store) {
  std::map<std::string, double> out;
  EXPECT_TRUE(
      store
          ->Scan("p/", "",
                 [&](absl::string_view k, absl::string_view v) {
                   for (absl::string_view rule : {"/s/CONSIGNEE_LPP_QUOTA/", "/s/COUNTRY_QUOTA/"}) {
                     auto pos = k.find(rule);
                     if (pos == absl::string_view::npos) continue;
                     v1::QuotaState q;
                     EXPECT_TRUE(q.ParseFromArray(v.data(), static_cast<int>(v.size())));
                     out[std::string(k.substr(pos))] = q.used();
                   }
                   return true;
                 })
          .ok());
  return out;
}

// Processors named "p0".."pN-1", started and stopped by the tests, each
// with its own state directory under the cluster's.
class Fleet {
 public:
  // `extra`: more processor flags for every instance.
  explicit Fleet(Cluster* cluster, std::vector<std::string> extra = {})
      : cluster_(*cluster), extra_(std::move(extra)) {}
  void Start(int i) {
    if (procs_.size() <= static_cast<size_t>(i)) procs_.resize(i + 1);
    procs_[i] = cluster_.StartProcessor("p" + std::to_string(i), "", extra_);
  }
  void Kill(int i) {
    if (procs_[i]) procs_[i]->Kill(SIGKILL);
    procs_[i].reset();
  }
  // Graceful stop; returns its processor-metrics line (empty if none).
  std::string Stop(int i) {
    std::string out;
    if (!procs_[i]) return out;
    kill(procs_[i]->pid(), SIGTERM);
    procs_[i]->Wait(&out, nullptr);
    procs_[i].reset();
    return out;
  }
  void StopAll() {
    for (size_t i = 0; i < procs_.size(); ++i) Stop(static_cast<int>(i));
  }
  // Signals every running instance (SIGSTOP / SIGCONT to freeze them).
  void SignalAll(int sig) {
    for (const auto& p : procs_) {
      if (p) kill(p->pid(), sig);
    }
  }
  bool Running(int i) const { return i < static_cast<int>(procs_.size()) && procs_[i]; }
  Subprocess* at(int i) { return procs_[i].get(); }

 private:
  Cluster& cluster_;
  std::vector<std::string> extra_;
  std::vector<std::unique_ptr<Subprocess>> procs_;
};

// What retention does to a real facts topic, done to the mock's: pushes
// `bytes` of no-op facts (a rule id no engine knows) into every facts
// partition, so the mock broker (which keeps ~5 MB per partition) drops the
// facts before them. From then on a shard that moves can only get its state
// from the changelog, not by re-reading its facts from the start.
// Production must be paused. Only consumed facts may be pushed out, as
// retention sized above the lag would: first every shard has processed every
// fact written so far (its input offset in the changelog), then the fleet is
// frozen (SIGSTOP) and the facts topic checked unchanged, and it stays frozen
// until the filler is written (not through the check after it, whose ASSERT
// would otherwise leave the fleet stopped). An ingest stage that still holds
// input (a rebalance can hold a killed member's partitions for ~12 s on the
// mock) writes its facts after the filler, where nothing drops them. Waiting for
// the facts topic to stay still instead (3 s, then 15 s) was not enough:
// under ctest -j2, in one CI run and one local run, a late ingest stage wrote
// into the middle of the push and its quota facts were dropped unread.
inline void PushFactsOutOfTheLog(Cluster& cluster, Fleet& fleet, size_t bytes = 6 << 20) {
  const int shards = cluster.options().facts_partitions;
  ChangelogOptions co;
  co.brokers = cluster.brokers();
  co.topic = "exportwatch-state-changelog";
  auto facts_ends = [&] {
    std::vector<int64_t> ends(shards);
    for (int p = 0; p < shards; ++p) ends[p] = cluster.EndOffset("exportwatch-facts", p);
    return ends;
  };
  auto deadline = std::chrono::steady_clock::now() + 300s;
  bool frozen_consumed = false;
  while (!frozen_consumed && std::chrono::steady_clock::now() < deadline) {
    const std::vector<int64_t> ends = facts_ends();
    auto store = NewMemoryStateStore();
    ASSERT_TRUE(RestoreWholeChangelog(co, shards, store.get()).ok());
    bool behind = false;
    for (int p = 0; p < shards; ++p) {
      auto v = store->Get(TaskState::OffsetKey(p, "exportwatch-facts"));
      int64_t at = 0;
      if (v.ok() && v->has_value()) at = std::stoll(**v);
      behind |= at < ends[p];
    }
    if (behind) {
      std::this_thread::sleep_for(200ms);
      continue;
    }
    fleet.SignalAll(SIGSTOP);
    // A produce request already on its way is answered before this.
    std::this_thread::sleep_for(200ms);
    frozen_consumed = facts_ends() == ends;
    if (!frozen_consumed) fleet.SignalAll(SIGCONT);  // written meanwhile: again
  }
  ASSERT_TRUE(frozen_consumed) << "facts still being written or processed before the push";
  const auto frozen_at = std::chrono::steady_clock::now();
  v1::FactBatch filler;
  filler.add_facts()->set_rule_id("NO_SUCH_RULE_FILLER");
  filler.mutable_facts(0)->set_key(std::string(100 << 10, 'x'));
  const std::string value = filler.SerializeAsString();
  for (int p = 0; p < cluster.options().facts_partitions; ++p) {
    for (size_t sent = 0; sent < bytes; sent += value.size()) {
      cluster.ProduceRaw("exportwatch-facts", "filler", value, p);
    }
    cluster.Flush();
  }
  // The filler is in: what the fleet writes from here on lands after it.
  fleet.SignalAll(SIGCONT);
  std::cerr << "push: fleet frozen for "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - frozen_at)
                   .count()
            << " ms\n";
  // The head of every facts partition is gone now (else this proves nothing).
  for (int p = 0; p < cluster.options().facts_partitions; ++p) {
    KafkaSourceOptions so;
    so.brokers = cluster.brokers();
    so.assign = {{{"exportwatch-facts", p}, 0}};
    so.config["auto.offset.reset"] = "error";
    auto source = KafkaSource::Create(so, nullptr);
    ASSERT_TRUE(source.ok()) << source.status();
    absl::Status s;
    for (int i = 0; i < 50 && s.ok(); ++i) {
      auto r = (*source)->Poll(absl::Milliseconds(100));
      if (!r.ok()) {
        s = r.status();
      } else if (!r->empty()) {
        s = absl::InternalError("offset 0 still readable");
      }
    }
    EXPECT_TRUE(absl::IsOutOfRange(s)) << "facts partition " << p << ": " << s;
  }
}

// `n` events: generated traffic plus, every 10th, an LPP shipment to one of
// 12 consignees (each crosses 80% and 100% of its cap during the run).
inline std::vector<v1::Event> Workload(int n, uint64_t seed) {
  std::vector<v1::Event> events;
  v1::Event trade = ContractEvent(Stream::kTrade);
  EventGenerator::Options go;
  go.seed = seed;
  go.violation_rate = 0.03;
  go.data_dir = EW_SHARED_DIR "/data";
  auto gen = EventGenerator::Create(go);
  EXPECT_TRUE(gen.ok()) << gen.status();
  GeneratedEvent ge;
  int lpp = 0;
  for (int i = 0; i < n; ++i) {
    if (i % 10 == 0) {
      v1::Event e = trade;
      e.mutable_trade()->set_event_id("lpp-" + std::to_string(lpp));
      e.mutable_trade()->mutable_ultimate_consignee()->set_entity_id("C-" +
                                                                     std::to_string(lpp % 12));
      ++lpp;
      events.push_back(e);
    } else {
      (*gen)->Next(&ge);
      events.push_back(ge.event);
    }
  }
  return events;
}

struct Verdict {
  size_t expected = 0, got = 0, lost = 0, duplicated = 0, unexpected = 0;
  size_t quota_keys = 0, quota_mismatched = 0;
  bool ok() const {
    return lost == 0 && duplicated == 0 && unexpected == 0 && quota_mismatched == 0 &&
           quota_keys > 0;
  }
};

// Runs `events` through `cluster` while `chaos` (called every `chaos_every`
// events from the producing thread's point of view, on the test thread)
// disturbs it, then checks alerts and quota counters. `stop_all` must stop
// every processor (gracefully) before the changelog is read.
class ExactlyOnceRun {
 public:
  ExactlyOnceRun(Cluster* cluster, std::vector<v1::Event> events, std::string profile)
      : cluster_(*cluster), events_(std::move(events)), expected_(profile) {
    for (const auto& e : events_) expected_.Add(e);
  }

  // Produces every event (paced: `pause` every `chunk` events; every 70th
  // event twice, as a retrying producer would), calling `chaos(i)` between
  // chunks.
  void Produce(int chunk, std::chrono::milliseconds pause,
               const std::function<void(size_t)>& chaos) {
    // The producer waits at each chunk until `chaos` has run for it, so that
    // a fault lands at a known point of the stream.
    std::atomic<size_t> produced{0}, acked{0};
    std::atomic<bool> done{false};
    std::thread producer([&] {
      for (size_t i = 0; i < events_.size(); ++i) {
        const auto& e = events_[i];
        cluster_.ProduceJson(TopicOf(e), RecordKeyFor(e), EventJson(e));
        if (i % 70 == 0) cluster_.ProduceJson(TopicOf(e), RecordKeyFor(e), EventJson(e));
        if (i % chunk == static_cast<size_t>(chunk - 1)) {
          cluster_.Flush();
          produced = i + 1;
          while (acked.load() != i + 1) std::this_thread::sleep_for(5ms);
          std::this_thread::sleep_for(pause);
        }
      }
      cluster_.Flush();
      produced = events_.size();
      done = true;
    });
    size_t last = 0;
    while (!done.load()) {
      std::this_thread::sleep_for(5ms);
      size_t p = produced.load();
      if (p != last) {
        chaos(p);
        last = p;
        acked = p;
      }
    }
    producer.join();
  }

  // Waits for the alerts (up to `timeout`), stops the processors with
  // `stop_all`, restores the changelog and compares.
  Verdict Verify(std::chrono::seconds timeout, const std::function<void()>& stop_all) {
    Verdict v;
    const auto& want = expected_.ids();
    v.expected = want.size();
    auto alerts = cluster_.Collect(want.size(), timeout);
    // Anything beyond the expected set shows up within a short extra wait.
    auto more = cluster_.Collect(want.size() + 1, 3s);
    if (more.size() > alerts.size()) alerts = more;
    std::set<std::string> got;
    for (const auto& a : alerts) {
      if (!got.insert(a.alert_id()).second) ++v.duplicated;
    }
    v.got = got.size();
    for (const auto& id : want) v.lost += got.count(id) == 0;
    for (const auto& id : got) v.unexpected += want.count(id) == 0;
    stop_all();
    ChangelogOptions co;
    co.brokers = cluster_.brokers();
    co.topic = "exportwatch-state-changelog";
    auto store = NewMemoryStateStore();
    auto restored = RestoreWholeChangelog(co, cluster_.options().facts_partitions, store.get());
    EXPECT_TRUE(restored.ok()) << restored.status();
    auto have = QuotaCounters(store.get());
    auto expect = QuotaCounters(expected_.store());
    v.quota_keys = expect.size();
    for (const auto& [k, used] : expect) {
      auto it = have.find(k);
      if (it == have.end() || it->second != used) {
        ++v.quota_mismatched;
        if (v.quota_mismatched <= 5) {
          std::cerr << "quota mismatch " << k << ": want " << used << " have "
                    << (it == have.end() ? -1 : it->second) << "\n";
        }
      }
    }
    for (const auto& [k, used] : have) v.quota_mismatched += expect.count(k) == 0;
    std::cerr << "verifier: alerts expected=" << v.expected << " got=" << v.got
              << " lost=" << v.lost << " duplicated=" << v.duplicated
              << " unexpected=" << v.unexpected << "; quota counters=" << v.quota_keys
              << " mismatched=" << v.quota_mismatched;
    if (restored.ok()) {
      std::cerr << "; changelog records=" << restored->records << " bytes=" << restored->bytes
                << " cut=" << restored->incomplete_discarded
                << " fenced=" << restored->fenced_discarded;
    }
    std::cerr << std::endl;
    return v;
  }

  Expected& expected() { return expected_; }

 private:
  Cluster& cluster_;
  std::vector<v1::Event> events_;
  Expected expected_;
};

}  // namespace exportwatch::testing

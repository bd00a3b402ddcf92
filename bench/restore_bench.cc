// restore_bench: how fast a shard's state comes back from the state changelog
// onto an empty disk (issue 4, "lost disk").
//
//   restore_bench [--partitions 8] [--ops 25000] [--value-bytes 64] [--batch 500]
//
// Writes `--ops` key writes per partition through Changelog::Append (in
// batches of `--batch`, like the stateful stage) into librdkafka's mock
// cluster in this process, then restores every partition with
// Changelog::Acquire into a new RocksDB store in a temporary directory.
// Reports key writes per second and per CPU-second: of the restoring thread
// (replay + RocksDB writes) and of the whole process (adds librdkafka's fetch
// threads and the mock broker serving the fetches). The mock broker keeps
// ~5 MB per partition: keep ops x (value + ~60 bytes) under that.
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "connectors/mock_cluster.h"
#include "processor/changelog.h"
#include "processor/task_state.h"
#include "state/rocksdb_state_store.h"

namespace exportwatch {
namespace {

double ProcessCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
         (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int Run(int argc, char** argv) {
  int partitions = 8, ops = 25000, value_bytes = 64, batch = 500;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string f = argv[i];
    int v = std::atoi(argv[i + 1]);
    if (f == "--partitions") {
      partitions = v;
    } else if (f == "--ops") {
      ops = v;
    } else if (f == "--value-bytes") {
      value_bytes = v;
    } else if (f == "--batch") {
      batch = v;
    } else {
      std::cerr << "unknown flag " << f << "\n";
      return 2;
    }
  }
  if (partitions < 1 || ops < 1 || value_bytes < 0 || batch < 1) {
    std::cerr << "flags must be positive\n";
    return 2;
  }
  auto cluster = MockKafkaCluster::Create(1);
  if (!cluster.ok()) return 1;
  const std::string topic = "exportwatch-state-changelog";
  if (!(*cluster)->CreateTopic(topic, partitions, 1).ok()) return 1;
  ChangelogOptions co;
  co.brokers = (*cluster)->bootstraps();
  co.topic = topic;
  std::atomic<bool> stop{false};

  // Fill: as the stateful stage would, one Append per batch.
  auto writer = Changelog::Create(co);
  if (!writer.ok()) return 1;
  auto scratch = NewMemoryStateStore();
  for (int p = 0; p < partitions; ++p) {
    if (!(*writer)->Acquire(p, scratch.get(), stop).ok()) return 1;
  }
  const std::string value(static_cast<size_t>(value_bytes), 'v');
  absl::Time t0 = absl::Now();
  for (int done = 0; done < ops; done += batch) {
    std::map<int32_t, std::vector<WriteBatch::Op>> ops_by_shard;
    std::map<int32_t, std::vector<const WriteBatch::Op*>> by_shard;
    for (int p = 0; p < partitions; ++p) {
      auto& list = ops_by_shard[p];
      for (int i = done; i < std::min(ops, done + batch); ++i) {
        list.push_back(
            {TaskState::StateKey(p, "CONSIGNEE_LPP_QUOTA", absl::StrCat("C-", i), "w"), value});
      }
      for (const auto& op : list) by_shard[p].push_back(&op);
    }
    auto s = (*writer)->Append(by_shard, stop);
    if (!s.ok()) {
      std::cerr << s.status() << "\n";
      return 1;
    }
  }
  std::cout << "filled " << partitions << " partitions x " << ops << " key writes ("
            << (*writer)->bytes_out() << " bytes, " << (*writer)->records_out() << " records) in "
            << absl::ToDoubleSeconds(absl::Now() - t0) << " s\n";

  // Restore onto an empty disk.
  std::string dir = (std::filesystem::temp_directory_path() / "restore-bench-XXXXXX").string();
  if (mkdtemp(dir.data()) == nullptr) return 1;
  RocksDbStateStoreOptions so;
  so.path = dir;
  auto store = OpenRocksDbStateStore(so);
  if (!store.ok()) return 1;
  auto reader = Changelog::Create(co);
  if (!reader.ok()) return 1;
  RestoreStats total;
  double cpu0 = ProcessCpuSeconds();
  t0 = absl::Now();
  for (int p = 0; p < partitions; ++p) {
    auto rs = (*reader)->Acquire(p, store->get(), stop);
    if (!rs.ok()) {
      std::cerr << rs.status() << "\n";
      return 1;
    }
    total.records += rs->records;
    total.bytes += rs->bytes;
    total.ops_applied += rs->ops_applied;
    total.thread_cpu += rs->thread_cpu;
  }
  double wall = absl::ToDoubleSeconds(absl::Now() - t0);
  double cpu = ProcessCpuSeconds() - cpu0;
  double thread_cpu = absl::ToDoubleSeconds(total.thread_cpu);
  std::cout << "restored " << total.ops_applied << " key writes (" << total.records << " records, "
            << total.bytes << " bytes) in " << wall << " s wall, " << thread_cpu
            << " s restoring-thread cpu, " << cpu << " s process cpu\n"
            << "restore rate: " << static_cast<int64_t>(total.ops_applied / wall)
            << " key writes/s, " << static_cast<int64_t>(total.ops_applied / thread_cpu)
            << " per restoring-thread cpu-s, " << static_cast<int64_t>(total.ops_applied / cpu)
            << " per process cpu-s, " << total.bytes / wall / 1e6 << " MB/s\n";
  store->reset();
  std::filesystem::remove_all(dir);
  return total.ops_applied == static_cast<int64_t>(partitions) * ops ? 0 : 1;
}

}  // namespace
}  // namespace exportwatch

int main(int argc, char** argv) { return exportwatch::Run(argc, argv); }

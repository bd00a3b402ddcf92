// Changelog: the stateful stage's shards replicated to a Kafka topic, so that
// a shard's state moves with its facts partition and survives a lost disk.
//
// One changelog partition per facts partition (same count, checked at
// start). The local RocksDB store is a cache of the changelog: it holds, per
// shard, how far into the changelog it is (`p/<P>/c/next`), which writer the
// log belonged to there (`p/<P>/c/epoch`) and where this instance's own
// ownership began (`p/<P>/c/own`).
//
// Records (keys are unique, so a compacted topic never drops one):
//   f/<epoch>               fence: writer `epoch` owns the shard from here on
//   b/<epoch>/<seq>/<i>     chunk i of n of batch `seq` of writer `epoch`:
//                           every op of one poll batch on this shard (state
//                           values, dedup marks, the next input offset)
// A batch is applied on restore only when all its chunks were read in a row,
// and only when its writer holds the newest fence before it. So a batch cut
// by a crash is never applied (its facts are re-read from the input offset
// the previous complete batch recorded, and re-processed), and a former
// owner that has not noticed it lost the shard (a zombie) cannot add to the
// state after the new owner's fence. Values are whole new values (puts), so
// a batch read twice (a producer retry after an uncertain flush) is
// harmless.
//
// Threads: one caller at a time (the stateful stage's thread).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_types.h"
#include "state/state_store.h"

namespace exportwatch {

struct ChangelogOptions {
  // bootstrap.servers. Required.
  std::string brokers;
  // Extra librdkafka properties for its producer and restore consumers.
  // Default none.
  KafkaConfig kafka_config;
  // The changelog topic. Required.
  std::string topic;
  // Most bytes of ops in one record; a larger batch is written as several
  // chunks. Default 512 KiB (under Kafka's default 1 MB message size).
  size_t max_record_bytes = 512 << 10;
  // A producer to write with instead of a new one (must outlive the
  // changelog; every call from one thread, between that producer's own
  // Flush()es). The stateful stage passes its own: one client fewer, with
  // its threads and connections. Default null: the changelog makes its own.
  KafkaSink* sink = nullptr;
};

struct RestoreStats {
  int64_t records = 0;  // changelog records read
  int64_t bytes = 0;    // their value bytes
  int64_t batches_applied = 0;
  // State writes (puts and deletes of keys) applied to the local store.
  int64_t ops_applied = 0;
  // Chunks of batches cut short by a crash, not applied.
  int64_t incomplete_discarded = 0;
  // Records of a writer that had been fenced off, not applied.
  int64_t fenced_discarded = 0;
  // The local copy had been written past another owner's fence (this
  // instance was a zombie): it was dropped and rebuilt from the log start.
  bool local_copy_dropped = false;
  absl::Duration wall;
  // CPU time of the restoring thread (librdkafka's fetch threads excluded).
  absl::Duration thread_cpu;
};

class Changelog {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Changelog>> Create(ChangelogOptions options);

  // Takes ownership of shard `partition`: appends a fence with a new writer
  // epoch, then brings `store` up to that fence from the changelog (starting
  // from the local checkpoint; from the log start when there is none).
  // Blocks; retries broker errors until `stop`. DATA_LOSS when the log no
  // longer holds what the local copy is missing (retention, or the mock
  // broker's 5 MB per partition).
  [[nodiscard]] absl::StatusOr<RestoreStats> Acquire(int32_t partition, StateStore* store,
                                                     const std::atomic<bool>& stop);

  // Appends one poll batch: `ops` by shard (every shard must be acquired),
  // and waits until Kafka has them all. Returns the local checkpoint writes
  // to put in the same local write batch as `ops`. (Pointers: the ops stay
  // where TaskState::Stage put them, on their way to the local batch.)
  [[nodiscard]] absl::StatusOr<std::vector<WriteBatch::Op>> Append(
      const std::map<int32_t, std::vector<const WriteBatch::Op*>>& ops,
      const std::atomic<bool>& stop);

  // Forgets the writer epochs of shards no longer owned.
  void Release(int32_t partition);

  int64_t records_out() const { return records_out_; }
  int64_t bytes_out() const { return bytes_out_; }

 private:
  explicit Changelog(ChangelogOptions o) : o_(std::move(o)) {}
  struct Writer {
    uint64_t epoch = 0;
    uint64_t seq = 0;
  };
  absl::Status Restore(int32_t partition, StateStore* store, uint64_t epoch, int64_t fence_offset,
                       const std::atomic<bool>& stop, RestoreStats* stats);

  friend absl::StatusOr<RestoreStats> RestoreWholeChangelog(const ChangelogOptions&, int,
                                                            StateStore*);

  ChangelogOptions o_;
  std::unique_ptr<KafkaSink> own_sink_;  // null when o_.sink was given
  KafkaSink* sink_ = nullptr;
  std::map<int32_t, Writer> writers_;
  int64_t records_out_ = 0;
  int64_t bytes_out_ = 0;
};

// Reads every partition of `topic` from the start to its current end into
// `store` with the same rules as Acquire, without fencing (tests, audits).
[[nodiscard]] absl::StatusOr<RestoreStats> RestoreWholeChangelog(const ChangelogOptions& options,
                                                                 int partitions, StateStore* store);

}  // namespace exportwatch

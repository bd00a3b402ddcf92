// Changelog: the stateful stage's shards replicated to a Kafka topic, so that
// a shard's state moves with its facts partition and survives a lost disk.
//
// One changelog partition per facts partition (same count, checked at
// start). The local RocksDB store is a cache of the changelog: it holds, per
// shard, how far into the changelog it is (`p/<P>/c/next`), which writer the
// log belonged to there (`p/<P>/c/epoch`) and where this instance's own
// ownership began (`p/<P>/c/own`) and how many bytes the log holds after
// the shard's last snapshot (`p/<P>/c/since`). A local copy being dropped
// (to be rebuilt) holds `p/<P>/c/dropping` instead until the drop ends; a
// restore finishes a drop a crash cut short. A shard's keys without any
// checkpoint are kept, and the replay from offset 0 writes over them.
//
// Records (keys are unique: compaction would drop none; the log is bounded
// by snapshots and retention.bytes instead):
//   f/<epoch>               fence: writer `epoch` owns the shard from here on
//   b/<epoch>/<seq>/<i>     chunk i of n of batch `seq` of writer `epoch`:
//                           every op of one poll batch on this shard (state
//                           values, dedup marks, the next input offset)
//   s/<epoch>/<seq>/<i>     chunk i of snapshot `seq` of writer `epoch`: the
//                           shard's whole state as of the batches before
//                           its first chunk (the last chunk says it is the
//                           last)
// Snapshots bound what a restore from nothing needs: the owner writes one
// whenever the bytes it appended to the shard since the last one reach
// max(snapshot_min_bytes, snapshot_ratio x that snapshot's size). So a log
// that keeps at least (2 + ratio) x the shard's state plus min_bytes (the
// mock broker's ~5 MB, or retention.bytes on a real topic) always holds a
// complete snapshot and everything after it. A restore without a usable
// local copy from a log that no longer starts at offset 0 skips to the first
// snapshot it can trust and starts from there; with the log whole it reads
// from offset 0 as before (snapshots of the owner are then skipped: the
// batches before them already built the same state).
// A snapshot is written in steps (snapshot_step_bytes per SnapshotIfDue
// call, paced to snapshot_duty of the thread), so that a large shard's
// snapshot never stalls the stateful thread for long: it reads a view of
// the store taken just before its first chunk (StateStore::NewSnapshot),
// and the owner's batches land between its steps. A reader that builds on
// a snapshot applies those batches as they come, and a snapshot op for a
// key they already wrote is left out (the batch is newer than the view);
// it counts the snapshot as its base only when the last chunk arrives.
//
// A snapshot is trusted only if no other writer fenced the shard between
// its writer's fence and it: before writing one, the owner reads the log
// from where it last looked to the end and writes none if it finds a
// foreign fence (it is a zombie); the snapshot names the offset it checked
// up to, and a reader accepts it only if it read from there itself and saw
// no foreign fence since.
//
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
#include <deque>
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
  // A shard's snapshot is due when the bytes appended to it since its last
  // snapshot reach max(snapshot_min_bytes, snapshot_ratio x the size of
  // that snapshot). Defaults 1 MiB and 2.
  size_t snapshot_min_bytes = 1 << 20;
  double snapshot_ratio = 2.0;
  // A snapshot is written in steps of about this many bytes, one per
  // SnapshotIfDue call (the stateful stage calls it after every batch, and
  // while idle). Default 512 KiB (one chunk).
  size_t snapshot_step_bytes = 512 << 10;
  // The most of the calling thread's time a snapshot takes: after a step
  // that took t, the next one waits t x (1 / duty - 1), so a large shard's
  // snapshot is spread out instead of holding back the batches behind it.
  // In (0, 1]; 1: no wait. Default 0.25.
  double snapshot_duty = 0.25;
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
  // The local copy was dropped and rebuilt: it had been written past another
  // owner's fence (this instance was a zombie), or the log no longer held
  // what it was missing.
  bool local_copy_dropped = false;
  // The log no longer started at offset 0 and there was no usable local
  // copy: the restore started from a snapshot (its offset; -1: none).
  int64_t snapshot_base = -1;
  // Records before that snapshot, read and not applied.
  int64_t before_snapshot_skipped = 0;
  // Snapshots read whose state the batches before them had already built.
  int64_t snapshots_skipped = 0;
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
  // A local copy the log cannot bring up to date (the log lost its head to
  // retention, or the mock broker's 5 MB per partition) is replaced by the
  // first trusted snapshot and what follows it. Blocks; retries broker
  // errors until `stop`. DATA_LOSS when the log has neither what the local
  // copy is missing nor a trusted snapshot to start from.
  [[nodiscard]] absl::StatusOr<RestoreStats> Acquire(int32_t partition, StateStore* store,
                                                     const std::atomic<bool>& stop);

  // Appends one poll batch: `ops` by shard (every shard must be acquired),
  // and waits until Kafka has them all. Returns the local checkpoint writes
  // to put in the same local write batch as `ops`. (Pointers: the ops stay
  // where TaskState::Stage put them, on their way to the local batch.)
  // Shards another writer has fenced since this one last looked (or whose
  // log could not be checked: the gap left the log, or the broker kept
  // failing) are added to `fenced` (if not null): what this writer appended
  // there is ignored by every reader, so the caller must leave those
  // shards' ops out of its local write, acquire them again (a new fence,
  // and a restore that reads on from their previous checkpoint) and resume
  // their input from the restored offset.
  [[nodiscard]] absl::StatusOr<std::vector<WriteBatch::Op>> Append(
      const std::map<int32_t, std::vector<const WriteBatch::Op*>>& ops,
      const std::atomic<bool>& stop, std::vector<int32_t>* fenced = nullptr);

  // Writes the next step of the snapshot in progress, or starts the
  // snapshot of the first owned shard that is due one (see the top of this
  // file), read from a view of `store` (which must hold every batch
  // appended so far: call after the local commit). One snapshot at a time.
  // A shard whose log shows another owner's fence gets none (this instance
  // is a zombie there; its rebalance will take the shard away). A failed
  // step abandons its snapshot; the next call starts another.
  [[nodiscard]] absl::Status SnapshotIfDue(StateStore* store, const std::atomic<bool>& stop);
  // A snapshot was started and is not finished: call SnapshotIfDue soon,
  // even without a batch to append (its view pins memtables and files in
  // RocksDB).
  bool snapshot_in_progress() const;
  // How long until the snapshot in progress may take its next step (zero:
  // now; infinite: none in progress).
  absl::Duration until_next_snapshot_step() const;

  // Forgets the writer epochs of shards no longer owned.
  void Release(int32_t partition);

  int64_t records_out() const { return records_out_; }
  int64_t bytes_out() const { return bytes_out_; }
  int64_t snapshots_out() const { return snapshots_out_; }
  int64_t snapshot_bytes_out() const { return snapshot_bytes_out_; }

 public:
  ~Changelog();

 private:
  explicit Changelog(ChangelogOptions o);
  struct SnapshotInProgress;  // changelog.cc
  struct Writer {
    uint64_t epoch = 0;
    uint64_t seq = 0;
    int64_t fence_offset = -1;
    // The log was read up to here and held no other writer's fence, or
    // (fenced_off) it did: this writer is a zombie there.
    int64_t verified_to = 0;
    bool fenced_off = false;
    // Bytes appended since the last snapshot, and that snapshot's size
    // (0: not known, as after a restart).
    int64_t bytes_since_snapshot = 0;
    int64_t last_snapshot_bytes = 0;
    // The snapshot being written in steps; null when none.
    std::unique_ptr<SnapshotInProgress> snapshot;
  };
  absl::Status Restore(int32_t partition, StateStore* store, uint64_t epoch, int64_t fence_offset,
                       const std::atomic<bool>& stop, RestoreStats* stats,
                       int64_t* bytes_since_snapshot);
  absl::Status StartSnapshot(int32_t partition, Writer& w, StateStore* store,
                             const std::atomic<bool>& stop);
  absl::Status SnapshotStep(int32_t partition, Writer& w, const std::atomic<bool>& stop);
  const SnapshotInProgress* InProgress() const;  // null: none

  friend absl::StatusOr<RestoreStats> RestoreWholeChangelog(const ChangelogOptions&, int,
                                                            StateStore*);
  friend absl::StatusOr<RestoreStats> RestoreShardFrom(const ChangelogOptions&, int32_t, int64_t,
                                                       StateStore*);

  ChangelogOptions o_;
  std::unique_ptr<KafkaSink> own_sink_;  // null when o_.sink was given
  KafkaSink* sink_ = nullptr;
  std::map<int32_t, Writer> writers_;
  int64_t records_out_ = 0;
  int64_t bytes_out_ = 0;
  std::deque<int64_t> snapshot_offsets_;  // SnapshotStep's delivery-report slots
  int64_t snapshots_out_ = 0;
  int64_t snapshot_bytes_out_ = 0;
};

// Reads every partition of `topic` from its log start (offset 0, or the
// first trusted snapshot when the log lost its head) to its current end into
// `store` with the same rules as Acquire, without fencing (tests, audits).
// Reads partition `partition` of `topic` from offset `start` to its current
// end into `store`, without fencing, as a restore without a local copy does:
// from offset 0 it applies everything; from a later offset it builds on the
// first snapshot it can trust there. DATA_LOSS when it finds none (tests,
// audits).
[[nodiscard]] absl::StatusOr<RestoreStats> RestoreShardFrom(const ChangelogOptions& options,
                                                            int32_t partition, int64_t start,
                                                            StateStore* store);

[[nodiscard]] absl::StatusOr<RestoreStats> RestoreWholeChangelog(const ChangelogOptions& options,
                                                                 int partitions, StateStore* store);

}  // namespace exportwatch

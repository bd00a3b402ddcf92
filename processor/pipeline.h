// Processor: the two stages of detection over Kafka.
//
//   raw topics ──> IngestStage ──> facts topic (keyed) ──> StatefulStage ──> alerts
//                      │ bad records -> dead-letters           │ RocksDB (TaskState)
//                      └─ stateless alerts ─────────────────────> alerts
//
// Threads: one per stage, each owning its consumer; a shared idempotent
// producer. Delivery protocol (why a crash anywhere is safe):
//  - Ingest: decode a poll batch, produce its alerts, dead letters and facts,
//    Flush until Kafka has them all, then commit the input offsets to the
//    group. A crash before the commit re-reads the batch: re-produced facts
//    are dropped by the stateful stage's event-id dedup (or applied again
//    where that is a no-op, Rule::ReapplyIsNoOp), re-produced alerts carry
//    the same deterministic alert_id and are dropped by alertd.
//  - Stateful: apply a poll batch to an in-memory overlay of the state,
//    produce and Flush its alerts, then append the batch's changes (state,
//    dedup marks, next input offsets) to the state changelog, one framed
//    record per shard (chunked when large), Flush, and only then write the
//    same changes plus the changelog position in one RocksDB batch. On
//    assignment a shard is fenced (a new writer epoch in its changelog
//    partition) and replayed from the local checkpoint up to the fence, so
//    state moves with its partition and survives a lost disk. A crash before
//    the changelog append re-applies the batch to the old state (same alerts,
//    same ids); a crash during it leaves a cut batch the replay never applies
//    (its facts are re-processed); a crash after it is repaired by the
//    replay on restart. processor/README.md "Delivery protocol" and
//    changelog.h give every case.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "connectors/event_codec.h"
#include "connectors/kafka_types.h"
#include "exportwatch/v1/alert.pb.h"
#include "processor/policy/policy.h"
#include "processor/watchlist_data.h"

namespace exportwatch {

struct TopicNames {
  std::string trade = "trade-events";
  std::string cloud_usage = "cloud-usage";
  std::string model_transfers = "model-transfers";
  std::string alerts = "alerts";
  std::string dead_letters = "dead-letters";
  // Internal repartition topic between the stages.
  std::string facts = "exportwatch-facts";
  // The stateful stage's shards, one partition per facts partition (see
  // processor/changelog.h). Created with cleanup.policy=compact. Empty: no
  // changelog (state stays local: it does not move with its partition).
  std::string state_changelog = "exportwatch-state-changelog";
  // Compacted; a record with key "policy" is a new policy version (hot
  // reload on every instance). Empty: not read.
  std::string reference_data = "reference-data";
  // Compacted; the newest usage of every quota window (key
  // QuotaUsageKey), served by alertd's QueryService. Empty: not written.
  std::string quota_usage = "exportwatch-quota-usage";
};

struct ProcessorOptions {
  // bootstrap.servers. Required.
  std::string brokers;
  // Extra librdkafka properties for every client. Default none.
  KafkaConfig kafka_config;
  TopicNames topics;
  // Consumer groups are <prefix>-ingest and <prefix>-stateful. Default
  // "exportwatch".
  std::string group_prefix = "exportwatch";
  // RocksDB directory of this instance's shards. Required.
  std::string state_dir;
  // The policy at start. Required.
  std::shared_ptr<const Policy> policy;
  // The file it came from, watched for new versions (hot reload). Default
  // none (a shipped profile).
  std::string policy_file;
  // The screening lists at start (SCREENING_MATCH) and the files they came
  // from, watched for new versions like the policy file. Default none.
  WatchlistData watchlist;
  std::vector<std::string> watchlist_files;
  // Parties the ingest stage remembers for re-screening when a list changes
  // (entity_registry.h). Default 200,000.
  size_t known_entities = 200'000;
  // Records per poll. Default 2000.
  int max_batch = 2000;
  // A changelog snapshot is written in steps of about this many bytes, one
  // between batches, taking at most `snapshot_duty` of the stateful thread
  // (changelog.h). Defaults 512 KiB, 0.25.
  size_t snapshot_step_bytes = 512 << 10;
  double snapshot_duty = 0.25;
  // Partitions of the facts topic when the processor creates it. Default 8.
  int facts_partitions = 8;
  // Create missing topics at start (admin API). Default true.
  bool create_topics = true;
  DecodeLimits limits;
  // Dead letters carry the original bytes up to this size; a larger record
  // is cut there and flagged (headers `truncated`, `original-size`), so that
  // a hostile record can never be too large to dead-letter and stall the
  // stage. Default 256 KiB (well under Kafka's default 1 MB message size).
  size_t max_dead_letter_bytes = 256 << 10;
  // Stop by itself once both stages have seen no record for this long after
  // at least one record (benchmarks, batch backfills). Default 0: never.
  absl::Duration exit_when_idle = absl::ZeroDuration();
};

struct ProcessorMetrics {
  std::atomic<uint64_t> records_in{0};
  std::atomic<uint64_t> events_valid{0};
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> unknown_fields{0};
  std::atomic<uint64_t> facts_out{0};
  std::atomic<uint64_t> facts_applied{0};
  // Dropped by their dedup mark. A fact that keeps no mark
  // (Rule::ReapplyIsNoOp) is applied again when re-delivered, and counted
  // in facts_applied.
  std::atomic<uint64_t> facts_duplicate{0};
  std::atomic<uint64_t> alerts_out{0};
  std::atomic<uint64_t> batches_committed{0};
  std::atomic<uint64_t> kafka_retries{0};
  // Known parties screened again after screening-list updates.
  std::atomic<uint64_t> rescreened_entities{0};
  // Changelog: records and value bytes written; shards restored on
  // assignment, records read and their time (wall, restoring thread's CPU);
  // records not applied (cut batches, fenced writers); local copies dropped.
  std::atomic<uint64_t> changelog_records_out{0};
  std::atomic<uint64_t> changelog_bytes_out{0};
  // Shard snapshots written to the changelog (counted in the two above too).
  std::atomic<uint64_t> changelog_snapshots_out{0};
  std::atomic<uint64_t> changelog_snapshot_bytes_out{0};
  std::atomic<uint64_t> shards_restored{0};
  // Shards taken again after finding another instance's fence (counted in
  // shards_restored too).
  std::atomic<uint64_t> shards_reacquired{0};
  // Fact records the facts log dropped before the stateful stage read them
  // (retention shorter than its lag): lost, and logged.
  std::atomic<uint64_t> facts_lost_to_retention{0};
  std::atomic<uint64_t> restored_records{0};
  std::atomic<uint64_t> restored_bytes{0};
  std::atomic<uint64_t> restored_ops{0};
  std::atomic<int64_t> restore_wall_nanos{0};
  std::atomic<int64_t> restore_cpu_nanos{0};
  std::atomic<uint64_t> changelog_discarded{0};
  std::atomic<uint64_t> local_copies_dropped{0};
  // Wall-clock unix nanos of the last record either stage received (or
  // finished handling).
  std::atomic<int64_t> last_record_unix_nanos{0};
  // Process CPU time (every thread, librdkafka's included) when either stage
  // first received records, and when either last finished a batch: their
  // difference is the CPU of the busy span, without start-up, restore and
  // idle polling (benchmarks report it next to the whole process's).
  std::atomic<int64_t> cpu_at_first_record_nanos{0};
  std::atomic<int64_t> cpu_after_last_batch_nanos{0};
  // Stages handling records right now (exit_when_idle waits for 0).
  std::atomic<int> stages_busy{0};
};

// "<quota id>|<subject id>|<window start, unix seconds>".
std::string QuotaUsageKey(const v1::QuotaUsage& usage);

class Processor {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Processor>> Create(ProcessorOptions options);
  virtual ~Processor() = default;
  // Runs both stages until `stop` is set or a stage fails for good.
  [[nodiscard]] virtual absl::Status Run(const std::atomic<bool>& stop) = 0;
  virtual const ProcessorMetrics& metrics() const = 0;
};

}  // namespace exportwatch

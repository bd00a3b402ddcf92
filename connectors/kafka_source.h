// KafkaSource: a consumer-group member that polls in batches.
//
// Threads: all calls, including the RebalanceListener callbacks, happen on
// the thread that calls Poll(). Offsets are never auto-committed: a stateful
// caller keeps them in its state store and returns them from OnAssigned; a
// stateless caller calls Commit() or CommitAsync() after its outputs are
// durable.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "connectors/kafka_types.h"

namespace exportwatch {

class RebalanceListener {
 public:
  virtual ~RebalanceListener() = default;
  // Partitions newly assigned. Returns where to start in each (offset -1:
  // the group's committed offset). An error makes the source stop.
  virtual absl::StatusOr<std::vector<PartitionOffset>> OnAssigned(
      const std::vector<TopicPartition>& partitions) = 0;
  // Partitions about to be taken away: finish and persist their work now.
  virtual void OnRevoked(const std::vector<TopicPartition>& partitions) = 0;
};

struct KafkaSourceOptions {
  // bootstrap.servers. Required.
  std::string brokers;
  // group.id. Required unless `assign` is set.
  std::string group_id;
  // Topics to subscribe to (consumer group). Ignored when `assign` is set.
  std::vector<std::string> topics;
  // Manual assignment instead of a group (every reader gets everything):
  // used by alertd replicas.
  std::vector<PartitionOffset> assign;
  // Most records returned by one Poll(). Default 2000.
  int max_batch = 2000;
  // Fill Record::headers with every header. Default false.
  bool capture_headers = false;
  // Extra librdkafka properties, applied last. Default none.
  KafkaConfig config;
};

class KafkaSource {
 public:
  // `listener` may be null (a group member then starts every partition at
  // the group's offsets); it must outlive the source.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaSource>> Create(
      const KafkaSourceOptions& options, RebalanceListener* listener);
  virtual ~KafkaSource() = default;

  // Waits up to `timeout` for the first record, then returns it with the
  // records already received behind it, up to max_batch (possibly none): a
  // lightly loaded stream is never held back to fill a batch. Partition EOF and transient broker
  // errors are not errors; a fatal consumer error or a listener error is.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Record>> Poll(absl::Duration timeout) = 0;

  // Commits `offsets` (next offset to read) for the group, synchronously.
  [[nodiscard]] virtual absl::Status Commit(const std::vector<PartitionOffset>& offsets) = 0;

  // Sends the same commit and returns at once: no round trip to the group
  // coordinator on the caller's path. Commits reach the coordinator in the
  // order they were made. The outcome arrives during a later Poll();
  // TakeAsyncCommitError() returns the first commit failure reported since
  // it was last called (OK if none; a failed synchronous commit shows here
  // too). A lost commit only means those records are read again.
  virtual void CommitAsync(const std::vector<PartitionOffset>& offsets) = 0;
  [[nodiscard]] virtual absl::Status TakeAsyncCommitError() = 0;

  // Leaves the group (revoking partitions through the listener).
  virtual void Close() = 0;

  // The partitions currently assigned.
  virtual std::vector<TopicPartition> Assignment() = 0;

  // Moves assigned partitions to new positions (offset -1: the log start).
  // Records fetched before the seek are not returned.
  [[nodiscard]] virtual absl::Status Seek(const std::vector<PartitionOffset>& offsets) = 0;
};

}  // namespace exportwatch

// KafkaSink: an idempotent producer with an explicit flush barrier.
//
// Thread-safe: Produce may be called from any thread. Flush() waits for every
// record produced before it and reports whether any of them failed, which is
// what lets the processor persist its offsets only after its outputs are
// durable in Kafka.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "connectors/kafka_types.h"

namespace exportwatch {

struct KafkaSinkOptions {
  // bootstrap.servers. Required.
  std::string brokers;
  // linger.ms: how long records wait to be batched. Default 2.
  int linger_ms = 2;
  // Extra librdkafka properties, applied last. Default none.
  KafkaConfig config;
};

struct TopicSpec {
  std::string name;
  int partitions = 1;
  // Topic configuration at creation, e.g. cleanup.policy=compact. Default none.
  KafkaConfig config = {};
};

// The partition Produce(..., partition = -1) sends `key` to among
// `partitions` (murmur2, as the Java client). For callers that group records
// by partition themselves (the processor's fact batches).
int32_t PartitionOfKey(absl::string_view key, int32_t partitions);

class KafkaSink {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<KafkaSink>> Create(
      const KafkaSinkOptions& options);
  virtual ~KafkaSink() = default;

  // Queues one record; partition -1 means by murmur2 of the key (the Java
  // client's default partitioner). `delivered_offset` (optional) receives the
  // record's offset once Kafka acknowledged it; it must stay valid until the
  // next Flush() returns (and is left untouched if the delivery failed).
  [[nodiscard]] virtual absl::Status Produce(absl::string_view topic, absl::string_view key,
                                             absl::string_view value,
                                             const std::vector<Header>& headers = {},
                                             int32_t partition = -1,
                                             int64_t* delivered_offset = nullptr) = 0;

  // Waits until every queued record is acknowledged; an error if any record
  // since the previous Flush failed for good, or on timeout.
  [[nodiscard]] virtual absl::Status Flush(absl::Duration timeout) = 0;

  // The number of partitions of `topic` (from metadata).
  [[nodiscard]] virtual absl::StatusOr<int> PartitionCount(absl::string_view topic,
                                                           absl::Duration timeout) = 0;

  // The offset the next record appended to `partition` of `topic` will get
  // (the high watermark), asked of the partition's leader.
  [[nodiscard]] virtual absl::StatusOr<int64_t> EndOffset(absl::string_view topic,
                                                          int32_t partition,
                                                          absl::Duration timeout) = 0;

  // The offset of the oldest record `partition` of `topic` still holds (the
  // low watermark: above 0 once retention dropped the log's head).
  [[nodiscard]] virtual absl::StatusOr<int64_t> StartOffset(absl::string_view topic,
                                                            int32_t partition,
                                                            absl::Duration timeout) = 0;

  // Creates the topics that do not exist yet (admin API). Existing ones are
  // left as they are (their configuration is not changed).
  [[nodiscard]] virtual absl::Status EnsureTopics(const std::vector<TopicSpec>& topics,
                                                  absl::Duration timeout) = 0;
};

}  // namespace exportwatch

// MockKafkaCluster: librdkafka's mock cluster (rdkafka_mock.h), a real
// Kafka-protocol broker on loopback TCP, for `exportwatch dev` and tests.
// A mock partition keeps only about 5 MB of log.
//
// Two ways the mock differs from a real broker, and what we do about them:
// - It leaves Nagle's algorithm on for its connections, so a client with
//   several requests in flight (a producer flushing to many partitions)
//   waited ~40 ms per flush for its own delayed ACK. Create() sets
//   TCP_NODELAY on the brokers' listeners, as a real broker does for every
//   connection (EW_MOCK_NAGLE=1 in the environment keeps the mock's way).
// - It holds an empty Fetch for the consumer's whole fetch.wait.max.ms
//   even when data arrives meanwhile (a real broker answers at once), so on
//   the mock every hop costs up to that wait: latency benchmarks lower it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace exportwatch {

class MockKafkaCluster {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<MockKafkaCluster>> Create(int num_brokers);
  virtual ~MockKafkaCluster() = default;
  // bootstrap.servers for clients, e.g. "127.0.0.1:40123,127.0.0.1:40125".
  virtual std::string bootstraps() const = 0;
  [[nodiscard]] virtual absl::Status CreateTopic(const std::string& topic, int partitions,
                                                 int replication_factor) = 0;
  // Fault injection: take a broker down / up.
  [[nodiscard]] virtual absl::Status SetBrokerDown(int broker_id, bool down) = 0;
  // Fault injection: the next requests of Kafka API `api_key` (0 Produce,
  // 1 Fetch, 8 OffsetCommit, 11 JoinGroup, ...) fail, in order, with these
  // Kafka protocol error codes (e.g. 6 NOT_LEADER_OR_FOLLOWER, 7
  // REQUEST_TIMED_OUT, 15 COORDINATOR_NOT_AVAILABLE, 16 NOT_COORDINATOR).
  // Only the process that owns the cluster can inject faults.
  virtual void PushRequestErrors(int16_t api_key, const std::vector<int>& kafka_error_codes) = 0;
  // Fault injection: every response of `broker_id` is delayed by `rtt`.
  [[nodiscard]] virtual absl::Status SetBrokerRtt(int broker_id, absl::Duration rtt) = 0;
  // Makes `broker_id` the coordinator of consumer group `group`.
  [[nodiscard]] virtual absl::Status SetGroupCoordinator(const std::string& group,
                                                         int broker_id) = 0;
};

}  // namespace exportwatch

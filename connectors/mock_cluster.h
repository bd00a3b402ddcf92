// MockKafkaCluster: librdkafka's mock cluster (rdkafka_mock.h), a real
// Kafka-protocol broker on loopback TCP, for `exportwatch dev` and tests.
// A mock partition keeps only about 5 MB of log.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

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
};

}  // namespace exportwatch

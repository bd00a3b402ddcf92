// Alertd: the `alerts` topic -> the alert log -> AlertService over gRPC.
//
// Every alertd replica reads every partition of `alerts` (manual
// assignment, no group): delivery to SOC clients is broadcast, and each
// replica's log holds every alert. The log stores the next offset of each
// partition in the same RocksDB batch as the alerts, so a restarted replica
// resumes exactly where its log ends; duplicates (a processor re-emitting
// after a crash) are dropped by alert_id. With the default single-partition
// `alerts` topic, every replica assigns the same cursor to the same alert.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "connectors/kafka_types.h"

namespace exportwatch {

struct AlertdOptions {
  // bootstrap.servers. Required.
  std::string brokers;
  // Extra librdkafka properties. Default none.
  KafkaConfig kafka_config;
  // Default "alerts".
  std::string alerts_topic = "alerts";
  // RocksDB directory of the alert log. Required.
  std::string state_dir;
  // gRPC listen address; port 0 picks a free port. Default 127.0.0.1:50051.
  std::string listen = "127.0.0.1:50051";
  // Live alerts buffered per subscriber before it is cut off. Default 1024.
  size_t subscriber_buffer = 1024;
};

class Alertd {
 public:
  // Opens the log and starts the gRPC server (so port() is known at once).
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Alertd>> Start(AlertdOptions options);
  virtual ~Alertd() = default;
  virtual int port() const = 0;
  // Consumes `alerts` into the log until `stop`; then shuts the server down.
  [[nodiscard]] virtual absl::Status Run(const std::atomic<bool>& stop) = 0;
  virtual uint64_t alerts_stored() const = 0;
};

}  // namespace exportwatch

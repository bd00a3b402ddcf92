// Alertd: the `alerts` topic -> the alert log -> AlertService over gRPC.
//
// Every alertd replica reads every partition of `alerts` (manual
// assignment, no group): delivery to SOC clients is broadcast, and each
// replica's log holds every alert. The log stores the next offset of each
// partition in the same RocksDB batch as the alerts, so a restarted replica
// resumes exactly where its log ends; duplicates (a processor re-emitting
// after a crash) are dropped by alert_id. With the default single-partition
// `alerts` topic, every replica assigns the same cursor to the same alert.
//
// Triage (UpdateAlertStatus) is replicated through the compacted triage
// topic: the replica that takes the RPC produces the update and waits for
// the broker's acknowledgement before applying it and answering, and every
// replica (itself included) applies the topic's records in order, so all
// converge on the last update of each alert (updates of one alert share a
// key, hence a partition and one order). A replica reads the triage
// topic from its start at every start-up (compaction keeps it to one
// record per alert), so a replica with a new disk gets every status back.
// An update for an alert a replica has not stored yet waits in memory
// (bounded) until the alert arrives.
#pragma once

#include <atomic>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "connectors/kafka_types.h"
#include "processor/alertd/auth.h"

namespace exportwatch {

struct AlertdOptions {
  // bootstrap.servers. Required.
  std::string brokers;
  // Extra librdkafka properties. Default none.
  KafkaConfig kafka_config;
  // Default "alerts".
  std::string alerts_topic = "alerts";
  // Compacted topic of triage updates (key: alert_id, value: Triage), the
  // shared truth of UpdateAlertStatus for every replica; created if missing.
  // Empty: triage stays local to a replica. Default "alert-triage".
  std::string triage_topic = "alert-triage";
  // Compacted topic of quota usages written by the processors, the view
  // behind QueryService.GetQuotaUsage (read whole at start-up). Empty: the
  // service answers NOT_FOUND. Default "exportwatch-quota-usage".
  std::string quota_usage_topic = "exportwatch-quota-usage";
  // RocksDB directory of the alert log. Required.
  std::string state_dir;
  // gRPC listen address; port 0 picks a free port. Default 127.0.0.1:50051.
  std::string listen = "127.0.0.1:50051";
  // TLS for the gRPC port (empty cert: plaintext), and a file of accepted
  // bearer tokens (empty: none needed). See processor/alertd/auth.h.
  ServerTlsFiles tls;
  std::string auth_tokens_file;
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

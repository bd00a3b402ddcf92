// exportwatch alertd: the alert service against a Kafka cluster.
#include <iostream>

#include "processor/alertd_runner.h"
#include "processor/cli/commands.h"
#include "processor/cli/flags.h"
#include "processor/cli/kafka_flags.h"
#include "processor/cli/signals.h"

namespace exportwatch::cli {

int RunAlertd(int argc, char** argv) {
  AlertdOptions o;
  std::vector<std::string> kafka_props;
  int64_t buffer = static_cast<int64_t>(o.subscriber_buffer);
  FlagSet flags("alertd",
                "Reads the alerts topic into a durable alert log and serves AlertService\n"
                "(Subscribe, ListAlerts, GetAlert, UpdateAlertStatus), grpc.health.v1 and\n"
                "server reflection. Replicas each serve every alert.");
  flags.String("brokers", &o.brokers, "Kafka bootstrap servers; required");
  flags.String("state-dir", &o.state_dir, "RocksDB directory of the alert log; required");
  flags.String("listen", &o.listen, "gRPC address (port 0: any free port)");
  flags.String("alerts-topic", &o.alerts_topic, "topic to read alerts from");
  flags.String("triage-topic", &o.triage_topic,
               "compacted topic through which replicas share triage updates (created if "
               "missing); empty: triage stays local to this replica");
  flags.String("quota-usage-topic", &o.quota_usage_topic,
               "compacted topic of quota usages (written by the processors) behind "
               "QueryService.GetQuotaUsage; empty: not served");
  flags.String("tls-cert", &o.tls.cert, "PEM certificate chain: serve gRPC over TLS");
  flags.String("tls-key", &o.tls.key, "PEM private key of --tls-cert");
  flags.String("tls-client-ca", &o.tls.client_ca,
               "PEM CA bundle: require client certificates it signed (mutual TLS)");
  flags.String("auth-tokens", &o.auth_tokens_file,
               "file of accepted bearer tokens, one per line (16+ characters); a call "
               "without one gets UNAUTHENTICATED");
  flags.Int("subscriber-buffer", &buffer, "live alerts queued per subscriber before cut-off");
  flags.Repeated("kafka", &kafka_props, "librdkafka property KEY=VALUE (repeatable)");
  bool check = false;
  flags.Bool("check", &check, "validate the flags, then exit (0: valid)");
  if (int rc = HandleParse(flags, argc, argv, 2); rc >= 0) return rc;
  if (auto s = ParseKafkaProps(kafka_props, &o.kafka_config); !s.ok()) {
    std::cerr << "exportwatch alertd: " << s.message() << "\n";
    return 2;
  }
  if (buffer < 1) {
    std::cerr << "exportwatch alertd: --subscriber-buffer must be >= 1\n";
    return 2;
  }
  o.subscriber_buffer = static_cast<size_t>(buffer);
  if (o.brokers.empty() || o.state_dir.empty() || o.listen.empty()) {
    std::cerr << "exportwatch alertd: --brokers, --state-dir and --listen are required\n";
    return 2;
  }
  // Credentials are checked here too, so --check catches a bad file.
  if (auto c = MakeServerCredentials(o.tls); !c.ok()) {
    std::cerr << "exportwatch alertd: " << c.status().message() << "\n";
    return 2;
  }
  if (!o.auth_tokens_file.empty()) {
    if (auto t = BearerTokens::Load(o.auth_tokens_file); !t.ok()) {
      std::cerr << "exportwatch alertd: " << t.status().message() << "\n";
      return 2;
    }
  }
  if (check) {
    std::cout << "alertd: configuration OK" << std::endl;
    return 0;
  }
  InstallStopSignals();
  auto alertd = Alertd::Start(std::move(o));
  if (!alertd.ok()) {
    std::cerr << "exportwatch alertd: " << alertd.status().message() << "\n";
    return 1;
  }
  // Tests and scripts read the port from this line.
  std::cout << "alertd listening on port " << (*alertd)->port() << std::endl;
  absl::Status s = (*alertd)->Run(StopFlag());
  if (!s.ok()) {
    std::cerr << "exportwatch alertd: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace exportwatch::cli

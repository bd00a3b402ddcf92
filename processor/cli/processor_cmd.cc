// exportwatch processor: the detection pipeline against a Kafka cluster.
#include <iostream>

#include "absl/strings/str_split.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/server_builder.h"
#include "processor/cli/commands.h"
#include "processor/cli/flags.h"
#include "processor/cli/kafka_flags.h"
#include "processor/cli/signals.h"
#include "processor/cli/watchlist_flag.h"
#include "processor/pipeline.h"

namespace exportwatch::cli {

int RunProcessor(int argc, char** argv) {
  ProcessorOptions o;
  std::string policy_file, profile = "current";
  std::vector<std::string> kafka_props;
  int64_t facts_partitions = o.facts_partitions, max_batch = o.max_batch;
  auto snapshot_step_bytes = static_cast<int64_t>(o.snapshot_step_bytes);
  double snapshot_duty = o.snapshot_duty;
  bool no_create = false, check = false;
  std::string health_listen;
  double exit_when_idle = 0;
  FlagSet flags("processor",
                "Runs the detection pipeline (ingest and stateful stages) as one member of the\n"
                "processor consumer groups. Run several against one cluster to share the work.");
  flags.String("brokers", &o.brokers, "Kafka bootstrap servers; required");
  flags.String("state-dir", &o.state_dir, "RocksDB directory of this instance; required");
  flags.String("policy", &policy_file,
               "policy file (JSON, or text format: .txtpb); wins over --profile; watched: a "
               "valid new version takes effect without a restart");
  flags.Repeated("watchlist", &o.watchlist_files,
                 std::string(kWatchlistHelp) + "; watched like --policy");
  flags.String("reference-data-topic", &o.topics.reference_data,
               "compacted topic of reference data (key \"policy\": a new policy version; key "
               "\"watchlist\": a new screening list, CSL JSON or CSV); empty: none");
  flags.String("changelog-topic", &o.topics.state_changelog,
               "changelog of the stateful shards (as many partitions as the facts topic; "
               "restored on assignment); empty: state stays local");
  flags.String("profile", &profile, "shipped profile: current | aidr-2025");
  flags.String("quota-usage-topic", &o.topics.quota_usage,
               "compacted topic where the newest usage of every quota window goes (alertd's "
               "QueryService reads it); empty: not written");
  flags.String("group-prefix", &o.group_prefix,
               "consumer groups are PREFIX-ingest, PREFIX-stateful");
  flags.Int("facts-partitions", &facts_partitions, "partitions of the facts topic if created");
  flags.Int("max-batch", &max_batch, "records per poll");
  flags.Int("snapshot-step-bytes", &snapshot_step_bytes,
            "a shard's changelog snapshot is written in steps of about this many bytes, "
            "one between batches, so a large shard never stalls the stage");
  flags.Double("snapshot-duty", &snapshot_duty,
               "the most of the stateful thread's time a snapshot takes, in (0, 1]: steps are "
               "spaced out to keep it");
  flags.Bool("no-create-topics", &no_create, "do not create missing topics");
  flags.Double("exit-when-idle", &exit_when_idle,
               "stop after this many seconds without input (0: never)");
  flags.Repeated("kafka", &kafka_props, "librdkafka property KEY=VALUE (repeatable)");
  flags.String("health-listen", &health_listen,
               "serve grpc.health.v1 here (liveness/readiness probes); empty: none");
  flags.Bool("check", &check, "validate the flags and the policy, then exit (0: valid)");
  if (int rc = HandleParse(flags, argc, argv, 2); rc >= 0) return rc;
  if (auto s = ParseKafkaProps(kafka_props, &o.kafka_config); !s.ok()) {
    std::cerr << "exportwatch processor: " << s.message() << "\n";
    return 2;
  }
  if (max_batch < 1 || max_batch > 100000) {
    std::cerr << "exportwatch processor: --max-batch must be in 1..100000\n";
    return 2;
  }
  if (snapshot_step_bytes < 4096 || snapshot_step_bytes > (int64_t{1} << 30)) {
    std::cerr << "exportwatch processor: --snapshot-step-bytes must be in 4096..1073741824\n";
    return 2;
  }
  o.snapshot_step_bytes = static_cast<size_t>(snapshot_step_bytes);
  if (!(snapshot_duty > 0 && snapshot_duty <= 1)) {
    std::cerr << "exportwatch processor: --snapshot-duty must be in (0, 1]\n";
    return 2;
  }
  o.snapshot_duty = snapshot_duty;
  if (facts_partitions < 1 || facts_partitions > 10000) {
    std::cerr << "exportwatch processor: --facts-partitions must be in 1..10000\n";
    return 2;
  }
  auto policy = Policy::Load(policy_file, profile);
  if (!policy.ok()) {
    std::cerr << "exportwatch processor: " << policy.status().message() << "\n";
    return 2;
  }
  o.policy = *policy;
  o.policy_file = policy_file;
  if (!LoadWatchlistFlag(o.watchlist_files, **policy, "processor", &o.watchlist)) return 2;
  o.facts_partitions = static_cast<int>(facts_partitions);
  o.max_batch = static_cast<int>(max_batch);
  o.create_topics = !no_create;
  o.exit_when_idle = absl::Seconds(exit_when_idle);
  if (o.brokers.empty() || o.state_dir.empty()) {
    std::cerr << "exportwatch processor: --brokers and --state-dir are required\n";
    return 2;
  }
  if (check) {
    std::cout << "processor: configuration OK (policy " << (*policy)->ref().name() << " "
              << (*policy)->ref().version() << ", watchlist "
              << (o.watchlist.version.empty() ? "none" : o.watchlist.version) << ")" << std::endl;
    return 0;
  }
  InstallStopSignals();
  auto processor = Processor::Create(std::move(o));
  if (!processor.ok()) {
    std::cerr << "exportwatch processor: " << processor.status().message() << "\n";
    return 1;
  }
  // Health: SERVING while the pipeline runs (a failed stage stops Run).
  std::unique_ptr<grpc::Server> health;
  if (!health_listen.empty()) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder b;
    b.AddListeningPort(health_listen, grpc::InsecureServerCredentials());
    health = b.BuildAndStart();
    if (health == nullptr) {
      std::cerr << "exportwatch processor: cannot listen on " << health_listen << "\n";
      return 1;
    }
    health->GetHealthCheckService()->SetServingStatus(true);
  }
  std::cerr << "processor: running (policy " << (*policy)->ref().name() << " "
            << (*policy)->ref().version() << ")" << std::endl;
  absl::Status s = (*processor)->Run(StopFlag());
  if (health) {
    health->GetHealthCheckService()->SetServingStatus(false);
    health->Shutdown();
  }
  const auto& m = (*processor)->metrics();
  std::cerr << "processor: stopped; records " << m.records_in << ", valid " << m.events_valid
            << ", dead letters " << m.dead_letters << ", facts applied " << m.facts_applied
            << ", duplicates " << m.facts_duplicate << ", alerts " << m.alerts_out << "\n";
  // One machine-readable line for scripts and benchmarks.
  std::cout << "processor-metrics records_in=" << m.records_in << " events_valid=" << m.events_valid
            << " dead_letters=" << m.dead_letters << " facts_out=" << m.facts_out
            << " facts_applied=" << m.facts_applied << " facts_duplicate=" << m.facts_duplicate
            << " alerts_out=" << m.alerts_out
            << " changelog_records_out=" << m.changelog_records_out
            << " changelog_bytes_out=" << m.changelog_bytes_out
            << " changelog_snapshots_out=" << m.changelog_snapshots_out
            << " changelog_snapshot_bytes_out=" << m.changelog_snapshot_bytes_out
            << " shards_restored=" << m.shards_restored
            << " shards_reacquired=" << m.shards_reacquired
            << " facts_lost_to_retention=" << m.facts_lost_to_retention
            << " restored_records=" << m.restored_records << " restored_bytes=" << m.restored_bytes
            << " restored_ops=" << m.restored_ops
            << " restore_wall_s=" << static_cast<double>(m.restore_wall_nanos) / 1e9
            << " restore_cpu_s=" << static_cast<double>(m.restore_cpu_nanos) / 1e9
            << " changelog_discarded=" << m.changelog_discarded
            << " local_copies_dropped=" << m.local_copies_dropped << " busy_cpu_s="
            << static_cast<double>(m.cpu_after_last_batch_nanos - m.cpu_at_first_record_nanos) / 1e9
            << std::endl;
  if (!s.ok()) {
    std::cerr << "exportwatch processor: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace exportwatch::cli

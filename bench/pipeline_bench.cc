// pipeline_bench: events per processor CPU-second through the whole pipeline
// (ingest, re-keying through Kafka, stateful stage, alerts), next to a raw
// librdkafka batch consumer draining the same topics from the same broker in
// the same run.
//
//   build/bench/pipeline_bench [--events N] [--partitions P] [--format protobuf|json|both]
//                              [--profile current|aidr-2025]
//
// Both consumers run as their own processes; CPU is each process's user +
// system time (getrusage of the child), so the broker's cost (in this
// process) is excluded from both. The processor runs with --exit-when-idle 1,
// so its figure includes about one second of idle polling.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "connectors/mock_cluster.h"
#include "processor/cli/flags.h"
#include "processor/gen/generator.h"
#include "processor/json.h"
#include "processor/traffic.h"
#include "tests/common/subprocess.h"
#include "tests/common/test_util.h"

namespace exportwatch {
namespace {

struct ChildResult {
  double cpu_seconds = 0;
  double wall_seconds = 0;
  std::string stdout_text;
  int status = -1;
};

// Runs argv to its end, capturing stdout; CPU is the child's user + sys.
ChildResult RunChild(std::vector<std::string> args) {
  ChildResult r;
  absl::Time start = absl::Now();
  testing::Subprocess child(std::move(args));
  struct rusage ru = {};
  r.status = child.Wait(&r.stdout_text, &ru);
  r.wall_seconds = absl::ToDoubleSeconds(absl::Now() - start);
  r.cpu_seconds = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
                  ru.ru_stime.tv_usec / 1e6;
  return r;
}

// Child mode: drain the three input topics as one consumer-group member.
int RawConsumer(const std::string& brokers, int64_t expect) {
  KafkaSourceOptions so;
  so.brokers = brokers;
  so.group_id = "raw-bench";
  so.topics = {"trade-events", "cloud-usage", "model-transfers"};
  so.max_batch = 2000;
  struct L final : RebalanceListener {
    absl::StatusOr<std::vector<PartitionOffset>> OnAssigned(
        const std::vector<TopicPartition>& p) override {
      std::vector<PartitionOffset> out;
      for (const auto& tp : p) out.push_back({tp, -1});
      return out;
    }
    void OnRevoked(const std::vector<TopicPartition>&) override {}
  } listener;
  auto source = KafkaSource::Create(so, &listener);
  if (!source.ok()) return 1;
  int64_t got = 0;
  uint64_t bytes = 0;
  absl::Time last = absl::Now();
  while (got < expect && absl::Now() - last < absl::Seconds(10)) {
    auto recs = (*source)->Poll(absl::Milliseconds(100));
    if (!recs.ok()) return 1;
    if (!recs->empty()) last = absl::Now();
    got += static_cast<int64_t>(recs->size());
    for (const auto& r : *recs) bytes += r.value.size();
  }
  (*source)->Close();
  std::cout << "raw-consumed " << got << " " << bytes << std::endl;
  return 0;
}

int64_t MetricFrom(const std::string& text, const std::string& name) {
  auto pos = text.find(name + "=");
  if (pos == std::string::npos) return -1;
  int64_t v = -1;
  size_t end = text.find_first_of(" \n", pos);
  (void)absl::SimpleAtoi(text.substr(pos + name.size() + 1, end - pos - name.size() - 1), &v);
  return v;
}

struct Row {
  std::string format;
  int64_t events = 0;
  double avg_bytes = 0;
  ChildResult raw, proc;
  int64_t proc_records = 0, facts = 0, alerts = 0;
  double busy_cpu_seconds = 0;
};

// Seconds without input before the processor exits (longer under valgrind).
int64_t exit_when_idle_seconds = 1;

absl::StatusOr<Row> RunOne(const std::string& binary, const std::string& format, int64_t events,
                           int partitions, const std::string& profile,
                           const std::string& watchlist) {
  Row row;
  row.format = format;
  auto cluster = MockKafkaCluster::Create(1);
  if (!cluster.ok()) return cluster.status();
  for (const auto& [t, n] :
       std::vector<std::pair<std::string, int>>{{"trade-events", partitions},
                                                {"cloud-usage", partitions},
                                                {"model-transfers", 2},
                                                {"alerts", 1},
                                                {"dead-letters", 1},
                                                {"exportwatch-facts", partitions},
                                                {"exportwatch-state-changelog", partitions},
                                                {"exportwatch-quota-usage", 1}}) {
    if (auto s = (*cluster)->CreateTopic(t, n, 1); !s.ok()) return s;
  }
  std::string brokers = (*cluster)->bootstraps();
  EventGenerator::Options go;
  go.seed = 1;
  go.violation_rate = 0.01;
  go.data_dir = EW_SHARED_DIR "/data";
  auto gen = EventGenerator::Create(go);
  if (!gen.ok()) return gen.status();
  KafkaSinkOptions so;
  so.brokers = brokers;
  so.linger_ms = 20;
  auto sink = KafkaSink::Create(so);
  if (!sink.ok()) return sink.status();
  // Size the stream: the bytes produced are checked against the mock's
  // ~5 MB per partition below.
  TrafficOptions to;
  to.count = events;
  to.rate = 0;
  to.protobuf = format == "protobuf";
  std::atomic<bool> stop{false};
  std::atomic<int64_t> produced{0};
  if (auto s = ProduceTraffic(**gen, **sink, TopicNames(), to, stop, nullptr, &produced); !s.ok()) {
    return s;
  }
  row.events = produced;
  std::string self = "/proc/self/exe";
  char exe[4096];
  ssize_t len = readlink(self.c_str(), exe, sizeof(exe) - 1);
  if (len <= 0) return absl::InternalError("readlink");
  exe[len] = 0;
  row.raw = RunChild({exe, "--raw-consumer", brokers, absl::StrCat(events)});
  int64_t raw_got = 0;
  uint64_t raw_bytes = 0;
  if (std::sscanf(row.raw.stdout_text.c_str(), "raw-consumed %ld %lu", &raw_got, &raw_bytes) != 2 ||
      raw_got != events) {
    return absl::DataLossError(absl::StrCat(
        "raw consumer read ", raw_got, " of ", events,
        " records: the mock broker dropped log segments; use fewer events or more partitions"));
  }
  row.avg_bytes = static_cast<double>(raw_bytes) / static_cast<double>(raw_got);
  testing::TempDir dir;
  // EW_BENCH_PROC_PREFIX (e.g. "perf record -o /tmp/p.data --") runs the
  // processor under a profiler; its CPU figure then includes the profiler.
  std::vector<std::string> args = absl::StrSplit(
      getenv("EW_BENCH_PROC_PREFIX") ? getenv("EW_BENCH_PROC_PREFIX") : "", ' ', absl::SkipEmpty());
  args.push_back(binary);
  args.push_back("processor");
  args.insert(args.end(),
              {"--brokers", brokers, "--state-dir", dir.File("state"), "--profile", profile,
               "--no-create-topics", "--exit-when-idle", absl::StrCat(exit_when_idle_seconds)});
  if (!watchlist.empty()) {
    args.push_back("--watchlist");
    args.push_back(watchlist);
  }
  row.proc = RunChild(args);
  row.proc_records = MetricFrom(row.proc.stdout_text, "records_in");
  row.facts = MetricFrom(row.proc.stdout_text, "facts_applied");
  row.alerts = MetricFrom(row.proc.stdout_text, "alerts_out");
  if (auto at = row.proc.stdout_text.find("busy_cpu_s="); at != std::string::npos) {
    row.busy_cpu_seconds = std::atof(row.proc.stdout_text.c_str() + at + 11);
  }
  // Every counter of the run (changelog bytes, retries...), for the record.
  std::cerr << format << ": " << row.proc.stdout_text;
  // Every fact made must have been applied before the processor exited,
  // else it left work undone and the figure would flatter it.
  if (const int64_t out = MetricFrom(row.proc.stdout_text, "facts_out");
      out != row.facts + MetricFrom(row.proc.stdout_text, "facts_duplicate")) {
    return absl::DataLossError(
        absl::StrCat("processor exited with ", row.facts, " of ", out, " facts applied"));
  }
  if (row.proc_records != events) {
    return absl::DataLossError(
        absl::StrCat("processor read ", row.proc_records, " of ", events, " records"));
  }
  return row;
}

}  // namespace
}  // namespace exportwatch

int main(int argc, char** argv) {
  using namespace exportwatch;
  if (argc == 4 && std::string(argv[1]) == "--raw-consumer") {
    int64_t expect = 0;
    if (!absl::SimpleAtoi(argv[3], &expect)) return 2;
    return RawConsumer(argv[2], expect);
  }
  int64_t events = 60000, partitions = 16;
  std::string format = "both", profile = "aidr-2025";
  // SCREENING_MATCH is only on with a list: by default the CSL excerpt the
  // generator's front-company scenario names.
  std::string watchlist = EW_SHARED_DIR "/data/moov-io-watchman/csl.csv";
  cli::FlagSet flags("pipeline_bench", "Processor throughput next to a raw consumer, same run.");
  flags.Int("events", &events, "events per format");
  flags.Int("partitions", &partitions, "partitions of the input and facts topics");
  flags.String("format", &format, "protobuf | json | both");
  flags.String("profile", &profile, "policy profile (every rule it enables is on)");
  flags.Int("exit-when-idle", &exit_when_idle_seconds,
            "seconds without input before the processor exits (raise it under valgrind)");
  std::string binary = EW_BINARY;
  flags.String("binary", &binary,
               "exportwatch binary to run (default: this build's; A/B against another build)");
  flags.String("watchlist", &watchlist,
               "screening list for SCREENING_MATCH (empty: none, the rule raises nothing)");
  if (int rc = cli::HandleParse(flags, argc, argv, 1); rc >= 0) return rc;
  std::vector<std::string> formats;
  if (format == "both") {
    formats = {"protobuf", "json"};
  } else {
    formats = {format};
  }
  // "busy": the processor's CPU from its first record to its last batch
  // (every thread), i.e. without start-up, shard restore and the idle second
  // before it exits; the "proc" columns are the whole process.
  std::cout << absl::StrFormat("%-9s %8s %7s | %9s %12s | %9s %12s %7s %7s | %6s | %10s %13s\n",
                               "format", "events", "bytes", "raw cpu s", "raw ev/cpu-s",
                               "proc cpu s", "proc ev/cpu-s", "facts", "alerts", "ratio",
                               "busy cpu s", "busy ev/cpu-s");
  for (const auto& f : formats) {
    auto row = RunOne(binary, f, events, static_cast<int>(partitions), profile, watchlist);
    if (!row.ok()) {
      std::cerr << "pipeline_bench: " << f << ": " << row.status() << "\n";
      return 1;
    }
    double raw_rate = row->events / row->raw.cpu_seconds;
    double proc_rate = row->events / row->proc.cpu_seconds;
    double busy_rate = row->busy_cpu_seconds > 0 ? row->events / row->busy_cpu_seconds : 0;
    std::cout << absl::StrFormat(
        "%-9s %8d %7.0f | %9.2f %12.0f | %9.2f %12.0f %7d %7d | %5.1f%% | %10.2f %13.0f\n",
        row->format, row->events, row->avg_bytes, row->raw.cpu_seconds, raw_rate,
        row->proc.cpu_seconds, proc_rate, row->facts, row->alerts, 100.0 * proc_rate / raw_rate,
        row->busy_cpu_seconds, busy_rate);
  }
  return 0;
}

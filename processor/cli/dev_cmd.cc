// exportwatch dev: everything on one machine, no setup.
//
// Start-up is an ordered list of steps; teardown runs in reverse whatever
// happened (threads are joined by their owners' destructors order below).
#include <filesystem>
#include <iostream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "connectors/mock_cluster.h"
#include "processor/alert_subscriber.h"
#include "processor/alertd_runner.h"
#include "processor/cli/commands.h"
#include "processor/cli/flags.h"
#include "processor/cli/signals.h"
#include "processor/cli/watchlist_flag.h"
#include "processor/pipeline.h"
#include "processor/tail_format.h"
#include "processor/traffic.h"

namespace exportwatch::cli {
namespace {

int Fail(absl::string_view step, const absl::Status& s) {
  std::cerr << "exportwatch dev: " << step << ": " << s.message() << "\n";
  return 1;
}

}  // namespace

int RunDev(int argc, char** argv) {
  constexpr absl::string_view kDefaultListen = "127.0.0.1:50051";
  std::string profile = "current", policy_file, listen(kDefaultListen), state_dir,
              data_dir = "../shared/data";
  std::vector<std::string> watchlists;
  double rate = 200, violation_rate = 0.02;
  int64_t seconds = 0, seed = 1;
  FlagSet flags("dev",
                "Runs everything in one process: an embedded Kafka-protocol broker (librdkafka's\n"
                "mock cluster on loopback), the topics, the processor, the alert service on a\n"
                "local port, and realistic synthetic traffic; prints alerts as they are raised.\n"
                "Ctrl-C stops it cleanly.");
  flags.String("profile", &profile, "shipped policy profile: current | aidr-2025");
  flags.String("policy", &policy_file, "policy file (JSON); wins over --profile");
  flags.String("listen", &listen,
               "alert service address (port 0: any free port; a busy default falls back to 0)");
  flags.String("state-dir", &state_dir, "state folder (default: a fresh temporary one)");
  flags.String("data-dir", &data_dir, "shared data folder for realistic traffic");
  flags.Repeated(
      "watchlist", &watchlists,
      std::string(kWatchlistHelp) + " (default: DATA_DIR/moov-io-watchman/csl.csv when it exists)");
  flags.Double("rate", &rate, "generated events per second");
  flags.Double("violation-rate", &violation_rate, "fraction of events that are violations");
  flags.Int("seconds", &seconds, "stop after this many seconds (0: until Ctrl-C)");
  flags.Int("seed", &seed, "traffic seed");
  if (int rc = HandleParse(flags, argc, argv, 2); rc >= 0) return rc;
  InstallStopSignals();

  // 1. Policy.
  auto policy = Policy::Load(policy_file, profile);
  if (!policy.ok()) return Fail("policy", policy.status());
  if (watchlists.empty()) {
    const std::string csl = data_dir + "/moov-io-watchman/csl.csv";
    if (std::filesystem::exists(csl)) watchlists.push_back(csl);
  }
  WatchlistData watchlist;
  if (!LoadWatchlistFlag(watchlists, **policy, "dev", &watchlist)) return 2;
  // 2. State folder.
  bool temp_state = state_dir.empty();
  if (temp_state) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "exportwatch-dev-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) return Fail("state", absl::InternalError("mkdtemp"));
    state_dir = tmpl;
  }
  struct CleanUp {
    std::string dir;
    bool remove;
    ~CleanUp() {
      std::error_code ec;
      if (remove) std::filesystem::remove_all(dir, ec);
    }
  } cleanup{state_dir, temp_state};
  // 3. Broker and topics.
  auto cluster = MockKafkaCluster::Create(1);
  if (!cluster.ok()) return Fail("broker", cluster.status());
  TopicNames topics;
  for (const auto& [t, n] : std::vector<std::pair<std::string, int>>{{topics.trade, 4},
                                                                     {topics.cloud_usage, 4},
                                                                     {topics.model_transfers, 1},
                                                                     {topics.alerts, 1},
                                                                     {topics.dead_letters, 1},
                                                                     {topics.facts, 8},
                                                                     {topics.state_changelog, 8},
                                                                     {topics.reference_data, 1},
                                                                     {topics.quota_usage, 1},
                                                                     {"alert-triage", 1}}) {
    if (auto s = (*cluster)->CreateTopic(t, n, 1); !s.ok()) return Fail("topics", s);
  }
  const std::string brokers = (*cluster)->bootstraps();
  // 4. Alert service (listening before anything produces alerts).
  AlertdOptions ao;
  ao.brokers = brokers;
  ao.state_dir = state_dir + "/alertd";
  ao.listen = listen;
  auto alertd = Alertd::Start(ao);
  if (!alertd.ok() && listen == kDefaultListen) {
    // The default port is taken (another dev running?): any free port will do.
    ao.listen = "127.0.0.1:0";
    alertd = Alertd::Start(ao);
  }
  if (!alertd.ok()) return Fail("alert service", alertd.status());
  // 5. Processor.
  ProcessorOptions po;
  po.brokers = brokers;
  po.state_dir = state_dir + "/processor";
  po.policy = *policy;
  po.watchlist = watchlist;
  po.watchlist_files = watchlists;
  po.create_topics = false;
  auto processor = Processor::Create(po);
  if (!processor.ok()) return Fail("processor", processor.status());
  // 6. Traffic.
  EventGenerator::Options go;
  go.seed = static_cast<uint64_t>(seed);
  go.events_per_second = rate;
  go.violation_rate = violation_rate;
  go.data_dir = data_dir;
  auto gen = EventGenerator::Create(go);
  if (!gen.ok()) return Fail("traffic generator", gen.status());
  KafkaSinkOptions so;
  so.brokers = brokers;
  auto sink = KafkaSink::Create(so);
  if (!sink.ok()) return Fail("producer", sink.status());

  std::cout << "exportwatch dev: broker " << brokers
            << ", alert service on 127.0.0.1:" << (*alertd)->port() << ", policy "
            << (*policy)->ref().name() << " " << (*policy)->ref().version() << ", watchlist "
            << (watchlist.version.empty() ? "none" : watchlist.version) << ", state " << state_dir
            << "\n"
            << "  try: exportwatch tail --target 127.0.0.1:" << (*alertd)->port()
            << "   (Ctrl-C stops)" << std::endl;

  const std::atomic<bool>& stop = StopFlag();
  absl::Status alertd_status, processor_status, traffic_status;
  // A component that stops on an error stops everything: dev must never
  // go on printing nothing while looking alive.
  std::thread alertd_thread([&] {
    alertd_status = (*alertd)->Run(stop);
    RequestStop();
  });
  std::thread processor_thread([&] {
    processor_status = (*processor)->Run(stop);
    RequestStop();
  });
  std::atomic<int64_t> produced{0};
  std::thread traffic_thread([&] {
    TrafficOptions to;
    to.rate = rate;
    traffic_status = ProduceTraffic(**gen, **sink, topics, to, stop, nullptr, &produced);
  });
  std::atomic<int64_t> printed{0};
  std::thread printer([&] {
    AlertSubscriberOptions sub;
    sub.target = absl::StrCat("127.0.0.1:", (*alertd)->port());
    (void)RunAlertSubscriber(sub, stop, [&](const v1::Alert& a) {
      ++printed;
      std::cout << FormatAlertLine(a) << std::endl;
    });
  });

  const absl::Time start = absl::Now();
  absl::Time next_stats = start + absl::Seconds(10);
  while (!StopRequested()) {
    absl::SleepFor(absl::Milliseconds(100));
    if (seconds > 0 && absl::Now() - start >= absl::Seconds(seconds)) RequestStop();
    if (absl::Now() >= next_stats) {
      const auto& m = (*processor)->metrics();
      std::cerr << "dev: " << produced << " events produced, " << m.events_valid << " processed, "
                << m.dead_letters << " dead letters, " << m.alerts_out << " alerts raised, "
                << printed << " delivered" << std::endl;
      next_stats += absl::Seconds(10);
    }
  }
  std::cerr << "dev: stopping" << std::endl;
  traffic_thread.join();
  printer.join();
  processor_thread.join();
  alertd_thread.join();
  const auto& m = (*processor)->metrics();
  std::cerr << "dev: stopped after " << produced << " events, " << m.alerts_out
            << " alerts raised, " << printed << " delivered" << std::endl;
  if (!processor_status.ok()) return Fail("processor", processor_status);
  if (!alertd_status.ok()) return Fail("alert service", alertd_status);
  if (!traffic_status.ok() && !absl::IsCancelled(traffic_status)) {
    return Fail("traffic", traffic_status);
  }
  return 0;
}

}  // namespace exportwatch::cli

// exportwatch gen: the synthetic producer.
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "processor/cli/commands.h"
#include "processor/cli/flags.h"
#include "processor/cli/kafka_flags.h"
#include "processor/cli/signals.h"
#include "processor/json.h"
#include "processor/traffic.h"

namespace exportwatch::cli {

int RunGen(int argc, char** argv) {
  std::string brokers, output, labels_path, data_dir = "../shared/data", scenarios = "all";
  std::vector<std::string> kafka_props;
  int64_t count = 1000, seed = 1;
  double rate = 0, violation_rate = 0.01;
  bool protobuf = false;
  FlagSet flags("gen",
                "Generates realistic traffic (shipment country mix from Taiwan's HS8542 exports,\n"
                "cloud job shapes from Alibaba GPU traces) with labelled violation scenarios.\n"
                "Writes to Kafka (--brokers) or to a JSON-lines file for replay (--output).");
  flags.String("brokers", &brokers, "produce to this Kafka cluster");
  flags.String("output", &output, "write replay lines to this file ('-': stdout)");
  flags.String("labels", &labels_path, "write ground truth of violation events (JSON lines)");
  flags.String("data-dir", &data_dir, "shared data folder (built-in defaults when missing)");
  flags.Int("count", &count, "events to generate (0: until Ctrl-C)");
  flags.Double("rate", &rate, "events per second (0: as fast as possible)");
  flags.Double("violation-rate", &violation_rate, "fraction of events from violation scenarios");
  flags.String("scenarios", &scenarios,
               "violation scenarios to mix in: all, or names separated by commas (" +
                   absl::StrJoin(EventGenerator::ScenarioNames(), ", ") + ")");
  flags.Int("seed", &seed, "random seed (same seed, same stream)");
  flags.Bool("protobuf", &protobuf, "encode Kafka records as protobuf instead of JSON");
  flags.Repeated("kafka", &kafka_props, "librdkafka property KEY=VALUE (repeatable)");
  if (int rc = HandleParse(flags, argc, argv, 2); rc >= 0) return rc;
  if (brokers.empty() == output.empty()) {
    std::cerr << "exportwatch gen: give exactly one of --brokers and --output (see --help)\n";
    return 2;
  }
  EventGenerator::Options go;
  go.seed = static_cast<uint64_t>(seed);
  go.violation_rate = violation_rate;
  if (scenarios != "all") go.scenarios = absl::StrSplit(scenarios, ',', absl::SkipEmpty());
  go.data_dir = data_dir;
  auto gen = EventGenerator::Create(go);
  if (!gen.ok()) {
    std::cerr << "exportwatch gen: " << gen.status().message() << "\n";
    return gen.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  std::unique_ptr<LineWriter> labels;
  if (!labels_path.empty()) {
    auto l = LineWriter::Open(labels_path);
    if (!l.ok()) {
      std::cerr << "exportwatch gen: " << l.status().message() << "\n";
      return 1;
    }
    labels = std::move(*l);
  }
  InstallStopSignals();
  if (!output.empty()) {
    auto out = LineWriter::Open(output);
    if (!out.ok()) {
      std::cerr << "exportwatch gen: " << out.status().message() << "\n";
      return 1;
    }
    GeneratedEvent e;
    for (int64_t i = 0; (count == 0 || i < count) && !StopRequested(); ++i) {
      (*gen)->Next(&e);
      if (!(*out)->Write(ToJson(e.event)).ok() ||
          (labels && !e.expected_rules.empty() && !labels->Write(LabelJson(e)).ok())) {
        std::cerr << "exportwatch gen: write failed\n";
        return 1;
      }
    }
    return (*out)->Close().ok() ? 0 : 1;
  }
  KafkaSinkOptions so;
  so.brokers = brokers;
  if (auto s = ParseKafkaProps(kafka_props, &so.config); !s.ok()) {
    std::cerr << "exportwatch gen: " << s.message() << "\n";
    return 2;
  }
  auto sink = KafkaSink::Create(so);
  if (!sink.ok()) {
    std::cerr << "exportwatch gen: " << sink.status().message() << "\n";
    return 1;
  }
  TrafficOptions to;
  to.count = count;
  to.rate = rate;
  to.protobuf = protobuf;
  std::atomic<int64_t> produced{0};
  absl::Status s =
      ProduceTraffic(**gen, **sink, TopicNames(), to, StopFlag(), labels.get(), &produced);
  std::cerr << "gen: produced " << produced << " events\n";
  if (!s.ok()) {
    std::cerr << "exportwatch gen: " << s << "\n";
    return 1;
  }
  return 0;
}

}  // namespace exportwatch::cli

// exportwatch mock-broker: librdkafka's mock cluster as a standalone process,
// so that tests can run producer, processor and alertd as separate processes
// over real TCP.
#include <csignal>
#include <iostream>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "connectors/mock_cluster.h"
#include "processor/cli/commands.h"
#include "processor/cli/flags.h"
#include "processor/cli/signals.h"

namespace exportwatch::cli {

int RunMockBroker(int argc, char** argv) {
  int64_t brokers = 1;
  std::vector<std::string> topics;
  FlagSet flags("mock-broker",
                "Runs an embedded Kafka-protocol broker (librdkafka's mock cluster) on loopback\n"
                "and prints 'bootstrap.servers=HOST:PORT,...' on its first line of stdout.\n"
                "Keeps about 5 MB of log per partition. Stops on SIGINT/SIGTERM.");
  flags.Int("brokers", &brokers, "number of brokers");
  flags.Repeated("topic", &topics, "NAME:PARTITIONS to create (repeatable)");
  if (int rc = HandleParse(flags, argc, argv, 2); rc >= 0) return rc;
  auto cluster = MockKafkaCluster::Create(static_cast<int>(brokers));
  if (!cluster.ok()) {
    std::cerr << "exportwatch mock-broker: " << cluster.status().message() << "\n";
    return 1;
  }
  for (const auto& t : topics) {
    std::vector<std::string> parts = absl::StrSplit(t, ':');
    int n = 1;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[1], &n) || n < 1) {
      std::cerr << "exportwatch mock-broker: --topic " << t << ": expected NAME:PARTITIONS\n";
      return 2;
    }
    if (auto s = (*cluster)->CreateTopic(parts[0], n, 1); !s.ok()) {
      std::cerr << "exportwatch mock-broker: " << s.message() << "\n";
      return 1;
    }
  }
  std::cout << "bootstrap.servers=" << (*cluster)->bootstraps() << std::endl;
  InstallStopSignals();
  while (!StopRequested()) absl::SleepFor(absl::Milliseconds(100));
  return 0;
}

}  // namespace exportwatch::cli

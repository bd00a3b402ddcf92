// mock_flush_bench: how long a producer flush takes on the mock cluster as
// the number of partitions it touches grows (BENCHMARKS.md, session 5).
//
//   mock_flush_bench [--rounds 20]
//   EW_MOCK_NAGLE=1 mock_flush_bench        # the mock's own sockets (Nagle on)
//
// For each partition count: one 300-byte record to each partition of a
// topic, then KafkaSink::Flush (our idempotent producer, as the stages use
// it), repeated; prints the median and max flush time after 5 warm-up
// rounds. librdkafka sends one ProduceRequest per partition, so the count
// is the number of requests in flight on the one connection.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "connectors/kafka_sink.h"
#include "connectors/mock_cluster.h"

namespace exportwatch {
namespace {

int Run(int rounds) {
  auto cluster = MockKafkaCluster::Create(1);
  if (!cluster.ok()) {
    std::fprintf(stderr, "mock cluster: %s\n", cluster.status().ToString().c_str());
    return 1;
  }
  const char* nagle = std::getenv("EW_MOCK_NAGLE");
  std::printf("mock broker sockets: %s\n", nagle != nullptr && std::string(nagle) == "1"
                                               ? "Nagle on (EW_MOCK_NAGLE=1)"
                                               : "TCP_NODELAY");
  std::printf("%10s %14s %14s\n", "partitions", "median us", "max us");
  const std::string value(300, 'x');
  for (int partitions : {1, 2, 4, 6, 8, 16, 32}) {
    const std::string topic = absl::StrCat("flush-", partitions);
    if (auto s = (*cluster)->CreateTopic(topic, partitions, 1); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    KafkaSinkOptions so;
    so.brokers = (*cluster)->bootstraps();
    auto sink = KafkaSink::Create(so);
    if (!sink.ok()) {
      std::fprintf(stderr, "%s\n", sink.status().ToString().c_str());
      return 1;
    }
    std::vector<double> us;
    for (int round = 0; round < rounds + 5; ++round) {
      const absl::Time t0 = absl::Now();
      for (int p = 0; p < partitions; ++p) {
        if (auto s = (*sink)->Produce(topic, "", value, {}, p); !s.ok()) {
          std::fprintf(stderr, "%s\n", s.ToString().c_str());
          return 1;
        }
      }
      if (auto s = (*sink)->Flush(absl::Seconds(10)); !s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 1;
      }
      if (round >= 5) us.push_back(absl::ToDoubleMicroseconds(absl::Now() - t0));
      absl::SleepFor(absl::Milliseconds(20));
    }
    std::sort(us.begin(), us.end());
    std::printf("%10d %14.0f %14.0f\n", partitions, us[us.size() / 2], us.back());
  }
  return 0;
}

}  // namespace
}  // namespace exportwatch

int main(int argc, char** argv) {
  int rounds = 20;
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::printf("usage: mock_flush_bench [--rounds N]   (EW_MOCK_NAGLE=1: mock with Nagle on)\n");
    return 0;
  }
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--rounds" && absl::SimpleAtoi(argv[i + 1], &rounds) &&
        rounds > 0) {
      continue;
    }
    std::fprintf(stderr, "usage: mock_flush_bench [--rounds N]\n");
    return 2;
  }
  if (argc % 2 == 0) {
    std::fprintf(stderr, "usage: mock_flush_bench [--rounds N]\n");
    return 2;
  }
  return exportwatch::Run(rounds);
}

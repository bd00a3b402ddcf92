// exportwatch: one program, one subcommand per role (shared/contract/ALERTS.md).
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "processor/cli/commands.h"

namespace {

constexpr absl::string_view kUsage = R"(usage: exportwatch COMMAND [flags]

Real-time AI-compute export-control compliance over Kafka.

commands:
  dev          everything on one machine: embedded broker, processor, alert service,
               synthetic traffic; alerts printed as they are raised
  processor    the detection pipeline, against a Kafka cluster (--brokers)
  alertd       the alert service (gRPC), against a Kafka cluster (--brokers)
  replay       the detection engine over a JSON-lines file
  gen          the synthetic producer (baseline traffic plus labelled violations)
  tail         a terminal subscriber to the alert service
  mock-broker  an embedded Kafka-protocol broker on loopback, for tests and demos

'exportwatch COMMAND --help' describes each.
)";

struct Command {
  absl::string_view name;
  int (*run)(int, char**);
};

constexpr Command kCommands[] = {
    {"dev", exportwatch::cli::RunDev},
    {"processor", exportwatch::cli::RunProcessor},
    {"alertd", exportwatch::cli::RunAlertd},
    {"replay", exportwatch::cli::RunReplay},
    {"gen", exportwatch::cli::RunGen},
    {"tail", exportwatch::cli::RunTail},
    {"mock-broker", exportwatch::cli::RunMockBroker},
};

}  // namespace

#ifdef EW_WITH_JEMALLOC
// jemalloc's defaults for this process: 2 arenas instead of 4 per core, and
// freed pages returned within about a second instead of ten. With the
// defaults the processor's peak RSS was 198 MiB at 5M keys against a 157 MiB
// budget; with these, 131/132 MiB at 1M/5M keys at the same CPU per event
// (BENCHMARKS.md, session 6). MALLOC_CONF in the environment overrides them.
extern "C" {
// NOLINTNEXTLINE: the name and type jemalloc reads at start-up.
const char* malloc_conf = "narenas:2,dirty_decay_ms:1000,muzzy_decay_ms:0";
}
#endif

int main(int argc, char** argv) {
#ifndef EW_WITH_JEMALLOC
  // Without jemalloc (EW_JEMALLOC=OFF): glibc gives each thread that contends for malloc its own
  // arena (up to 8 per core) and keeps what they free: with the stages' and librdkafka's threads
  // the processor's peak RSS was 158-201 MiB against a 154 MiB budget; two arenas measured 136-138
  // MiB at the same CPU per event (BENCHMARKS.md, session 5). MALLOC_ARENA_MAX in the environment
  // wins.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
#endif
  // Debian builds Abseil without NDEBUG, which keeps absl::Mutex's deadlock detection on: every
  // Lock updates a process-wide lock graph (~150 instructions, where the lock itself is ~30; the
  // screening rule's name cache locks twice per party). Abseil's release builds have it off, and
  // so does the processor (BENCHMARKS.md, session 14).
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::cout << kUsage;
    return argc < 2 ? 2 : 0;
  }
  for (const auto& c : kCommands) {
    if (c.name == argv[1]) return c.run(argc, argv);
  }
  std::cerr << "exportwatch: unknown command '" << argv[1] << "'\n\n" << kUsage;
  return 2;
}

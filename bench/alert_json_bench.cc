// alert_json_bench: printing alerts as the alerts topic carries them (JSON),
// the alert writer (ToJson(const v1::Alert&)) against protobuf's printer
// (the generic ToJson), on the alerts the generator's traffic raises under
// aidr-2025 (violation rate 0.2, seed 1).
//
//   build/bench/alert_json_bench [--benchmark_filter=...]
//
// Both print the same corpus round-robin; time per alert is the time per
// iteration. tests/processor/json_test.cc proves the outputs equal.
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "processor/detection_engine.h"
#include "processor/gen/generator.h"
#include "processor/json.h"
#include "processor/policy/policy.h"
#include "processor/task_state.h"
#include "processor/watchlist_data.h"
#include "state/state_store.h"

namespace exportwatch {
namespace {

const std::vector<v1::Alert>& Corpus() {
  static const std::vector<v1::Alert>* corpus = [] {
    auto* out = new std::vector<v1::Alert>();
    const std::string data_dir = std::string(EW_SHARED_DIR) + "/data";
    EventGenerator::Options o;
    o.violation_rate = 0.2;
    o.data_dir = data_dir;
    auto gen = EventGenerator::Create(o);
    auto watchlist = LoadWatchlists({data_dir + "/moov-io-watchman/csl.csv"});
    auto policy = Policy::FromProfile("aidr-2025");
    if (!gen.ok() || !watchlist.ok() || !policy.ok()) std::abort();
    DetectionEngine engine(*policy, *watchlist);
    std::unique_ptr<StateStore> store = NewMemoryStateStore();
    TaskState state(store.get(), 86400);
    const absl::Time now = absl::FromUnixSeconds(1'800'000'000);
    GeneratedEvent e;
    for (int i = 0; i < 40000 && out->size() < 5000; ++i) {
      (*gen)->Next(&e);
      if (!engine.ProcessInline(e.event, now, state, out).ok()) std::abort();
    }
    if (out->empty()) std::abort();
    return out;
  }();
  return *corpus;
}

template <typename Print>
void Run(benchmark::State& state, Print print) {
  const std::vector<v1::Alert>& corpus = Corpus();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    std::string json = print(corpus[i]);
    bytes += json.size();
    benchmark::DoNotOptimize(json);
    if (++i == corpus.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["corpus"] = static_cast<double>(corpus.size());
}

void BM_AlertWriter(benchmark::State& state) {
  Run(state, [](const v1::Alert& a) { return ToJson(a); });
}
BENCHMARK(BM_AlertWriter);

void BM_ProtobufPrinter(benchmark::State& state) {
  Run(state,
      [](const v1::Alert& a) { return ToJson(static_cast<const google::protobuf::Message&>(a)); });
}
BENCHMARK(BM_ProtobufPrinter);

}  // namespace
}  // namespace exportwatch

BENCHMARK_MAIN();

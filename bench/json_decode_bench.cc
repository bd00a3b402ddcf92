// json_decode_bench: decoding of JSON input records, the fast decoder
// (simdjson) against the reference (protobuf's JSON mapping), on generator
// output encoded as `gen` encodes Kafka records (processor/traffic.cc).
//
//   build/bench/json_decode_bench [--benchmark_filter=...] [--events=N]
//
// Every benchmark decodes the same corpus round-robin; time per event is
// the benchmark's time per iteration. DecodeEvent* include validation,
// *Only the mapping alone.
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "connectors/event_codec.h"
#include "connectors/simdjson_event_decoder.h"
#include "processor/gen/generator.h"
#include "processor/json.h"

namespace exportwatch {
namespace {

struct Record {
  Stream stream;
  std::string json;
};

int g_events = 20000;

const std::vector<Record>& Corpus() {
  static const std::vector<Record>* corpus = [] {
    auto* out = new std::vector<Record>();
    EventGenerator::Options o;  // seed 1, as pipeline_bench and `gen`
    o.data_dir = std::string(EW_SHARED_DIR) + "/data";
    auto gen = EventGenerator::Create(o);
    if (!gen.ok()) std::abort();
    GeneratedEvent e;
    for (int i = 0; i < g_events; ++i) {
      (*gen)->Next(&e);
      switch (e.event.kind_case()) {
        case v1::Event::kTrade:
          out->push_back({Stream::kTrade, ToJson(e.event.trade())});
          break;
        case v1::Event::kCloudUsage:
          out->push_back({Stream::kCloudUsage, ToJson(e.event.cloud_usage())});
          break;
        case v1::Event::kModelTransfer:
          out->push_back({Stream::kModelTransfer, ToJson(e.event.model_transfer())});
          break;
        case v1::Event::KIND_NOT_SET:
          break;
      }
    }
    return out;
  }();
  return *corpus;
}

template <typename Decode>
void Run(benchmark::State& state, Decode decode) {
  const std::vector<Record>& corpus = Corpus();
  v1::Event event;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    const Record& r = corpus[i];
    if (!decode(r, &event)) {
      state.SkipWithError("decode failed");
      break;
    }
    bytes += r.json.size();
    if (++i == corpus.size()) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

void BM_DecodeEvent_Simdjson(benchmark::State& state) {
  DecodeLimits limits;
  Run(state, [&](const Record& r, v1::Event* e) {
    return DecodeEvent(r.stream, ContentType::kJson, r.json, limits, e, nullptr).ok();
  });
}
BENCHMARK(BM_DecodeEvent_Simdjson);

void BM_DecodeEvent_ProtobufJson(benchmark::State& state) {
  DecodeLimits limits;
  Run(state, [&](const Record& r, v1::Event* e) {
    return DecodeEventProtobufJson(r.stream, r.json, limits, e, nullptr).ok();
  });
}
BENCHMARK(BM_DecodeEvent_ProtobufJson);

void BM_MappingOnly_Simdjson(benchmark::State& state) {
  DecodeLimits limits;
  SimdjsonEventDecoder decoder;
  Run(state, [&](const Record& r, v1::Event* e) {
    return decoder.Decode(SimdjsonEventDecoder::RootOf(r.stream), r.json, limits, e, nullptr).ok();
  });
}
BENCHMARK(BM_MappingOnly_Simdjson);

void BM_MappingOnly_ProtobufJson(benchmark::State& state) {
  DecodeLimits limits;
  Run(state, [&](const Record& r, v1::Event* e) {
    e->Clear();
    google::protobuf::Message* msg = e->mutable_trade();
    if (r.stream == Stream::kCloudUsage) msg = e->mutable_cloud_usage();
    if (r.stream == Stream::kModelTransfer) msg = e->mutable_model_transfer();
    return ProtobufJsonToMessage(r.json, limits.max_json_depth, msg, nullptr).ok();
  });
}
BENCHMARK(BM_MappingOnly_ProtobufJson);

}  // namespace
}  // namespace exportwatch

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--events=", 9) == 0) exportwatch::g_events = std::atoi(argv[i] + 9);
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

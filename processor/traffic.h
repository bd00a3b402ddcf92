// Producing generated traffic (exportwatch gen / dev) into Kafka or a file.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "connectors/file_io.h"
#include "connectors/kafka_sink.h"
#include "processor/gen/generator.h"
#include "processor/pipeline.h"

namespace exportwatch {

struct TrafficOptions {
  // Events to produce; 0: until stopped. Default 0.
  int64_t count = 0;
  // Events per wall-clock second; 0: as fast as possible. Default 100.
  double rate = 100;
  // Encode records as protobuf (content-type application/x-protobuf) instead
  // of JSON. Default false.
  bool protobuf = false;
};

// Record key chosen like a sensible producer: the entity the event is about
// (ultimate consignee, tenant, model), so per-entity order holds. The
// processor's counts never depend on it.
std::string RecordKeyFor(const v1::Event& event);

// Produces generated events to their topics until count or stop; `labels`
// (optional) receives one JSON line of ground truth per violation event;
// `produced` (optional) counts, readable from other threads.
[[nodiscard]] absl::Status ProduceTraffic(EventGenerator& gen, KafkaSink& sink,
                                          const TopicNames& topics, const TrafficOptions& options,
                                          const std::atomic<bool>& stop, LineWriter* labels,
                                          std::atomic<int64_t>* produced);

// The label line of a generated event.
std::string LabelJson(const GeneratedEvent& e);

}  // namespace exportwatch

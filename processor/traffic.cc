#include "processor/traffic.h"

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "connectors/event_codec.h"
#include "processor/json.h"
#include "processor/rules/alert_builder.h"

namespace exportwatch {

std::string RecordKeyFor(const v1::Event& e) {
  switch (e.kind_case()) {
    case v1::Event::kTrade:
      return EntityKey(e.trade().ultimate_consignee());
    case v1::Event::kCloudUsage:
      return EntityKey(e.cloud_usage().tenant());
    case v1::Event::kModelTransfer:
      return e.model_transfer().model_id();
    default:
      return "";
  }
}

std::string LabelJson(const GeneratedEvent& e) {
  std::vector<std::string> quoted;
  for (const auto& r : e.expected_rules)
    quoted.push_back(absl::StrCat("\"", absl::CEscape(r), "\""));
  return absl::StrCat("{\"event_id\":\"", absl::CEscape(EventId(e.event)), "\",\"topic\":\"",
                      e.topic, "\",\"scenario\":\"", absl::CEscape(e.scenario),
                      "\",\"expected_rules\":[", absl::StrJoin(quoted, ","), "]}");
}

absl::Status ProduceTraffic(EventGenerator& gen, KafkaSink& sink, const TopicNames& topics,
                            const TrafficOptions& o, const std::atomic<bool>& stop,
                            LineWriter* labels, std::atomic<int64_t>* produced) {
  GeneratedEvent e;
  const absl::Time start = absl::Now();
  int64_t n = 0;
  const std::vector<Header> json_headers = {{"content-type", "application/json"}};
  const std::vector<Header> pb_headers = {{"content-type", "application/x-protobuf"}};
  while (!stop.load() && (o.count == 0 || n < o.count)) {
    gen.Next(&e);
    std::string topic = e.topic == kTradeTopic        ? topics.trade
                        : e.topic == kCloudUsageTopic ? topics.cloud_usage
                                                      : topics.model_transfers;
    std::string value;
    if (o.protobuf) {
      switch (e.event.kind_case()) {
        case v1::Event::kTrade:
          value = e.event.trade().SerializeAsString();
          break;
        case v1::Event::kCloudUsage:
          value = e.event.cloud_usage().SerializeAsString();
          break;
        default:
          value = e.event.model_transfer().SerializeAsString();
          break;
      }
    } else {
      switch (e.event.kind_case()) {
        case v1::Event::kTrade:
          value = ToJson(e.event.trade());
          break;
        case v1::Event::kCloudUsage:
          value = ToJson(e.event.cloud_usage());
          break;
        default:
          value = ToJson(e.event.model_transfer());
          break;
      }
    }
    RETURN_IF_ERROR(
        sink.Produce(topic, RecordKeyFor(e.event), value, o.protobuf ? pb_headers : json_headers));
    if (labels != nullptr && !e.expected_rules.empty())
      RETURN_IF_ERROR(labels->Write(LabelJson(e)));
    ++n;
    if (produced) *produced = n;
    if (o.rate > 0) {
      absl::Time due = start + absl::Seconds(static_cast<double>(n) / o.rate);
      absl::Duration wait = due - absl::Now();
      if (wait > absl::ZeroDuration()) absl::SleepFor(wait);
    }
  }
  return sink.Flush(absl::Seconds(30));
}

}  // namespace exportwatch

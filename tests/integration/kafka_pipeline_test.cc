// Acceptance 2 and 4 of the foundation: separate producer, processor and
// alertd processes over the mock cluster's TCP; contract examples, a
// generated stream and hostile records in; a gRPC subscriber receives
// exactly the expected alerts; a reconnecting subscriber misses none and
// sees none twice; every bad record lands in dead-letters with a reason.
#include <map>

#include "connectors/kafka_source.h"
#include "processor/gen/generator.h"
#include "tests/common/contract_events.h"
#include "tests/integration/cluster.h"

namespace exportwatch::testing {
namespace {

std::vector<v1::Event> ContractEvents() {
  return {ContractEvent(Stream::kTrade), ContractEvent(Stream::kCloudUsage),
          ContractEvent(Stream::kModelTransfer)};
}

std::vector<std::string> BadRecords() {
  const std::string ok = R"("event_id":"bad","event_time":"2025-01-01T00:00:00Z")";
  return {
      "{not json",
      "{" + ok + R"(,"items":[{"chip_model":"H100-SXM","quantity":"lots"}]})",
      "{" + ok + R"(,"items":[{"chip_model":"H100-SXM","quantity":-3}]})",
      "{" + ok + R"(,"destination_country":"QQ"})",
      "{" + ok + R"(,"x":)" + std::string(50000, '[') + std::string(50000, ']') + "}",
      R"({"event_time":"2025-01-01T00:00:00Z"})",
  };
}

TEST(KafkaPipelineTest, EventsFlowToSubscribersExactlyOnceAndBadInputIsDeadLettered) {
  Cluster cluster("aidr-2025");
  auto processor = cluster.StartProcessor("a");
  Expected expected("aidr-2025");

  std::vector<v1::Event> events = ContractEvents();
  // LPP shipments to one consignee: cross 80% and 100% (contract trade x 7).
  for (int i = 0; i < 8; ++i) {
    v1::Event e = events[0];
    e.mutable_trade()->set_event_id("lpp-" + std::to_string(i));
    events.push_back(e);
  }
  EventGenerator::Options go;
  go.seed = 7;
  go.violation_rate = 0.05;
  go.data_dir = EW_SHARED_DIR "/data";
  auto gen = EventGenerator::Create(go);
  ASSERT_TRUE(gen.ok()) << gen.status();
  GeneratedEvent ge;
  for (int i = 0; i < 3000; ++i) {
    (*gen)->Next(&ge);
    events.push_back(ge.event);
  }
  std::vector<std::string> bad = BadRecords();
  size_t next_bad = 0;
  for (size_t i = 0; i < events.size(); ++i) {
    expected.Add(events[i]);
    cluster.ProduceJson(TopicOf(events[i]), RecordKeyFor(events[i]), EventJson(events[i]));
    if (i % 400 == 0 && next_bad < bad.size()) {
      cluster.ProduceJson("trade-events", "bad", bad[next_bad++]);
    }
  }
  // A duplicate delivery of every contract event: must count once.
  for (int i = 0; i < 3; ++i) {
    cluster.ProduceJson(TopicOf(events[i]), RecordKeyFor(events[i]), EventJson(events[i]));
  }
  while (next_bad < bad.size()) cluster.ProduceJson("trade-events", "bad", bad[next_bad++]);
  // 10 MB, on a partition of its own (see Cluster::kLonePartition).
  bad.push_back(R"({"event_id":"huge","event_time":"2025-01-01T00:00:00Z","x":")" +
                std::string(10 << 20, 'a') + "\"}");
  cluster.ProduceJson("trade-events", "huge", bad.back(), Cluster::kLonePartition);
  cluster.Flush();
  ASSERT_GT(expected.ids().size(), 10u);

  // Subscriber 1: everything from the start.
  auto all = cluster.Collect(expected.ids().size(), 120s);
  std::set<std::string> got;
  for (const auto& a : all)
    EXPECT_TRUE(got.insert(a.alert_id()).second) << "duplicate " << a.alert_id();
  EXPECT_EQ(got, expected.ids());
  // Nothing more arrives after the expected set (no extra alerts).
  auto again = cluster.Collect(expected.ids().size() + 1, 3s);
  EXPECT_EQ(again.size(), expected.ids().size());

  // Subscriber 2: half, disconnect, resume from its last cursor.
  size_t half = expected.ids().size() / 2;
  auto first = cluster.Collect(half, 30s);
  ASSERT_GE(first.size(), half);
  first.resize(half);
  auto rest = cluster.Collect(expected.ids().size() - half, 30s, first.back().cursor());
  std::set<std::string> resumed;
  for (const auto& a : first) EXPECT_TRUE(resumed.insert(a.alert_id()).second);
  for (const auto& a : rest) EXPECT_TRUE(resumed.insert(a.alert_id()).second) << "seen twice";
  EXPECT_EQ(resumed, expected.ids());

  // Every bad record is in dead-letters with its reason and origin.
  KafkaSourceOptions so;
  so.brokers = cluster.brokers();
  so.assign = {{{"dead-letters", 0}, -1}};
  so.capture_headers = true;
  auto dl = KafkaSource::Create(so, nullptr);
  ASSERT_TRUE(dl.ok());
  size_t dead = 0;
  auto deadline = std::chrono::steady_clock::now() + 30s;
  while (dead < bad.size() && std::chrono::steady_clock::now() < deadline) {
    auto recs = (*dl)->Poll(absl::Milliseconds(200));
    ASSERT_TRUE(recs.ok());
    for (const Record& r : *recs) {
      ++dead;
      std::map<std::string, std::string> h;
      for (const auto& [k, v] : r.headers) h[std::string(k)] = std::string(v);
      EXPECT_FALSE(h["error"].empty()) << "dead letter without a reason";
      EXPECT_EQ(h["source-topic"], "trade-events");
      EXPECT_FALSE(h["source-offset"].empty());
      if (h["error"].find("exceeds the limit") != std::string::npos) {
        EXPECT_EQ(h["truncated"], "true");
        EXPECT_EQ(h["original-size"], std::to_string(bad.back().size()));
      }
    }
  }
  EXPECT_EQ(dead, bad.size());
  EXPECT_TRUE(processor->Alive()) << "the processor must survive bad input";
}

}  // namespace
}  // namespace exportwatch::testing

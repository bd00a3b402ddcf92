#include "processor/fact_batch.h"

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/kafka_sink.h"
#include "gtest/gtest.h"
#include "processor/detection_engine.h"

namespace exportwatch {
namespace {

v1::Event Trade(const std::string& id) {
  v1::Event e;
  e.mutable_trade()->set_event_id(id);
  e.mutable_trade()->set_destination_country("SG");
  e.mutable_trade()->mutable_ultimate_consignee()->set_name(absl::StrCat("Consignee of ", id));
  return e;
}

// Every fact comes back from its key's partition, in the order added, equal
// to the Fact the pipeline used to send one per record.
TEST(FactBatcherTest, FactsArriveWholeInOrderOnTheirKeysPartition) {
  constexpr int kPartitions = 8;
  FactBatcher batcher(kPartitions);
  std::map<int32_t, std::vector<std::string>> expected;  // serialized, by partition
  for (int i = 0; i < 500; ++i) {
    const v1::Event event = Trade(absl::StrCat("tr-", i));
    FactOut out{"CONSIGNEE_LPP_QUOTA", absl::StrCat("key-", i % 37), "", std::nullopt};
    v1::Fact whole = MakeFact(out, event);
    whole.set_source_topic("trade-events");
    whole.set_source_offset(i);
    v1::Fact header = whole;
    header.clear_event();
    if (i % 2 == 0) {
      batcher.Add(header, event.SerializeAsString());  // the ingest stage's way
    } else {
      batcher.Add(whole);  // the stateful stage's (derived facts)
    }
    expected[PartitionOfKey(out.key, kPartitions)].push_back(whole.SerializeAsString());
  }
  std::map<int32_t, std::vector<std::string>> got;
  for (const auto& record : batcher.Take()) {
    v1::FactBatch batch;
    ASSERT_TRUE(batch.ParseFromString(record.value));
    for (const auto& f : batch.facts()) got[record.partition].push_back(f.SerializeAsString());
  }
  EXPECT_EQ(got, expected);
  EXPECT_TRUE(batcher.Take().empty()) << "Take clears";
}

TEST(FactBatcherTest, RecordsCloseAtTheSizeLimit) {
  FactBatcher batcher(1, 10'000);
  v1::Fact fact;
  fact.set_key("k");
  const std::string event = Trade(std::string(900, 'x')).SerializeAsString();
  for (int i = 0; i < 50; ++i) batcher.Add(fact, event);
  auto records = batcher.Take();
  ASSERT_GT(records.size(), 4u);
  int facts = 0;
  for (const auto& r : records) {
    EXPECT_LE(r.value.size(), 10'000u);
    v1::FactBatch batch;
    ASSERT_TRUE(batch.ParseFromString(r.value));
    facts += batch.facts_size();
  }
  EXPECT_EQ(facts, 50);
  // A fact larger than the limit still goes, alone.
  batcher.Add(fact, std::string(20'000, 'y'));
  batcher.Add(fact, event);
  records = batcher.Take();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_GT(records[0].value.size(), 20'000u);
}

}  // namespace
}  // namespace exportwatch

// Facts whose rule declares Rule::ReapplyIsNoOp keep no dedup mark, so a
// re-delivery applies them again. These tests re-deliver such facts at every
// later point of a stream and require the alerts and the stored state of the
// stream without re-deliveries.
#include <map>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "processor/detection_engine.h"
#include "processor/policy/policy.h"
#include "processor/task_state.h"
#include "state/state_store.h"
#include "tests/common/contract_events.h"
#include "tests/common/store_contents.h"

namespace exportwatch::testing {
namespace {

using google::protobuf::util::MessageDifferencer;

constexpr absl::string_view kSerialRule = "SERIAL_LOCATION_MISMATCH";
constexpr int64_t kT0 = 1740910500;
const absl::Time kNow = absl::FromUnixSeconds(1'800'000'000);

v1::Event Shipment(const std::string& id, int64_t t, const std::string& country,
                   const std::vector<std::string>& serials) {
  v1::Event e = ContractEvent(Stream::kTrade);
  auto* tr = e.mutable_trade();
  tr->set_event_id(id);
  tr->set_shipment_id("SHP-" + id);
  tr->mutable_event_time()->set_seconds(t);
  tr->set_destination_country(country);
  tr->mutable_items(0)->clear_serials();
  for (const auto& s : serials) tr->mutable_items(0)->add_serials(s);
  return e;
}

v1::Event Sighting(const std::string& id, int64_t t, const std::string& country,
                   const std::string& site, const std::string& serial) {
  v1::Event e = ContractEvent(Stream::kCloudUsage);
  auto* c = e.mutable_cloud_usage();
  c->set_event_id(id);
  c->mutable_event_time()->set_seconds(t);
  c->set_datacenter_country(country);
  c->set_site_id(site);
  c->clear_accelerator_serials();
  c->add_accelerator_serials(serial);
  return e;
}

// The serial rule's facts of `event`, as the stateful stage receives them.
std::vector<v1::Fact> SerialFacts(const DetectionEngine& engine, const v1::Event& event) {
  std::vector<v1::Alert> stateless;
  std::vector<FactOut> outs;
  engine.Inspect(event, kNow, &stateless, &outs);
  v1::Event scratch;
  const v1::Event& fact_event = engine.FactEvent(event, outs, &scratch);
  std::vector<v1::Fact> facts;
  for (const auto& f : outs) {
    if (f.rule_id == kSerialRule) facts.push_back(MakeFact(f, fact_event));
  }
  return facts;
}

struct Side {
  std::unique_ptr<StateStore> store = NewMemoryStateStore();
  TaskState state{store.get(), 86400};
  std::vector<v1::Alert> alerts;
  UsageReports reports;

  void Apply(const DetectionEngine& engine, const v1::Fact& fact) {
    auto applied = engine.Apply(3, fact, kNow, state, &alerts, nullptr, &reports);
    ASSERT_TRUE(applied.ok()) << applied.status();
    absl::Status s = state.Commit();
    ASSERT_TRUE(s.ok()) << s;
  }

  std::map<std::string, std::string> Stored() { return StoreContents(*store); }
};

void ExpectSameAlerts(const std::vector<v1::Alert>& got, const std::vector<v1::Alert>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(got[i], want[i])) << "alert " << i << ":\n"
                                                             << got[i].DebugString() << "want:\n"
                                                             << want[i].DebugString();
  }
}

// Shipments before and after sightings, a serial shipped twice at the same
// second (the greater event id is in force, whichever arrives last), a
// later shipment with a smaller id, and two sites within a day.
std::vector<v1::Event> MixedStream() {
  return {
      Sighting("cu-5", kT0 - 3600, "IN", "BOM-1", "SN-4"),
      Shipment("tr-1", kT0, "AE", {"SN-1", "SN-2"}),
      Sighting("cu-1", kT0 + 500, "CN", "PEK-1", "SN-1"),
      Shipment("tr-3", kT0 - 500, "VN", {"SN-3"}),
      Shipment("tr-2", kT0, "SG", {"SN-1"}),
      Sighting("cu-2", kT0 + 600, "AE", "DXB-1", "SN-2"),
      Sighting("cu-4", kT0 + 1500, "MY", "KUL-1", "SN-3"),
      Shipment("tr-0", kT0 + 1000, "MY", {"SN-3"}),
      Sighting("cu-3", kT0 + 700, "RU", "SVO-1", "SN-2"),
      Shipment("tr-4", kT0 + 2000, "TH", {"SN-4"}),
  };
}

TEST(ReapplyTest, SerialShipmentsDeliveredAgainChangeNothing) {
  DetectionEngine engine(*Policy::FromProfile("aidr-2025"));
  Side once, again;
  std::vector<v1::Fact> delivered_shipments;
  for (const v1::Event& event : MixedStream()) {
    for (const v1::Fact& fact : SerialFacts(engine, event)) {
      ASSERT_NO_FATAL_FAILURE(once.Apply(engine, fact));
      ASSERT_NO_FATAL_FAILURE(again.Apply(engine, fact));
      if (event.has_trade()) delivered_shipments.push_back(fact);
    }
    // Every shipment fact delivered so far, once more, after each event: the
    // last delivered first, so the earliest delivered is applied last (at a
    // tie, the shipment that is not in force).
    for (auto it = delivered_shipments.rbegin(); it != delivered_shipments.rend(); ++it) {
      ASSERT_NO_FATAL_FAILURE(again.Apply(engine, *it));
    }
  }
  // Country mismatches (SN-1 in CN against AE, then against SG; SN-2 in RU;
  // SN-3 in MY against VN; SN-4 in IN) and two sites within a day (SN-2).
  EXPECT_EQ(once.alerts.size(), 6u);
  ExpectSameAlerts(again.alerts, once.alerts);
  EXPECT_EQ(again.Stored(), once.Stored());
}

// A serial's `alerted` list keeps 64 windows. Once it has forgotten one, the
// shipment in force, delivered again, must still raise nothing.
TEST(ReapplyTest, ShipmentDeliveredAgainAfterTheAlertedListOverflowed) {
  DetectionEngine engine(*Policy::FromProfile("aidr-2025"));
  std::vector<v1::Event> stream = {Shipment("tr-x", kT0, "US", {"SN-X"}),
                                   Sighting("cu-00", kT0 + 3600, "CN", "S-00", "SN-X")};
  // 13 sites within a day: 78 pairs, so the first window (US>CN) is evicted.
  for (int i = 1; i <= 12; ++i) {
    const std::string n = absl::StrCat(i < 10 ? "0" : "", i);
    stream.push_back(Sighting("cu-" + n, kT0 + 3600 + i * 600, "US", "S-" + n, "SN-X"));
  }
  Side once, again;
  for (const v1::Event& event : stream) {
    for (const v1::Fact& fact : SerialFacts(engine, event)) {
      ASSERT_NO_FATAL_FAILURE(once.Apply(engine, fact));
      ASSERT_NO_FATAL_FAILURE(again.Apply(engine, fact));
    }
  }
  ASSERT_EQ(once.alerts.size(), 79u);  // US>CN and the 78 pairs of sites
  for (const v1::Fact& fact : SerialFacts(engine, stream[0])) {
    ASSERT_NO_FATAL_FAILURE(again.Apply(engine, fact));
  }
  ExpectSameAlerts(again.alerts, once.alerts);
  EXPECT_EQ(again.Stored(), once.Stored());
}

TEST(ReapplyTest, ShipmentInForceDoesNotDependOnArrivalOrder) {
  DetectionEngine engine(*Policy::FromProfile("aidr-2025"));
  const v1::Event a = Shipment("tr-a", kT0, "AE", {"SN-9"});
  const v1::Event b = Shipment("tr-b", kT0, "SG", {"SN-9"});  // same second, greater id
  const v1::Event use = Sighting("cu-9", kT0 + 60, "AE", "DXB-1", "SN-9");
  Side ab, ba;
  for (const auto* e : {&a, &b, &use}) {
    for (const auto& f : SerialFacts(engine, *e)) ASSERT_NO_FATAL_FAILURE(ab.Apply(engine, f));
  }
  for (const auto* e : {&b, &a, &use}) {
    for (const auto& f : SerialFacts(engine, *e)) ASSERT_NO_FATAL_FAILURE(ba.Apply(engine, f));
  }
  EXPECT_EQ(ab.Stored(), ba.Stored());
  // tr-b (SG) is in force: the serial in use in AE is a mismatch.
  ASSERT_EQ(ab.alerts.size(), 1u);
  ExpectSameAlerts(ba.alerts, ab.alerts);
}

TEST(ReapplyTest, ShipmentsKeepNoDedupMarkSightingsDo) {
  DetectionEngine engine(*Policy::FromProfile("aidr-2025"));
  Side side;
  for (const v1::Event& event : MixedStream()) {
    for (const v1::Fact& fact : SerialFacts(engine, event)) {
      ASSERT_NO_FATAL_FAILURE(side.Apply(engine, fact));
    }
  }
  int shipment_marks = 0;
  int sighting_marks = 0;
  for (const auto& [key, value] : side.Stored()) {
    if (!absl::StartsWith(key, "d/")) continue;
    if (absl::StrContains(key, "/tr-")) ++shipment_marks;
    if (absl::StrContains(key, "/cu-")) ++sighting_marks;
  }
  EXPECT_EQ(shipment_marks, 0);
  EXPECT_EQ(sighting_marks, 5);
}

}  // namespace
}  // namespace exportwatch::testing

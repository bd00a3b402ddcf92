// Issue 3's hot reload: a new policy version lands mid-stream in a running
// processor (a separate process, over TCP) and takes effect without a
// restart; no event is lost or counted twice; unchanged rules keep their
// state; every alert names the version it was raised under; an invalid
// version is rejected and the running one stays. Both sources: the policy
// file and the compacted reference-data topic.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_replace.h"
#include "processor/json.h"
#include "processor/policy/policy.h"
#include "processor/policy_updates.h"
#include "processor/traffic.h"
#include "processor/watchlist_data.h"
#include "tests/common/contract_events.h"
#include "tests/integration/cluster.h"

namespace exportwatch::testing {
namespace {

constexpr double kShipmentTpp = 256 * 15832.0;  // the contract trade: 4,052,992

// aidr-2025 with `version`, an LPP limit, and a probe quota that fires at
// each of the first three LPP shipments to a consignee (so the test can see
// they were applied).
std::string PolicyJson(const std::string& version, double lpp_limit) {
  v1::Policy p = (*Policy::FromProfile("aidr-2025"))->proto();
  p.set_version(version);
  for (auto& q : *p.mutable_quotas()) {
    if (q.id() == "CONSIGNEE_LPP_QUOTA") q.set_limit(lpp_limit);
  }
  auto* probe = p.add_quotas();
  probe->set_id("PROBE");
  probe->set_rule_id("PROBE");
  probe->set_scope(v1::QuotaScope::ULTIMATE_CONSIGNEE);
  probe->set_measure(v1::QuotaMeasure::TPP);
  probe->mutable_window()->set_kind(v1::QuotaWindow::LIFETIME);
  probe->add_authorizations(v1::AuthorizationType::LPP);
  probe->set_limit(3 * kShipmentTpp);
  for (double level : {0.33, 0.66, 1.0}) {
    probe->add_levels(level);
    probe->add_level_severities("INFO");
  }
  p.add_enabled_rules("PROBE");
  return ToJson(p);
}

void WriteFile(const std::string& path, const std::string& text) {
  // Written aside and renamed: the watcher never reads half a file.
  std::ofstream(path + ".tmp") << text;
  std::filesystem::rename(path + ".tmp", path);
}

v1::Event Lpp(const std::string& id, const std::string& consignee) {
  v1::Event e = ContractEvent(Stream::kTrade);
  e.mutable_trade()->set_event_id(id);
  e.mutable_trade()->mutable_payment()->set_payer_country("MY");
  e.mutable_trade()->mutable_ultimate_consignee()->set_entity_id(consignee);
  return e;
}

std::vector<v1::Alert> OfRule(const std::vector<v1::Alert>& all, const std::string& rule) {
  std::vector<v1::Alert> out;
  for (const auto& a : all) {
    if (a.rule_id() == rule) out.push_back(a);
  }
  return out;
}

double Used(const v1::Alert& a) {
  return a.evidence().values().fields().at("used_tpp").number_value();
}

TEST(PolicyReloadTest, NewVersionLandsMidStreamWithNothingLostOrDoubled) {
  Cluster cluster("aidr-2025");
  const std::string policy = cluster.dir().File("policy.json");
  WriteFile(policy, PolicyJson("v1", 26'900'000));
  auto processor = cluster.StartProcessor("p", policy);
  auto produce = [&](const v1::Event& e) {
    cluster.ProduceJson("trade-events", RecordKeyFor(e), EventJson(e));
  };

  // 1. Three LPP shipments under v1 (12.2M of 26.9M: under 80%).
  for (int i = 0; i < 3; ++i) produce(Lpp("a" + std::to_string(i), "C-R"));
  cluster.Flush();
  auto seen = cluster.Collect(3, 60s);
  ASSERT_EQ(OfRule(seen, "PROBE").size(), 3u) << "the probe shows the three were applied";
  EXPECT_TRUE(OfRule(seen, "CONSIGNEE_LPP_QUOTA").empty());
  for (const auto& a : seen) EXPECT_EQ(a.policy().version(), "v1");

  // 2. v2 halves the LPP limit (13.45M). Takes effect within a second.
  WriteFile(policy, PolicyJson("v2", 13'450'000));
  std::this_thread::sleep_for(1s);
  // A redelivery of an applied event, then the fourth shipment: 16.2M.
  produce(Lpp("a1", "C-R"));
  produce(Lpp("a3", "C-R"));
  cluster.Flush();
  auto after = cluster.Collect(5, 60s);
  auto lpp = OfRule(after, "CONSIGNEE_LPP_QUOTA");
  ASSERT_EQ(lpp.size(), 2u) << "80% and 100% of the new limit";
  for (const auto& a : lpp) {
    EXPECT_EQ(a.policy().version(), "v2");
    // Exactly four shipments: the three before the change kept (state not
    // reset), the redelivered one not counted again.
    EXPECT_DOUBLE_EQ(Used(a), 4 * kShipmentTpp);
    EXPECT_DOUBLE_EQ(a.evidence().values().fields().at("limit_tpp").number_value(), 13'450'000);
  }
  // The unchanged probe kept its state: it fired its three levels once.
  EXPECT_EQ(OfRule(after, "PROBE").size(), 3u);

  // 3. An invalid version is rejected; v2 stays.
  WriteFile(policy, absl::StrReplaceAll(PolicyJson("v3", 1), {{"\"MEDIUM\"", "\"SEVERE\""}}));
  std::this_thread::sleep_for(1s);
  v1::Event embargo = Lpp("e1", "C-E");
  embargo.mutable_trade()->set_destination_country("CN");
  embargo.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::NONE);
  produce(embargo);
  cluster.Flush();
  auto last = cluster.Collect(6, 60s);
  auto emb = OfRule(last, "EMBARGOED_DESTINATION");
  ASSERT_EQ(emb.size(), 1u);
  EXPECT_EQ(emb[0].policy().version(), "v2");

  // 4. A version published on the reference-data topic reaches it too.
  cluster.ProduceJson("reference-data", kPolicyRecordKey, PolicyJson("v4", 13'450'000), 0);
  cluster.Flush();
  std::this_thread::sleep_for(1s);
  v1::Event embargo2 = embargo;
  embargo2.mutable_trade()->set_event_id("e2");
  embargo2.mutable_trade()->set_shipment_id("SHP-e2");
  produce(embargo2);
  cluster.Flush();
  auto final_alerts = cluster.Collect(7, 60s);
  emb = OfRule(final_alerts, "EMBARGOED_DESTINATION");
  ASSERT_EQ(emb.size(), 2u);
  for (const auto& a : emb) {
    if (a.evidence().event_ids(0) == "e2") {
      EXPECT_EQ(a.policy().version(), "v4");
    }
  }
  const int status = processor->Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::string log = ReadFile(cluster.dir().File("processor-p.log"));
  EXPECT_NE(log.find("policy aidr-2025 v2 in force"), std::string::npos) << log;
  EXPECT_NE(log.find("policy update rejected"), std::string::npos) << log;
  EXPECT_NE(log.find("SEVERE"), std::string::npos) << log;
}

// A screening list published on the reference-data topic while the
// processor runs: a party it had already seen is re-screened at once (no
// new event needed), and later events are screened against the new list.
TEST(PolicyReloadTest, NewWatchlistRescreensKnownParties) {
  Cluster cluster("current");
  auto processor = cluster.StartProcessor("w");
  // Same partition, in order: the marker's alert means the first was seen.
  v1::Event known = Lpp("w1", "C-W1");
  for (auto* p : {known.mutable_trade()->mutable_purchaser(),
                  known.mutable_trade()->mutable_ultimate_consignee(),
                  known.mutable_trade()->mutable_end_user()}) {
    p->set_entity_id("C-W1");
    p->set_name("Bright Harbor Trading Pte Ltd");
  }
  v1::Event marker = Lpp("w2", "C-W2");
  marker.mutable_trade()->set_shipment_id("SHP-w2");
  marker.mutable_trade()->set_destination_country("CN");
  marker.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::NONE);
  cluster.ProduceJson("trade-events", "k", EventJson(known), 0);
  cluster.ProduceJson("trade-events", "k", EventJson(marker), 0);
  cluster.Flush();
  // The marker raises EMBARGOED_DESTINATION and TRANSSHIPMENT_ROUTE.
  auto before = cluster.Collect(2, 60s);
  ASSERT_EQ(OfRule(before, "EMBARGOED_DESTINATION").size(), 1u);
  EXPECT_TRUE(OfRule(before, "SCREENING_MATCH").empty());

  // The list names the known party's company; no new trade event follows.
  cluster.ProduceJson("reference-data", kWatchlistRecordKey, R"({"results": [
      {"id": "el-77", "name": "Bright Harbor Trading Pte. Ltd.", "type": "Entity",
       "source": "Entity List (EL) - Bureau of Industry and Security"}]})",
                      0);
  cluster.Flush();
  auto after = cluster.Collect(3, 60s);
  auto matches = OfRule(after, "SCREENING_MATCH");
  ASSERT_EQ(matches.size(), 1u);
  const auto& fields = matches[0].evidence().values().fields();
  EXPECT_EQ(fields.at("trigger").string_value(), "list_update");
  EXPECT_EQ(fields.at("list_entry_id").string_value(), "el-77");
  EXPECT_EQ(matches[0].subject().id(), "C-W1");
  EXPECT_EQ(matches[0].severity(), v1::CRITICAL);
  EXPECT_EQ(matches[0].evidence().event_ids(0), "w1");

  // A new shipment to it is screened by the new list as it arrives.
  v1::Event again = known;
  again.mutable_trade()->set_event_id("w3");
  again.mutable_trade()->set_shipment_id("SHP-w3");
  cluster.ProduceJson("trade-events", "k", EventJson(again), 0);
  cluster.Flush();
  auto last = cluster.Collect(4, 60s);
  matches = OfRule(last, "SCREENING_MATCH");
  ASSERT_EQ(matches.size(), 2u);
  int by_event = 0;
  for (const auto& a : matches) {
    by_event += a.evidence().values().fields().at("trigger").string_value() == "event";
  }
  EXPECT_EQ(by_event, 1);
  const int status = processor->Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::string log = ReadFile(cluster.dir().File("processor-w.log"));
  EXPECT_NE(log.find("watchlist reference-data@"), std::string::npos) << log;
}

}  // namespace
}  // namespace exportwatch::testing

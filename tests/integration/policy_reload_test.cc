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

}  // namespace
}  // namespace exportwatch::testing

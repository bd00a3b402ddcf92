// The foundation rules, through the DetectionEngine (both stages) under
// both shipped profiles.
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "connectors/event_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "processor/detection_engine.h"
#include "processor/policy/policy.h"
#include "processor/rules/alert_builder.h"
#include "tests/common/contract_events.h"
#include "tests/processor/rule_harness.h"

namespace exportwatch {
namespace {

using Harness = testing::RuleHarness;

// The contract's trade example is paid from HK (a third country, restricted):
// the foundation rules' tests use it with the payer in the purchaser's
// country, so that only the rule under test fires.
v1::Event ContractTrade() { return testing::ContractEvent(Stream::kTrade); }
v1::Event Trade() {
  v1::Event e = ContractTrade();
  e.mutable_trade()->mutable_payment()->set_payer_country("MY");
  return e;
}
v1::Event Model() { return testing::ContractEvent(Stream::kModelTransfer); }
v1::Event Cloud() { return testing::ContractEvent(Stream::kCloudUsage); }

// A harness running one rule alone (other rules also fire on the variants
// these tests build: a shipment to CN whose end user is in MY is also a
// transshipment red flag).
std::shared_ptr<const Policy> OnlyRule(const std::string& rule) {
  v1::Policy p = (*Policy::FromProfile("current"))->proto();
  p.clear_enabled_rules();
  p.add_enabled_rules(rule);
  return *Policy::Create(p);
}

std::vector<std::string> Rules(const std::vector<v1::Alert>& alerts) {
  return testing::RulesOf(alerts);
}

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(RulesTest, ContractExamplesUnderCurrent) {
  Harness h("current");
  // Paid from Hong Kong for a Malaysian purchaser and consignee.
  EXPECT_THAT(Rules(h.Run(ContractTrade())), ElementsAre("THIRD_COUNTRY_PAYMENT:HIGH"));
  EXPECT_THAT(h.Run(Cloud()), IsEmpty());
  EXPECT_THAT(h.Run(Model()), IsEmpty());
}

TEST(RulesTest, ModelWeightsToNonTier1FireOnlyUnderAidr) {
  Harness h("aidr-2025");
  auto alerts = h.Run(Model());
  ASSERT_THAT(Rules(alerts), ElementsAre("MODEL_WEIGHT_TRANSFER:HIGH"));
  EXPECT_EQ(alerts[0].subject().kind(), v1::MODEL);
  EXPECT_EQ(alerts[0].subject().id(), "frontier-9");
  EXPECT_EQ(alerts[0].policy().name(), "aidr-2025");
  EXPECT_EQ(alerts[0].evidence().event_ids(0), "mt-311");
}

TEST(RulesTest, EmbargoedDestination) {
  Harness h(OnlyRule("EMBARGOED_DESTINATION"));
  v1::Event e = Trade();
  e.mutable_trade()->set_destination_country("CN");
  auto alerts = h.Run(e);
  ASSERT_THAT(Rules(alerts), ElementsAre("EMBARGOED_DESTINATION:CRITICAL"));
  EXPECT_EQ(alerts[0].subject().kind(), v1::SHIPMENT);
  EXPECT_EQ(alerts[0].subject().id(), "SHP-88121");
  EXPECT_EQ(alerts[0].evidence().values().fields().at("restricted_country").string_value(), "CN");

  // A licence authorizes it.
  e.mutable_trade()->mutable_authorization()->set_type(v1::AuthorizationType::LICENSE);
  EXPECT_THAT(h.Run(e), IsEmpty());
}

TEST(RulesTest, EmbargoedViaEndUserOrRouteButNotOrigin) {
  Harness h(OnlyRule("EMBARGOED_DESTINATION"));
  v1::Event e = Trade();
  e.mutable_trade()->mutable_end_user()->set_country("RU");
  EXPECT_THAT(Rules(h.Run(e)), ElementsAre("EMBARGOED_DESTINATION:CRITICAL"));

  v1::Event r = Trade();
  r.mutable_trade()->mutable_route(1)->set_country("HK");
  EXPECT_THAT(Rules(h.Run(r)), ElementsAre("EMBARGOED_DESTINATION:CRITICAL"));

  v1::Event o = Trade();
  o.mutable_trade()->mutable_route(0)->set_country("CN");  // ORIGIN node
  EXPECT_THAT(h.Run(o), IsEmpty());
}

TEST(RulesTest, UncontrolledChipsAreNotEmbargoAlerts) {
  Harness h(OnlyRule("EMBARGOED_DESTINATION"));
  v1::Event e = Trade();
  e.mutable_trade()->set_destination_country("CN");
  e.mutable_trade()->mutable_items(0)->set_chip_model("T4");
  EXPECT_THAT(h.Run(e), IsEmpty());
  // Unknown chip: controlled by its own TPP (3A090.a: >= 4800).
  e.mutable_trade()->mutable_items(0)->set_chip_model("MYSTERY-1");
  e.mutable_trade()->mutable_items(0)->set_tpp_per_unit(4800);
  EXPECT_THAT(Rules(h.Run(e)), ElementsAre("EMBARGOED_DESTINATION:CRITICAL"));
}

TEST(RulesTest, CountryGroupsAreEvaluatedAsOfEventTime) {
  Harness h(OnlyRule("EMBARGOED_DESTINATION"));
  v1::Event e = Trade();
  e.mutable_trade()->set_destination_country("KH");
  e.mutable_trade()->mutable_event_time()->set_seconds(1767225600);  // 2026-01-01
  EXPECT_THAT(Rules(h.Run(e)), ElementsAre("EMBARGOED_DESTINATION:CRITICAL"));
  e.mutable_trade()->set_event_id("later");
  e.mutable_trade()->mutable_event_time()->set_seconds(1772323200);  // 2026-03-01
  EXPECT_THAT(h.Run(e), IsEmpty());
  // HK counts as China only from 2020-12-23.
  v1::Event hk = Trade();
  hk.mutable_trade()->set_destination_country("HK");
  hk.mutable_trade()->mutable_event_time()->set_seconds(1577836800);  // 2020-01-01
  EXPECT_THAT(h.Run(hk), IsEmpty());
}

TEST(RulesTest, PrcAdvancedIcTrade) {
  Harness h("current");
  v1::Event e = Trade();
  e.mutable_trade()->mutable_items(0)->set_chip_model("ASCEND-910C");
  EXPECT_THAT(Rules(h.Run(e)), ElementsAre("PRC_ADVANCED_IC:HIGH"));
  e.mutable_trade()->set_declared_purpose(v1::DeclaredPurpose::TECHNICAL_EVALUATION);
  EXPECT_THAT(h.Run(e), IsEmpty());
}

TEST(RulesTest, PrcAdvancedIcCloudFiresOncePerTenantAndChip) {
  Harness h("current");
  v1::Event e = Cloud();
  e.mutable_cloud_usage()->set_accelerator_model("ASCEND-910B");
  auto first = h.Run(e);
  ASSERT_THAT(Rules(first), ElementsAre("PRC_ADVANCED_IC:HIGH"));
  EXPECT_EQ(first[0].subject().kind(), v1::ENTITY);
  EXPECT_EQ(first[0].subject().id(), "T-9001");
  e.mutable_cloud_usage()->set_event_id("cu-next-hour");
  EXPECT_THAT(h.Run(e), IsEmpty());
  e.mutable_cloud_usage()->set_event_id("cu-other-chip");
  e.mutable_cloud_usage()->set_accelerator_model("ASCEND-910C");
  EXPECT_THAT(Rules(h.Run(e)), ElementsAre("PRC_ADVANCED_IC:HIGH"));
}

TEST(RulesTest, ModelWeightTransferToRestrictedIsCritical) {
  Harness h("current");
  v1::Event e = Model();
  e.mutable_model_transfer()->set_destination_country("CN");
  EXPECT_THAT(Rules(h.Run(e)), ElementsAre("MODEL_WEIGHT_TRANSFER:CRITICAL"));
  // Recipient headquartered in a restricted country, shipped elsewhere.
  v1::Event r = Model();
  r.mutable_model_transfer()->set_event_id("mt-2");
  r.mutable_model_transfer()->set_transfer_id("XFER-2");
  r.mutable_model_transfer()->mutable_recipient()->set_ultimate_parent_hq_country("MO");
  EXPECT_THAT(Rules(h.Run(r)), ElementsAre("MODEL_WEIGHT_TRANSFER:CRITICAL"));
  // Published, authorized or small: nothing.
  v1::Event p = e;
  p.mutable_model_transfer()->set_weights_published(true);
  EXPECT_THAT(h.Run(p), IsEmpty());
  v1::Event small = e;
  small.mutable_model_transfer()->set_model_id("small");
  small.mutable_model_transfer()->set_training_ops(9e25);
  EXPECT_THAT(h.Run(small), IsEmpty());
}

TEST(RulesTest, ModelWeightTransferAddsAncestorsCompute) {
  Harness h("current");
  v1::Event base = Model();
  base.mutable_model_transfer()->set_model_id("base-1");
  base.mutable_model_transfer()->set_training_ops(8e25);
  base.mutable_model_transfer()->set_destination_country("GB");
  EXPECT_THAT(h.Run(base), IsEmpty());
  v1::Event ft = Model();
  ft.mutable_model_transfer()->set_event_id("mt-ft");
  ft.mutable_model_transfer()->set_transfer_id("XFER-FT");
  ft.mutable_model_transfer()->set_model_id("ft-1");
  ft.mutable_model_transfer()->set_base_model_id("base-1");
  ft.mutable_model_transfer()->set_training_ops(3e25);
  ft.mutable_model_transfer()->set_destination_country("CN");
  auto alerts = h.Run(ft);
  ASSERT_THAT(Rules(alerts), ElementsAre("MODEL_WEIGHT_TRANSFER:CRITICAL"));
  EXPECT_DOUBLE_EQ(
      alerts[0].evidence().values().fields().at("cumulative_training_ops").number_value(), 11e25);
  EXPECT_EQ(alerts[0].evidence().values().fields().at("ancestors").string_value(), "base-1");
}

TEST(RulesTest, ModelWithoutIdIsStillJudged) {
  Harness h("current");
  v1::Event e = Model();
  e.mutable_model_transfer()->clear_model_id();
  e.mutable_model_transfer()->set_destination_country("CN");
  auto alerts = h.Run(e);
  ASSERT_THAT(Rules(alerts), ElementsAre("MODEL_WEIGHT_TRANSFER:CRITICAL"));
  EXPECT_EQ(alerts[0].subject().id(), "transfer:XFER-311");
}

TEST(RulesTest, ModelLineageCycleTerminates) {
  Harness h("current");
  v1::Event a = Model();
  a.mutable_model_transfer()->set_model_id("a");
  a.mutable_model_transfer()->set_base_model_id("b");
  a.mutable_model_transfer()->set_training_ops(1e20);
  v1::Event b = a;
  b.mutable_model_transfer()->set_event_id("mt-b");
  b.mutable_model_transfer()->set_model_id("b");
  b.mutable_model_transfer()->set_base_model_id("a");
  EXPECT_THAT(h.Run(a), IsEmpty());
  EXPECT_THAT(h.Run(b), IsEmpty());
}

TEST(RulesTest, ConsigneeLppQuotaLevelsFireOnceEach) {
  Harness h("aidr-2025");
  // 256 x H100-SXM = 4,052,992 TPP per shipment; 80% of 26.9M = 21.52M.
  std::vector<std::string> fired;
  for (int i = 0; i < 9; ++i) {
    v1::Event e = Trade();
    e.mutable_trade()->set_event_id("lpp-" + std::to_string(i));
    for (const auto& a : h.Run(e)) {
      fired.push_back(std::to_string(i) + ":" + a.rule_id() + ":" +
                      v1::Severity_Name(a.severity()));
      if (a.severity() == v1::HIGH) {
        EXPECT_DOUBLE_EQ(a.evidence().values().fields().at("used_tpp").number_value(),
                         7 * 4052992.0);
        EXPECT_DOUBLE_EQ(a.evidence().values().fields().at("limit_tpp").number_value(), 26900000.0);
        EXPECT_EQ(a.subject().id(), "C-1042");
      }
    }
  }
  EXPECT_THAT(fired, ElementsAre("5:CONSIGNEE_LPP_QUOTA:MEDIUM", "6:CONSIGNEE_LPP_QUOTA:HIGH"));
}

TEST(RulesTest, ConsigneeLppQuotaCountsAnEventIdOnce) {
  Harness h("aidr-2025");
  int alerts = 0;
  for (int i = 0; i < 20; ++i) alerts += static_cast<int>(h.Run(Trade()).size());  // same id
  EXPECT_EQ(alerts, 0);
}

TEST(RulesTest, ConsigneeLppQuotaWindowIsTheCalendarYear) {
  Harness h("aidr-2025");
  int alerts = 0;
  for (int i = 0; i < 10; ++i) {
    v1::Event e = Trade();
    e.mutable_trade()->set_event_id("y-" + std::to_string(i));
    // Alternate 2025 and 2026: 5 shipments per year stay under 80%.
    e.mutable_trade()->mutable_event_time()->set_seconds(i % 2 ? 1740910500 : 1772446500);
    alerts += static_cast<int>(h.Run(e).size());
  }
  EXPECT_EQ(alerts, 0);
}

TEST(RulesTest, ConsigneeLppQuotaIsOffUnderCurrent) {
  Harness h("current");
  for (int i = 0; i < 10; ++i) {
    v1::Event e = Trade();
    e.mutable_trade()->set_event_id("c-" + std::to_string(i));
    EXPECT_THAT(h.Run(e), IsEmpty());
  }
}

TEST(RulesTest, AlertIdsAreDeterministic) {
  EXPECT_EQ(MakeAlertId("R", v1::ENTITY, "s", "2025", "0.8", "e"),
            MakeAlertId("R", v1::ENTITY, "s", "2025", "0.8", "e"));
  EXPECT_NE(MakeAlertId("R", v1::ENTITY, "s", "2025", "0.8", "e"),
            MakeAlertId("R", v1::ENTITY, "s", "2025", "1", "e"));
  EXPECT_NE(MakeAlertId("R", v1::ENTITY, "ab", "c", "", ""),
            MakeAlertId("R", v1::ENTITY, "a", "bc", "", ""));
  EXPECT_EQ(MakeAlertId("R", v1::ENTITY, "s", "", "", "e").size(), 32u);
}

TEST(PolicyTest, ShippedProfilesLoad) {
  for (const char* name : {"current", "aidr-2025"}) {
    auto p = Policy::FromProfile(name);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ((*p)->ref().name(), name);
  }
  EXPECT_FALSE(Policy::FromProfile("nope").ok());
}

TEST(PolicyTest, InvalidPolicyNamesTheField) {
  v1::Policy p = (*Policy::FromProfile("current"))->proto();
  p.mutable_country_groups(0)->mutable_members(0)->set_country("ZZ");
  auto bad = Policy::Create(p);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("country_groups[0].members[0].country"),
            std::string::npos);
  v1::Policy q = (*Policy::FromProfile("current"))->proto();
  q.add_enabled_rules("NO_SUCH_RULE");
  EXPECT_FALSE(Policy::Create(q).ok());
  // A misspelt group would switch the embargo off: an error instead.
  v1::Policy g = (*Policy::FromProfile("current"))->proto();
  g.mutable_country_groups(0)->set_name("D5_MACOU");
  auto missing = Policy::Create(g);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(std::string(missing.status().message()).find("D5_MACAU"), std::string::npos);
}

}  // namespace
}  // namespace exportwatch

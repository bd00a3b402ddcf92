// Issue 3's per-rule precision/recall: the generator's labelled scenarios,
// mixed into baseline traffic, through the engine under both shipped
// profiles. Every rule the scenarios exercise must be found (recall) and
// raise nothing else (precision).
#include <iostream>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "processor/gen/generator.h"
#include "processor/scoring.h"
#include "tests/processor/rule_harness.h"

namespace exportwatch::testing {
namespace {

class ScenarioScoreTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ScenarioScoreTest, EveryScenarioRuleIsFoundAndNothingElseFires) {
  const std::string profile = GetParam();
  EventGenerator::Options o;
  o.seed = 23;
  o.violation_rate = 0.03;
  o.data_dir = std::string(EW_SHARED_DIR) + "/data";
  auto gen = EventGenerator::Create(o);
  ASSERT_TRUE(gen.ok()) << gen.status();
  // SCREENING_MATCH's scenario names Entity List entries of this list.
  auto watchlist = LoadWatchlists({o.data_dir + "/moov-io-watchman/csl.csv"});
  ASSERT_TRUE(watchlist.ok()) << watchlist.status();
  RuleHarness h(profile, *watchlist);
  Scorer scorer(profile);
  GeneratedEvent ge;
  for (int i = 0; i < 40000; ++i) {
    (*gen)->Next(&ge);
    for (const auto& label : ge.expected_rules) scorer.AddLabel(EventId(ge.event), label);
    for (const auto& a : h.Run(ge.event)) scorer.AddAlert(a);
  }
  std::cout << "profile " << profile << ", 40,000 events, seed 23, violation rate 0.03\n"
            << scorer.Table();
  auto scores = scorer.Scores();
  std::vector<std::string> expected = {"EMBARGOED_DESTINATION",
                                       "HQ_IN_RESTRICTED_COUNTRY",
                                       "PRC_ADVANCED_IC",
                                       "SHIPMENT_STRUCTURING",
                                       "TRANSSHIPMENT_ROUTE",
                                       "THIRD_COUNTRY_PAYMENT",
                                       "NEW_ENTITY_VELOCITY",
                                       "SITE_POWER_IMPLAUSIBLE",
                                       "SERIAL_LOCATION_MISMATCH",
                                       "RESTRICTED_TRAINING_COMPUTE",
                                       "MODEL_WEIGHT_TRANSFER",
                                       "SCREENING_MATCH",
                                       "COMPOSITE_RISK"};
  if (profile == "aidr-2025") {
    expected.push_back("COUNTRY_QUOTA");
    expected.push_back("CONSIGNEE_LPP_QUOTA");
  }
  for (const auto& rule : expected) {
    SCOPED_TRACE(rule);
    ASSERT_TRUE(scores.contains(rule));
    EXPECT_GT(scores[rule].labelled, 0);
    EXPECT_GE(scores[rule].recall(), 0.95);
    EXPECT_GE(scores[rule].precision(), 0.95);
  }
  for (const auto& [rule, s] : scores) {
    SCOPED_TRACE(rule);
    EXPECT_GE(s.precision(), 0.95);  // including rules no scenario exercises
  }
}

INSTANTIATE_TEST_SUITE_P(Profiles, ScenarioScoreTest, ::testing::Values("current", "aidr-2025"));

TEST(ScorerTest, CountsTruePositivesAndFoundLabels) {
  Scorer s("current");
  s.AddLabel("e1", "R");
  s.AddLabel("e2", "R");
  s.AddLabel("e3", "Q@aidr-2025");  // another profile's label: ignored
  v1::Alert hit;
  hit.set_rule_id("R");
  hit.mutable_evidence()->add_event_ids("e1");
  v1::Alert miss = hit;
  miss.mutable_evidence()->set_event_ids(0, "e9");
  s.AddAlert(hit);
  s.AddAlert(miss);
  auto scores = s.Scores();
  EXPECT_EQ(scores["R"].alerts, 2);
  EXPECT_EQ(scores["R"].true_alerts, 1);
  EXPECT_EQ(scores["R"].labelled, 2);
  EXPECT_EQ(scores["R"].labelled_found, 1);
  EXPECT_FALSE(scores.contains("Q"));
  EXPECT_TRUE(s.AddLabelLine(R"({"event_id":"e4","expected_rules":["R"]})").ok());
  EXPECT_FALSE(s.AddLabelLine("not json").ok());
}

TEST(ComparePoliciesTest, AddedAndRemovedByAlertId) {
  v1::Alert a, b, c;
  a.set_alert_id("a");
  a.set_rule_id("X");
  b.set_alert_id("b");
  b.set_rule_id("X");
  c.set_alert_id("c");
  c.set_rule_id("Y");
  PolicyDiff d = ComparePolicies({a, b}, {b, c});
  EXPECT_EQ(d.by_rule["X"].removed, 1);
  EXPECT_EQ(d.by_rule["X"].added, 0);
  EXPECT_EQ(d.by_rule["Y"].added, 1);
  ASSERT_EQ(d.added.size(), 1u);
  EXPECT_EQ(d.added[0].alert_id(), "c");
  ASSERT_EQ(d.removed.size(), 1u);
  EXPECT_EQ(d.removed[0].alert_id(), "a");
}

}  // namespace
}  // namespace exportwatch::testing

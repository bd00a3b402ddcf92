// Acceptance 5: `exportwatch replay` over the contract examples raises what
// RULES.md implies for the foundation rules, under both profiles.
#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace exportwatch::testing {
namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

int Replay(const std::string& args) {
  return std::system((std::string(EW_BINARY) + " replay " + args + " 2>/dev/null").c_str());
}

TEST(ReplayCliTest, ContractExamplesUnderCurrentRaiseTheThirdCountryPayment) {
  TempDir dir;
  std::string in = std::string(EW_SOURCE_DIR) + "/tests/fixtures/contract_examples.jsonl";
  ASSERT_EQ(Replay("--input " + in + " --output " + dir.File("a.jsonl")), 0);
  // The example shipment to Malaysia is paid from Hong Kong (restricted).
  auto lines = Lines(dir.File("a.jsonl"));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"rule_id\":\"THIRD_COUNTRY_PAYMENT\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"severity\":\"HIGH\""), std::string::npos);
}

TEST(ReplayCliTest, ContractModelTransferToAeFiresUnderAidr) {
  TempDir dir;
  std::string in = std::string(EW_SOURCE_DIR) + "/tests/fixtures/contract_examples.jsonl";
  ASSERT_EQ(Replay("--profile aidr-2025 --input " + in + " --output " + dir.File("a.jsonl")), 0);
  auto all = Lines(dir.File("a.jsonl"));
  std::vector<std::string> lines;
  for (const auto& l : all) {
    if (l.find("THIRD_COUNTRY_PAYMENT") == std::string::npos) lines.push_back(l);
  }
  ASSERT_EQ(all.size(), 2u);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"rule_id\":\"MODEL_WEIGHT_TRANSFER\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"severity\":\"HIGH\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"kind\":\"MODEL\""), std::string::npos);
  EXPECT_NE(lines[0].find("\"name\":\"aidr-2025\""), std::string::npos);
}

TEST(ReplayCliTest, VariantsRaiseEachFoundationRuleAndBadLinesAreDeadLettered) {
  TempDir dir;
  std::string trade = Fixture("contract_trade.json");
  trade.erase(std::remove(trade.begin(), trade.end(), '\n'), trade.end());
  // Paid in the purchaser's country, so that only the rule under test fires.
  const std::string hk_payer = "\"payer_country\": \"HK\"";
  trade.replace(trade.find(hk_payer), hk_payer.size(), "\"payer_country\": \"MY\"");
  auto with = [&](const std::string& from, const std::string& to, const std::string& id) {
    std::string t = trade;
    t.replace(t.find(from), from.size(), to);
    t.replace(t.find("tr-000123"), 9, id);
    return "{\"trade\": " + t + "}";
  };
  std::ofstream f(dir.File("in.jsonl"));
  f << with("\"destination_country\": \"MY\"", "\"destination_country\": \"CN\"", "e1") << "\n";
  f << with("H100-SXM", "ASCEND-910B", "e2") << "\n";
  for (int i = 0; i < 7; ++i)
    f << with("\"order_id\"", "\"order_id\"", "lpp" + std::to_string(i)) << "\n";
  f << "this is not json\n";
  f << "{\"trade\": {\"event_id\": \"x\"}}\n";
  f << "\n";
  f.close();
  ASSERT_EQ(Replay("--profile aidr-2025 --input " + dir.File("in.jsonl") + " --output " +
                   dir.File("out.jsonl") + " --dead-letters " + dir.File("dead.jsonl")),
            0);
  auto out = Lines(dir.File("out.jsonl"));
  std::string all;
  for (const auto& l : out) all += l + "\n";
  // e1 (to CN, end user in MY, via SG) is also a transshipment red flag.
  EXPECT_EQ(out.size(), 5u) << all;
  EXPECT_NE(all.find("EMBARGOED_DESTINATION"), std::string::npos);
  EXPECT_NE(all.find("TRANSSHIPMENT_ROUTE"), std::string::npos);
  EXPECT_NE(all.find("PRC_ADVANCED_IC"), std::string::npos);
  EXPECT_NE(all.find("\"level\":0.8"), std::string::npos);
  EXPECT_NE(all.find("\"level\":1"), std::string::npos);
  auto dead = Lines(dir.File("dead.jsonl"));
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_NE(dead[0].find("\"line\": 10"), std::string::npos);
  EXPECT_NE(dead[1].find("event_time"), std::string::npos);
}

TEST(ReplayCliTest, ComparePolicyPrintsWhatTheDraftAddsAndRemoves) {
  TempDir dir;
  std::string in = std::string(EW_SOURCE_DIR) + "/tests/fixtures/contract_examples.jsonl";
  std::string cmd = std::string(EW_BINARY) + " replay --profile aidr-2025 --compare-policy " +
                    "current --input " + in + " --output " + dir.File("a.jsonl") + " --diff " +
                    dir.File("diff.jsonl") + " > " + dir.File("report.txt") + " 2>/dev/null";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  std::string report;
  for (const auto& l : Lines(dir.File("report.txt"))) report += l + "\n";
  // aidr-2025 adds the model transfer to AE (outside Tier 1), removes nothing.
  EXPECT_NE(report.find("1 alerts added, 0 removed"), std::string::npos) << report;
  auto diff = Lines(dir.File("diff.jsonl"));
  ASSERT_EQ(diff.size(), 1u);
  EXPECT_NE(diff[0].find("\"change\": \"added\""), std::string::npos);
  EXPECT_NE(diff[0].find("MODEL_WEIGHT_TRANSFER"), std::string::npos);
  // A bad comparison policy is an error exit.
  EXPECT_NE(Replay("--compare-policy no-such-profile --input " + in + " --output /dev/null"), 0);
}

TEST(ReplayCliTest, MissingInputIsAnErrorExit) {
  EXPECT_NE(Replay("--input /nonexistent --output /dev/null"), 0);
  EXPECT_NE(Replay("--bogus-flag"), 0);
  EXPECT_EQ(Replay("--help >/dev/null"), 0);
}

}  // namespace
}  // namespace exportwatch::testing

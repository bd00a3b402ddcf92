// A DetectionEngine over an in-memory store, both stages in-process (as
// replay runs them), for rule tests.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "processor/detection_engine.h"
#include "processor/policy/policy.h"
#include "state/state_store.h"
#include "tests/common/contract_events.h"

namespace exportwatch::testing {

class RuleHarness {
 public:
  explicit RuleHarness(const std::string& profile) : RuleHarness(*Policy::FromProfile(profile)) {}
  explicit RuleHarness(std::shared_ptr<const Policy> policy, WatchlistData watchlist = {})
      : engine_(std::move(policy), std::move(watchlist)),
        store_(NewMemoryStateStore()),
        state_(store_.get(), 86400) {}
  RuleHarness(const std::string& profile, WatchlistData watchlist)
      : RuleHarness(*Policy::FromProfile(profile), std::move(watchlist)) {}

  const DetectionEngine& engine() const { return engine_; }

  std::vector<v1::Alert> Run(const v1::Event& e) {
    std::vector<v1::Alert> alerts;
    absl::Status s =
        engine_.ProcessInline(e, absl::FromUnixSeconds(1'800'000'000), state_, &alerts);
    EXPECT_TRUE(s.ok()) << s;
    return alerts;
  }

 private:
  DetectionEngine engine_;
  std::unique_ptr<StateStore> store_;
  TaskState state_;
};

// "RULE:SEVERITY" of each alert, in order.
inline std::vector<std::string> RulesOf(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> out;
  for (const auto& a : alerts) out.push_back(a.rule_id() + ":" + v1::Severity_Name(a.severity()));
  return out;
}

inline double NumberValue(const v1::Alert& a, const std::string& name) {
  auto it = a.evidence().values().fields().find(name);
  return it == a.evidence().values().fields().end() ? -1 : it->second.number_value();
}

inline std::string StringValue(const v1::Alert& a, const std::string& name) {
  auto it = a.evidence().values().fields().find(name);
  return it == a.evidence().values().fields().end() ? "" : it->second.string_value();
}

}  // namespace exportwatch::testing

// DetectionEngine: runs the enabled rules of one policy over events.
//
// The same engine serves the Kafka pipeline (Inspect in the ingest stage,
// Apply in the stateful stage, facts travelling through Kafka in between)
// and `exportwatch replay` (both stages in-process, in file order), so a
// replay raises exactly what the live system would.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "exportwatch/v1/alert.pb.h"
#include "exportwatch/v1/events.pb.h"
#include "processor/policy/policy.h"
#include "processor/rules/rule.h"
#include "processor/task_state.h"

namespace exportwatch {

struct FactOut {
  std::string rule_id;
  std::string key;
};

class DetectionEngine {
 public:
  explicit DetectionEngine(std::shared_ptr<const Policy> policy);

  const Policy& policy() const { return *policy_; }

  // Stage 1 (stateless): appends alerts and the facts to route.
  void Inspect(const v1::Event& event, absl::Time now, std::vector<v1::Alert>* alerts,
               std::vector<FactOut>* facts) const;

  // Stage 2 (stateful): applies one fact unless its event id was applied to
  // (rule, key) before; returns whether it was applied. Facts of rules this
  // policy does not enable are skipped.
  [[nodiscard]] absl::StatusOr<bool> Apply(int32_t partition, absl::string_view rule_id,
                                           absl::string_view key, const v1::Event& event,
                                           absl::Time now, TaskState& state,
                                           std::vector<v1::Alert>* alerts) const;

  // Both stages in-process, in order, as `replay` runs them: Inspect, then
  // Apply every fact on shard 0 of `state`, then Commit. Appends the alerts.
  [[nodiscard]] absl::Status ProcessInline(const v1::Event& event, absl::Time now, TaskState& state,
                                           std::vector<v1::Alert>* alerts) const;

 private:
  std::shared_ptr<const Policy> policy_;
  std::vector<std::unique_ptr<Rule>> rules_;
  absl::flat_hash_map<std::string, const Rule*> by_id_;
};

}  // namespace exportwatch

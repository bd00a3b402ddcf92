#include "processor/detection_engine.h"

#include "absl/strings/string_view.h"
#include "connectors/event_codec.h"

namespace exportwatch {
namespace {

class VectorEmitter final : public Emitter {
 public:
  VectorEmitter(std::vector<v1::Alert>* alerts, std::vector<FactOut>* facts)
      : alerts_(alerts), facts_(facts) {}
  void Alert(v1::Alert alert) override { alerts_->push_back(std::move(alert)); }
  void Fact(absl::string_view rule_id, std::string key) override {
    if (facts_ != nullptr) facts_->push_back({std::string(rule_id), std::move(key)});
  }

 private:
  std::vector<v1::Alert>* alerts_;
  std::vector<FactOut>* facts_;
};

}  // namespace

DetectionEngine::DetectionEngine(std::shared_ptr<const Policy> policy)
    : policy_(std::move(policy)), rules_(CreateEnabledRules(*policy_)) {
  for (const auto& r : rules_) by_id_[r->id()] = r.get();
}

void DetectionEngine::Inspect(const v1::Event& event, absl::Time now,
                              std::vector<v1::Alert>* alerts, std::vector<FactOut>* facts) const {
  RuleContext ctx{*policy_, now};
  VectorEmitter out(alerts, facts);
  for (const auto& rule : rules_) rule->Inspect(event, ctx, out);
}

absl::StatusOr<bool> DetectionEngine::Apply(int32_t partition, absl::string_view rule_id,
                                            absl::string_view key, const v1::Event& event,
                                            absl::Time now, TaskState& state,
                                            std::vector<v1::Alert>* alerts) const {
  auto it = by_id_.find(rule_id);
  if (it == by_id_.end()) return false;
  auto seen = state.SeenBefore(partition, rule_id, key, EventId(event), absl::ToUnixSeconds(now));
  if (!seen.ok()) return seen.status();
  if (*seen) return false;
  RuleContext ctx{*policy_, now};
  VectorEmitter out(alerts, nullptr);
  TaskState::Scoped scoped(&state, partition, rule_id, key);
  absl::Status s = it->second->Apply(event, key, ctx, scoped, out);
  if (!s.ok()) return s;
  return true;
}

absl::Status DetectionEngine::ProcessInline(const v1::Event& event, absl::Time now,
                                            TaskState& state,
                                            std::vector<v1::Alert>* alerts) const {
  std::vector<FactOut> facts;
  Inspect(event, now, alerts, &facts);
  for (const auto& f : facts) {
    auto applied = Apply(0, f.rule_id, f.key, event, now, state, alerts);
    if (!applied.ok()) return applied.status();
  }
  return state.Commit();
}

}  // namespace exportwatch

#include <algorithm>
#include <map>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

struct Registry {
  absl::Mutex mu;
  std::map<std::string, RuleFactory, std::less<>> factories ABSL_GUARDED_BY(mu);
};

Registry& GetRegistry() {
  static auto* registry = new Registry();
  return *registry;
}

}  // namespace

bool RegisterRule(absl::string_view id, RuleFactory factory) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  r.factories.emplace(std::string(id), std::move(factory));
  return true;
}

std::vector<std::string> RegisteredRuleIds() {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  std::vector<std::string> ids;
  for (const auto& [id, f] : r.factories) ids.push_back(id);
  return ids;
}

std::vector<std::unique_ptr<Rule>> CreateEnabledRules(const Policy& policy) {
  Registry& r = GetRegistry();
  absl::MutexLock lock(&r.mu);
  std::vector<std::unique_ptr<Rule>> rules;
  for (const auto& [id, factory] : r.factories) {
    if (policy.RuleEnabled(id)) rules.push_back(factory());
  }
  for (const auto& quota : policy.proto().quotas()) {
    if (policy.RuleEnabled(quota.rule_id())) rules.push_back(MakeQuotaRule(quota));
  }
  return rules;
}

}  // namespace exportwatch

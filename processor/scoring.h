// Scoring detections against ground truth, and comparing two policies'
// alerts: what `exportwatch replay --labels` and `--compare-policy` print.
//
// Ground truth is per event: the rules an event is designed to trigger (the
// labels of `exportwatch gen`). An alert of rule R is a true positive when
// one of its evidence event ids is labelled R; a labelled event is found
// when an alert of R carries it in its evidence (stateful alerts carry the
// events of their window, so the event that completes a pattern is there).
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "exportwatch/v1/alert.pb.h"

namespace exportwatch {

struct RuleScore {
  int64_t alerts = 0;
  int64_t true_alerts = 0;     // alerts with a labelled evidence event
  int64_t labelled = 0;        // events labelled with the rule
  int64_t labelled_found = 0;  // of which some alert of the rule carries
  double precision() const {
    return alerts == 0 ? 1.0 : static_cast<double>(true_alerts) / static_cast<double>(alerts);
  }
  double recall() const {
    return labelled == 0 ? 1.0
                         : static_cast<double>(labelled_found) / static_cast<double>(labelled);
  }
};

class Scorer {
 public:
  // `profile`: labels "RULE@profile" count only under that profile name.
  explicit Scorer(std::string profile) : profile_(std::move(profile)) {}

  void AddLabel(absl::string_view event_id, absl::string_view rule_label);
  // One line of `exportwatch gen --labels` output.
  [[nodiscard]] absl::Status AddLabelLine(absl::string_view json_line);
  void AddAlert(const v1::Alert& alert);

  // Per rule (every rule with an alert or a label), by rule id.
  std::map<std::string, RuleScore> Scores() const;
  // A table, one row per rule.
  std::string Table() const;

 private:
  std::string profile_;
  absl::flat_hash_map<std::string, std::set<std::string>> labels_;       // event -> rules
  std::map<std::string, int64_t> labelled_;                              // rule -> events
  std::map<std::string, std::vector<std::vector<std::string>>> alerts_;  // rule -> evidence
};

// Alerts of a draft policy against those of the current one, per rule,
// matched by alert_id: it is made of the rule, subject, window and level
// (and the triggering event for per-event rules), nothing policy-specific,
// so one detection has one id under both. A changed threshold level is a
// different detection (removed at the old level, added at the new).
struct PolicyDiff {
  struct Row {
    int64_t current = 0, draft = 0, added = 0, removed = 0;
  };
  std::map<std::string, Row> by_rule;
  std::vector<v1::Alert> added, removed;
};
PolicyDiff ComparePolicies(const std::vector<v1::Alert>& current,
                           const std::vector<v1::Alert>& draft);
std::string DiffTable(const PolicyDiff& diff, absl::string_view current_name,
                      absl::string_view draft_name);

}  // namespace exportwatch

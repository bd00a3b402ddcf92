#include "processor/scoring.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace exportwatch {

void Scorer::AddLabel(absl::string_view event_id, absl::string_view rule_label) {
  std::string rule(rule_label);
  auto at = rule.find('@');
  if (at != std::string::npos) {
    if (rule.substr(at + 1) != profile_) return;
    rule.resize(at);
  }
  if (labels_[std::string(event_id)].insert(rule).second) ++labelled_[rule];
}

absl::Status Scorer::AddLabelLine(absl::string_view json_line) {
  google::protobuf::Struct s;
  google::protobuf::util::JsonParseOptions opts;
  auto st = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json_line.data(), json_line.size()), &s, opts);
  if (!st.ok()) return absl::InvalidArgumentError(std::string(st.message()));
  auto id = s.fields().find("event_id");
  auto rules = s.fields().find("expected_rules");
  if (id == s.fields().end() || !id->second.has_string_value() || rules == s.fields().end() ||
      !rules->second.has_list_value()) {
    return absl::InvalidArgumentError("a label line needs event_id and expected_rules");
  }
  for (const auto& r : rules->second.list_value().values()) {
    if (r.has_string_value()) AddLabel(id->second.string_value(), r.string_value());
  }
  return absl::OkStatus();
}

void Scorer::AddAlert(const v1::Alert& alert) {
  std::vector<std::string> ids(alert.evidence().event_ids().begin(),
                               alert.evidence().event_ids().end());
  alerts_[alert.rule_id()].push_back(std::move(ids));
}

std::map<std::string, RuleScore> Scorer::Scores() const {
  std::map<std::string, RuleScore> out;
  for (const auto& [rule, n] : labelled_) out[rule].labelled = n;
  for (const auto& [rule, evidence_lists] : alerts_) {
    RuleScore& score = out[rule];
    absl::flat_hash_set<std::string> found;
    for (const auto& ids : evidence_lists) {
      ++score.alerts;
      bool any = false;
      for (const auto& id : ids) {
        auto it = labels_.find(id);
        if (it != labels_.end() && it->second.contains(rule)) {
          any = true;
          found.insert(id);
        }
      }
      if (any) ++score.true_alerts;
    }
    score.labelled_found = static_cast<int64_t>(found.size());
  }
  return out;
}

std::string Scorer::Table() const {
  std::string out = absl::StrFormat("%-28s %8s %8s %10s %10s %9s %7s\n", "rule", "alerts", "true",
                                    "labelled", "found", "precision", "recall");
  for (const auto& [rule, s] : Scores()) {
    absl::StrAppendFormat(&out, "%-28s %8d %8d %10d %10d %9.3f %7.3f\n", rule, s.alerts,
                          s.true_alerts, s.labelled, s.labelled_found, s.precision(), s.recall());
  }
  return out;
}

PolicyDiff ComparePolicies(const std::vector<v1::Alert>& current,
                           const std::vector<v1::Alert>& draft) {
  PolicyDiff diff;
  absl::flat_hash_set<std::string> in_current, in_draft;
  for (const auto& a : current) {
    in_current.insert(a.alert_id());
    ++diff.by_rule[a.rule_id()].current;
  }
  for (const auto& a : draft) {
    in_draft.insert(a.alert_id());
    ++diff.by_rule[a.rule_id()].draft;
    if (!in_current.contains(a.alert_id())) {
      ++diff.by_rule[a.rule_id()].added;
      diff.added.push_back(a);
    }
  }
  for (const auto& a : current) {
    if (!in_draft.contains(a.alert_id())) {
      ++diff.by_rule[a.rule_id()].removed;
      diff.removed.push_back(a);
    }
  }
  return diff;
}

std::string DiffTable(const PolicyDiff& diff, absl::string_view current_name,
                      absl::string_view draft_name) {
  std::string out =
      absl::StrFormat("%-28s %10s %10s %8s %8s\n", "rule", absl::StrCat(current_name).substr(0, 10),
                      absl::StrCat(draft_name).substr(0, 10), "added", "removed");
  for (const auto& [rule, r] : diff.by_rule) {
    absl::StrAppendFormat(&out, "%-28s %10d %10d %8d %8d\n", rule, r.current, r.draft, r.added,
                          r.removed);
  }
  return out;
}

}  // namespace exportwatch

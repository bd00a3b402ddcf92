// Helpers every rule uses to build alerts the same way.
#pragma once

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "exportwatch/v1/alert.pb.h"
#include "exportwatch/v1/events.pb.h"
#include "processor/rules/rule.h"

namespace exportwatch {

// Deterministic alert id: the same (rule, subject, window, level, triggering
// event) gives the same 32-hex-digit id on every run and instance.
std::string MakeAlertId(absl::string_view rule_id, v1::SubjectKind kind,
                        absl::string_view subject_id, absl::string_view window,
                        absl::string_view level, absl::string_view event_id);

struct AlertSpec {
  absl::string_view rule_id;
  v1::Severity severity = v1::MEDIUM;
  v1::SubjectKind subject_kind = v1::ENTITY;
  std::string subject_id;
  std::string title;
  // What makes two detections of one subject different: a window (a year),
  // a threshold level. Empty when the rule has neither.
  std::string window;
  std::string level;
};

// Fills id, rule, severity, subject, title, times, policy and the event id.
v1::Alert BuildAlert(const AlertSpec& spec, const v1::Event& event, const RuleContext& ctx);

void SetValue(v1::Alert& alert, absl::string_view name, double value);
void SetValue(v1::Alert& alert, absl::string_view name, absl::string_view value);

// ENTITY subject id: the party's entity_id, else its normalized name.
std::string EntityKey(const v1::Party& party);
// Upper case, punctuation to single spaces, trimmed.
std::string NormalizeName(absl::string_view name);

absl::string_view SeverityName(v1::Severity s);

}  // namespace exportwatch

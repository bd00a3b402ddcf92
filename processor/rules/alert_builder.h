// Helpers every rule uses to build alerts the same way.
#pragma once

#include <string>
#include <string_view>

#include "absl/strings/string_view.h"
#include "exportwatch/v1/alert.pb.h"
#include "exportwatch/v1/events.pb.h"
#include "google/protobuf/repeated_ptr_field.h"
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
  // Stateful rules fire once per (subject, window, level): the id is made of
  // those alone, so whichever event happens to cross the line (arrival order
  // differs between partitions) the detection keeps one id. The triggering
  // event is still in the evidence.
  bool once_per_window = false;
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

// The shipment's subject id: shipment_id, else the event id.
std::string ShipmentSubject(const v1::TradeEvent& t);
// YYYY-MM-DD (UTC) of a Unix time.
std::string FormatDay(int64_t unix_seconds);

// Appends `id` to a bounded list of evidence ids (keeps the newest `max`).
void AppendBounded(google::protobuf::RepeatedPtrField<std::string>* ids, absl::string_view id,
                   int max);

}  // namespace exportwatch

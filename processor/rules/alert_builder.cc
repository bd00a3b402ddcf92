#include "processor/rules/alert_builder.h"

#include <cctype>
#include <cstdint>

#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "connectors/event_codec.h"
#include "google/protobuf/util/time_util.h"

namespace exportwatch {
namespace {

// FNV-1a 64 with a seed; two seeds give 128 bits. Stable across builds and
// machines (std::hash and absl::Hash are not).
uint64_t Fnv1a(uint64_t h, absl::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  // Field separator, so ("ab","c") and ("a","bc") differ.
  h ^= 0x1f;
  h *= 0x100000001b3ULL;
  return h;
}

const google::protobuf::Timestamp& EventTime(const v1::Event& e) {
  switch (e.kind_case()) {
    case v1::Event::kTrade:
      return e.trade().event_time();
    case v1::Event::kCloudUsage:
      return e.cloud_usage().event_time();
    case v1::Event::kModelTransfer:
      return e.model_transfer().event_time();
    default:
      return google::protobuf::Timestamp::default_instance();
  }
}

}  // namespace

std::string MakeAlertId(absl::string_view rule_id, v1::SubjectKind kind,
                        absl::string_view subject_id, absl::string_view window,
                        absl::string_view level, absl::string_view event_id) {
  uint64_t a = 0xcbf29ce484222325ULL;
  uint64_t b = 0x84222325cbf29ce4ULL;
  for (absl::string_view part : std::initializer_list<absl::string_view>{
           rule_id, absl::string_view(v1::SubjectKind_Name(kind)), subject_id, window, level,
           event_id}) {
    a = Fnv1a(a, part);
    b = Fnv1a(b ^ 0x9e3779b97f4a7c15ULL, part);
  }
  return absl::StrFormat("%016x%016x", a, b);
}

v1::Alert BuildAlert(const AlertSpec& spec, const v1::Event& event, const RuleContext& ctx) {
  v1::Alert a;
  absl::string_view event_id = EventId(event);
  a.set_alert_id(MakeAlertId(spec.rule_id, spec.subject_kind, spec.subject_id, spec.window,
                             spec.level, spec.once_per_window ? "" : event_id));
  a.set_rule_id(std::string(spec.rule_id));
  a.set_severity(spec.severity);
  a.mutable_subject()->set_kind(spec.subject_kind);
  a.mutable_subject()->set_id(spec.subject_id);
  a.set_title(spec.title);
  *a.mutable_event_time() = EventTime(event);
  *a.mutable_detected_at() =
      google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(ctx.now));
  *a.mutable_policy() = ctx.policy.ref();
  a.mutable_evidence()->add_event_ids(std::string(event_id));
  return a;
}

void SetValue(v1::Alert& alert, absl::string_view name, double value) {
  (*alert.mutable_evidence()->mutable_values()->mutable_fields())[std::string(name)]
      .set_number_value(value);
}

void SetValue(v1::Alert& alert, absl::string_view name, absl::string_view value) {
  (*alert.mutable_evidence()->mutable_values()->mutable_fields())[std::string(name)]
      .set_string_value(std::string(value));
}

std::string NormalizeName(absl::string_view name) {
  std::string out;
  bool space = false;
  for (unsigned char c : name) {
    if (std::isalnum(c) || c >= 0x80) {
      if (space && !out.empty()) out.push_back(' ');
      space = false;
      out.push_back(static_cast<char>(std::toupper(c)));
    } else {
      space = true;
    }
  }
  return out;
}

std::string EntityKey(const v1::Party& party) {
  if (!party.entity_id().empty()) return party.entity_id();
  std::string normalized = NormalizeName(party.name());
  // A name of punctuation only still needs a key of its own.
  return normalized.empty() ? party.name() : normalized;
}

std::string ShipmentSubject(const v1::TradeEvent& t) {
  return t.shipment_id().empty() ? t.event_id() : t.shipment_id();
}

std::string FormatDay(int64_t unix_seconds) {
  return absl::FormatCivilTime(
      absl::ToCivilDay(absl::FromUnixSeconds(unix_seconds), absl::UTCTimeZone()));
}

void AppendBounded(google::protobuf::RepeatedPtrField<std::string>* ids, absl::string_view id,
                   int max) {
  ids->Add(std::string(id));
  if (ids->size() > max) ids->DeleteSubrange(0, ids->size() - max);
}

absl::string_view SeverityName(v1::Severity s) {
  const std::string& n = v1::Severity_Name(s);
  return n;
}

}  // namespace exportwatch

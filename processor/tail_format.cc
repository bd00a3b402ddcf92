#include "processor/tail_format.h"

#include "absl/strings/str_format.h"
#include "google/protobuf/util/time_util.h"

namespace exportwatch {

std::string FormatAlertLine(const v1::Alert& a) {
  return absl::StrFormat("%s %-8s %-22s %s:%s  %s  [policy %s %s, id %s]",
                         google::protobuf::util::TimeUtil::ToString(a.event_time()),
                         v1::Severity_Name(a.severity()), a.rule_id(),
                         v1::SubjectKind_Name(a.subject().kind()), a.subject().id(), a.title(),
                         a.policy().name(), a.policy().version(), a.alert_id().substr(0, 12));
}

}  // namespace exportwatch

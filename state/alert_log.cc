#include "state/alert_log.h"

#include <algorithm>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace exportwatch {
namespace {

std::vector<std::string> SortedUnique(std::vector<std::string> ids) {
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

bool Contains(const std::vector<std::string>& sorted, std::string_view id) {
  return std::binary_search(sorted.begin(), sorted.end(), id);
}

}  // namespace

std::string FormatCursor(uint64_t seq) { return absl::StrFormat("%016x", seq); }

absl::StatusOr<uint64_t> ParseCursor(std::string_view cursor) {
  if (cursor.size() != 16) {
    return absl::InvalidArgumentError(absl::StrCat(
        "malformed cursor \"",
        absl::CEscape(absl::string_view(cursor.data(), std::min<size_t>(cursor.size(), 40))),
        "\": want 16 lowercase hex digits from an alert's cursor"));
  }
  uint64_t seq = 0;
  for (char c : cursor) {
    uint64_t digit;
    if (c >= '0' && c <= '9') {
      digit = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      digit = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "malformed cursor \"", absl::CEscape(absl::string_view(cursor.data(), cursor.size())),
          "\": want 16 lowercase hex digits from an alert's cursor"));
    }
    seq = (seq << 4) | digit;
  }
  return seq;
}

absl::Time ToAbslTime(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp ts;
  int64_t seconds = absl::ToUnixSeconds(t);
  // ToUnixSeconds floors, so the remainder is in [0, 1s).
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

AlertFilter& AlertFilter::set_min_severity(v1::Severity min) {
  min_severity_ = min;
  return *this;
}

AlertFilter& AlertFilter::set_rule_ids(std::vector<std::string> ids) {
  rule_ids_ = SortedUnique(std::move(ids));
  return *this;
}

AlertFilter& AlertFilter::set_subject_ids(std::vector<std::string> ids) {
  subject_ids_ = SortedUnique(std::move(ids));
  return *this;
}

AlertFilter& AlertFilter::set_event_time_range(std::optional<absl::Time> start,
                                               std::optional<absl::Time> end) {
  start_ = start;
  end_ = end;
  return *this;
}

bool AlertFilter::Matches(const v1::Alert& alert) const {
  if (min_severity_ != v1::SEVERITY_UNSPECIFIED && alert.severity() < min_severity_) {
    return false;
  }
  if (!rule_ids_.empty() && !Contains(rule_ids_, alert.rule_id())) {
    return false;
  }
  if (!subject_ids_.empty() && !Contains(subject_ids_, alert.subject().id())) {
    return false;
  }
  if (start_ || end_) {
    absl::Time t = ToAbslTime(alert.event_time());
    if (start_ && t < *start_) return false;
    if (end_ && t >= *end_) return false;
  }
  return true;
}

}  // namespace exportwatch

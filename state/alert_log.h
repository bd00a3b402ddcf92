// AlertLog: alertd's append-only, de-duplicated store of alerts.
//
// Every alert gets a sequence number (uint64, from 1, gap-free, in append
// order) when it is first appended; the sequence number, rendered as a
// cursor (16 lowercase hex digits), is the alert's `cursor` field and the
// total order that subscribers resume from. An alert whose `alert_id` is
// already stored is dropped as a duplicate: alert ids are deterministic, so
// a processor replay after a crash re-emits ids that are already here.
//
// Append also stores the position of the input it came from (the Kafka
// offset of the `alerts` topic, opaque here) in the same atomic write, so
// after a crash the consumer resumes exactly where the log ends.
//
// Implementations: state/rocksdb_alert_log.h (durable) and
// state/memory_alert_log.h (same code over an in-memory file system, tests).
// All methods are thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "exportwatch/v1/alert.pb.h"

namespace exportwatch {

// Cursor of sequence number `seq`: 16 lowercase hex digits, so that cursors
// (and the log's keys) sort like the numbers. "0000000000000000" is the
// position before the first alert.
std::string FormatCursor(uint64_t seq);

// Strict inverse of FormatCursor: anything but exactly 16 lowercase hex
// digits is INVALID_ARGUMENT (the caller's input is wrong, not the log).
[[nodiscard]] absl::StatusOr<uint64_t> ParseCursor(std::string_view cursor);

// google.protobuf.Timestamp <-> absl::Time. An unset timestamp is the epoch.
absl::Time ToAbslTime(const google::protobuf::Timestamp& ts);
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);

// Which alerts a subscriber or a list request wants. Default: all.
class AlertFilter {
 public:
  AlertFilter() = default;

  // Alerts below `min` are excluded. SEVERITY_UNSPECIFIED: no bound.
  AlertFilter& set_min_severity(v1::Severity min);
  // Only these rules / subject ids (exact match). Empty: all.
  AlertFilter& set_rule_ids(std::vector<std::string> ids);
  AlertFilter& set_subject_ids(std::vector<std::string> ids);
  // Event time in [start, end); nullopt leaves that side open.
  AlertFilter& set_event_time_range(std::optional<absl::Time> start, std::optional<absl::Time> end);

  [[nodiscard]] bool Matches(const v1::Alert& alert) const;

 private:
  v1::Severity min_severity_ = v1::SEVERITY_UNSPECIFIED;
  std::vector<std::string> rule_ids_;     // sorted, unique
  std::vector<std::string> subject_ids_;  // sorted, unique
  std::optional<absl::Time> start_;
  std::optional<absl::Time> end_;
};

class AlertLog {
 public:
  struct AppendResult {
    // The newly stored alerts, in sequence order, with `cursor` set.
    std::vector<v1::Alert> appended;
    // Alerts dropped because their alert_id was already stored (or appeared
    // earlier in the same call).
    uint64_t duplicates = 0;
  };

  struct ListPage {
    // Matching alerts in sequence (arrival) order.
    std::vector<v1::Alert> alerts;
    // Cursor to pass as the next page_token; empty when the scan reached
    // the head of the log. A page may hold fewer than page_size alerts (even
    // none) and still have a token when the scan limit was reached.
    std::string next_page_token;
  };

  // Monotonic counters since open.
  struct Counters {
    uint64_t appended = 0;
    uint64_t duplicates_dropped = 0;
    uint64_t status_updates = 0;
  };

  virtual ~AlertLog() = default;

  // Stores the alerts whose alert_id is new and, when `source_position` is
  // not empty, the source position, in one atomic write (also when every
  // alert is a duplicate, so the position still advances). An alert with an
  // empty alert_id makes the whole call INVALID_ARGUMENT and writes nothing.
  // Incoming `cursor` fields are overwritten; `triage` is kept as given.
  [[nodiscard]] virtual absl::StatusOr<AppendResult> Append(std::vector<v1::Alert> alerts,
                                                            std::string source_position) = 0;

  // The source position of the last Append that had one; nullopt if none.
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> LastSourcePosition() = 0;

  // NOT_FOUND when no alert has this id.
  [[nodiscard]] virtual absl::StatusOr<v1::Alert> Get(std::string_view alert_id) = 0;

  // Up to `limit` alerts with sequence number > `after_seq`, in order.
  [[nodiscard]] virtual absl::StatusOr<std::vector<v1::Alert>> ReadAfter(uint64_t after_seq,
                                                                         size_t limit) = 0;

  // Sequence number of the newest alert; 0 when the log is empty. Alerts
  // 1..HeadSeq() are readable once HeadSeq() returns it.
  [[nodiscard]] virtual uint64_t HeadSeq() const = 0;

  // Replaces the triage of the alert and returns the updated alert. Durable
  // when it returns OK. NOT_FOUND for an unknown id.
  [[nodiscard]] virtual absl::StatusOr<v1::Alert> UpdateStatus(std::string_view alert_id,
                                                               const v1::Triage& triage) = 0;

  // Alerts matching `filter` after `page_token` (a cursor; empty: from the
  // start), at most `page_size` (>= 1). A malformed token is
  // INVALID_ARGUMENT.
  [[nodiscard]] virtual absl::StatusOr<ListPage> List(const AlertFilter& filter,
                                                      std::string_view page_token,
                                                      size_t page_size) = 0;

  [[nodiscard]] virtual Counters counters() const = 0;
};

}  // namespace exportwatch

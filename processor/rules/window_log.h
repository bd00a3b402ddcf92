// WindowLog: a sliding event-time window over the facts of one key, for the
// rules that count "N things within D days" (SHIPMENT_STRUCTURING,
// NEW_ENTITY_VELOCITY, COMPOSITE_RISK).
//
// Entries are kept sorted by event time. An entry older than the newest
// event time seen (the key's watermark) minus the policy's allowed lateness
// is too late: it is counted in late_events and not added. Entries that no
// window reachable by an on-time event can contain are pruned, and the log
// keeps at most kMaxWindowEntries (the oldest go first), so state per key
// is bounded whatever the input.
//
// Episodes: once a window alerts, the next alert needs a window made only of
// entries after the alerted one's end, so one run of shipments alerts once
// however many more arrive inside it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/rules/rule.h"

namespace exportwatch {

constexpr int kMaxWindowEntries = 1024;

// Adds `entry` unless it is too late (then counts it); prunes what no
// window of `window_seconds` can still use. Returns whether it was added.
bool AddToWindow(v1::WindowLog* log, v1::WindowEntry entry, int64_t window_seconds,
                 int64_t lateness_seconds);

// Entries [first, last] (indices into log.entries) of one window.
struct WindowRange {
  int first = 0;
  int last = 0;
};

// The first window of `window_seconds` that contains event time `t`, starts
// after the last alerted window, and satisfies `qualifies`. Windows are
// tried by their last entry, earliest first.
std::optional<WindowRange> FindQualifyingWindow(
    const v1::WindowLog& log, int64_t t, int64_t window_seconds,
    const std::function<bool(const v1::WindowLog&, WindowRange)>& qualifies);

// Marks `range` alerted (starts a new episode after it).
void MarkAlerted(v1::WindowLog* log, WindowRange range);

// A stable id for an alert's window: "<first unix>-<last unix>".
std::string WindowId(const v1::WindowLog& log, WindowRange range);

// Sum of the amounts of `range`.
double WindowSum(const v1::WindowLog& log, WindowRange range);

// A sliding-window rule's Apply in one step: takes the log stored under
// `name` (KeyState::Mutable: parsed once per stateful batch, written back
// when it commits, since a busy key's log of up to kMaxWindowEntries is
// rewritten by many facts of one batch), adds `entry`, and looks for a
// qualifying window containing it (marked alerted when found).
struct WindowHit {
  const v1::WindowLog* log = nullptr;  // valid within this Apply (KeyState::Mutable)
  std::optional<WindowRange> range;    // set when a window qualifies
};
[[nodiscard]] absl::StatusOr<WindowHit> AddAndFindWindow(
    KeyState& state, absl::string_view name, v1::WindowEntry entry, int64_t window_seconds,
    int64_t lateness_seconds,
    const std::function<bool(const v1::WindowLog&, WindowRange)>& qualifies);

}  // namespace exportwatch

#include "processor/rules/window_log.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace exportwatch {
namespace {

bool Before(const v1::WindowEntry& a, const v1::WindowEntry& b) {
  if (a.time_unix() != b.time_unix()) return a.time_unix() < b.time_unix();
  if (a.event_id() != b.event_id()) return a.event_id() < b.event_id();
  return a.tag() < b.tag();
}

}  // namespace

bool AddToWindow(v1::WindowLog* log, v1::WindowEntry entry, int64_t window_seconds,
                 int64_t lateness_seconds) {
  const int64_t t = entry.time_unix();
  if (log->entries_size() > 0 && t < log->watermark_unix() - lateness_seconds) {
    log->set_late_events(log->late_events() + 1);
    return false;
  }
  log->set_watermark_unix(std::max(log->watermark_unix(), t));
  auto* entries = log->mutable_entries();
  *entries->Add() = std::move(entry);
  // Into order: the log is sorted and arrivals are mostly in order.
  for (int i = entries->size() - 1; i > 0 && Before(entries->Get(i), entries->Get(i - 1)); --i) {
    entries->SwapElements(i, i - 1);
  }
  // An on-time event is >= watermark - lateness; the windows containing it
  // reach back one window length more.
  const int64_t keep_from = log->watermark_unix() - lateness_seconds - window_seconds;
  int drop = 0;
  while (drop < entries->size() && entries->Get(drop).time_unix() < keep_from) ++drop;
  drop = std::max(drop, entries->size() - kMaxWindowEntries);
  if (drop > 0) entries->DeleteSubrange(0, drop);
  return true;
}

std::optional<WindowRange> FindQualifyingWindow(
    const v1::WindowLog& log, int64_t t, int64_t window_seconds,
    const std::function<bool(const v1::WindowLog&, WindowRange)>& qualifies) {
  const auto& e = log.entries();
  for (int last = 0; last < e.size(); ++last) {
    const int64_t end = e.Get(last).time_unix();
    if (end < t) continue;
    if (end > t + window_seconds) break;
    int first = 0;
    while (first <= last &&
           (e.Get(first).time_unix() < end - window_seconds ||
            (log.alerted() && e.Get(first).time_unix() <= log.alerted_until_unix()))) {
      ++first;
    }
    if (first > last || e.Get(first).time_unix() > t) continue;  // must contain t
    WindowRange range{first, last};
    if (qualifies(log, range)) return range;
  }
  return std::nullopt;
}

void MarkAlerted(v1::WindowLog* log, WindowRange range) {
  log->set_alerted(true);
  log->set_alerted_until_unix(log->entries(range.last).time_unix());
}

std::string WindowId(const v1::WindowLog& log, WindowRange range) {
  return absl::StrCat(log.entries(range.first).time_unix(), "-",
                      log.entries(range.last).time_unix());
}

}  // namespace exportwatch

namespace exportwatch {

double WindowSum(const v1::WindowLog& log, WindowRange range) {
  double total = 0;
  for (int i = range.first; i <= range.last; ++i) total += log.entries(i).amount();
  return total;
}

absl::StatusOr<WindowHit> AddAndFindWindow(
    KeyState& state, absl::string_view name, v1::WindowEntry entry, int64_t window_seconds,
    int64_t lateness_seconds,
    const std::function<bool(const v1::WindowLog&, WindowRange)>& qualifies) {
  bool stored = false;
  auto log = state.Mutable<v1::WindowLog>(name, &stored);
  if (!log.ok()) return log.status();
  v1::WindowLog* l = *log;
  WindowHit hit{l, std::nullopt};
  const int64_t t = entry.time_unix();
  if (AddToWindow(l, std::move(entry), window_seconds, lateness_seconds)) {
    hit.range = FindQualifyingWindow(*l, t, window_seconds, qualifies);
    if (hit.range) MarkAlerted(l, *hit.range);
  }
  return hit;
}

}  // namespace exportwatch

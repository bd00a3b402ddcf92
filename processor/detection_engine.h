// DetectionEngine: runs the enabled rules of one policy over events.
//
// The same engine serves the Kafka pipeline (Inspect in the ingest stage,
// Apply in the stateful stage, facts travelling through Kafka in between)
// and `exportwatch replay` (both stages in-process, in file order), so a
// replay raises exactly what the live system would.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "exportwatch/v1/alert.pb.h"
#include "exportwatch/v1/events.pb.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/policy/policy.h"
#include "processor/rules/rule.h"
#include "processor/task_state.h"
#include "processor/watchlist_data.h"

namespace exportwatch {

// "<quota id>|<subject id>|<window start, unix seconds>": a quota window's
// key on the quota-usage topic (compacted: the newest usage per window).
std::string QuotaUsageKey(absl::string_view quota_id, absl::string_view subject_id,
                          int64_t window_start_unix);

// The quota usages a stateful batch reported: the newest per quota window.
// A window's slot is filled whole by its first report of the batch and
// brought up to date by the later ones (Emitter::UsageSlot): a country's
// quota is reported by most shipments of a batch. The messages are kept
// from batch to batch.
class UsageReports {
 public:
  // The window's slot: cleared when `*fresh` (its first report of the
  // batch, or the first from this `source`), else as its last report left
  // it (Emitter::UsageSlot).
  v1::QuotaUsage* Slot(absl::string_view quota_id, absl::string_view subject_id,
                       int64_t window_start_unix, const void* source, bool* fresh);
  // Forgets the reports; keeps the messages for the next batch.
  void Clear();
  // The reports, in the order their windows were first reported.
  size_t size() const { return used_; }
  const std::string& key(size_t i) const { return slots_[i]->key; }
  const v1::QuotaUsage& usage(size_t i) const { return slots_[i]->usage; }

 private:
  struct Entry {
    std::string key;
    v1::QuotaUsage usage;
    const void* source = nullptr;  // the state its last report was made from
  };
  std::vector<std::unique_ptr<Entry>> slots_;  // [0, used_) hold this batch's
  size_t used_ = 0;
  absl::flat_hash_map<std::string, size_t> index_;  // key -> slot
  std::string lookup_;                              // Slot's key, reused
};

struct FactOut {
  std::string rule_id;
  std::string key;
  // A fact derived from an alert: the alert's rule (see COMPOSITE_RISK).
  std::string source_rule_id;
  // The event the fact carries when not the inspected one: a slimmed copy,
  // serialized (Emitter::FactWithEvent).
  std::optional<std::string> payload;
};

// The fact record of `f` for the facts topic (carrying `event` unless `f`
// has a payload of its own).
v1::Fact MakeFact(const FactOut& f, const v1::Event& event);
// MakeFact without the event: for FactBatcher::Add with the event's bytes.
v1::Fact FactHeader(const FactOut& f);

class DetectionEngine {
 public:
  explicit DetectionEngine(std::shared_ptr<const Policy> policy, WatchlistData watchlist = {});

  const Policy& policy() const { return *policy_; }
  std::shared_ptr<const Policy> policy_ptr() const { return policy_; }
  const WatchlistData& watchlist() const { return watchlist_; }

  // Stage 1 (stateless): appends alerts and the facts to route (including
  // those derived from the alerts for rules built on alerts). `parties`:
  // the event's ScreenedParties if the caller computed them (optional).
  void Inspect(const v1::Event& event, absl::Time now, std::vector<v1::Alert>* alerts,
               std::vector<FactOut>* facts,
               const std::vector<ScreenedParty>* parties = nullptr) const;

  // The event that the facts of `event` without a payload of their own
  // carry: for a trade, a copy in `*scratch` of the parts their rules'
  // Apply read (Rule::trade_parts_applied), else `event` itself. Call it
  // after Inspect, with the facts Inspect appended for `event`.
  const v1::Event& FactEvent(const v1::Event& event, const std::vector<FactOut>& facts,
                             v1::Event* scratch) const;

  // Stage 2 (stateful): applies one fact unless its event id was applied to
  // (rule, key) before; returns whether it was applied. Facts of rules this
  // policy does not enable are skipped. Appends the alerts raised and the
  // facts derived from them (to route like stage 1's), and the quota usages
  // it changed (`reports`, optional: QueryService's view).
  [[nodiscard]] absl::StatusOr<bool> Apply(int32_t partition, const v1::Fact& fact, absl::Time now,
                                           TaskState& state, std::vector<v1::Alert>* alerts,
                                           std::vector<FactOut>* derived,
                                           UsageReports* reports = nullptr) const;

  // Both stages in-process, in order, as `replay` runs them: Inspect, then
  // Apply every fact on shard 0 of `state`, then Commit. Appends the alerts.
  [[nodiscard]] absl::Status ProcessInline(const v1::Event& event, absl::Time now, TaskState& state,
                                           std::vector<v1::Alert>* alerts) const;

 private:
  // Appends the facts that alerts[from..] feed to rules built on alerts.
  void DeriveFacts(const std::vector<v1::Alert>& alerts, size_t from, const v1::Event& event,
                   std::vector<FactOut>* facts) const;

  RuleContext Context(absl::Time now, absl::string_view source_rule_id = {}) const;

  std::shared_ptr<const Policy> policy_;
  WatchlistData watchlist_;
  std::vector<std::unique_ptr<Rule>> rules_;
  // Rule ids whose alerts feed COMPOSITE_RISK (empty when it is off).
  absl::flat_hash_set<std::string> composite_inputs_;
  absl::flat_hash_map<std::string, const Rule*> by_id_;
};

}  // namespace exportwatch

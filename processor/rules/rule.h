// Rule: one detection of shared/contract/RULES.md, behind one interface.
//
// A rule runs in up to two stages:
//  1. Inspect (ingest stage, stateless): sees every valid event. It may raise
//     alerts at once (a shipment to an embargoed country) and/or emit facts:
//     "this event matters to my state of key K".
//  2. Apply (stateful stage): receives each fact on the shard that owns K,
//     with read/write access to the state of (rule, K). The stage guarantees
//     that a fact's event_id is applied at most once per (rule, key).
// Rules register themselves by name (EW_REGISTER_RULE); adding a rule is one
// new file plus its test.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "exportwatch/v1/alert.pb.h"
#include "exportwatch/v1/events.pb.h"
#include "google/protobuf/message_lite.h"
#include "processor/policy/policy.h"

namespace exportwatch::screening {
class Watchlist;
}

namespace exportwatch {

struct ScreenedParty;  // processor/rules/screening_match.h

struct RuleContext {
  const Policy& policy;
  // Wall-clock time of detection, written as the alert's detected_at.
  absl::Time now;
  // Apply of a fact derived from an alert (COMPOSITE_RISK): the rule that
  // raised the alert. Empty otherwise.
  absl::string_view source_rule_id = {};
  // The screening lists in force (SCREENING_MATCH); null when none is loaded.
  const screening::Watchlist* watchlist = nullptr;
  absl::string_view watchlist_version = {};
  // The event's ScreenedParties, when the caller has them already (the
  // ingest stage, which records them in its entity registry too); null: the
  // screening rule computes them.
  const std::vector<ScreenedParty>* screened_parties = nullptr;
};

class Emitter {
 public:
  virtual ~Emitter() = default;
  virtual void Alert(v1::Alert alert) = 0;
  // Routes the current event to the stateful stage under `key`.
  virtual void Fact(absl::string_view rule_id, std::string key) = 0;
  // Routes `event_bytes` instead: a serialized v1::Event, a slimmed copy of
  // the current event with its event_id and event_time. For rules that fan
  // one event out to many keys (one fact per serial number) and need only a
  // few of its fields: serialized, the part the facts share is encoded once.
  virtual void FactWithEvent(absl::string_view rule_id, std::string key,
                             std::string event_bytes) = 0;
  // The message holding a quota window's current usage (QueryService's
  // view), to bring up to date after an Apply changed it: the same one for
  // every report of that window until the stateful batch ends, since only
  // the newest is published. `source` is the state the report is made from
  // (the KeyState::Mutable message). `*fresh` says the message was cleared,
  // to be filled whole: the window's first report of the batch, or one from
  // another source (the same window's key in two shards while the facts
  // topic's partition count changes). Otherwise it holds the previous
  // report of this batch, made from the same state under the same policy,
  // so only what changed since needs setting (a country's window is
  // reported by most shipments of a batch). Null from emitters that serve
  // no view: nothing to build. `window_start_unix`: 0 for a window without
  // bounds.
  virtual v1::QuotaUsage* UsageSlot(absl::string_view quota_id, absl::string_view subject_id,
                                    int64_t window_start_unix, const void* source, bool* fresh) {
    return nullptr;
  }
};

// The state of one (rule, key): small named values.
class KeyState {
 public:
  virtual ~KeyState() = default;
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view name) = 0;
  virtual void Put(absl::string_view name, std::string value) = 0;

  // The message stored under `name`, parsed at its first use in a stateful
  // batch and serialized once when the batch commits: for state that many
  // facts of one batch rewrite (a country's quota counter), where a Get,
  // parse, serialize and Put per fact was most of the rule's cost. Calling
  // it counts as writing the value. `*found` says whether a value was
  // stored (an unreadable one counts as absent). The pointer is valid
  // until the batch is staged for the changelog, commits or aborts, or
  // until a Put of the same name replaces the message: within the Apply
  // that took it, not across facts. A Get of the same name sees the
  // message as it is then.
  template <typename T>
  [[nodiscard]] absl::StatusOr<T*> Mutable(absl::string_view name, bool* found) {
    auto m = MutableMessage(name, T::default_instance(), found);
    if (!m.ok()) return m.status();
    return static_cast<T*>(*m);
  }

 protected:
  // Mutable's work; `prototype` gives the message type.
  [[nodiscard]] virtual absl::StatusOr<google::protobuf::MessageLite*> MutableMessage(
      absl::string_view name, const google::protobuf::MessageLite& prototype, bool* found) = 0;
};

// Parts of a trade event (bits). A rule names the parts its Apply reads, so
// that its facts carry only those (DetectionEngine::FactEvent): most facts
// are trades routed to a quota, which reads the items and nothing of the
// five parties, the route or the payment that make up most of the event.
// event_id, event_time and shipment_id always travel.
enum TradeParts : uint32_t {
  // The items without their serial numbers (model, quantity, TPP).
  kTradeItems = 1u << 0,
  // The items' serial numbers too: one per unit shipped, and no rule that
  // counts or windows shipments reads them.
  kTradeItemSerials = 1u << 7,
  kTradeUltimateConsignee = 1u << 1,
  kTradePurchaser = 1u << 2,
  kTradeEndUser = 1u << 3,
  kTradeExporter = 1u << 4,
  kTradeDestinationCountry = 1u << 5,
  kTradeAuthorization = 1u << 6,
  kTradeAllParts = ~0u,
};

class Rule {
 public:
  virtual ~Rule() = default;
  virtual absl::string_view id() const = 0;
  // The TradeParts this rule's Apply reads of a trade event. The default,
  // all of them, is always correct; a rule that names fewer must read
  // nothing else (tests/processor/fact_event_test.cc applies every rule's
  // facts both ways and compares).
  virtual uint32_t trade_parts_applied() const { return kTradeAllParts; }
  virtual void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const = 0;
  // True when applying a fact of `event` to its key again, at any later
  // point of the key's history, changes no state and raises no alert. The
  // engine then keeps no dedup mark for the fact. A mark is a RocksDB write
  // and lookup per fact; marks were 17% of the processor's instructions at
  // 100k events (BENCHMARKS.md, session 11). The default, false, is always
  // correct: every fact is applied once per event id.
  virtual bool ReapplyIsNoOp(const v1::Event& event) const { return false; }
  [[nodiscard]] virtual absl::Status Apply(const v1::Event& event, absl::string_view key,
                                           const RuleContext& ctx, KeyState& state,
                                           Emitter& out) const {
    return absl::OkStatus();
  }
};

using RuleFactory = std::function<std::unique_ptr<Rule>()>;

// Registers a rule under its id; returns true (for static initialisers).
bool RegisterRule(absl::string_view id, RuleFactory factory);
// Every registered rule id, sorted.
std::vector<std::string> RegisteredRuleIds();
// The rule of one quota the policy declares (processor/rules/quota_rule.cc).
// It keeps a reference to `def`, which must outlive it (the Policy does).
std::unique_ptr<Rule> MakeQuotaRule(const v1::QuotaDefinition& def);
// Instances of the rules `policy` enables that are implemented, and one per
// enabled quota.
std::vector<std::unique_ptr<Rule>> CreateEnabledRules(const Policy& policy);

#define EW_REGISTER_RULE(id, Class)                          \
  [[maybe_unused]] static const bool ew_registered_##Class = \
      ::exportwatch::RegisterRule(id, [] { return std::make_unique<Class>(); })

}  // namespace exportwatch

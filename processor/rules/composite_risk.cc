// COMPOSITE_RISK (RULES.md): built on the alerts of other rules. When
// min_distinct_rules (3) distinct rules among input_rules (TRANSSHIPMENT_ROUTE,
// THIRD_COUNTRY_PAYMENT, SHIPMENT_STRUCTURING, NEW_ENTITY_VELOCITY,
// SITE_POWER_IMPLAUSIBLE) fired for one ultimate consignee within
// window_days (180) of event time: HIGH, once per run of alerts.
//
// The engine turns each input alert on a trade event into a fact keyed by
// the event's ultimate consignee (DetectionEngine::DeriveFacts), whichever
// stage raised it; this rule keeps a sliding window of them.
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"
#include "processor/rules/window_log.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "COMPOSITE_RISK";
constexpr absl::string_view kLog = "log";
constexpr int64_t kDay = 86400;

class CompositeRisk final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  // Its facts come from alerts, not from events.
  void Inspect(const v1::Event&, const RuleContext&, Emitter&) const override {}

  absl::Status Apply(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_trade() || ctx.source_rule_id.empty()) return absl::OkStatus();
    const auto& t = event.trade();
    const auto& cfg = ctx.policy.proto().composite_risk();
    const int64_t window = int64_t{cfg.window_days()} * kDay;
    v1::WindowEntry entry;
    entry.set_time_unix(t.event_time().seconds());
    entry.set_event_id(t.event_id());
    entry.set_tag(std::string(ctx.source_rule_id));
    auto distinct = [](const v1::WindowLog& l, WindowRange r) {
      absl::flat_hash_set<std::string> rules;
      for (int i = r.first; i <= r.last; ++i) rules.insert(l.entries(i).tag());
      return rules;
    };
    auto qualifies = [&](const v1::WindowLog& l, WindowRange r) {
      return static_cast<int>(distinct(l, r).size()) >= cfg.min_distinct_rules();
    };
    auto hit = AddAndFindWindow(state, kLog, std::move(entry), window,
                                ctx.policy.proto().allowed_lateness_seconds(), qualifies);
    if (!hit.ok()) return hit.status();
    if (!hit->range) return absl::OkStatus();
    const v1::WindowLog& log = *hit->log;
    const WindowRange r = *hit->range;
    auto rules_set = distinct(log, r);
    std::vector<std::string> rules(rules_set.begin(), rules_set.end());
    std::sort(rules.begin(), rules.end());
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = v1::HIGH;
    spec.subject_kind = v1::ENTITY;
    spec.subject_id = std::string(key);
    spec.window = WindowId(log, r);
    spec.once_per_window = true;
    const auto& c = t.ultimate_consignee();
    spec.title = absl::StrCat(rules.size(), " diversion indicators for consignee ",
                              c.name().empty() ? key : c.name(), " within ", cfg.window_days(),
                              " days: ", absl::StrJoin(rules, ", "));
    v1::Alert a = BuildAlert(spec, event, ctx);
    a.mutable_evidence()->clear_event_ids();
    absl::flat_hash_set<std::string> ids;
    for (int i = r.first; i <= r.last; ++i) {
      if (ids.insert(log.entries(i).event_id()).second) {
        a.mutable_evidence()->add_event_ids(log.entries(i).event_id());
      }
    }
    SetValue(a, "rules", absl::StrJoin(rules, ","));
    SetValue(a, "distinct_rules", static_cast<double>(rules.size()));
    SetValue(a, "min_distinct_rules", cfg.min_distinct_rules());
    SetValue(a, "window_days", cfg.window_days());
    SetValue(a, "window_first", FormatDay(log.entries(r.first).time_unix()));
    SetValue(a, "window_last", FormatDay(log.entries(r.last).time_unix()));
    out.Alert(std::move(a));
    return absl::OkStatus();
  }
};

EW_REGISTER_RULE(kId, CompositeRisk);

}  // namespace
}  // namespace exportwatch

// SHIPMENT_STRUCTURING (RULES.md): within window_days (30), at least
// min_shipments (3) controlled shipments to one ultimate consignee, each
// under max_shipment_tpp (2,690,000, a tenth of the LPP cap), together at
// least min_total_tpp (6,725,000). MEDIUM, once per run of shipments.
//
// Windows are in event time (processor/rules/window_log.h): a shipment that
// arrives late, within the policy's allowed lateness, joins the windows of
// its own event_time.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"
#include "processor/rules/window_log.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "SHIPMENT_STRUCTURING";
constexpr absl::string_view kLog = "log";
constexpr int64_t kDay = 86400;

class ShipmentStructuring final : public Rule {
 public:
  absl::string_view id() const override { return kId; }
  uint32_t trade_parts_applied() const override { return kTradeItems | kTradeUltimateConsignee; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade() || !event.trade().has_ultimate_consignee()) return;
    const double tpp = ctx.policy.ControlledTpp(event.trade());
    if (tpp <= 0 || tpp >= ctx.policy.proto().shipment_structuring().max_shipment_tpp()) return;
    out.Fact(kId, EntityKey(event.trade().ultimate_consignee()));
  }

  absl::Status Apply(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_trade()) return absl::OkStatus();
    const auto& t = event.trade();
    const auto& spec_cfg = ctx.policy.proto().shipment_structuring();
    const int64_t window = int64_t{spec_cfg.window_days()} * kDay;
    v1::WindowEntry entry;
    entry.set_time_unix(t.event_time().seconds());
    entry.set_amount(ctx.policy.ControlledTpp(t));
    entry.set_event_id(t.event_id());
    auto qualifies = [&](const v1::WindowLog& l, WindowRange r) {
      return r.last - r.first + 1 >= spec_cfg.min_shipments() &&
             WindowSum(l, r) >= spec_cfg.min_total_tpp();
    };
    auto hit = AddAndFindWindow(state, kLog, std::move(entry), window,
                                ctx.policy.proto().allowed_lateness_seconds(), qualifies);
    if (!hit.ok()) return hit.status();
    if (!hit->range) return absl::OkStatus();
    const v1::WindowLog& log = *hit->log;
    const WindowRange r = *hit->range;
    const double total = WindowSum(log, r);
    const int count = r.last - r.first + 1;
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = v1::MEDIUM;
    spec.subject_kind = v1::ENTITY;
    spec.subject_id = std::string(key);
    spec.window = WindowId(log, r);
    spec.once_per_window = true;
    spec.title = absl::StrFormat(
        "%d controlled shipments to %s within %d days, each under %.0f TPP, total %.0f TPP", count,
        t.ultimate_consignee().name().empty() ? key : t.ultimate_consignee().name(),
        spec_cfg.window_days(), spec_cfg.max_shipment_tpp(), total);
    v1::Alert a = BuildAlert(spec, event, ctx);
    a.mutable_evidence()->clear_event_ids();
    for (int i = r.first; i <= r.last; ++i) {
      a.mutable_evidence()->add_event_ids(log.entries(i).event_id());
    }
    SetValue(a, "shipments", count);
    SetValue(a, "total_tpp", total);
    SetValue(a, "min_total_tpp", spec_cfg.min_total_tpp());
    SetValue(a, "max_shipment_tpp", spec_cfg.max_shipment_tpp());
    SetValue(a, "min_shipments", spec_cfg.min_shipments());
    SetValue(a, "window_days", spec_cfg.window_days());
    SetValue(a, "window_first", FormatDay(log.entries(r.first).time_unix()));
    SetValue(a, "window_last", FormatDay(log.entries(r.last).time_unix()));
    out.Alert(std::move(a));
    return absl::OkStatus();
  }
};

EW_REGISTER_RULE(kId, ShipmentStructuring);

}  // namespace
}  // namespace exportwatch

// NEW_ENTITY_VELOCITY (RULES.md): an ultimate consignee incorporated less
// than max_age_months (24) before the event receives more than
// min_total_tpp (15,832,000, 1,000 H100-equivalents) of controlled TPP
// within window_days (90). MEDIUM, once per run of shipments.
//
// Every controlled shipment to a consignee that reports incorporated_on is
// routed (the age test is made per window, against the newest shipment's
// event_time). A consignee without incorporated_on is not judged.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "common/iso_date.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"
#include "processor/rules/window_log.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "NEW_ENTITY_VELOCITY";
constexpr absl::string_view kLog = "log";
constexpr int64_t kDay = 86400;

// The incorporation day, if the field is a valid YYYY-MM-DD.
std::optional<absl::CivilDay> Incorporated(const v1::Party& p) {
  absl::CivilDay day;
  if (!ParseIsoDay(p.incorporated_on(), &day)) {
    return std::nullopt;
  }
  return day;
}

// Age in whole months on `at` (civil months, UTC).
int64_t AgeMonths(absl::CivilDay incorporated, int64_t at) {
  const absl::CivilDay now = UtcDayOf(at);
  int64_t months = (absl::CivilMonth(now) - absl::CivilMonth(incorporated));
  if (now.day() < incorporated.day()) --months;
  return months;
}

class NewEntityVelocity final : public Rule {
 public:
  absl::string_view id() const override { return kId; }
  uint32_t trade_parts_applied() const override { return kTradeItems | kTradeUltimateConsignee; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade()) return;
    const auto& t = event.trade();
    auto inc = Incorporated(t.ultimate_consignee());
    if (!inc) return;
    if (AgeMonths(*inc, t.event_time().seconds()) >=
        ctx.policy.proto().new_entity_velocity().max_age_months()) {
      return;
    }
    if (ctx.policy.ControlledTpp(t) <= 0) return;
    out.Fact(kId, EntityKey(t.ultimate_consignee()));
  }

  absl::Status Apply(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_trade()) return absl::OkStatus();
    const auto& t = event.trade();
    const auto& cfg = ctx.policy.proto().new_entity_velocity();
    const int64_t window = int64_t{cfg.window_days()} * kDay;
    v1::WindowEntry entry;
    entry.set_time_unix(t.event_time().seconds());
    entry.set_amount(ctx.policy.ControlledTpp(t));
    entry.set_event_id(t.event_id());
    auto qualifies = [&](const v1::WindowLog& l, WindowRange r) {
      return WindowSum(l, r) > cfg.min_total_tpp();
    };
    auto hit = AddAndFindWindow(state, kLog, std::move(entry), window,
                                ctx.policy.proto().allowed_lateness_seconds(), qualifies);
    if (!hit.ok()) return hit.status();
    if (!hit->range) return absl::OkStatus();
    const v1::WindowLog& log = *hit->log;
    const WindowRange r = *hit->range;
    const double total = WindowSum(log, r);
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = v1::MEDIUM;
    spec.subject_kind = v1::ENTITY;
    spec.subject_id = std::string(key);
    spec.window = WindowId(log, r);
    spec.once_per_window = true;
    const auto& c = t.ultimate_consignee();
    const int64_t age = AgeMonths(*Incorporated(c), t.event_time().seconds());
    spec.title = absl::StrFormat(
        "Consignee %s, incorporated %s (%d months before), received %.0f controlled TPP "
        "within %d days",
        c.name().empty() ? key : c.name(), c.incorporated_on(), age, total, cfg.window_days());
    v1::Alert a = BuildAlert(spec, event, ctx);
    a.mutable_evidence()->clear_event_ids();
    for (int i = r.first; i <= r.last; ++i) {
      a.mutable_evidence()->add_event_ids(log.entries(i).event_id());
    }
    SetValue(a, "total_tpp", total);
    SetValue(a, "min_total_tpp", cfg.min_total_tpp());
    SetValue(a, "incorporated_on", c.incorporated_on());
    SetValue(a, "age_months", static_cast<double>(age));
    SetValue(a, "max_age_months", cfg.max_age_months());
    SetValue(a, "window_days", cfg.window_days());
    SetValue(a, "shipments", r.last - r.first + 1);
    out.Alert(std::move(a));
    return absl::OkStatus();
  }
};

EW_REGISTER_RULE(kId, NewEntityVelocity);

}  // namespace
}  // namespace exportwatch

// SITE_POWER_IMPLAUSIBLE (RULES.md): the accelerators shipped to a site
// would draw more than the site's declared power: sum over shipments of
// TDP x quantity x server_overhead (1.5) x pue (1.3) exceeds the latest
// declared_power_mw (latest by event_time). MEDIUM, once per site and
// declared value (a new, higher declaration re-arms it).
//
// Items whose chip is not in the catalog have no TDP and add nothing; a
// site that never declared its power is not judged (nothing to compare).
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "SITE_POWER_IMPLAUSIBLE";
constexpr absl::string_view kState = "site";
constexpr int kEvidenceIds = 20;

double ShippedWatts(const v1::TradeEvent& t, const Policy& p) {
  const auto& cfg = p.proto().site_power();
  double w = 0;
  for (const auto& item : t.items()) {
    w += p.ChipTdpWatts(item.chip_model()) * static_cast<double>(item.quantity());
  }
  return w * cfg.server_overhead() * cfg.pue();
}

class SitePowerImplausible final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade()) return;
    const auto& t = event.trade();
    if (t.site().site_id().empty()) return;
    if (!t.site().has_declared_power_mw() && ShippedWatts(t, ctx.policy) <= 0) return;
    out.Fact(kId, t.site().site_id());
  }

  absl::Status Apply(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_trade()) return absl::OkStatus();
    const auto& t = event.trade();
    v1::SiteState s;
    auto stored = state.Get(kState);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) s.ParseFromString(**stored);
    const double watts = ShippedWatts(t, ctx.policy);
    s.set_shipped_watts(s.shipped_watts() + watts);
    if (watts > 0) AppendBounded(s.mutable_event_ids(), t.event_id(), kEvidenceIds);
    const int64_t at = t.event_time().seconds();
    if (t.site().has_declared_power_mw() &&
        (s.declared_at_unix() == 0 || at >= s.declared_at_unix())) {
      s.set_declared_power_mw(t.site().declared_power_mw());
      s.set_declared_at_unix(at);
    }
    const double declared_w = s.declared_power_mw() * 1e6;
    const std::string declared = absl::StrFormat("%g", s.declared_power_mw());
    bool alerted = false;
    for (const auto& d : s.alerted_declarations()) alerted = alerted || d == declared;
    if (s.declared_at_unix() != 0 && s.shipped_watts() > declared_w && !alerted) {
      s.add_alerted_declarations(declared);
      AlertSpec spec;
      spec.rule_id = kId;
      spec.severity = v1::MEDIUM;
      spec.subject_kind = v1::SITE;
      spec.subject_id = std::string(key);
      spec.window = declared;
      spec.once_per_window = true;
      spec.title = absl::StrFormat(
          "Accelerators shipped to site %s need %.2f MW with servers and cooling; the site "
          "declares %s MW",
          key, s.shipped_watts() / 1e6, declared);
      v1::Alert a = BuildAlert(spec, event, ctx);
      a.mutable_evidence()->clear_event_ids();
      for (const auto& id : s.event_ids()) a.mutable_evidence()->add_event_ids(id);
      SetValue(a, "required_mw", s.shipped_watts() / 1e6);
      SetValue(a, "declared_power_mw", s.declared_power_mw());
      SetValue(a, "server_overhead", ctx.policy.proto().site_power().server_overhead());
      SetValue(a, "pue", ctx.policy.proto().site_power().pue());
      out.Alert(std::move(a));
    }
    state.Put(kState, s.SerializeAsString());
    return absl::OkStatus();
  }
};

EW_REGISTER_RULE(kId, SitePowerImplausible);

}  // namespace
}  // namespace exportwatch

// PRC_ADVANCED_IC (RULES.md, GP10): a PRC advanced IC (Ascend 910B/C/D) is
// shipped (subject SHIPMENT, unless declared_purpose is TECHNICAL_EVALUATION)
// or used in a cloud (subject ENTITY: the tenant). HIGH.
//
// Cloud usage arrives as many hourly records per tenant; the alert fires once
// per tenant and chip model, so this half is stateful (keyed by tenant).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "PRC_ADVANCED_IC";

class PrcAdvancedIc final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (event.has_cloud_usage()) {
      const auto& c = event.cloud_usage();
      if (ctx.policy.IsPrcAdvancedIc(c.accelerator_model()) && c.has_tenant()) {
        out.Fact(kId, EntityKey(c.tenant()));
      }
      return;
    }
    if (!event.has_trade()) return;
    const v1::TradeEvent& t = event.trade();
    if (t.declared_purpose() == v1::DeclaredPurpose::TECHNICAL_EVALUATION) return;
    std::vector<std::string> chips;
    int64_t units = 0;
    for (const auto& item : t.items()) {
      if (ctx.policy.IsPrcAdvancedIc(item.chip_model())) {
        // Catalog models only (bounded names); each listed once.
        if (std::find(chips.begin(), chips.end(), item.chip_model()) == chips.end()) {
          chips.push_back(item.chip_model());
        }
        units += item.quantity();
      }
    }
    if (chips.empty()) return;
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = v1::HIGH;
    spec.subject_kind = v1::SHIPMENT;
    spec.subject_id = ShipmentSubject(t);
    spec.title = absl::StrCat("Shipment of PRC advanced ICs (", absl::StrJoin(chips, ", "), ") to ",
                              t.destination_country());
    v1::Alert a = BuildAlert(spec, event, ctx);
    SetValue(a, "chips", absl::StrJoin(chips, ","));
    SetValue(a, "units", static_cast<double>(units));
    SetValue(a, "destination_country", t.destination_country());
    SetValue(a, "declared_purpose", v1::DeclaredPurpose::Value_Name(t.declared_purpose()));
    out.Alert(std::move(a));
  }

  absl::Status Apply(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_cloud_usage()) return absl::OkStatus();
    const auto& c = event.cloud_usage();
    std::string marker = absl::StrCat("fired/", c.accelerator_model());
    auto seen = state.Get(marker);
    if (!seen.ok()) return seen.status();
    if (seen->has_value()) return absl::OkStatus();
    state.Put(marker, c.event_id());
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = v1::HIGH;
    spec.subject_kind = v1::ENTITY;
    spec.subject_id = std::string(key);
    spec.window = c.accelerator_model();
    spec.once_per_window = true;
    spec.title = absl::StrCat("Tenant ", c.tenant().name().empty() ? key : c.tenant().name(),
                              " uses PRC advanced IC ", c.accelerator_model(), " at ",
                              c.provider_id(), " (", c.datacenter_country(), ")");
    v1::Alert a = BuildAlert(spec, event, ctx);
    SetValue(a, "chip", c.accelerator_model());
    SetValue(a, "accelerator_count", static_cast<double>(c.accelerator_count()));
    SetValue(a, "provider_id", c.provider_id());
    SetValue(a, "datacenter_country", c.datacenter_country());
    out.Alert(std::move(a));
    return absl::OkStatus();
  }
};

EW_REGISTER_RULE(kId, PrcAdvancedIc);

}  // namespace
}  // namespace exportwatch

// THIRD_COUNTRY_PAYMENT (RULES.md, BIS red flag): a controlled shipment paid
// from a country that is neither the purchaser's nor the ultimate
// consignee's. MEDIUM; HIGH when the payer's country is restricted.
// A party without a country does not match the payer (a blank is never
// "the same country").
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "THIRD_COUNTRY_PAYMENT";

class ThirdCountryPayment final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade()) return;
    const v1::TradeEvent& t = event.trade();
    const std::string& payer = t.payment().payer_country();
    if (payer.empty() || payer == t.purchaser().country() ||
        payer == t.ultimate_consignee().country()) {
      return;
    }
    const Policy& p = ctx.policy;
    if (!p.IsControlledShipment(t)) return;
    const bool restricted = p.IsRestricted(payer, t.event_time().seconds());
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = restricted ? v1::HIGH : v1::MEDIUM;
    spec.subject_kind = v1::SHIPMENT;
    spec.subject_id = ShipmentSubject(t);
    spec.title = absl::StrCat(
        "Controlled shipment paid from third country ", payer, restricted ? " (restricted)" : "",
        ": purchaser in ", t.purchaser().country().empty() ? "?" : t.purchaser().country(),
        ", consignee in ",
        t.ultimate_consignee().country().empty() ? "?" : t.ultimate_consignee().country());
    v1::Alert a = BuildAlert(spec, event, ctx);
    SetValue(a, "payer_country", payer);
    if (!t.payment().payer_name().empty()) {
      SetValue(a, "payer_name", t.payment().payer_name().substr(0, 256));
    }
    SetValue(a, "purchaser_country", t.purchaser().country());
    SetValue(a, "consignee_country", t.ultimate_consignee().country());
    SetValue(a, "amount_usd", t.payment().amount_usd());
    SetValue(a, "controlled_tpp", p.ControlledTpp(t));
    out.Alert(std::move(a));
  }
};

EW_REGISTER_RULE(kId, ThirdCountryPayment);

}  // namespace
}  // namespace exportwatch

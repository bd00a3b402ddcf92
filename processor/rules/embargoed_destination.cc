// EMBARGOED_DESTINATION (RULES.md): a controlled shipment whose destination,
// end user's country or any non-ORIGIN route country is restricted (D:5 +
// Macau at event_time), and the authorization is not a LICENSE. CRITICAL.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "EMBARGOED_DESTINATION";
constexpr size_t kMaxChipsInEvidence = 16;

class EmbargoedDestination final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade()) return;
    const v1::TradeEvent& t = event.trade();
    if (t.authorization().type() == v1::AuthorizationType::LICENSE) return;
    const Policy& p = ctx.policy;
    std::vector<std::string> chips;
    bool controlled = false;
    for (const auto& item : t.items()) {
      if (!p.IsControlled(item)) continue;
      controlled = true;
      // Evidence lists each model once, and a bounded number of them.
      if (chips.size() < kMaxChipsInEvidence &&
          std::find(chips.begin(), chips.end(), item.chip_model()) == chips.end()) {
        chips.push_back(item.chip_model().substr(0, 64));
      }
    }
    if (!controlled) return;
    const int64_t at = t.event_time().seconds();
    // The first restricted place, in the order an analyst reads a shipment.
    std::string where, country;
    if (p.IsRestricted(t.destination_country(), at)) {
      where = "destination_country";
      country = t.destination_country();
    } else if (p.IsRestricted(t.end_user().country(), at)) {
      where = "end_user.country";
      country = t.end_user().country();
    } else {
      for (int i = 0; i < t.route_size(); ++i) {
        const auto& node = t.route(i);
        if (node.role() == v1::RouteRole::ORIGIN) continue;
        if (p.IsRestricted(node.country(), at)) {
          where = absl::StrCat("route[", i, "]");
          country = node.country();
          break;
        }
      }
    }
    if (country.empty()) return;
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = v1::CRITICAL;
    spec.subject_kind = v1::SHIPMENT;
    spec.subject_id = ShipmentSubject(t);
    spec.title = absl::StrCat("Controlled shipment to restricted country ", country, " (", where,
                              ") without a licence");
    v1::Alert a = BuildAlert(spec, event, ctx);
    SetValue(a, "restricted_country", country);
    SetValue(a, "matched_field", where);
    SetValue(a, "destination_country", t.destination_country());
    SetValue(a, "authorization", v1::AuthorizationType::Value_Name(t.authorization().type()));
    SetValue(a, "controlled_chips", absl::StrJoin(chips, ","));
    out.Alert(std::move(a));
  }
};

EW_REGISTER_RULE(kId, EmbargoedDestination);

}  // namespace
}  // namespace exportwatch

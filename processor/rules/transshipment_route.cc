// TRANSSHIPMENT_ROUTE (RULES.md, BIS diversion red flags): a controlled
// shipment with a TRANSIT or TRANSSHIPMENT node in a hub country, and either
// the ultimate consignee is a FREIGHT_FORWARDER or TRADING_COMPANY, or the
// end user's country differs from destination_country. MEDIUM; HIGH when a
// node after the hub or the end user is restricted at event_time.
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "TRANSSHIPMENT_ROUTE";

class TransshipmentRoute final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade()) return;
    const v1::TradeEvent& t = event.trade();
    const Policy& p = ctx.policy;
    int hub_index = -1;
    for (int i = 0; i < t.route_size(); ++i) {
      const auto role = t.route(i).role();
      if ((role == v1::RouteRole::TRANSIT || role == v1::RouteRole::TRANSSHIPMENT) &&
          p.IsHub(t.route(i).country())) {
        hub_index = i;
        break;
      }
    }
    if (hub_index < 0) return;
    const auto kind = t.ultimate_consignee().kind();
    const bool intermediary_consignee =
        kind == v1::PartyKind::FREIGHT_FORWARDER || kind == v1::PartyKind::TRADING_COMPANY;
    const std::string& end_country = t.end_user().country();
    const bool end_user_elsewhere = !end_country.empty() && end_country != t.destination_country();
    if (!intermediary_consignee && !end_user_elsewhere) return;
    if (!p.IsControlledShipment(t)) return;

    const int64_t at = t.event_time().seconds();
    std::string restricted_after;
    for (int i = hub_index + 1; i < t.route_size() && restricted_after.empty(); ++i) {
      if (p.IsRestricted(t.route(i).country(), at)) restricted_after = t.route(i).country();
    }
    if (restricted_after.empty() && p.IsRestricted(end_country, at)) restricted_after = end_country;

    const std::string& hub = t.route(hub_index).country();
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = restricted_after.empty() ? v1::MEDIUM : v1::HIGH;
    spec.subject_kind = v1::SHIPMENT;
    spec.subject_id = ShipmentSubject(t);
    std::string why =
        intermediary_consignee
            ? absl::StrCat("to a ", kind == v1::PartyKind::FREIGHT_FORWARDER ? "freight forwarder"
                                                                             : "trading company")
            : absl::StrCat("with the end user in ", end_country, ", not ", t.destination_country());
    spec.title = absl::StrCat(
        "Controlled shipment routed through hub ", hub, " ", why,
        restricted_after.empty() ? "" : absl::StrCat(", onward to restricted ", restricted_after));
    v1::Alert a = BuildAlert(spec, event, ctx);
    SetValue(a, "hub", hub);
    SetValue(a, "hub_role", v1::RouteRole::Value_Name(t.route(hub_index).role()));
    SetValue(a, "consignee_kind", v1::PartyKind::Value_Name(kind));
    SetValue(a, "destination_country", t.destination_country());
    if (!end_country.empty()) SetValue(a, "end_user_country", end_country);
    if (!restricted_after.empty()) SetValue(a, "restricted_after_hub", restricted_after);
    SetValue(a, "controlled_tpp", p.ControlledTpp(t));
    out.Alert(std::move(a));
  }
};

EW_REGISTER_RULE(kId, TransshipmentRoute);

}  // namespace
}  // namespace exportwatch

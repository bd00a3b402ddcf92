// HQ_IN_RESTRICTED_COUNTRY (RULES.md): a controlled shipment, not under a
// LICENSE, where a party's hq_country or ultimate_parent_hq_country is
// restricted at event_time, whatever the destination (the headquarters
// test). One HIGH alert per such party (subject ENTITY) and shipment.
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "HQ_IN_RESTRICTED_COUNTRY";
// Parties judged per shipment at most (intermediate consignees are repeated).
constexpr int kMaxParties = 64;

class HqInRestrictedCountry final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade()) return;
    const v1::TradeEvent& t = event.trade();
    if (t.authorization().type() == v1::AuthorizationType::LICENSE) return;
    const Policy& p = ctx.policy;
    if (!p.IsControlledShipment(t)) return;
    const int64_t at = t.event_time().seconds();
    std::vector<std::pair<const char*, const v1::Party*>> parties = {
        {"purchaser", &t.purchaser()},
        {"ultimate_consignee", &t.ultimate_consignee()},
        {"end_user", &t.end_user()},
        {"exporter", &t.exporter()}};
    for (const auto& ic : t.intermediate_consignees()) {
      if (parties.size() >= kMaxParties) break;
      parties.push_back({"intermediate_consignee", &ic});
    }
    absl::flat_hash_set<std::string> done;
    for (const auto& [role, party] : parties) {
      std::string where, country;
      if (p.IsRestricted(party->hq_country(), at)) {
        where = "hq_country";
        country = party->hq_country();
      } else if (p.IsRestricted(party->ultimate_parent_hq_country(), at)) {
        where = "ultimate_parent_hq_country";
        country = party->ultimate_parent_hq_country();
      } else {
        continue;
      }
      std::string key = EntityKey(*party);
      if (key.empty() || !done.insert(key).second) continue;  // one alert per party
      AlertSpec spec;
      spec.rule_id = kId;
      spec.severity = v1::HIGH;
      spec.subject_kind = v1::ENTITY;
      spec.subject_id = key;
      spec.window = ShipmentSubject(t);
      spec.title =
          absl::StrCat("Controlled shipment to a party headquartered in restricted ", country, ": ",
                       party->name().empty() ? key : party->name(), " (", role, ")");
      v1::Alert a = BuildAlert(spec, event, ctx);
      SetValue(a, "party_role", role);
      SetValue(a, "matched_field", where);
      SetValue(a, "restricted_country", country);
      SetValue(a, "destination_country", t.destination_country());
      SetValue(a, "shipment_id", ShipmentSubject(t));
      SetValue(a, "controlled_tpp", p.ControlledTpp(t));
      if (!party->ultimate_parent_name().empty()) {
        SetValue(a, "ultimate_parent", party->ultimate_parent_name());
      }
      out.Alert(std::move(a));
    }
  }
};

EW_REGISTER_RULE(kId, HqInRestrictedCountry);

}  // namespace
}  // namespace exportwatch

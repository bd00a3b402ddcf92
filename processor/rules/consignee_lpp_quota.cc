// CONSIGNEE_LPP_QUOTA (RULES.md, aidr-2025): cumulative TPP of controlled
// items shipped under LPP to one ultimate consignee in a calendar year (of
// event_time) reaches each level of the limit (80% MEDIUM, 100% HIGH by
// default); each level fires once per consignee and year.
//
// Late events count in the year of their event_time, whatever arrives in
// between (the per-year counter is kept until the policy's lateness after
// the year ends; nothing is dropped earlier).
#include "processor/rules/consignee_lpp_quota.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "CONSIGNEE_LPP_QUOTA";
// Event ids kept as evidence (the most recent ones).
constexpr int kEvidenceIds = 20;

double LppTpp(const v1::TradeEvent& t, const Policy& p) {
  double tpp = 0;
  for (const auto& item : t.items()) {
    if (p.IsControlled(item)) tpp += p.UnitTpp(item) * static_cast<double>(item.quantity());
  }
  return tpp;
}

class ConsigneeLppQuota final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade()) return;
    const auto& t = event.trade();
    if (t.authorization().type() != v1::AuthorizationType::LPP || !t.has_ultimate_consignee()) {
      return;
    }
    if (LppTpp(t, ctx.policy) <= 0) return;
    out.Fact(kId, EntityKey(t.ultimate_consignee()));
  }

  absl::Status Apply(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_trade()) return absl::OkStatus();
    const auto& t = event.trade();
    const Policy& p = ctx.policy;
    const auto& quota = p.proto().consignee_lpp_quota();
    const double tpp = LppTpp(t, p);
    const int year = LppQuotaYear(t.event_time().seconds());
    const std::string name = LppQuotaStateName(year);

    v1::QuotaState q;
    auto stored = state.Get(name);
    if (!stored.ok()) return stored.status();
    if (stored->has_value()) {
      q.ParseFromString(**stored);
    } else {
      q.set_levels_fired(-1);
      q.set_window_start_unix(
          absl::ToUnixSeconds(absl::FromCivil(absl::CivilYear(year), absl::UTCTimeZone())));
      q.set_window_end_unix(
          absl::ToUnixSeconds(absl::FromCivil(absl::CivilYear(year + 1), absl::UTCTimeZone())));
    }
    q.set_used(q.used() + tpp);
    q.add_event_ids(t.event_id());
    if (q.event_ids_size() > kEvidenceIds) {
      q.mutable_event_ids()->DeleteSubrange(0, q.event_ids_size() - kEvidenceIds);
    }
    for (int i = q.levels_fired() + 1; i < quota.levels_size(); ++i) {
      if (q.used() < quota.limit() * quota.levels(i)) break;
      q.set_levels_fired(i);
      v1::Severity sev = v1::MEDIUM;
      v1::Severity_Parse(quota.level_severities(i), &sev);
      AlertSpec spec;
      spec.rule_id = kId;
      spec.severity = sev;
      spec.subject_kind = v1::ENTITY;
      spec.subject_id = std::string(key);
      spec.window = absl::StrCat(year);
      spec.level = absl::StrFormat("%g", quota.levels(i));
      spec.title = absl::StrFormat(
          "LPP shipments to %s reached %.0f%% of the %d annual consignee cap (%.0f of %.0f TPP)",
          t.ultimate_consignee().name().empty() ? std::string(key) : t.ultimate_consignee().name(),
          quota.levels(i) * 100, year, q.used(), quota.limit());
      v1::Alert a = BuildAlert(spec, event, ctx);
      a.mutable_evidence()->clear_event_ids();
      for (const auto& id : q.event_ids()) a.mutable_evidence()->add_event_ids(id);
      SetValue(a, "used_tpp", q.used());
      SetValue(a, "limit_tpp", quota.limit());
      SetValue(a, "level", quota.levels(i));
      SetValue(a, "shipment_tpp", tpp);
      SetValue(a, "year", static_cast<double>(year));
      out.Alert(std::move(a));
    }
    state.Put(name, q.SerializeAsString());
    return absl::OkStatus();
  }
};

EW_REGISTER_RULE(kId, ConsigneeLppQuota);

}  // namespace

int LppQuotaYear(int64_t unix_seconds) {
  return static_cast<int>(
      absl::ToCivilYear(absl::FromUnixSeconds(unix_seconds), absl::UTCTimeZone()).year());
}

std::string LppQuotaStateName(int year) { return absl::StrCat("y/", year); }

}  // namespace exportwatch

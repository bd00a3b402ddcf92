// The general quota primitive (policy.proto QuotaDefinition): one rule
// instance per quota the policy declares and enables. COUNTRY_QUOTA,
// CONSIGNEE_LPP_QUOTA and LICENSE_DRAWDOWN are all this code.
//
// Inspect picks the shipments that pass the quota's filters and routes them
// by the scope key; Apply adds the measure to the counter of (key, window of
// the event's event_time) and fires each level once per key and window.
// Windows are in event time: a late event counts in the window of its own
// event_time, and a window's counter is kept as long as the state store
// keeps the key (the dedup retention bounds re-delivery, not lateness).
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "common/iso_date.h"
#include "common/status_macros.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

// Event ids kept as evidence (the most recent ones).
constexpr int kEvidenceIds = 20;

int64_t DayStartUnix(const std::string& yyyy_mm_dd) {
  absl::CivilDay day;
  ParseIsoDay(yyyy_mm_dd, &day);  // validated by Policy
  return absl::ToUnixSeconds(absl::FromCivil(day, absl::UTCTimeZone()));
}

struct Window {
  std::string id;  // state name suffix and alert window
  int64_t start_unix = 0;
  int64_t end_unix = 0;
  bool contains_event = true;
};

// A FIXED window's bounds, parsed once per rule rather than per event (the
// date parse was 4% of the ingest stage's CPU).
struct FixedBounds {
  int64_t start_unix = 0;
  int64_t end_unix = 0;
};

FixedBounds FixedBoundsOf(const v1::QuotaWindow& w) {
  if (w.kind() != v1::QuotaWindow::FIXED) return {};
  return {DayStartUnix(w.from()), DayStartUnix(w.until())};
}

Window WindowOf(const v1::QuotaWindow& w, const FixedBounds& fixed, int64_t t) {
  Window out;
  switch (w.kind()) {
    case v1::QuotaWindow::CALENDAR_YEAR: {
      auto year = absl::ToCivilYear(absl::FromUnixSeconds(t), absl::UTCTimeZone());
      out.id = absl::StrCat(year.year());
      out.start_unix = absl::ToUnixSeconds(absl::FromCivil(year, absl::UTCTimeZone()));
      out.end_unix = absl::ToUnixSeconds(absl::FromCivil(year + 1, absl::UTCTimeZone()));
      break;
    }
    case v1::QuotaWindow::FIXED:
      out.id = absl::StrCat(w.from(), "..", w.until());
      out.start_unix = fixed.start_unix;
      out.end_unix = fixed.end_unix;
      out.contains_event = t >= out.start_unix && t < out.end_unix;
      break;
    default:
      out.id = "lifetime";
      out.start_unix = 0;
      out.end_unix = 0;
  }
  return out;
}

// WindowOf(...).contains_event without building the window.
bool InWindow(const v1::QuotaWindow& w, const FixedBounds& fixed, int64_t t) {
  return w.kind() != v1::QuotaWindow::FIXED || (t >= fixed.start_unix && t < fixed.end_unix);
}

v1::SubjectKind SubjectOf(v1::QuotaScope::Value scope) {
  switch (scope) {
    case v1::QuotaScope::DESTINATION_COUNTRY:
      return v1::COUNTRY;
    case v1::QuotaScope::AUTHORIZATION_ID:
      return v1::LICENSE;
    default:
      return v1::ENTITY;
  }
}

class QuotaRule final : public Rule {
 public:
  explicit QuotaRule(const v1::QuotaDefinition& def)
      : def_(def), fixed_(FixedBoundsOf(def.window())) {}

  absl::string_view id() const override { return def_.id(); }

  // Measure reads the items; SubjectLabel the party of the scope, if any.
  uint32_t trade_parts_applied() const override {
    switch (def_.scope()) {
      case v1::QuotaScope::ULTIMATE_CONSIGNEE:
        return kTradeItems | kTradeUltimateConsignee;
      case v1::QuotaScope::PURCHASER:
        return kTradeItems | kTradePurchaser;
      case v1::QuotaScope::END_USER:
        return kTradeItems | kTradeEndUser;
      case v1::QuotaScope::EXPORTER:
        return kTradeItems | kTradeExporter;
      default:
        return kTradeItems;
    }
  }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_trade()) return;
    const auto& t = event.trade();
    if (!Passes(t, ctx.policy)) return;
    std::string key = ScopeKey(t);
    if (key.empty()) return;
    if (def_.keys_size() > 0 && LimitFor(key) <= 0) return;  // not a listed key
    if (Measure(t, ctx.policy) <= 0) return;
    if (!InWindow(def_.window(), fixed_, t.event_time().seconds())) return;
    out.Fact(def_.id(), std::move(key));
  }

  absl::Status Apply(const v1::Event& event, absl::string_view key, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_trade()) return absl::OkStatus();
    const auto& t = event.trade();
    const double amount = Measure(t, ctx.policy);
    const double limit = LimitFor(key);
    const Window w = WindowOf(def_.window(), fixed_, t.event_time().seconds());
    if (limit <= 0 || !w.contains_event) return absl::OkStatus();
    const std::string name = absl::StrCat("w/", w.id);

    // Held parsed for the batch: a country's counter is rewritten by most
    // of the batch's shipments.
    bool stored = false;
    ASSIGN_OR_RETURN(v1::QuotaState * state_q, state.Mutable<v1::QuotaState>(name, &stored));
    v1::QuotaState& q = *state_q;
    if (!stored) {
      q.set_levels_fired(-1);
      q.set_window_start_unix(w.start_unix);
      q.set_window_end_unix(w.end_unix);
    }
    q.set_used(q.used() + amount);
    AppendBounded(q.mutable_event_ids(), t.event_id(), kEvidenceIds);
    const bool units = def_.measure() == v1::QuotaMeasure::UNITS;
    for (int i = q.levels_fired() + 1; i < def_.levels_size(); ++i) {
      if (q.used() < limit * def_.levels(i)) break;
      q.set_levels_fired(i);
      v1::Severity sev = v1::MEDIUM;
      v1::Severity_Parse(def_.level_severities(i), &sev);
      AlertSpec spec;
      spec.rule_id = def_.rule_id();
      spec.severity = sev;
      spec.subject_kind = SubjectOf(def_.scope());
      spec.subject_id = std::string(key);
      spec.window = w.id;
      // The quota id joins the level, so two quotas raising one rule id
      // (a licence's units and its TPP) never share an alert id.
      spec.level = def_.id() == def_.rule_id()
                       ? absl::StrFormat("%g", def_.levels(i))
                       : absl::StrFormat("%s@%g", def_.id(), def_.levels(i));
      spec.once_per_window = true;
      spec.title = absl::StrFormat("%s: %s reached %.0f%% of its limit in %s (%.0f of %.0f %s)",
                                   def_.rule_id(), SubjectLabel(t, key), def_.levels(i) * 100, w.id,
                                   q.used(), limit, units ? "units" : "TPP");
      v1::Alert a = BuildAlert(spec, event, ctx);
      a.mutable_evidence()->clear_event_ids();
      for (const auto& id : q.event_ids()) a.mutable_evidence()->add_event_ids(id);
      const char* unit = units ? "units" : "tpp";
      SetValue(a, absl::StrCat("used_", unit), q.used());
      SetValue(a, absl::StrCat("limit_", unit), limit);
      SetValue(a, "level", def_.levels(i));
      SetValue(a, absl::StrCat("shipment_", unit), amount);
      SetValue(a, "quota_id", def_.id());
      SetValue(a, "window", w.id);
      out.Alert(std::move(a));
    }
    const bool bounded = q.window_end_unix() > q.window_start_unix();  // LIFETIME has none
    bool fresh = false;
    v1::QuotaUsage* usage =
        out.UsageSlot(def_.id(), key, bounded ? q.window_start_unix() : 0, &q, &fresh);
    if (usage == nullptr) return absl::OkStatus();
    if (fresh) {
      usage->set_rule_id(def_.rule_id());
      usage->set_quota_id(def_.id());
      usage->mutable_subject()->set_kind(SubjectOf(def_.scope()));
      usage->mutable_subject()->set_id(key.data(), key.size());
      usage->set_limit(limit);
      if (bounded) {
        usage->mutable_window_start()->set_seconds(q.window_start_unix());
        usage->mutable_window_end()->set_seconds(q.window_end_unix());
      }
      *usage->mutable_policy() = ctx.policy.ref();
      *usage->mutable_event_ids() = q.event_ids();
    } else {
      // The slot's ids were the state's before this shipment: the same
      // bounded append keeps them equal (copying the list per shipment was
      // most of the report's cost).
      AppendBounded(usage->mutable_event_ids(), t.event_id(), kEvidenceIds);
    }
    usage->set_used(q.used());
    usage->set_level_reached(q.levels_fired() >= 0 ? def_.levels(q.levels_fired()) : 0);
    return absl::OkStatus();
  }

 private:
  bool Passes(const v1::TradeEvent& t, const Policy& p) const {
    const auto auth = t.authorization().type();
    if (def_.authorizations_size() > 0 &&
        std::find(def_.authorizations().begin(), def_.authorizations().end(), auth) ==
            def_.authorizations().end()) {
      return false;
    }
    if (std::find(def_.excluded_authorizations().begin(), def_.excluded_authorizations().end(),
                  auth) != def_.excluded_authorizations().end()) {
      return false;
    }
    if (def_.destination_groups_size() > 0) {
      bool in = false;
      for (const auto& g : def_.destination_groups()) {
        in = in || p.InDestinationGroup(g, t.destination_country(), t.event_time().seconds());
      }
      if (!in) return false;
    }
    return true;
  }

  bool ItemCounts(const v1::Item& item, const Policy& p) const {
    if (def_.chip_models_size() == 0) return p.IsControlled(item);
    return std::find(def_.chip_models().begin(), def_.chip_models().end(), item.chip_model()) !=
           def_.chip_models().end();
  }

  double Measure(const v1::TradeEvent& t, const Policy& p) const {
    double sum = 0;
    for (const auto& item : t.items()) {
      if (!ItemCounts(item, p)) continue;
      const double qty = static_cast<double>(item.quantity());
      sum += def_.measure() == v1::QuotaMeasure::UNITS ? qty : p.UnitTpp(item) * qty;
    }
    return sum;
  }

  std::string ScopeKey(const v1::TradeEvent& t) const {
    switch (def_.scope()) {
      case v1::QuotaScope::DESTINATION_COUNTRY:
        return t.destination_country();
      case v1::QuotaScope::ULTIMATE_CONSIGNEE:
        return t.has_ultimate_consignee() ? EntityKey(t.ultimate_consignee()) : "";
      case v1::QuotaScope::PURCHASER:
        return t.has_purchaser() ? EntityKey(t.purchaser()) : "";
      case v1::QuotaScope::END_USER:
        return t.has_end_user() ? EntityKey(t.end_user()) : "";
      case v1::QuotaScope::EXPORTER:
        return t.has_exporter() ? EntityKey(t.exporter()) : "";
      case v1::QuotaScope::AUTHORIZATION_ID:
        return t.authorization().id();
      default:
        return "";
    }
  }

  std::string SubjectLabel(const v1::TradeEvent& t, absl::string_view key) const {
    const v1::Party* party = nullptr;
    switch (def_.scope()) {
      case v1::QuotaScope::ULTIMATE_CONSIGNEE:
        party = &t.ultimate_consignee();
        break;
      case v1::QuotaScope::PURCHASER:
        party = &t.purchaser();
        break;
      case v1::QuotaScope::END_USER:
        party = &t.end_user();
        break;
      case v1::QuotaScope::EXPORTER:
        party = &t.exporter();
        break;
      case v1::QuotaScope::AUTHORIZATION_ID:
        return absl::StrCat("licence ", key);
      default:
        break;
    }
    if (party != nullptr && !party->name().empty()) return party->name().substr(0, 128);
    return std::string(key);
  }

  double LimitFor(absl::string_view key) const {
    if (def_.keys_size() == 0) return def_.limit();
    for (const auto& k : def_.keys()) {
      if (k.key() == key) return k.limit();
    }
    return 0;
  }

  const v1::QuotaDefinition& def_;
  const FixedBounds fixed_;
};

}  // namespace

std::unique_ptr<Rule> MakeQuotaRule(const v1::QuotaDefinition& def) {
  return std::make_unique<QuotaRule>(def);
}

}  // namespace exportwatch

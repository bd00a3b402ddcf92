// RESTRICTED_TRAINING_COMPUTE (RULES.md, BIS guidance of May 13 2025 and
// red flag 28): TRAINING or FINE_TUNING on controlled accelerators in a
// cloud, by a tenant whose hq_country or ultimate_parent_hq_country is
// restricted, once the cumulative operations for (parent, model) reach
// restricted_ops_threshold (1e24): HIGH. With non_tier1_ops_threshold set
// (aidr-2025: 1e26), also a parent outside Tier 1 at that many ops: MEDIUM.
// Subject: the tenant's ultimate parent, else the tenant. Once per
// (subject, model, level).
//
// Operations of a usage record: measured_ops when reported; else
// gpu_hours (or the period times accelerator_count) x 3600 x the chip's
// peak ops per second (TPP / 16 x 1e12) x the policy's utilization.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "RESTRICTED_TRAINING_COMPUTE";
constexpr absl::string_view kState = "ops";
constexpr int kEvidenceIds = 20;
// Level indices in QuotaState.levels_fired (a bit mask here).
constexpr int kRestrictedBit = 1;
constexpr int kNonTier1Bit = 2;

std::string ParentKey(const v1::Party& tenant) {
  if (!tenant.ultimate_parent_id().empty()) return tenant.ultimate_parent_id();
  std::string name = NormalizeName(tenant.ultimate_parent_name());
  return name.empty() ? EntityKey(tenant) : name;
}

const std::string& ParentCountry(const v1::Party& tenant) {
  return tenant.ultimate_parent_hq_country().empty() ? tenant.hq_country()
                                                     : tenant.ultimate_parent_hq_country();
}

bool IsTraining(const v1::CloudUsageEvent& c) {
  return c.workload() == v1::Workload::TRAINING || c.workload() == v1::Workload::FINE_TUNING;
}

bool RestrictedTenant(const v1::CloudUsageEvent& c, const Policy& p) {
  const int64_t at = c.event_time().seconds();
  return p.IsRestricted(c.tenant().hq_country(), at) ||
         p.IsRestricted(c.tenant().ultimate_parent_hq_country(), at);
}

bool NonTier1Parent(const v1::CloudUsageEvent& c, const Policy& p) {
  const std::string& country = ParentCountry(c.tenant());
  return p.proto().training_compute().non_tier1_ops_threshold() > 0 && !country.empty() &&
         !p.IsTier1(country, c.event_time().seconds());
}

double Ops(const v1::CloudUsageEvent& c, const Policy& p) {
  if (c.measured_ops() > 0) return c.measured_ops();
  double hours = c.has_gpu_hours() ? c.gpu_hours() : 0;
  if (!c.has_gpu_hours() && c.has_period_start() && c.has_period_end()) {
    const double seconds =
        static_cast<double>(c.period_end().seconds() - c.period_start().seconds());
    if (seconds > 0) hours = seconds / 3600 * static_cast<double>(c.accelerator_count());
  }
  const v1::ChipSpec* chip = p.Chip(c.accelerator_model());
  if (chip == nullptr || hours <= 0) return 0;
  const double peak_per_second = chip->tpp_per_unit() / 16 * 1e12;
  return hours * 3600 * peak_per_second * p.proto().utilization();
}

std::string ModelOf(const v1::CloudUsageEvent& c) {
  return c.model_id().empty() ? "(unnamed model)" : c.model_id();
}

class RestrictedTrainingCompute final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (!event.has_cloud_usage()) return;
    const auto& c = event.cloud_usage();
    const Policy& p = ctx.policy;
    if (!IsTraining(c) || !p.IsControlledChip(c.accelerator_model())) return;
    if (!RestrictedTenant(c, p) && !NonTier1Parent(c, p)) return;
    if (Ops(c, p) <= 0) return;
    // One counter per (parent, model); the length prefix keeps it unambiguous.
    std::string parent = ParentKey(c.tenant());
    out.Fact(kId, absl::StrCat(parent.size(), ":", parent, "/", ModelOf(c)));
  }

  absl::Status Apply(const v1::Event& event, absl::string_view, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_cloud_usage()) return absl::OkStatus();
    const auto& c = event.cloud_usage();
    const Policy& p = ctx.policy;
    const auto& cfg = p.proto().training_compute();
    // Held parsed for the batch: a busy (parent, model) counter is rewritten
    // by many usage records of one batch.
    bool stored = false;
    ASSIGN_OR_RETURN(v1::QuotaState * state_q, state.Mutable<v1::QuotaState>(kState, &stored));
    v1::QuotaState& q = *state_q;
    const double ops = Ops(c, p);
    q.set_used(q.used() + ops);
    AppendBounded(q.mutable_event_ids(), c.event_id(), kEvidenceIds);

    const bool restricted = RestrictedTenant(c, p);
    int bit = 0;
    double threshold = 0;
    if (restricted && q.used() >= cfg.restricted_ops_threshold() &&
        !(q.levels_fired() & kRestrictedBit)) {
      bit = kRestrictedBit;
      threshold = cfg.restricted_ops_threshold();
    } else if (!restricted && NonTier1Parent(c, p) && q.used() >= cfg.non_tier1_ops_threshold() &&
               !(q.levels_fired() & kNonTier1Bit)) {
      bit = kNonTier1Bit;
      threshold = cfg.non_tier1_ops_threshold();
    }
    if (bit != 0) {
      q.set_levels_fired(q.levels_fired() | bit);
      const std::string parent = ParentKey(c.tenant());
      const std::string model = ModelOf(c);
      AlertSpec spec;
      spec.rule_id = kId;
      spec.severity = bit == kRestrictedBit ? v1::HIGH : v1::MEDIUM;
      spec.subject_kind = v1::ENTITY;
      spec.subject_id = parent;
      spec.window = model;
      spec.level = bit == kRestrictedBit ? "restricted" : "non-tier1";
      spec.once_per_window = true;
      const std::string& who = c.tenant().ultimate_parent_name().empty()
                                   ? c.tenant().name()
                                   : c.tenant().ultimate_parent_name();
      spec.title = absl::StrFormat(
          "%s (HQ %s) trained %s on controlled accelerators: %.3g ops, threshold %.3g",
          who.empty() ? parent : who, ParentCountry(c.tenant()), model, q.used(), threshold);
      v1::Alert a = BuildAlert(spec, event, ctx);
      a.mutable_evidence()->clear_event_ids();
      for (const auto& id : q.event_ids()) a.mutable_evidence()->add_event_ids(id);
      SetValue(a, "cumulative_ops", q.used());
      SetValue(a, "threshold_ops", threshold);
      SetValue(a, "model", model);
      SetValue(a, "parent_hq_country", ParentCountry(c.tenant()));
      SetValue(a, "tenant", EntityKey(c.tenant()));
      SetValue(a, "accelerator_model", c.accelerator_model());
      SetValue(a, "provider_id", c.provider_id());
      out.Alert(std::move(a));
    }
    return absl::OkStatus();
  }
};

EW_REGISTER_RULE(kId, RestrictedTrainingCompute);

}  // namespace
}  // namespace exportwatch

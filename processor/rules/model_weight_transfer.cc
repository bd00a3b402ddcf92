// MODEL_WEIGHT_TRANSFER (RULES.md): unpublished weights whose cumulative
// training operations (own plus known ancestors through base_model_id) reach
// the threshold (1e26), moved without authorization to a restricted
// destination or to a recipient whose HQ / parent HQ is restricted: CRITICAL.
// In aidr-2025 also to any destination outside Tier 1: HIGH.
//
// State: a model registry (model -> own ops, parent). All model facts share
// one key so that a model and its ancestors are on one shard: transfers are
// rare events, the registry is small.
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "exportwatch/v1/internal.pb.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/rule.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kId = "MODEL_WEIGHT_TRANSFER";
constexpr absl::string_view kRegistryKey = "model-registry";
// Longest lineage followed; deeper chains (or cycles) stop there.
constexpr int kMaxLineageDepth = 32;

class ModelWeightTransfer final : public Rule {
 public:
  absl::string_view id() const override { return kId; }

  void Inspect(const v1::Event& event, const RuleContext&, Emitter& out) const override {
    if (event.has_model_transfer()) out.Fact(kId, std::string(kRegistryKey));
  }

  absl::Status Apply(const v1::Event& event, absl::string_view, const RuleContext& ctx,
                     KeyState& state, Emitter& out) const override {
    if (!event.has_model_transfer()) return absl::OkStatus();
    const auto& m = event.model_transfer();
    // model_id is optional in the contract: an unnamed model is still judged,
    // under the transfer's (or the event's) id, and has no lineage.
    const std::string model_id = !m.model_id().empty()      ? m.model_id()
                                 : !m.transfer_id().empty() ? "transfer:" + m.transfer_id()
                                                            : "event:" + m.event_id();
    // Update what the registry knows of this model.
    v1::ModelRecord self;
    {
      auto stored = state.Get(absl::StrCat("m/", model_id));
      if (!stored.ok()) return stored.status();
      if (stored->has_value()) self.ParseFromString(**stored);
    }
    self.set_model_id(model_id);
    if (!m.base_model_id().empty() && m.base_model_id() != model_id) {
      self.set_base_model_id(m.base_model_id());
    }
    self.set_own_training_ops(std::max(self.own_training_ops(), m.training_ops()));
    state.Put(absl::StrCat("m/", model_id), self.SerializeAsString());

    // Cumulative compute: own plus every known ancestor's own.
    double cumulative = self.own_training_ops();
    std::vector<std::string> lineage;
    absl::flat_hash_set<std::string> visited = {self.model_id()};
    std::string parent = self.base_model_id();
    for (int depth = 0; !parent.empty() && depth < kMaxLineageDepth; ++depth) {
      if (!visited.insert(parent).second) break;  // a cycle in reported lineage
      lineage.push_back(parent);
      auto stored = state.Get(absl::StrCat("m/", parent));
      if (!stored.ok()) return stored.status();
      if (!stored->has_value()) break;
      v1::ModelRecord rec;
      rec.ParseFromString(**stored);
      cumulative += rec.own_training_ops();
      parent = rec.base_model_id();
    }

    const Policy& p = ctx.policy;
    const auto& spec_cfg = p.proto().model_weights();
    if (m.weights_published() || m.authorization().type() != v1::AuthorizationType::NONE ||
        cumulative < spec_cfg.training_ops_threshold()) {
      return absl::OkStatus();
    }
    const int64_t at = m.event_time().seconds();
    const auto& r = m.recipient();
    std::string reason;
    v1::Severity severity = v1::CRITICAL;
    if (p.IsRestricted(m.destination_country(), at)) {
      reason = absl::StrCat("restricted destination ", m.destination_country());
    } else if (p.IsRestricted(r.hq_country(), at)) {
      reason = absl::StrCat("recipient headquartered in ", r.hq_country());
    } else if (p.IsRestricted(r.ultimate_parent_hq_country(), at)) {
      reason = absl::StrCat("recipient's parent headquartered in ", r.ultimate_parent_hq_country());
    } else if (spec_cfg.non_tier1_destinations() && !m.destination_country().empty() &&
               !p.IsTier1(m.destination_country(), at)) {
      reason = absl::StrCat("destination ", m.destination_country(), " outside Tier 1");
      severity = v1::HIGH;
    } else {
      return absl::OkStatus();
    }
    AlertSpec spec;
    spec.rule_id = kId;
    spec.severity = severity;
    spec.subject_kind = v1::MODEL;
    spec.subject_id = model_id;
    spec.window = m.transfer_id();
    spec.title = absl::StrCat("Unpublished weights of ", model_id, " (",
                              absl::StrFormat("%.3g", cumulative), " ops) transferred to ",
                              r.name().empty() ? m.destination_country() : r.name(), ": ", reason);
    v1::Alert a = BuildAlert(spec, event, ctx);
    SetValue(a, "cumulative_training_ops", cumulative);
    SetValue(a, "own_training_ops", self.own_training_ops());
    SetValue(a, "threshold_ops", spec_cfg.training_ops_threshold());
    SetValue(a, "ancestors", absl::StrJoin(lineage, ","));
    SetValue(a, "destination_country", m.destination_country());
    SetValue(a, "recipient", EntityKey(r));
    SetValue(a, "reason", reason);
    out.Alert(std::move(a));
    return absl::OkStatus();
  }
};

EW_REGISTER_RULE(kId, ModelWeightTransfer);

}  // namespace
}  // namespace exportwatch

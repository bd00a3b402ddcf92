#include "processor/detection_engine.h"

#include <deque>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "connectors/event_codec.h"
#include "processor/rules/alert_builder.h"

namespace exportwatch {
namespace {

constexpr absl::string_view kComposite = "COMPOSITE_RISK";

class VectorEmitter final : public Emitter {
 public:
  VectorEmitter(std::vector<v1::Alert>* alerts, std::vector<FactOut>* facts,
                UsageReports* reports = nullptr)
      : alerts_(alerts), facts_(facts), reports_(reports) {}
  v1::QuotaUsage* UsageSlot(absl::string_view quota_id, absl::string_view subject_id,
                            int64_t window_start_unix, const void* source, bool* fresh) override {
    return reports_ == nullptr
               ? nullptr
               : reports_->Slot(quota_id, subject_id, window_start_unix, source, fresh);
  }
  void Alert(v1::Alert alert) override { alerts_->push_back(std::move(alert)); }
  void Fact(absl::string_view rule_id, std::string key) override {
    if (facts_ != nullptr) facts_->push_back({std::string(rule_id), std::move(key), "", {}});
  }
  void FactWithEvent(absl::string_view rule_id, std::string key, std::string event_bytes) override {
    if (facts_ != nullptr) {
      facts_->push_back({std::string(rule_id), std::move(key), "", std::move(event_bytes)});
    }
  }

 private:
  std::vector<v1::Alert>* alerts_;
  std::vector<FactOut>* facts_;
  UsageReports* reports_;
};

// The TradeParts of `from` selected by `parts` into `to` (cleared first).
void CopyTradeParts(const v1::TradeEvent& from, uint32_t parts, v1::TradeEvent* to) {
  to->Clear();
  to->set_event_id(from.event_id());
  if (from.has_event_time()) *to->mutable_event_time() = from.event_time();
  to->set_shipment_id(from.shipment_id());
  if (parts & kTradeItemSerials) {
    *to->mutable_items() = from.items();
  } else if (parts & kTradeItems) {
    // Field by field, so the serials are never copied (ItemsTravelWithoutTheirSerials
    // in fact_event_test fails when Item gains a field this does not copy).
    to->mutable_items()->Reserve(from.items_size());
    for (const auto& item : from.items()) {
      v1::Item* copy = to->add_items();
      copy->set_chip_model(item.chip_model());
      copy->set_quantity(item.quantity());
      if (item.has_tpp_per_unit()) copy->set_tpp_per_unit(item.tpp_per_unit());
    }
  }
  if ((parts & kTradeUltimateConsignee) && from.has_ultimate_consignee()) {
    *to->mutable_ultimate_consignee() = from.ultimate_consignee();
  }
  if ((parts & kTradePurchaser) && from.has_purchaser()) {
    *to->mutable_purchaser() = from.purchaser();
  }
  if ((parts & kTradeEndUser) && from.has_end_user()) *to->mutable_end_user() = from.end_user();
  if ((parts & kTradeExporter) && from.has_exporter()) *to->mutable_exporter() = from.exporter();
  if (parts & kTradeDestinationCountry) to->set_destination_country(from.destination_country());
  if ((parts & kTradeAuthorization) && from.has_authorization()) {
    *to->mutable_authorization() = from.authorization();
  }
}

}  // namespace

std::string QuotaUsageKey(absl::string_view quota_id, absl::string_view subject_id,
                          int64_t window_start_unix) {
  return absl::StrCat(quota_id, "|", subject_id, "|", window_start_unix);
}

v1::QuotaUsage* UsageReports::Slot(absl::string_view quota_id, absl::string_view subject_id,
                                   int64_t window_start_unix, const void* source, bool* fresh) {
  // Looked up in a reused buffer: most calls find the window's slot, and
  // only a new one needs a string of its own.
  lookup_.clear();
  absl::StrAppend(&lookup_, quota_id, "|", subject_id, "|", window_start_unix);
  Entry* e;
  if (auto it = index_.find(lookup_); it != index_.end()) {
    e = slots_[it->second].get();
    *fresh = e->source != source;
  } else {
    if (used_ == slots_.size()) slots_.push_back(std::make_unique<Entry>());
    e = slots_[used_].get();
    e->key = lookup_;
    index_.emplace(e->key, used_);
    ++used_;
    *fresh = true;
  }
  e->source = source;
  if (*fresh) e->usage.Clear();
  return &e->usage;
}

void UsageReports::Clear() {
  used_ = 0;
  index_.clear();
}

v1::Fact FactHeader(const FactOut& f) {
  v1::Fact fact;
  fact.set_rule_id(f.rule_id);
  fact.set_key(f.key);
  if (!f.source_rule_id.empty()) fact.set_source_rule_id(f.source_rule_id);
  return fact;
}

v1::Fact MakeFact(const FactOut& f, const v1::Event& event) {
  v1::Fact fact = FactHeader(f);
  if (f.payload.has_value()) {
    // Bytes this process serialized from a valid event: they parse.
    fact.mutable_event()->ParseFromString(*f.payload);
  } else {
    *fact.mutable_event() = event;
  }
  return fact;
}

DetectionEngine::DetectionEngine(std::shared_ptr<const Policy> policy, WatchlistData watchlist)
    : policy_(std::move(policy)),
      watchlist_(std::move(watchlist)),
      rules_(CreateEnabledRules(*policy_)) {
  for (const auto& r : rules_) by_id_[r->id()] = r.get();
  if (by_id_.contains(kComposite)) {
    for (const auto& id : policy_->proto().composite_risk().input_rules()) {
      composite_inputs_.insert(id);
    }
  }
}

RuleContext DetectionEngine::Context(absl::Time now, absl::string_view source_rule_id) const {
  RuleContext ctx{*policy_, now, source_rule_id};
  ctx.watchlist = watchlist_.list.get();
  ctx.watchlist_version = watchlist_.version;
  return ctx;
}

void DetectionEngine::Inspect(const v1::Event& event, absl::Time now,
                              std::vector<v1::Alert>* alerts, std::vector<FactOut>* facts,
                              const std::vector<ScreenedParty>* parties) const {
  RuleContext ctx = Context(now);
  ctx.screened_parties = parties;
  const size_t first_alert = alerts->size();
  VectorEmitter out(alerts, facts);
  for (const auto& rule : rules_) rule->Inspect(event, ctx, out);
  if (facts != nullptr) DeriveFacts(*alerts, first_alert, event, facts);
}

void DetectionEngine::DeriveFacts(const std::vector<v1::Alert>& alerts, size_t from,
                                  const v1::Event& event, std::vector<FactOut>* facts) const {
  if (composite_inputs_.empty() || !event.has_trade()) return;
  const auto& t = event.trade();
  if (!t.has_ultimate_consignee()) return;
  for (size_t i = from; i < alerts.size(); ++i) {
    if (!composite_inputs_.contains(alerts[i].rule_id())) continue;
    // COMPOSITE_RISK needs the time, the id and the consignee, not the items.
    v1::Event slim;
    CopyTradeParts(t, kTradeUltimateConsignee, slim.mutable_trade());
    facts->push_back({std::string(kComposite), EntityKey(t.ultimate_consignee()),
                      alerts[i].rule_id(), slim.SerializeAsString()});
  }
}

const v1::Event& DetectionEngine::FactEvent(const v1::Event& event,
                                            const std::vector<FactOut>& facts,
                                            v1::Event* scratch) const {
  if (!event.has_trade()) return event;
  uint32_t parts = 0;
  for (const auto& f : facts) {
    if (f.payload.has_value()) continue;
    auto it = by_id_.find(f.rule_id);
    // Unknown here means "not a rule of this engine": keep everything.
    parts |= it == by_id_.end() ? kTradeAllParts : it->second->trade_parts_applied();
    if (parts == kTradeAllParts) return event;
  }
  CopyTradeParts(event.trade(), parts, scratch->mutable_trade());
  return *scratch;
}

absl::StatusOr<bool> DetectionEngine::Apply(int32_t partition, const v1::Fact& fact, absl::Time now,
                                            TaskState& state, std::vector<v1::Alert>* alerts,
                                            std::vector<FactOut>* derived,
                                            UsageReports* reports) const {
  auto it = by_id_.find(fact.rule_id());
  if (it == by_id_.end()) return false;
  const v1::Event& event = fact.event();
  if (!it->second->ReapplyIsNoOp(event)) {
    // A derived fact is one per (event, source rule): two rules alerting on
    // one event are two facts, each applied once.
    std::string dedup_id = fact.source_rule_id().empty()
                               ? std::string(EventId(event))
                               : absl::StrCat(EventId(event), "/", fact.source_rule_id());
    auto seen =
        state.SeenBefore(partition, fact.rule_id(), fact.key(), dedup_id, absl::ToUnixSeconds(now));
    if (!seen.ok()) return seen.status();
    if (*seen) return false;
  }
  const RuleContext ctx = Context(now, fact.source_rule_id());
  const size_t first_alert = alerts->size();
  VectorEmitter out(alerts, nullptr, reports);
  TaskState::Scoped scoped(&state, partition, fact.rule_id(), fact.key());
  absl::Status s = it->second->Apply(event, fact.key(), ctx, scoped, out);
  if (!s.ok()) return s;
  if (derived != nullptr) DeriveFacts(*alerts, first_alert, event, derived);
  return true;
}

absl::Status DetectionEngine::ProcessInline(const v1::Event& event, absl::Time now,
                                            TaskState& state,
                                            std::vector<v1::Alert>* alerts) const {
  std::vector<FactOut> facts;
  Inspect(event, now, alerts, &facts);
  // Facts derived in stage 2 are applied too, in order, until none is left.
  std::deque<v1::Fact> queue;
  v1::Event scratch;
  const v1::Event& fact_event = FactEvent(event, facts, &scratch);
  for (const auto& f : facts) queue.push_back(MakeFact(f, fact_event));
  while (!queue.empty()) {
    v1::Fact fact = std::move(queue.front());
    queue.pop_front();
    std::vector<FactOut> derived;
    auto applied = Apply(0, fact, now, state, alerts, &derived);
    if (!applied.ok()) return applied.status();
    for (const auto& f : derived) queue.push_back(MakeFact(f, fact.event()));
  }
  return state.Commit();
}

}  // namespace exportwatch

#include "processor/entity_registry.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "processor/rules/alert_builder.h"
#include "processor/rules/screening_match.h"
#include "screening/watchlist.h"

namespace exportwatch {
namespace {

class AlertsOnly final : public Emitter {
 public:
  explicit AlertsOnly(std::vector<v1::Alert>* alerts) : alerts_(alerts) {}
  void Alert(v1::Alert alert) override { alerts_->push_back(std::move(alert)); }
  void Fact(absl::string_view, std::string) override {}
  void FactWithEvent(absl::string_view, std::string, std::string) override {}

 private:
  std::vector<v1::Alert>* alerts_;
};

}  // namespace

void EntityRegistry::Note(const v1::Event& event) { Note(event, ScreenedParties(event)); }

void EntityRegistry::Note(const v1::Event& event, const std::vector<ScreenedParty>& parties) {
  for (const ScreenedParty& sp : parties) {
    // Keyed by role too: a party's slim event keeps it in the role it had.
    std::string key = absl::StrCat(sp.role, "|", sp.key);
    auto [it, added] = parties_.try_emplace(std::move(key));
    it->second.last_seen = ++clock_;
    // The first event that named it is kept (copying one per event would
    // cost an allocation per party on the hot path); any event naming the
    // party serves as the re-screen alert's evidence.
    if (added) it->second.slim = SlimForScreening(event, sp);
  }
  if (parties_.size() > capacity_) Evict();
}

void EntityRegistry::Evict() {
  std::vector<uint64_t> seen;
  seen.reserve(parties_.size());
  for (const auto& [k, v] : parties_) seen.push_back(v.last_seen);
  auto mid = seen.begin() + static_cast<std::ptrdiff_t>(seen.size() / 2);
  std::nth_element(seen.begin(), mid, seen.end());
  const uint64_t cut = *mid;
  for (auto it = parties_.begin(); it != parties_.end();) {
    if (it->second.last_seen < cut) {
      parties_.erase(it++);
      ++evictions_;
    } else {
      ++it;
    }
  }
}

size_t EntityRegistry::Rescreen(const WatchlistData& before, const DetectionEngine& after,
                                absl::Time now, std::vector<v1::Alert>* alerts) const {
  const WatchlistData& next = after.watchlist();
  if (next.list == nullptr || !after.policy().RuleEnabled(kScreeningMatchId)) return 0;
  // Only what the update added or changed can raise a new match.
  std::vector<screening::WatchlistEntry> delta;
  if (before.list == nullptr) {
    delta = next.list->entries();
  } else {
    screening::WatchlistDiff d = screening::Diff(*before.list, *next.list);
    for (const auto* ids : {&d.added, &d.changed}) {
      for (const auto& id : *ids) {
        if (auto i = next.list->Find(id)) delta.push_back(next.list->entry(*i));
      }
    }
  }
  if (delta.empty()) return 0;
  auto delta_list = screening::Watchlist::Build(std::move(delta));
  if (!delta_list.ok()) return 0;  // cannot happen: the entries come from a built list
  RuleContext ctx{after.policy(), now};
  ctx.watchlist = next.list.get();
  ctx.watchlist_version = next.version;
  AlertsOnly out(alerts);
  for (const auto& [key, known] : parties_) {
    ScreenEvent(known.slim, ctx, **delta_list, /*list_update=*/true, out);
  }
  return parties_.size();
}

}  // namespace exportwatch

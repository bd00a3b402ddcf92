// SCREENING_MATCH: see screening_match.h and RULES.md.
//
// Severity: CRITICAL when the best matching entry is on the Entity List or
// the SDN list and the event is a controlled shipment; HIGH otherwise (cloud
// usage and model transfers are never "shipments").
// Identity: one alert per (party, shipment) for trade, per (party, transfer)
// for model transfers, and per (tenant, UTC day) for cloud usage, whose
// records repeat hourly; a SOC wants one alert a day per listed tenant, not
// twenty-four.
// Cost: screening is ~20-40 us per name (screening/README.md), far above the
// rest of a stateless rule, and parties repeat, so results are cached per
// name for the life of the engine (a new list builds a new engine, so the
// cache never outlives its list).
#include "processor/rules/screening_match.h"

#include <algorithm>
#include <memory>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "processor/rules/alert_builder.h"
#include "processor/watchlist_data.h"

namespace exportwatch {
namespace {

constexpr size_t kMaxParties = 64;
// Names cached per engine; the cache is emptied when full.
constexpr size_t kMaxCachedNames = 1 << 16;
constexpr double kDefaultMinScore = 0.88;

struct Hit {
  size_t entry_index;
  std::string matched_name;
  bool alias;
  double score;
  bool via_parent;
};

bool Better(const screening::Watchlist& list, const Hit& a, const Hit& b) {
  const bool a_strict = IsEntityListOrSdn(list.entry(a.entry_index).source);
  const bool b_strict = IsEntityListOrSdn(list.entry(b.entry_index).source);
  if (a_strict != b_strict) return a_strict;
  if (a.score != b.score) return a.score > b.score;
  return a.via_parent < b.via_parent;
}

// Matches of one name, cached (see the file comment).
class NameCache {
 public:
  std::vector<screening::Match> Screen(const screening::Watchlist& list, const std::string& name,
                                       double threshold) const {
    if (name.empty()) return {};
    {
      absl::MutexLock lock(&mu_);
      auto it = cache_.find(name);
      if (it != cache_.end()) return it->second;
    }
    screening::ScreenOptions o;
    o.threshold = threshold;
    o.max_results = 5;
    auto r = list.Screen(name, o);
    // A name too long to normalize matches nothing (events are size-checked
    // long before this).
    std::vector<screening::Match> matches =
        r.ok() ? *std::move(r) : std::vector<screening::Match>{};
    absl::MutexLock lock(&mu_);
    if (cache_.size() >= kMaxCachedNames) cache_.clear();
    cache_.emplace(name, matches);
    return matches;
  }

 private:
  mutable absl::Mutex mu_;
  mutable absl::flat_hash_map<std::string, std::vector<screening::Match>> cache_
      ABSL_GUARDED_BY(mu_);
};

void ScreenWith(const v1::Event& event, const RuleContext& ctx, const screening::Watchlist& list,
                bool list_update, const NameCache* cache, Emitter& out) {
  const double min_score = ctx.policy.proto().screening().min_score() > 0
                               ? ctx.policy.proto().screening().min_score()
                               : kDefaultMinScore;
  NameCache local;
  if (cache == nullptr) cache = &local;
  const bool controlled = event.has_trade() && ctx.policy.IsControlledShipment(event.trade());
  std::vector<ScreenedParty> computed;
  const std::vector<ScreenedParty>* parties = ctx.screened_parties;
  if (parties == nullptr) {
    computed = ScreenedParties(event);
    parties = &computed;
  }
  for (const ScreenedParty& sp : *parties) {
    std::vector<Hit> hits;
    for (const auto& m : cache->Screen(list, sp.party->name(), min_score)) {
      hits.push_back({m.entry_index, m.matched_name, m.alias, m.score, false});
    }
    for (const auto& m : cache->Screen(list, sp.party->ultimate_parent_name(), min_score)) {
      hits.push_back({m.entry_index, m.matched_name, m.alias, m.score, true});
    }
    if (hits.empty()) continue;
    std::sort(hits.begin(), hits.end(),
              [&](const Hit& a, const Hit& b) { return Better(list, a, b); });
    const Hit& best = hits.front();
    const screening::WatchlistEntry& entry = list.entry(best.entry_index);
    const bool strict = IsEntityListOrSdn(entry.source);

    AlertSpec spec;
    spec.rule_id = kScreeningMatchId;
    spec.severity = strict && controlled ? v1::CRITICAL : v1::HIGH;
    spec.subject_kind = v1::ENTITY;
    spec.subject_id = sp.key;
    // A party known only by its parent's name is named after it.
    if (spec.subject_id.empty()) {
      spec.subject_id = absl::StrCat("parent:", NormalizeName(sp.party->ultimate_parent_name()));
    }
    if (list_update) {
      spec.window = absl::StrCat("list:", ctx.watchlist_version);
      spec.once_per_window = true;
    } else if (event.has_trade()) {
      spec.window = ShipmentSubject(event.trade());
    } else if (event.has_cloud_usage()) {
      spec.window = absl::StrCat("day:", FormatDay(event.cloud_usage().event_time().seconds()));
      spec.once_per_window = true;
    }
    const std::string& shown = sp.party->name().empty() ? spec.subject_id : sp.party->name();
    spec.title = best.via_parent ? absl::StrCat("Ultimate parent of ", shown, " (", sp.role,
                                                ") matches ", entry.name, " on ", entry.source)
                                 : absl::StrCat(shown, " (", sp.role, ") matches ", entry.name,
                                                " on ", entry.source);
    v1::Alert a = BuildAlert(spec, event, ctx);
    SetValue(a, "party_role", sp.role);
    SetValue(a, "screened_name",
             best.via_parent ? sp.party->ultimate_parent_name() : sp.party->name());
    SetValue(a, "matched_via", best.via_parent ? "ultimate_parent" : "name");
    SetValue(a, "matched_name", best.matched_name);
    SetValue(a, "matched_alias", best.alias ? "true" : "false");
    SetValue(a, "score", best.score);
    SetValue(a, "min_score", min_score);
    SetValue(a, "list_entry_id", entry.id);
    SetValue(a, "list_entry_name", entry.name);
    SetValue(a, "list_source", entry.source);
    if (!entry.programs.empty()) SetValue(a, "list_programs", absl::StrJoin(entry.programs, ";"));
    SetValue(a, "watchlist_version", ctx.watchlist_version);
    SetValue(a, "controlled_shipment", controlled ? "true" : "false");
    SetValue(a, "trigger", list_update ? "list_update" : "event");
    if (hits.size() > 1) {
      std::vector<std::string> others;
      absl::flat_hash_set<size_t> seen = {best.entry_index};
      for (size_t i = 1; i < hits.size() && others.size() < 8; ++i) {
        if (seen.insert(hits[i].entry_index).second) {
          others.push_back(list.entry(hits[i].entry_index).id);
        }
      }
      if (!others.empty()) SetValue(a, "other_entry_ids", absl::StrJoin(others, ";"));
    }
    out.Alert(std::move(a));
  }
}

class ScreeningMatch final : public Rule {
 public:
  absl::string_view id() const override { return kScreeningMatchId; }

  void Inspect(const v1::Event& event, const RuleContext& ctx, Emitter& out) const override {
    if (ctx.watchlist == nullptr) return;
    ScreenWith(event, ctx, *ctx.watchlist, /*list_update=*/false, &cache_, out);
  }

 private:
  NameCache cache_;
};

EW_REGISTER_RULE(kScreeningMatchId, ScreeningMatch);

}  // namespace

void ScreenedParties(const v1::Event& event, std::vector<ScreenedParty>* out) {
  // One alert per entity: a purchaser that is also the consignee is one
  // party. Its fullest copy is screened (events often repeat a party with
  // the ultimate parent filled in for one role only), in the place of its
  // first role. A handful of parties: a linear search beats a hash map built
  // per event (this runs for every event; the ingest stage shares its result
  // between the rule and the entity registry, and reuses `out`).
  out->clear();
  size_t candidates = 0;
  auto add = [&](absl::string_view role, const v1::Party& p) {
    if (candidates >= kMaxParties) return;
    if (p.name().empty() && p.ultimate_parent_name().empty()) return;
    ++candidates;
    std::string key = EntityKey(p);
    auto same = std::find_if(out->begin(), out->end(),
                             [&](const ScreenedParty& u) { return u.key == key; });
    if (same == out->end()) {
      out->push_back({role, &p, std::move(key)});
    } else if (same->party->ultimate_parent_name().empty() && !p.ultimate_parent_name().empty()) {
      *same = {role, &p, std::move(key)};
    }
  };
  if (event.has_trade()) {
    const auto& t = event.trade();
    // The consignee first: a party in several roles is named by its most
    // telling one.
    add("ultimate_consignee", t.ultimate_consignee());
    add("purchaser", t.purchaser());
    add("end_user", t.end_user());
    add("exporter", t.exporter());
    for (const auto& ic : t.intermediate_consignees()) add("intermediate_consignee", ic);
  } else if (event.has_cloud_usage()) {
    add("tenant", event.cloud_usage().tenant());
  } else if (event.has_model_transfer()) {
    add("recipient", event.model_transfer().recipient());
    add("source_org", event.model_transfer().source_org());
  }
}

std::vector<ScreenedParty> ScreenedParties(const v1::Event& event) {
  std::vector<ScreenedParty> parties;
  ScreenedParties(event, &parties);
  return parties;
}

v1::Event SlimForScreening(const v1::Event& event, const ScreenedParty& sp) {
  v1::Event slim;
  if (event.has_trade()) {
    const auto& t = event.trade();
    auto* s = slim.mutable_trade();
    s->set_event_id(t.event_id());
    *s->mutable_event_time() = t.event_time();
    s->set_shipment_id(t.shipment_id());
    *s->mutable_items() = t.items();
    s->set_destination_country(t.destination_country());
    *s->mutable_authorization() = t.authorization();
    v1::Party* p = sp.role == "purchaser"            ? s->mutable_purchaser()
                   : sp.role == "ultimate_consignee" ? s->mutable_ultimate_consignee()
                   : sp.role == "end_user"           ? s->mutable_end_user()
                   : sp.role == "exporter"           ? s->mutable_exporter()
                                                     : s->add_intermediate_consignees();
    *p = *sp.party;
  } else if (event.has_cloud_usage()) {
    const auto& c = event.cloud_usage();
    auto* s = slim.mutable_cloud_usage();
    s->set_event_id(c.event_id());
    *s->mutable_event_time() = c.event_time();
    *s->mutable_tenant() = *sp.party;
  } else if (event.has_model_transfer()) {
    const auto& m = event.model_transfer();
    auto* s = slim.mutable_model_transfer();
    s->set_event_id(m.event_id());
    *s->mutable_event_time() = m.event_time();
    s->set_transfer_id(m.transfer_id());
    s->set_model_id(m.model_id());
    *(sp.role == "recipient" ? s->mutable_recipient() : s->mutable_source_org()) = *sp.party;
  }
  return slim;
}

void ScreenEvent(const v1::Event& event, const RuleContext& ctx, const screening::Watchlist& list,
                 bool list_update, Emitter& out) {
  ScreenWith(event, ctx, list, list_update, nullptr, out);
}

}  // namespace exportwatch

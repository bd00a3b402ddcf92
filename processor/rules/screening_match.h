// SCREENING_MATCH (RULES.md): a party, tenant, recipient or their ultimate
// parent matches a watchlist entry (name or alias, score >= the policy's
// screening.min_score). Exposed beyond its rule file for the re-screen of
// known entities when a list changes (processor/entity_registry.h).
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "exportwatch/v1/events.pb.h"
#include "processor/rules/rule.h"
#include "screening/watchlist.h"

namespace exportwatch {

inline constexpr absl::string_view kScreeningMatchId = "SCREENING_MATCH";

// A party of an event that is screened, with its role in the event
// ("purchaser", "ultimate_consignee", "end_user", "exporter",
// "intermediate_consignee", "tenant", "recipient", "source_org").
struct ScreenedParty {
  absl::string_view role;
  const v1::Party* party;
  std::string key;  // EntityKey(*party), computed once per event
};
// The screened parties of `event`, each entity once, from its first 64
// parties with a name.
std::vector<ScreenedParty> ScreenedParties(const v1::Event& event);
// The same into `*out` (cleared first), reusing its capacity.
void ScreenedParties(const v1::Event& event, std::vector<ScreenedParty>* out);

// A copy of `event` that keeps only what screening `party` needs: ids, time,
// items (whether a shipment is controlled), and `party` in its role. The
// entity registry keeps these.
v1::Event SlimForScreening(const v1::Event& event, const ScreenedParty& party);

// Screens every party of `event` (and its ultimate parent) against `list`
// and raises one alert per party that matches (its best match; the other
// matched entries are listed in the evidence). `list_update` false: the
// event's own screening, one alert per event (per tenant and day for cloud
// usage). True: a re-screen of a known party after a list update, against
// the entries the update added or changed; the alert's identity is then
// (party, list version), so every instance that knew the party raises the
// same alert.
void ScreenEvent(const v1::Event& event, const RuleContext& ctx, const screening::Watchlist& list,
                 bool list_update, Emitter& out);

}  // namespace exportwatch

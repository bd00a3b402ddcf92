// Reference facts the generator needs to stay on the right side of the rules:
// country groups, transshipment hubs and the chip catalog of
// shared/contract/RULES.md (profile `current`), plus an English country name ->
// ISO 3166-1 alpha-2 table for the Taiwan export statistics.
//
// These are the generator's own copies: it must produce ground-truth labels
// without linking the processor's policy code, so they are duplicated on
// purpose, and the tests pin them to RULES.md.
#pragma once

#include <optional>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace exportwatch::gen {

// ISO alpha-2 for an English country name as written in
// taiwan-hs8542-exports/country_name_map_full.json; nullopt for names with no
// current ISO code ("Others", "Kosovo", "Netherlands Antilles").
std::optional<absl::string_view> IsoFromEnglishName(absl::string_view name);

// In D:5 + Macau + HK (RULES.md `D5_MACAU`) at time `t`. HK counts from
// 2020-12-23, KH until 2026-02-03.
bool IsRestrictedAt(absl::string_view iso, absl::Time t);

// Restricted at any time in the list's history (used to keep baseline traffic
// clean whatever the event time: e.g. KH is never a baseline destination).
bool IsEverRestricted(absl::string_view iso);

bool IsTier1(absl::string_view iso);

// Tier 2 under `aidr-2025`: neither Tier 1 nor (ever) restricted.
inline bool IsTier2(absl::string_view iso) { return !IsTier1(iso) && !IsEverRestricted(iso); }

// RULES.md default transshipment hubs: SG, MY, TH, HK, AE, ID, VN.
bool IsHub(absl::string_view iso);

struct Chip {
  absl::string_view model;
  double tpp;  // per unit
  bool controlled;
  bool prc_advanced_ic;
  double tdp_watts;
  double unit_price_usd;  // rough street price, only for value_usd
};

// nullptr when not in the catalog.
const Chip* FindChip(absl::string_view model);

// Operations per second at peak: TPP / 16 x 1e12 (RULES.md).
inline double PeakOpsPerSecond(const Chip& chip) { return chip.tpp / 16 * 1e12; }

}  // namespace exportwatch::gen

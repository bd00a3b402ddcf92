#include "processor/gen/reference.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "absl/strings/string_view.h"

namespace exportwatch::gen {
namespace {

using NamePair = std::pair<absl::string_view, absl::string_view>;

// Every English name of country_name_map_full.json, sorted by name (binary
// searched). Left out on purpose: "Others" (an aggregate), "Kosovo" (XK is a
// user-assigned code, not ISO 3166-1, so the processor would reject it) and
// "Netherlands Antilles" (AN, withdrawn in 2010).
constexpr NamePair kIsoByName[] = {
    {"Afghanistan", "AF"},
    {"Algeria", "DZ"},
    {"American Samoa", "AS"},
    {"Andorra", "AD"},
    {"Angola", "AO"},
    {"Anguilla", "AI"},
    {"Antarctica", "AQ"},
    {"Antigua and Barbuda", "AG"},
    {"Argentina", "AR"},
    {"Armenia", "AM"},
    {"Australia", "AU"},
    {"Austria", "AT"},
    {"Azerbaijan", "AZ"},
    {"Bahamas", "BS"},
    {"Bahrain", "BH"},
    {"Bangladesh", "BD"},
    {"Belarus", "BY"},
    {"Belgium", "BE"},
    {"Belize", "BZ"},
    {"Bermuda", "BM"},
    {"Bolivia", "BO"},
    {"Bosnia and Herzegovina", "BA"},
    {"Brazil", "BR"},
    {"British Virgin Islands", "VG"},
    {"Brunei", "BN"},
    {"Bulgaria", "BG"},
    {"Burkina Faso", "BF"},
    {"Cambodia", "KH"},
    {"Cameroon", "CM"},
    {"Canada", "CA"},
    {"Cayman Islands", "KY"},
    {"Central African Republic", "CF"},
    {"Chile", "CL"},
    {"China", "CN"},
    {"Cocos (Keeling) Islands", "CC"},
    {"Colombia", "CO"},
    {"Comoros", "KM"},
    {"Cook Islands", "CK"},
    {"Costa Rica", "CR"},
    {"Croatia", "HR"},
    {"Cuba", "CU"},
    {"Cyprus", "CY"},
    {"Czech Republic", "CZ"},
    {"Democratic Republic of the Congo", "CD"},
    {"Denmark", "DK"},
    {"Djibouti", "DJ"},
    {"Dominica", "DM"},
    {"Dominican Republic", "DO"},
    {"East Timor", "TL"},
    {"Ecuador", "EC"},
    {"Egypt", "EG"},
    {"El Salvador", "SV"},
    {"Eritrea", "ER"},
    {"Estonia", "EE"},
    {"Eswatini", "SZ"},
    {"Ethiopia", "ET"},
    {"Fiji", "FJ"},
    {"Finland", "FI"},
    {"France", "FR"},
    {"French Polynesia", "PF"},
    {"Gabon", "GA"},
    {"Georgia", "GE"},
    {"Germany", "DE"},
    {"Ghana", "GH"},
    {"Greece", "GR"},
    {"Grenada", "GD"},
    {"Guadeloupe", "GP"},
    {"Guam", "GU"},
    {"Guatemala", "GT"},
    {"Guernsey", "GG"},
    {"Guinea", "GN"},
    {"Guyana", "GY"},
    {"Haiti", "HT"},
    {"Honduras", "HN"},
    {"Hong Kong", "HK"},
    {"Hungary", "HU"},
    {"Iceland", "IS"},
    {"India", "IN"},
    {"Indonesia", "ID"},
    {"Iran", "IR"},
    {"Iraq", "IQ"},
    {"Ireland", "IE"},
    {"Israel", "IL"},
    {"Italy", "IT"},
    {"Ivory Coast", "CI"},
    {"Jamaica", "JM"},
    {"Japan", "JP"},
    {"Jordan", "JO"},
    {"Kazakhstan", "KZ"},
    {"Kenya", "KE"},
    {"Kuwait", "KW"},
    {"Kyrgyzstan", "KG"},
    {"Laos", "LA"},
    {"Latvia", "LV"},
    {"Lebanon", "LB"},
    {"Lesotho", "LS"},
    {"Liberia", "LR"},
    {"Libya", "LY"},
    {"Liechtenstein", "LI"},
    {"Lithuania", "LT"},
    {"Luxembourg", "LU"},
    {"Macau", "MO"},
    {"Madagascar", "MG"},
    {"Malawi", "MW"},
    {"Malaysia", "MY"},
    {"Maldives", "MV"},
    {"Mali", "ML"},
    {"Malta", "MT"},
    {"Marshall Islands", "MH"},
    {"Mauritania", "MR"},
    {"Mauritius", "MU"},
    {"Mexico", "MX"},
    {"Micronesia", "FM"},
    {"Moldova", "MD"},
    {"Monaco", "MC"},
    {"Mongolia", "MN"},
    {"Montenegro", "ME"},
    {"Montserrat", "MS"},
    {"Morocco", "MA"},
    {"Mozambique", "MZ"},
    {"Myanmar", "MM"},
    {"Namibia", "NA"},
    {"Nepal", "NP"},
    {"Netherlands", "NL"},
    {"New Caledonia", "NC"},
    {"New Zealand", "NZ"},
    {"Nicaragua", "NI"},
    {"Nigeria", "NG"},
    {"North Korea", "KP"},
    {"North Macedonia", "MK"},
    {"Norway", "NO"},
    {"Oman", "OM"},
    {"Pakistan", "PK"},
    {"Palau", "PW"},
    {"Panama", "PA"},
    {"Papua New Guinea", "PG"},
    {"Paraguay", "PY"},
    {"Peru", "PE"},
    {"Philippines", "PH"},
    {"Poland", "PL"},
    {"Portugal", "PT"},
    {"Puerto Rico", "PR"},
    {"Qatar", "QA"},
    {"Republic of the Congo", "CG"},
    {"Reunion", "RE"},
    {"Romania", "RO"},
    {"Russia", "RU"},
    {"Rwanda", "RW"},
    {"Saint Helena, Ascension and Tristan da Cunha", "SH"},
    {"Saint Kitts and Nevis", "KN"},
    {"Saint Vincent and the Grenadines", "VC"},
    {"Samoa", "WS"},
    {"Sao Tome and Principe", "ST"},
    {"Saudi Arabia", "SA"},
    {"Senegal", "SN"},
    {"Serbia", "RS"},
    {"Seychelles", "SC"},
    {"Sierra Leone", "SL"},
    {"Singapore", "SG"},
    {"Slovakia", "SK"},
    {"Slovenia", "SI"},
    {"Solomon Islands", "SB"},
    {"Somalia", "SO"},
    {"South Africa", "ZA"},
    {"South Korea", "KR"},
    {"Spain", "ES"},
    {"Sri Lanka", "LK"},
    {"Sudan", "SD"},
    {"Suriname", "SR"},
    {"Sweden", "SE"},
    {"Switzerland", "CH"},
    {"Syria", "SY"},
    {"Tajikistan", "TJ"},
    {"Tanzania", "TZ"},
    {"Thailand", "TH"},
    {"Togo", "TG"},
    {"Tokelau", "TK"},
    {"Tonga", "TO"},
    {"Trinidad and Tobago", "TT"},
    {"Tunisia", "TN"},
    {"Turkey", "TR"},
    {"Tuvalu", "TV"},
    {"Uganda", "UG"},
    {"Ukraine", "UA"},
    {"United Arab Emirates", "AE"},
    {"United Kingdom", "GB"},
    {"United States", "US"},
    {"United States Virgin Islands", "VI"},
    {"Uruguay", "UY"},
    {"Uzbekistan", "UZ"},
    {"Vanuatu", "VU"},
    {"Venezuela", "VE"},
    {"Vietnam", "VN"},
    {"Yemen", "YE"},
    {"Zambia", "ZM"},
    {"Zimbabwe", "ZW"},
};

constexpr absl::string_view kRestrictedAlways[] = {"AF", "BY", "MM", "CF", "CN", "CU", "CD", "ER",
                                                   "ET", "HT", "IR", "IQ", "LB", "LY", "KP", "NI",
                                                   "RU", "SO", "SS", "SD", "SY", "VE", "ZW", "MO"};

constexpr absl::string_view kTier1[] = {"US", "AU", "BE", "CA", "DK", "FI", "FR", "DE", "IE", "IT",
                                        "JP", "NL", "NZ", "NO", "KR", "ES", "SE", "TW", "GB"};

constexpr absl::string_view kHubs[] = {"SG", "MY", "TH", "HK", "AE", "ID", "VN"};

// RULES.md chip catalog; prices are rough list prices for value_usd only.
constexpr Chip kChips[] = {
    {"H100-SXM", 15832, true, false, 700, 27000},
    {"H100-PCIE", 12096, true, false, 350, 22000},
    {"H200", 15832, true, false, 700, 32000},
    {"B200", 36000, true, false, 1000, 40000},
    {"H20", 2368, true, false, 400, 12000},
    {"A100", 4992, true, false, 400, 12000},
    {"L40S", 5864, true, false, 350, 8000},
    {"RTX-4090", 5285, true, false, 450, 1800},
    {"MI300X", 20918, true, false, 750, 15000},
    {"MI325X", 20800, true, false, 1000, 17000},
    {"ASCEND-910B", 5120, true, true, 400, 12000},
    {"ASCEND-910C", 12800, true, true, 550, 20000},
    {"ASCEND-910D", 12800, true, true, 600, 25000},
    {"V100", 2000, false, false, 300, 2500},
    {"T4", 1040, false, false, 70, 900},
    {"P100", 339, false, false, 250, 500},
};

template <size_t N>
bool Contains(const absl::string_view (&list)[N], absl::string_view iso) {
  return std::find(std::begin(list), std::end(list), iso) != std::end(list);
}

}  // namespace

std::optional<absl::string_view> IsoFromEnglishName(absl::string_view name) {
  const auto* it =
      std::lower_bound(std::begin(kIsoByName), std::end(kIsoByName), name,
                       [](const NamePair& p, absl::string_view n) { return p.first < n; });
  if (it == std::end(kIsoByName) || it->first != name) return std::nullopt;
  return it->second;
}

bool IsRestrictedAt(absl::string_view iso, absl::Time t) {
  if (Contains(kRestrictedAlways, iso)) return true;
  if (iso == "HK") return t >= absl::FromCivil(absl::CivilDay(2020, 12, 23), absl::UTCTimeZone());
  if (iso == "KH") return t < absl::FromCivil(absl::CivilDay(2026, 2, 3), absl::UTCTimeZone());
  return false;
}

bool IsEverRestricted(absl::string_view iso) {
  return Contains(kRestrictedAlways, iso) || iso == "HK" || iso == "KH";
}

bool IsTier1(absl::string_view iso) { return Contains(kTier1, iso); }

bool IsHub(absl::string_view iso) { return Contains(kHubs, iso); }

const Chip* FindChip(absl::string_view model) {
  for (const Chip& chip : kChips) {
    if (chip.model == model) return &chip;
  }
  return nullptr;
}

}  // namespace exportwatch::gen

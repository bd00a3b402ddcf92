#include "processor/gen/generator.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "processor/gen/reference.h"
#include "processor/gen/rng.h"
#include "processor/gen/source_data.h"

namespace exportwatch {
namespace {

using v1::AuthorizationType;
using v1::DeclaredPurpose;
using v1::PartyKind;
using v1::RouteRole;
using v1::TransferMechanism;
using v1::Workload;

// Thresholds of RULES.md (shipped-profile defaults) that baseline traffic must
// stay clear of and scenarios must cross.
constexpr double kStructuringShipmentTpp = 2'690'000;  // "each under"
constexpr double kStructuringTotalTpp = 6'725'000;
constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kStructuringWindowMs = 30 * kDayMs;
constexpr double kLppCapTpp = 26'900'000;
constexpr double kCountryCapTpp = 790'000'000;
constexpr double kModelOpsThreshold = 1e26;

// How much of a threshold baseline traffic may use. The generator tracks
// its own output per consignee / country / tenant, so the baseline stays
// clean at any rate and run length, not just on average.
constexpr double kBaselineStructuringBudget = 0.75 * kStructuringTotalTpp;
constexpr int64_t kBaselineStructuringWindowMs = 31 * kDayMs;  // a day of slack
constexpr double kBaselineLppBudget = 0.4 * kLppCapTpp;
// A tenant's training model id rotates long before any training threshold
// (1e24 in `current` for restricted parents, 1e26 in `aidr-2025`).
constexpr double kBaselineTrainingOps = 5e23;
// Baseline model transfers: published, or cumulative ops below this.
constexpr double kBaselineModelOps = 1e25;
constexpr double kLppShareOfTier2 = 0.04;

// The population does not depend on Options::seed: entity ids keep their
// names and countries across runs.
constexpr uint64_t kPopulationSeed = 0x65772d706f70ULL;
// Destinations below this share of the kept export value are dropped (one
// consignee each would over-weight them); see DataReport::trade_countries.
constexpr double kMinDestinationShare = 1e-4;

enum Stream { kTrade = 0, kCloud = 1, kModel = 2, kNumStreams = 3 };

absl::Time TimeOfMs(int64_t ms) { return absl::FromUnixMillis(ms); }

void SetTimestamp(int64_t ms, google::protobuf::Timestamp* ts) {
  int64_t s = ms / 1000;
  int64_t rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    --s;
  }
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int32_t>(rem * 1'000'000));
}

int64_t CivilYearOf(int64_t ms) {
  return absl::ToCivilYear(TimeOfMs(ms), absl::UTCTimeZone()).year();
}

std::string DateString(int64_t ms, int64_t days_before) {
  const absl::CivilDay day = absl::ToCivilDay(TimeOfMs(ms), absl::UTCTimeZone()) - days_before;
  return absl::FormatCivilTime(day);
}

// aidr-2025 COUNTRY_QUOTA counts Tier 2 destinations from 2025-01-15 through
// 2027-12-31.
bool InCountryQuota(absl::string_view country, int64_t ms) {
  static const absl::Time kFrom = absl::FromCivil(absl::CivilDay(2025, 1, 15), absl::UTCTimeZone());
  static const absl::Time kUntil = absl::FromCivil(absl::CivilDay(2028, 1, 1), absl::UTCTimeZone());
  const absl::Time t = TimeOfMs(ms);
  return gen::IsTier2(country) && t >= kFrom && t < kUntil;
}

// A party of a population or of a scenario.
struct Org {
  std::string id;
  std::string name;
  std::string country;
  std::string hq_country;
  std::string parent_id;
  std::string parent_name;
  std::string parent_hq_country;
  PartyKind::Value kind = PartyKind::OTHER;
  std::string incorporated_on;
};

void FillParty(const Org& o, v1::Party* p) {
  p->set_entity_id(o.id);
  p->set_name(o.name);
  p->set_country(o.country);
  if (!o.hq_country.empty()) p->set_hq_country(o.hq_country);
  if (!o.parent_id.empty()) {
    p->set_ultimate_parent_id(o.parent_id);
    p->set_ultimate_parent_name(o.parent_name);
    p->set_ultimate_parent_hq_country(o.parent_hq_country);
  }
  p->set_kind(o.kind);
  if (!o.incorporated_on.empty()) p->set_incorporated_on(o.incorporated_on);
}

// Purchaser / end user as producers usually send them: id, name, country.
void FillShortParty(const Org& o, v1::Party* p) {
  p->set_entity_id(o.id);
  p->set_name(o.name);
  p->set_country(o.country);
}

// Invented syllables: names must not collide with real (let alone listed)
// companies, or baseline traffic would raise SCREENING_MATCH.
constexpr absl::string_view kSyllables[] = {
    "ka",  "lo",  "ve",  "tri", "mar", "zen", "qua", "ori", "sel", "dax", "nu",  "pho",
    "ry",  "bel", "cor", "fen", "gal", "hel", "ix",  "jun", "kel", "lum", "mer", "nor",
    "pax", "qin", "ros", "sol", "tav", "ul",  "vex", "wyn", "xan", "yor", "zel", "bri",
    "dra", "eon", "fio", "gry", "ish", "jor", "kry", "lyn", "mox", "nyx", "oda", "pry"};

absl::string_view LegalSuffix(absl::string_view country) {
  static const auto* kSuffix = new absl::flat_hash_map<absl::string_view, absl::string_view>{
      {"MY", "Sdn Bhd"},  {"SG", "Pte Ltd"},    {"DE", "GmbH"},         {"AT", "GmbH"},
      {"CH", "AG"},       {"US", "Inc"},        {"CA", "Inc"},          {"PH", "Inc"},
      {"GB", "Ltd"},      {"IE", "Ltd"},        {"IL", "Ltd"},          {"NL", "B.V."},
      {"BE", "BV"},       {"FR", "SAS"},        {"MX", "S.A. de C.V."}, {"VN", "Co., Ltd"},
      {"TH", "Co., Ltd"}, {"KR", "Co., Ltd"},   {"CN", "Co., Ltd"},     {"TW", "Co., Ltd"},
      {"JP", "K.K."},     {"IN", "Pvt Ltd"},    {"AU", "Pty Ltd"},      {"NZ", "Ltd"},
      {"BR", "Ltda"},     {"PL", "Sp. z o.o."}, {"SE", "AB"},           {"FI", "Oy"},
      {"NO", "AS"},       {"DK", "A/S"},        {"IT", "S.p.A."},       {"ES", "S.L."},
      {"TR", "A.S."},     {"AE", "LLC"},        {"SA", "LLC"},          {"HU", "Kft"},
      {"CZ", "s.r.o."},   {"SK", "s.r.o."},     {"RO", "SRL"},          {"PT", "Lda"},
      {"RU", "OOO"},      {"LV", "SIA"},        {"LT", "UAB"},          {"ID", "Tbk"},
      {"HK", "Ltd"},      {"MO", "Lda"},        {"IR", "Co."},          {"EG", "S.A.E."}};
  const auto it = kSuffix->find(country);
  return it == kSuffix->end() ? "Ltd" : it->second;
}

absl::string_view SectorWord(PartyKind::Value kind, gen::Rng& rng) {
  static const auto* kDataCenter =
      new std::vector<absl::string_view>({"Data Centers", "Hyperscale", "Compute Park"});
  static const auto* kCloud =
      new std::vector<absl::string_view>({"Cloud", "Cloud Services", "Compute"});
  static const auto* kOem =
      new std::vector<absl::string_view>({"Systems", "Electronics", "Servers"});
  static const auto* kReseller =
      new std::vector<absl::string_view>({"Technology", "Solutions", "Distribution"});
  static const auto* kForwarder =
      new std::vector<absl::string_view>({"Logistics", "Freight", "Forwarding"});
  static const auto* kTrading =
      new std::vector<absl::string_view>({"Trading", "Commerce", "Supply"});
  static const auto* kOther =
      new std::vector<absl::string_view>({"Analytics", "AI Labs", "Robotics", "Digital"});
  switch (kind) {
    case PartyKind::DATA_CENTER:
      return rng.Pick(*kDataCenter);
    case PartyKind::CLOUD_PROVIDER:
      return rng.Pick(*kCloud);
    case PartyKind::OEM:
      return rng.Pick(*kOem);
    case PartyKind::RESELLER:
      return rng.Pick(*kReseller);
    case PartyKind::FREIGHT_FORWARDER:
      return rng.Pick(*kForwarder);
    case PartyKind::TRADING_COMPANY:
      return rng.Pick(*kTrading);
    default:
      return rng.Pick(*kOther);
  }
}

std::string MakeStem(gen::Rng& rng) {
  std::string s;
  const int n = 2 + static_cast<int>(rng.Below(2));
  for (int i = 0; i < n; ++i) absl::StrAppend(&s, kSyllables[rng.Below(std::size(kSyllables))]);
  s[0] = absl::ascii_toupper(static_cast<unsigned char>(s[0]));
  return s;
}

std::string MakeOrgName(gen::Rng& rng, PartyKind::Value kind, absl::string_view country) {
  const std::string stem = MakeStem(rng);
  switch (kind) {
    case PartyKind::UNIVERSITY:
      return rng.Bernoulli(0.5) ? absl::StrCat("University of ", stem)
                                : absl::StrCat(stem, " Institute of Technology");
    case PartyKind::GOVERNMENT:
      return absl::StrCat("National ", stem, " Computing Centre");
    default:
      return absl::StrCat(stem, " ", SectorWord(kind, rng), " ", LegalSuffix(country));
  }
}

// Relative weights over a fixed list (first: value, second: weight).
template <typename T>
struct Table {
  Table(std::vector<std::pair<T, double>> entries) : items(std::move(entries)) {  // NOLINT
    std::vector<double> w;
    for (const auto& [v, weight] : items) w.push_back(weight);
    sampler = gen::WeightedTable(w);
  }
  const T& Sample(gen::Rng& rng) const { return items[sampler.Sample(rng)].first; }
  std::vector<std::pair<T, double>> items;
  gen::WeightedTable sampler;
};

const Table<absl::string_view>& TradeChips() {
  static const auto* t = new Table<absl::string_view>({{"H100-SXM", 22},
                                                       {"H100-PCIE", 6},
                                                       {"H200", 16},
                                                       {"B200", 12},
                                                       {"A100", 8},
                                                       {"L40S", 10},
                                                       {"MI300X", 8},
                                                       {"MI325X", 4},
                                                       {"H20", 3},
                                                       {"RTX-4090", 3},
                                                       {"V100", 2},
                                                       {"T4", 4}});
  return *t;
}

const Table<absl::string_view>& CloudChips() {
  static const auto* t = new Table<absl::string_view>({{"H100-SXM", 28},
                                                       {"H200", 10},
                                                       {"B200", 4},
                                                       {"A100", 20},
                                                       {"L40S", 10},
                                                       {"MI300X", 5},
                                                       {"H20", 3},
                                                       {"T4", 12},
                                                       {"V100", 8}});
  return *t;
}

// Orders of small buyers: 1 to 16 servers of 8 accelerators.
const Table<int64_t>& SmallServerCounts() {
  static const auto* t = new Table<int64_t>({{1, 35}, {2, 25}, {4, 20}, {8, 12}, {16, 8}});
  return *t;
}

// Orders of large buyers, in multiples of the smallest lot of at least
// 2,690,000 TPP (22 servers of H100, 10 of B200).
const Table<int64_t>& LargeLotMultiples() {
  static const auto* t = new Table<int64_t>({{1, 40}, {2, 30}, {3, 15}, {4, 10}, {8, 5}});
  return *t;
}

// Data centers, clouds and server makers buy in bulk; the others in a few
// servers at a time.
bool IsLargeBuyer(PartyKind::Value kind) {
  return kind == PartyKind::DATA_CENTER || kind == PartyKind::CLOUD_PROVIDER ||
         kind == PartyKind::OEM;
}

// Where cloud tenants are incorporated (non-restricted only).
const Table<absl::string_view>& TenantCountries() {
  static const auto* t = new Table<absl::string_view>(
      {{"US", 30}, {"SG", 8}, {"JP", 8}, {"DE", 6}, {"GB", 6}, {"IN", 6}, {"KR", 5}, {"FR", 4},
       {"CA", 4},  {"AU", 3}, {"NL", 3}, {"MY", 3}, {"ID", 3}, {"AE", 3}, {"BR", 3}, {"MX", 2},
       {"TH", 2},  {"SE", 2}, {"IL", 2}, {"VN", 2}, {"PH", 1}, {"SA", 1}, {"TR", 1}});
  return *t;
}

struct Region {
  absl::string_view country;
  absl::string_view region;
};

constexpr Region kRegions[] = {
    {"US", "us-east-1"},      {"US", "us-west-2"},      {"SG", "ap-southeast-1"},
    {"JP", "ap-northeast-1"}, {"DE", "eu-central-1"},   {"IE", "eu-west-1"},
    {"GB", "eu-west-2"},      {"IN", "ap-south-1"},     {"KR", "ap-northeast-2"},
    {"AU", "ap-southeast-2"}, {"ID", "ap-southeast-3"}, {"MY", "ap-southeast-5"},
    {"AE", "me-central-1"},   {"BR", "sa-east-1"},      {"SE", "eu-north-1"},
    {"MX", "mx-central-1"},   {"TH", "ap-southeast-7"}, {"CA", "ca-central-1"},
    {"NL", "eu-west-4"},      {"FR", "eu-west-3"}};

// Non-hub countries a baseline shipment may transit (so that
// TRANSSHIPMENT_ROUTE never applies).
constexpr absl::string_view kNonHubTransit[] = {"NL", "DE", "JP", "KR", "US", "GB", "BE", "IE"};

}  // namespace

class EventGenerator::Impl {
 public:
  Impl(Options options, gen::SourceData data, DataReport report)
      : opts_(std::move(options)), report_(std::move(report)), rng_(opts_.seed) {
    now_ms_ = absl::ToUnixMillis(opts_.start_time);
    stream_table_ =
        gen::WeightedTable({opts_.trade_weight, opts_.cloud_weight, opts_.model_weight});
    gaps_s_ = std::move(data.interarrival_s);
    entity_list_names_ = std::move(data.entity_list_names);
    double mean_gap = 0;
    for (double g : gaps_s_) mean_gap += g;
    mean_gap = gaps_s_.empty() ? 0 : mean_gap / gaps_s_.size();
    gap_scale_ = mean_gap > 0 ? (1.0 / opts_.events_per_second) / mean_gap : 0;
    jobs_ = std::move(data.jobs);
    BuildPopulation(data.destinations);
    report_.trade_countries = static_cast<int>(shares_.size());
  }

  const DataReport& report() const { return report_; }
  const std::vector<std::pair<std::string, double>>& shares() const { return shares_; }

  void Next(GeneratedEvent* out) {
    out->event.Clear();
    out->topic.clear();
    out->expected_rules.clear();
    out->scenario.clear();
    const int64_t t = now_ms_;
    now_ms_ += NextGapMs();
    const auto stream = static_cast<Stream>(stream_table_.Sample(rng_));
    if (opts_.violation_rate > 0 && rng_.Bernoulli(opts_.violation_rate) &&
        (!pending_[stream].empty() || StartScenario(stream))) {
      Step step = std::move(pending_[stream].front());
      pending_[stream].pop_front();
      step(t, out);
      return;
    }
    switch (stream) {
      case kTrade:
        BaselineTrade(t, out);
        break;
      case kCloud:
        BaselineCloud(t, out);
        break;
      default:
        BaselineModel(t, out);
        break;
    }
  }

 private:
  // One event of a scenario, built when it is emitted (at time t_ms).
  using Step = std::function<void(int64_t t_ms, GeneratedEvent* out)>;

  struct Exporter {
    Org org;
    std::string source;
  };
  struct Datacenter {
    std::string provider_id;
    std::string region;
    std::string country;
    std::string site_id;
  };
  struct BaseModel {
    std::string id;
    double ops = 0;
    bool published = false;
    size_t lab = 0;
  };
  // What baseline has sent to one population consignee.
  struct ConsigneeState {
    std::deque<std::pair<int64_t, double>> small;  // sub-threshold shipments
    double small_sum = 0;
    int64_t lpp_year = 0;
    double lpp_tpp = 0;
  };
  struct TenantState {
    int generation = 1;
    double training_ops = 0;  // upper bound (utilisation 1) on current model
  };

  // ---- population -------------------------------------------------------

  std::string Id(absl::string_view prefix, uint64_t n, int width = 9) const {
    if (opts_.id_namespace.empty()) return absl::StrFormat("%s-%0*d", prefix, width, n);
    return absl::StrFormat("%s-%s-%0*d", prefix, opts_.id_namespace, width, n);
  }

  std::string UniqueName(gen::Rng& rng, PartyKind::Value kind, absl::string_view country) {
    for (;;) {
      std::string name = MakeOrgName(rng, kind, country);
      if (used_names_.insert(name).second) return name;
    }
  }

  Org MakePopulationOrg(gen::Rng& rng, std::string id, PartyKind::Value kind,
                        absl::string_view country) {
    Org o;
    o.id = std::move(id);
    o.kind = kind;
    o.country = std::string(country);
    o.hq_country = o.country;
    o.name = UniqueName(rng, kind, country);
    // Incorporated 4 to 40 years before the start: never a "new entity".
    o.incorporated_on = DateString(now_ms_, rng.Between(4 * 365, 40 * 365));
    return o;
  }

  // A multinational parent in a Tier 1 country, for some subsidiaries.
  void MaybeAddParent(gen::Rng& rng, double p, Org* o) {
    static constexpr absl::string_view kParentCountries[] = {"US", "JP", "DE", "GB",
                                                             "FR", "KR", "CA", "NL"};
    if (!rng.Bernoulli(p)) return;
    const absl::string_view hq = kParentCountries[rng.Below(std::size(kParentCountries))];
    o->parent_id = absl::StrFormat("P-%04d", ++parent_n_);
    o->parent_name = absl::StrCat(MakeStem(rng), " Holdings ", LegalSuffix(hq));
    o->parent_hq_country = std::string(hq);
  }

  void BuildPopulation(const std::vector<gen::CountryWeight>& destinations) {
    gen::Rng rng(kPopulationSeed);
    // Exporters: server makers in the US and Taiwan.
    for (int i = 0; i < 8; ++i) {
      const absl::string_view country = i < 4 ? "US" : "TW";
      Exporter x{MakePopulationOrg(rng, absl::StrFormat("X-%d", i + 1), PartyKind::OEM, country),
                 absl::StrFormat("erp-%s-%d", absl::AsciiStrToLower(country), i % 4 + 1)};
      (i < 4 ? us_exporters_ : tw_exporters_).push_back(exporters_.size());
      exporters_.push_back(std::move(x));
    }

    // Destination shares.
    double total = 0;
    for (const auto& d : destinations) total += d.weight;
    for (const auto& d : destinations) {
      const double share = total > 0 ? d.weight / total : 0;
      if (share >= kMinDestinationShare) shares_.emplace_back(d.iso, share);
    }
    double kept = 0;
    for (const auto& s : shares_) kept += s.second;
    for (auto& s : shares_) s.second /= kept;

    static const auto* kConsigneeKinds =
        new Table<PartyKind::Value>({{PartyKind::DATA_CENTER, 35},
                                     {PartyKind::CLOUD_PROVIDER, 15},
                                     {PartyKind::OEM, 15},
                                     {PartyKind::RESELLER, 15},
                                     {PartyKind::UNIVERSITY, 10},
                                     {PartyKind::GOVERNMENT, 2},
                                     {PartyKind::OTHER, 8}});
    std::vector<double> all_w;
    for (size_t d = 0; d < shares_.size(); ++d) {
      const auto& [iso, share] = shares_[d];
      const int64_t n = std::max<int64_t>(1, std::llround(opts_.num_consignees * share));
      std::vector<size_t> members;
      std::vector<size_t> large;
      for (int64_t k = 0; k < n; ++k) {
        Org c = MakePopulationOrg(rng, absl::StrFormat("C-%04d", consignees_.size() + 1),
                                  kConsigneeKinds->Sample(rng), iso);
        MaybeAddParent(rng, 0.3, &c);
        consignee_index_[c.id] = consignees_.size();
        members.push_back(consignees_.size());
        if (IsLargeBuyer(c.kind)) large.push_back(consignees_.size());
        consignees_.push_back(std::move(c));
      }
      consignees_by_dest_.push_back(std::move(members));
      large_by_dest_.push_back(std::move(large));
      all_w.push_back(share);
    }
    consignee_state_.resize(consignees_.size());
    dest_table_ = gen::WeightedTable(all_w);

    // Cloud providers and their datacenters.
    for (int p = 0; p < 6; ++p) {
      const std::string stem = MakeStem(rng);
      const std::string id = absl::StrCat("cloud-", absl::AsciiStrToLower(stem));
      for (const Region& r : kRegions) {
        if (!rng.Bernoulli(0.4)) continue;
        datacenters_.push_back({id, std::string(r.region), std::string(r.country),
                                absl::StrCat(absl::AsciiStrToUpper(stem.substr(0, 3)), "-",
                                             r.region, "-", rng.Between(1, 4))});
      }
    }
    if (datacenters_.empty()) datacenters_.push_back({"cloud-default", "us-east-1", "US", "DEF-1"});

    // Tenants (also the recipients of model transfers).
    static const auto* kTenantKinds = new Table<PartyKind::Value>({{PartyKind::OTHER, 70},
                                                                   {PartyKind::UNIVERSITY, 15},
                                                                   {PartyKind::CLOUD_PROVIDER, 10},
                                                                   {PartyKind::GOVERNMENT, 5}});
    for (int i = 0; i < opts_.num_tenants; ++i) {
      Org o = MakePopulationOrg(rng, absl::StrFormat("T-%04d", i + 1), kTenantKinds->Sample(rng),
                                TenantCountries().Sample(rng));
      MaybeAddParent(rng, 0.25, &o);
      tenants_.push_back(std::move(o));
    }
    tenant_state_.resize(tenants_.size());

    // AI labs and the models they release.
    static constexpr absl::string_view kLabCountries[] = {"US", "US", "US", "GB",
                                                          "FR", "CA", "JP", "KR"};
    for (size_t i = 0; i < std::size(kLabCountries); ++i) {
      labs_.push_back(MakePopulationOrg(rng, absl::StrFormat("L-%d", i + 1), PartyKind::OTHER,
                                        kLabCountries[i]));
    }
    static constexpr absl::string_view kFamilies[] = {"lm",   "coder", "vision",
                                                      "chat", "embed", "speech"};
    static constexpr int kSizes[] = {1, 3, 7, 8, 13, 34, 70, 405};
    for (int i = 0; i < 22; ++i) {
      BaseModel m;
      m.lab = rng.Below(labs_.size());
      m.published = i < 14;
      // Published: up to 5e25; unpublished: small (< 1e25).
      m.ops = m.published ? rng.LogUniform(1e22, 5e25) : rng.LogUniform(1e20, 5e24);
      m.id = absl::StrFormat("%s-%s-%db", absl::AsciiStrToLower(labs_[m.lab].name.substr(0, 4)),
                             kFamilies[rng.Below(std::size(kFamilies))],
                             kSizes[rng.Below(std::size(kSizes))]);
      m.id += absl::StrFormat("-r%d", i + 1);  // unique
      models_.push_back(std::move(m));
    }
  }

  // ---- shared helpers ---------------------------------------------------

  int64_t NextGapMs() {
    double gap_s;
    if (gap_scale_ > 0) {
      gap_s = gaps_s_[rng_.Below(gaps_s_.size())] * gap_scale_;
    } else {
      gap_s = rng_.Exponential(1.0 / opts_.events_per_second);
    }
    return std::llround(gap_s * 1000);
  }

  bool RestrictedAt(absl::string_view iso, int64_t t) const {
    return gen::IsRestrictedAt(iso, TimeOfMs(t));
  }

  // A restricted country by weight, skipping those not restricted at t (HK
  // before 2020-12-23).
  std::string PickRestricted(int64_t t) {
    static const auto* kRestricted =
        new Table<absl::string_view>({{"CN", 45}, {"RU", 20}, {"HK", 15}, {"MO", 10}, {"IR", 10}});
    for (;;) {
      const absl::string_view c = kRestricted->Sample(rng_);
      if (RestrictedAt(c, t)) return std::string(c);
    }
  }

  std::string PickOne(const std::vector<absl::string_view>& candidates) {
    return std::string(candidates[rng_.Below(candidates.size())]);
  }

  // A fresh party for one scenario instance: its own entity_id, so that no
  // stateful rule mixes it with baseline traffic or other scenarios.
  Org ScenarioOrg(absl::string_view country, PartyKind::Value kind, int64_t t) {
    Org o;
    o.id = Id("SC", ++scenario_party_n_, 6);
    o.kind = kind;
    o.country = std::string(country);
    o.hq_country = o.country;
    o.name = MakeOrgName(rng_, kind, country);
    o.incorporated_on = DateString(t, rng_.Between(5 * 365, 30 * 365));
    return o;
  }

  const Exporter& PickExporterFor(absl::string_view dest) {
    // A domestic sale is not an export.
    bool us = rng_.Bernoulli(0.55);
    if (dest == "US") us = false;
    if (dest == "TW") us = true;
    const auto& pool = us ? us_exporters_ : tw_exporters_;
    return exporters_[pool[rng_.Below(pool.size())]];
  }

  v1::TradeEvent* BeginTrade(int64_t t, GeneratedEvent* out) {
    out->topic = kTradeTopic;
    v1::TradeEvent* tr = out->event.mutable_trade();
    tr->set_event_id(Id("tr", ++trade_n_));
    SetTimestamp(t, tr->mutable_event_time());
    tr->set_shipment_id(Id("SHP", ++shipment_n_));
    tr->set_order_id(Id("PO", shipment_n_));
    return tr;
  }

  static void AddRoute(v1::TradeEvent* tr, absl::string_view country, RouteRole::Value role) {
    v1::RouteNode* n = tr->add_route();
    n->set_country(std::string(country));
    n->set_role(role);
  }

  // The common shape of a shipment: exporter -> consignee (also purchaser,
  // end user and payer), direct route, one item line.
  void FillShipment(const Org& exporter, absl::string_view source, const Org& c,
                    const gen::Chip& chip, int64_t qty, AuthorizationType::Value auth,
                    v1::TradeEvent* tr) {
    tr->set_source(std::string(source));
    FillParty(exporter, tr->mutable_exporter());
    FillShortParty(c, tr->mutable_purchaser());
    FillParty(c, tr->mutable_ultimate_consignee());
    FillShortParty(c, tr->mutable_end_user());
    tr->set_destination_country(c.country);
    AddRoute(tr, exporter.country, RouteRole::ORIGIN);
    AddRoute(tr, c.country, RouteRole::FINAL);
    v1::Item* item = tr->add_items();
    item->set_chip_model(std::string(chip.model));
    item->set_quantity(qty);
    // Systems cost more than the accelerators alone.
    const double value =
        std::round(qty * chip.unit_price_usd * rng_.Uniform(1.15, 1.45) / 100) * 100;
    tr->set_value_usd(value);
    tr->mutable_authorization()->set_type(auth);
    if (auth == AuthorizationType::LICENSE) {
      tr->mutable_authorization()->set_id(absl::StrFormat("D%07d", rng_.Below(10'000'000)));
    }
    v1::Payment* pay = tr->mutable_payment();
    pay->set_payer_name(c.name);
    pay->set_payer_country(c.country);
    pay->set_amount_usd(value);
    tr->set_declared_purpose(DeclaredPurpose::PRODUCTION);
  }

  void AddSerials(v1::Item* item) {
    for (int64_t i = 0; i < item->quantity(); ++i) item->add_serials(Id("SN", ++serial_n_, 10));
  }

  static double ControlledTpp(const v1::TradeEvent& tr) {
    double tpp = 0;
    for (const v1::Item& item : tr.items()) {
      const gen::Chip* chip = gen::FindChip(item.chip_model());
      if (chip != nullptr && chip->controlled)
        tpp += chip->tpp * static_cast<double>(item.quantity());
    }
    return tpp;
  }

  // Books every emitted shipment: per consignee (the budgets that keep
  // baseline clean) and per country. aidr-2025's Tier 2 caps (790,000,000 TPP
  // from 2025-01-15 to 2027-12-31) are small next to real volumes, so traffic
  // crosses them; the crossing shipment (80% and 100%) gets the label and, if
  // it was baseline, the scenario "country-quota/<ISO>".
  void AccountTrade(int64_t t, GeneratedEvent* out) {
    const v1::TradeEvent& tr = out->event.trade();
    const double tpp = ControlledTpp(tr);
    if (tpp <= 0) return;
    const AuthorizationType::Value auth = tr.authorization().type();
    const bool quota_exempt = auth == AuthorizationType::LPP || auth == AuthorizationType::UVEU ||
                              auth == AuthorizationType::NVEU;
    if (!quota_exempt && InCountryQuota(tr.destination_country(), t)) {
      CountryQuota& q = country_quota_[tr.destination_country()];
      const double before = q.tpp;
      q.tpp += tpp;
      const bool crosses = (before < 0.8 * kCountryCapTpp && q.tpp >= 0.8 * kCountryCapTpp) ||
                           (before < kCountryCapTpp && q.tpp >= kCountryCapTpp);
      if (crosses) {
        out->expected_rules.push_back("COUNTRY_QUOTA@aidr-2025");
        if (out->scenario.empty())
          out->scenario = absl::StrCat("country-quota/", tr.destination_country());
      }
    }
    const auto it = consignee_index_.find(tr.ultimate_consignee().entity_id());
    if (it == consignee_index_.end()) return;
    ConsigneeState& st = consignee_state_[it->second];
    if (tpp < kStructuringShipmentTpp) {
      st.small.emplace_back(t, tpp);
      st.small_sum += tpp;
    }
    if (auth == AuthorizationType::LPP) {
      const int64_t year = CivilYearOf(t);
      if (year != st.lpp_year) {
        st.lpp_year = year;
        st.lpp_tpp = 0;
      }
      st.lpp_tpp += tpp;
    }
  }

  // Sub-threshold TPP sent to consignee `ci` in the trailing window.
  double RecentSmallTpp(size_t ci, int64_t t) {
    ConsigneeState& st = consignee_state_[ci];
    while (!st.small.empty() && st.small.front().first <= t - kBaselineStructuringWindowMs) {
      st.small_sum -= st.small.front().second;
      st.small.pop_front();
    }
    if (st.small.empty()) st.small_sum = 0;  // no drift from float sums
    return st.small_sum;
  }

  bool HasStructuringRoom(size_t ci, double tpp, int64_t t) {
    return tpp >= kStructuringShipmentTpp ||
           RecentSmallTpp(ci, t) + tpp <= kBaselineStructuringBudget;
  }

  size_t PickConsigneeIn(size_t dest) {
    const std::vector<size_t>& members = consignees_by_dest_[dest];
    return members[rng_.Below(members.size())];
  }

  // ---- baseline ---------------------------------------------------------

  int64_t LargeLot(const gen::Chip& chip) {
    const auto servers =
        static_cast<int64_t>(std::ceil(kStructuringShipmentTpp * 1.02 / (8 * chip.tpp)));
    return 8 * servers * LargeLotMultiples().Sample(rng_);
  }

  void BaselineTrade(int64_t t, GeneratedEvent* out) {
    const gen::Chip& chip = *gen::FindChip(TradeChips().Sample(rng_));
    const size_t dest = dest_table_.Sample(rng_);
    size_t ci = PickConsigneeIn(dest);
    int64_t qty = 8 * SmallServerCounts().Sample(rng_);
    if (chip.controlled && IsLargeBuyer(consignees_[ci].kind)) {
      qty = LargeLot(chip);
    } else if (chip.controlled && !HasStructuringRoom(ci, chip.tpp * static_cast<double>(qty), t)) {
      // SHIPMENT_STRUCTURING: this small buyer's recent small orders leave
      // no room, so the sale goes to a large buyer of the country instead
      // (or becomes a bulk order). High sustained rates shift the mix
      // towards bulk orders this way.
      const std::vector<size_t>& large = large_by_dest_[dest];
      if (!large.empty()) ci = large[rng_.Below(large.size())];
      qty = LargeLot(chip);
    }
    AuthorizationType::Value auth = AuthorizationType::NLR;
    if (chip.controlled) {
      const double tpp = chip.tpp * static_cast<double>(qty);
      const ConsigneeState& st = consignee_state_[ci];
      const double lpp_used = st.lpp_year == CivilYearOf(t) ? st.lpp_tpp : 0;
      if (gen::IsTier2(consignees_[ci].country) && rng_.Bernoulli(kLppShareOfTier2) &&
          lpp_used + tpp <= kBaselineLppBudget) {
        // LPP: rare, Tier 2 only, far below the annual consignee cap.
        auth = AuthorizationType::LPP;
      } else {
        auth = rng_.Bernoulli(0.6) ? AuthorizationType::NLR : AuthorizationType::LICENSE;
      }
    }
    const Org& c = consignees_[ci];
    const Exporter& x = PickExporterFor(c.country);
    v1::TradeEvent* tr = BeginTrade(t, out);
    FillShipment(x.org, x.source, c, chip, qty, auth, tr);
    // Occasionally via a non-hub transit country, sometimes with a forwarder.
    if (rng_.Bernoulli(0.15)) {
      std::vector<absl::string_view> via;
      for (absl::string_view v : kNonHubTransit) {
        if (v != x.org.country && v != c.country) via.push_back(v);
      }
      const absl::string_view transit = rng_.Pick(via);
      tr->clear_route();
      AddRoute(tr, x.org.country, RouteRole::ORIGIN);
      AddRoute(tr, transit, RouteRole::TRANSIT);
      AddRoute(tr, c.country, RouteRole::FINAL);
      if (rng_.Bernoulli(0.5)) {
        v1::Party* ff = tr->add_intermediate_consignees();
        ff->set_name(absl::StrCat(MakeStem(rng_), " Logistics ", LegalSuffix(transit)));
        ff->set_country(std::string(transit));
        ff->set_kind(PartyKind::FREIGHT_FORWARDER);
      }
    }
    if (qty <= 32 && rng_.Bernoulli(0.3)) AddSerials(tr->mutable_items(0));
    if (c.kind == PartyKind::UNIVERSITY) {
      tr->set_declared_purpose(DeclaredPurpose::RESEARCH);
    } else if (qty <= 16 && rng_.Bernoulli(0.1)) {
      tr->set_declared_purpose(DeclaredPurpose::TECHNICAL_EVALUATION);
    }
    AccountTrade(t, out);
  }

  v1::CloudUsageEvent* BeginCloud(int64_t t, const Datacenter& dc, GeneratedEvent* out) {
    out->topic = kCloudUsageTopic;
    v1::CloudUsageEvent* cu = out->event.mutable_cloud_usage();
    cu->set_event_id(Id("cu", ++cloud_n_));
    SetTimestamp(t, cu->mutable_event_time());
    cu->set_source("billing-export");
    cu->set_provider_id(dc.provider_id);
    cu->set_region(dc.region);
    cu->set_datacenter_country(dc.country);
    cu->set_site_id(dc.site_id);
    cu->set_job_id(Id("job", ++job_n_));
    return cu;
  }

  // Fills accelerator, count and period from one Alibaba task shape; returns
  // the GPU-seconds used.
  double FillJobShape(int64_t t, const gen::Chip& chip, v1::CloudUsageEvent* cu) {
    const gen::JobShape& job = jobs_[rng_.Below(jobs_.size())];
    // Billing records of a minute to a week.
    const double duration_s = std::clamp(job.duration_s, 60.0, 7 * 86400.0);
    const double share = job.gpus == 1 ? job.gpu_milli / 1000.0 : 1.0;
    cu->set_accelerator_model(std::string(chip.model));
    cu->set_accelerator_count(job.gpus);
    SetTimestamp(t - std::llround(duration_s * 1000), cu->mutable_period_start());
    SetTimestamp(t, cu->mutable_period_end());
    const double gpu_hours = job.gpus * duration_s / 3600 * share;
    // Fractional GPU shares must be given; whole GPUs half the time leave it
    // to the processor's count x period.
    if (share < 1.0 || rng_.Bernoulli(0.5)) cu->set_gpu_hours(gpu_hours);
    return gpu_hours * 3600;
  }

  void BaselineCloud(int64_t t, GeneratedEvent* out) {
    const Datacenter& dc = rng_.Pick(datacenters_);
    const size_t ti = rng_.Below(tenants_.size());
    const Org& tenant = tenants_[ti];
    const gen::Chip& chip = *gen::FindChip(CloudChips().Sample(rng_));
    v1::CloudUsageEvent* cu = BeginCloud(t, dc, out);
    FillParty(tenant, cu->mutable_tenant());
    const double gpu_seconds = FillJobShape(t, chip, cu);
    static const auto* kWorkloads = new Table<Workload::Value>({{Workload::TRAINING, 30},
                                                                {Workload::FINE_TUNING, 15},
                                                                {Workload::INFERENCE, 45},
                                                                {Workload::OTHER, 10}});
    const Workload::Value w = kWorkloads->Sample(rng_);
    cu->set_workload(w);
    if (w == Workload::TRAINING || w == Workload::FINE_TUNING) {
      // Upper bound (utilisation 1): a new model id long before any
      // cumulative-training threshold.
      const double ops = gpu_seconds * gen::PeakOpsPerSecond(chip);
      TenantState& st = tenant_state_[ti];
      if (st.training_ops + ops > kBaselineTrainingOps) {
        ++st.generation;
        st.training_ops = 0;
      }
      st.training_ops += ops;
      cu->set_model_id(
          absl::StrFormat("%s-model-%d", absl::AsciiStrToLower(tenant.id), st.generation));
    } else if (w == Workload::INFERENCE) {
      cu->set_model_id(rng_.Pick(models_).id);
    }
  }

  v1::ModelTransferEvent* BeginModel(int64_t t, GeneratedEvent* out) {
    out->topic = kModelTransferTopic;
    v1::ModelTransferEvent* mt = out->event.mutable_model_transfer();
    mt->set_event_id(Id("mt", ++model_n_));
    SetTimestamp(t, mt->mutable_event_time());
    mt->set_source("model-hub");
    mt->set_transfer_id(Id("XFER", model_n_));
    return mt;
  }

  TransferMechanism::Value PickMechanism() {
    static const auto* kMechanisms =
        new Table<TransferMechanism::Value>({{TransferMechanism::DOWNLOAD, 50},
                                             {TransferMechanism::CLOUD_COPY, 25},
                                             {TransferMechanism::API_ACCESS, 10},
                                             {TransferMechanism::PHYSICAL, 5},
                                             {TransferMechanism::OTHER, 10}});
    return kMechanisms->Sample(rng_);
  }

  void SetRecipient(const Org& to, v1::ModelTransferEvent* mt) {
    mt->set_destination_country(to.country);
    FillParty(to, mt->mutable_recipient());
  }

  void BaselineModel(int64_t t, GeneratedEvent* out) {
    v1::ModelTransferEvent* mt = BeginModel(t, out);
    const Org& to = rng_.Pick(tenants_);
    if (rng_.Bernoulli(0.7)) {
      const BaseModel& m = rng_.Pick(models_);
      const Org& lab = labs_[m.lab];
      mt->set_model_id(m.id);
      mt->set_training_ops(m.ops);
      mt->set_weights_published(m.published);
      FillParty(lab, mt->mutable_source_org());
      mt->set_source_country(lab.country);
    } else {
      // A tenant's fine-tune of a catalog model, handed to another tenant.
      const BaseModel& base = rng_.Pick(models_);
      const Org& from = rng_.Pick(tenants_);
      const double own = rng_.LogUniform(1e20, 1e23);
      mt->set_model_id(Id("ft", ++finetune_n_, 6));
      mt->set_base_model_id(base.id);
      mt->set_training_ops(own);
      mt->set_weights_published(base.ops + own >= kBaselineModelOps);
      FillParty(from, mt->mutable_source_org());
      mt->set_source_country(from.country);
    }
    SetRecipient(to, mt);
    mt->set_mechanism(PickMechanism());
    mt->mutable_authorization()->set_type(AuthorizationType::NONE);
  }

  // ---- scenarios --------------------------------------------------------

  using Starter = void (Impl::*)(const std::string& tag);
  struct ScenarioKind {
    absl::string_view name;
    double weight;
    Starter start;
  };

  static const std::vector<ScenarioKind>& Scenarios(Stream s) {
    static const auto* kTradeScenarios =
        new std::vector<ScenarioKind>{{"embargoed-destination", 28, &Impl::StartEmbargo},
                                      {"ascend-shipment", 14, &Impl::StartAscendShipment},
                                      {"lpp-quota-burst", 8, &Impl::StartLppBurst},
                                      {"restricted-parent", 10, &Impl::StartRestrictedParent},
                                      {"transshipment-hk-payer", 10, &Impl::StartTransshipment},
                                      {"structuring", 8, &Impl::StartStructuring},
                                      {"new-entity-velocity", 7, &Impl::StartNewEntity},
                                      {"site-power", 7, &Impl::StartSitePower},
                                      {"serial-diversion", 8, &Impl::StartSerialDiversion},
                                      {"entity-list-front-company", 6, &Impl::StartFrontCompany},
                                      {"composite-diversion", 5, &Impl::StartCompositeDiversion}};
    static const auto* kCloudScenarios =
        new std::vector<ScenarioKind>{{"ascend-cloud", 60, &Impl::StartAscendCloud},
                                      {"restricted-training", 40, &Impl::StartRestrictedTraining}};
    static const auto* kModelScenarios =
        new std::vector<ScenarioKind>{{"frontier-weights", 60, &Impl::StartFrontierWeights},
                                      {"finetune-accumulation", 40, &Impl::StartFinetune}};
    switch (s) {
      case kTrade:
        return *kTradeScenarios;
      case kCloud:
        return *kCloudScenarios;
      default:
        return *kModelScenarios;
    }
  }

  // Starts a scenario of stream `s`; false when none is enabled.
  bool StartScenario(Stream s) {
    const std::vector<ScenarioKind>& kinds = Scenarios(s);
    std::vector<double> w;
    double total = 0;
    for (const ScenarioKind& k : kinds) {
      const bool off =
          (k.start == &Impl::StartFrontCompany && entity_list_names_.empty()) ||
          (!opts_.scenarios.empty() && std::find(opts_.scenarios.begin(), opts_.scenarios.end(),
                                                 k.name) == opts_.scenarios.end());
      w.push_back(off ? 0 : k.weight);
      total += w.back();
    }
    if (total <= 0) return false;
    const ScenarioKind& k = kinds[rng_.Weighted(w)];
    (this->*k.start)(absl::StrCat(k.name, "/", ++scenario_n_));
    return true;
  }

 public:
  static std::vector<std::string> AllScenarioNames() {
    std::vector<std::string> names;
    for (Stream s : {kTrade, kCloud, kModel}) {
      for (const ScenarioKind& k : Scenarios(s)) names.emplace_back(k.name);
    }
    return names;
  }

 private:
  const gen::Chip& ChipNamed(absl::string_view model) { return *gen::FindChip(model); }

  const gen::Chip& ControlledNvidia() {
    static const auto* kChips =
        new Table<absl::string_view>({{"H100-SXM", 50}, {"H200", 30}, {"B200", 20}});
    return ChipNamed(kChips->Sample(rng_));
  }

  // H100s (or H200s) straight to a restricted country without a licence.
  // The consignee is headquartered there too, so the HQ test fires as well.
  void StartEmbargo(const std::string& tag) {
    pending_[kTrade].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const std::string dest = PickRestricted(t);
      const Org c =
          ScenarioOrg(dest, rng_.Bernoulli(0.5) ? PartyKind::DATA_CENTER : PartyKind::RESELLER, t);
      const gen::Chip& chip = ChipNamed(rng_.Bernoulli(0.7) ? "H100-SXM" : "H200");
      const Exporter& x = PickExporterFor(dest);
      v1::TradeEvent* tr = BeginTrade(t, out);
      FillShipment(x.org, x.source, c, chip, 8 * rng_.Between(1, 32),
                   rng_.Bernoulli(0.5) ? AuthorizationType::NONE : AuthorizationType::NLR, tr);
      out->expected_rules = {"EMBARGOED_DESTINATION", "HQ_IN_RESTRICTED_COUNTRY"};
      out->scenario = tag;
      AccountTrade(t, out);
    });
  }

  // Huawei Ascend sold on by a Singapore / Malaysia reseller (GP10).
  void StartAscendShipment(const std::string& tag) {
    pending_[kTrade].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const gen::Chip& chip = ChipNamed(rng_.Bernoulli(0.5) ? "ASCEND-910B" : "ASCEND-910C");
      const int64_t qty = 8 * rng_.Between(4, 32);
      const absl::string_view origin = rng_.Bernoulli(0.5) ? "SG" : "MY";
      std::vector<absl::string_view> dests = {"AE", "SA", "TH", "ID", "IN",
                                              "BR", "TR", "VN", "MX", "EG"};
      const std::string dest = PickOne(dests);
      Org seller = ScenarioOrg(origin, PartyKind::RESELLER, t);
      const Org c = ScenarioOrg(dest, PartyKind::DATA_CENTER, t);
      v1::TradeEvent* tr = BeginTrade(t, out);
      FillShipment(seller, absl::StrCat("erp-", absl::AsciiStrToLower(origin), "-reseller"), c,
                   chip, qty,
                   rng_.Bernoulli(0.5) ? AuthorizationType::NONE : AuthorizationType::NLR, tr);
      out->expected_rules = {"PRC_ADVANCED_IC"};
      out->scenario = tag;
      AccountTrade(t, out);
    });
  }

  // Seven LPP shipments of 256 H100 (4,052,992 TPP each) to one Tier 2
  // consignee: the 6th crosses 80% and the 7th 100% of the 26,900,000 annual
  // cap, if they fall in one calendar year (labels follow the actual times).
  // Each shipment is above the structuring size, so `current` stays quiet.
  void StartLppBurst(const std::string& tag) {
    struct State {
      Org consignee;
      const Exporter* exporter = nullptr;
      int64_t year = 0;
      double tpp = 0;
      bool crossed_80 = false;
      bool crossed_100 = false;
    };
    auto st = std::make_shared<State>();
    static constexpr absl::string_view kTier2[] = {"MY", "IN", "AE", "SA", "TH",
                                                   "VN", "MX", "BR", "ID", "PH"};
    const absl::string_view country = kTier2[rng_.Below(std::size(kTier2))];
    st->consignee = ScenarioOrg(country, PartyKind::DATA_CENTER, now_ms_);
    st->exporter = &PickExporterFor(country);
    for (int i = 0; i < 7; ++i) {
      pending_[kTrade].push_back([this, tag, st](int64_t t, GeneratedEvent* out) {
        const gen::Chip& chip = ChipNamed("H100-SXM");
        v1::TradeEvent* tr = BeginTrade(t, out);
        FillShipment(st->exporter->org, st->exporter->source, st->consignee, chip, 256,
                     AuthorizationType::LPP, tr);
        const int64_t year = CivilYearOf(t);
        if (year != st->year) *st = State{st->consignee, st->exporter, year};
        st->tpp += ControlledTpp(*tr);
        bool fires = false;
        if (!st->crossed_80 && st->tpp >= 0.8 * kLppCapTpp) fires = st->crossed_80 = true;
        if (!st->crossed_100 && st->tpp >= kLppCapTpp) fires = st->crossed_100 = true;
        if (fires) out->expected_rules = {"CONSIGNEE_LPP_QUOTA@aidr-2025"};
        out->scenario = tag;
        AccountTrade(t, out);
      });
    }
  }

  // One NLR shipment of `qty` x `chip` to `c` from an exporter that serves
  // `dest`, labelled `rules`.
  void ShipTo(int64_t t, GeneratedEvent* out, const std::string& tag, const gen::Chip& chip,
              int64_t qty, const std::string& dest, const Org& c, std::vector<std::string> rules) {
    const Exporter& x = PickExporterFor(dest);
    v1::TradeEvent* tr = BeginTrade(t, out);
    FillShipment(x.org, x.source, c, chip, qty, AuthorizationType::NLR, tr);
    out->expected_rules = std::move(rules);
    out->scenario = tag;
    AccountTrade(t, out);
  }

  // Reroutes `tr` through a Singapore forwarder (TRANSSHIPMENT) and has it
  // paid from Hong Kong: TRANSSHIPMENT_ROUTE and THIRD_COUNTRY_PAYMENT.
  void ViaSingaporePaidFromHongKong(const std::string& origin, const std::string& dest,
                                    const Org& forwarder, v1::TradeEvent* tr) {
    tr->clear_route();
    AddRoute(tr, origin, RouteRole::ORIGIN);
    AddRoute(tr, "SG", RouteRole::TRANSSHIPMENT);
    AddRoute(tr, dest, RouteRole::FINAL);
    FillParty(forwarder, tr->add_intermediate_consignees());
    tr->mutable_payment()->set_payer_name(MakeOrgName(rng_, PartyKind::TRADING_COMPANY, "HK"));
    tr->mutable_payment()->set_payer_country("HK");
  }

  // A local data center owned by a parent headquartered in a restricted
  // country, shipped to without a licence.
  void StartRestrictedParent(const std::string& tag) {
    pending_[kTrade].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const gen::Chip& chip = ControlledNvidia();
      const int64_t qty = 8 * rng_.Between(2, 16);
      const std::string dest = PickOne({"SG", "MY", "AE", "TH", "VN", "ID", "KR", "JP", "DE"});
      Org c = ScenarioOrg(dest, PartyKind::DATA_CENTER, t);
      const std::string parent_hq = PickRestricted(t);
      c.parent_id = Id("SP", scenario_party_n_, 6);
      c.parent_name = MakeOrgName(rng_, PartyKind::OTHER, parent_hq);
      c.parent_hq_country = parent_hq;
      ShipTo(t, out, tag, chip, qty, dest, c, {"HQ_IN_RESTRICTED_COUNTRY"});
    });
  }

  // A Sophgo-style front company: an organisation on the Entity List buys
  // controlled chips through a company in a non-restricted hub, either
  // under its own name spelled differently (case, punctuation, legal form)
  // or through a freshly named subsidiary that declares it as ultimate
  // parent. The parties' countries are all non-restricted, so screening is
  // the only rule that can see it.
  void StartFrontCompany(const std::string& tag) {
    pending_[kTrade].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const gen::Chip& chip = ControlledNvidia();
      const int64_t qty = 8 * rng_.Between(2, 16);
      const std::string dest = PickOne({"SG", "MY", "TH", "AE", "VN"});
      Org c = ScenarioOrg(dest, PartyKind::TRADING_COMPANY, t);
      const std::string listed =
          RespellOrgName(entity_list_names_[rng_.Below(entity_list_names_.size())]);
      if (rng_.Bernoulli(0.5)) {
        c.name = listed;
      } else {
        c.parent_id = Id("SP", scenario_party_n_, 6);
        c.parent_name = listed;
        c.parent_hq_country = dest;
      }
      ShipTo(t, out, tag, chip, qty, dest, c, {"SCREENING_MATCH"});
    });
  }

  // A listed name as a front company writes it: one of upper case,
  // punctuation dropped, or the legal form spelled out.
  std::string RespellOrgName(const std::string& name) {
    switch (rng_.Below(3)) {
      case 0:
        return absl::AsciiStrToUpper(name);
      case 1: {
        std::string out;
        for (char ch : name) {
          if (ch != '.' && ch != ',') out.push_back(ch);
        }
        return out;
      }
      default:
        return absl::StrReplaceAll(
            name,
            {{"Co., Ltd.", "Company Limited"}, {"Ltd.", "Limited"}, {"Inc.", "Incorporated"}});
    }
  }

  // US/TW -> SG (transshipment, a freight forwarder) -> a trading company,
  // paid from Hong Kong.
  void StartTransshipment(const std::string& tag) {
    pending_[kTrade].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const gen::Chip& chip = ControlledNvidia();
      const int64_t qty = 8 * rng_.Between(2, 16);
      const std::string dest = PickOne({"MY", "TH", "VN", "ID", "PH", "IN"});
      const Org c = ScenarioOrg(dest, PartyKind::TRADING_COMPANY, t);
      const Org ff = ScenarioOrg("SG", PartyKind::FREIGHT_FORWARDER, t);
      const Exporter& x = PickExporterFor(dest);
      v1::TradeEvent* tr = BeginTrade(t, out);
      FillShipment(x.org, x.source, c, chip, qty, AuthorizationType::NLR, tr);
      ViaSingaporePaidFromHongKong(x.org.country, dest, ff, tr);
      out->expected_rules = {"TRANSSHIPMENT_ROUTE", "THIRD_COUNTRY_PAYMENT"};
      out->scenario = tag;
      AccountTrade(t, out);
    });
  }

  // Several red flags on one young consignee (COMPOSITE_RISK): first a
  // small shipment through a Singapore forwarder paid from Hong Kong
  // (TRANSSHIPMENT_ROUTE, THIRD_COUNTRY_PAYMENT), later 1,024 H100 shipped
  // direct (NEW_ENTITY_VELOCITY while it is under 24 months old). The second
  // makes three distinct rules: COMPOSITE_RISK, if within 180 days.
  void StartCompositeDiversion(const std::string& tag) {
    struct State {
      Org consignee;
      const Exporter* exporter = nullptr;
      int64_t first_ms = 0;
    };
    auto st = std::make_shared<State>();
    const std::string dest = PickOne({"MY", "TH", "VN", "ID", "PH", "IN"});
    st->consignee = ScenarioOrg(dest, PartyKind::TRADING_COMPANY, now_ms_);
    st->consignee.incorporated_on = DateString(now_ms_, rng_.Between(90, 300));
    st->exporter = &PickExporterFor(dest);
    pending_[kTrade].push_back([this, tag, st, dest](int64_t t, GeneratedEvent* out) {
      const Org ff = ScenarioOrg("SG", PartyKind::FREIGHT_FORWARDER, t);
      v1::TradeEvent* tr = BeginTrade(t, out);
      FillShipment(st->exporter->org, st->exporter->source, st->consignee, ChipNamed("H100-SXM"),
                   8 * rng_.Between(2, 16), AuthorizationType::NLR, tr);
      ViaSingaporePaidFromHongKong(st->exporter->org.country, dest, ff, tr);
      out->expected_rules = {"TRANSSHIPMENT_ROUTE", "THIRD_COUNTRY_PAYMENT"};
      out->scenario = tag;
      st->first_ms = t;
      AccountTrade(t, out);
    });
    pending_[kTrade].push_back([this, tag, st](int64_t t, GeneratedEvent* out) {
      v1::TradeEvent* tr = BeginTrade(t, out);
      FillShipment(st->exporter->org, st->exporter->source, st->consignee, ChipNamed("H100-SXM"),
                   1024, AuthorizationType::NLR, tr);
      out->scenario = tag;
      if (AgeInMonths(st->consignee.incorporated_on, t) < 24) {
        out->expected_rules = {"NEW_ENTITY_VELOCITY"};
        if (t - st->first_ms < 180 * kDayMs) out->expected_rules.push_back("COMPOSITE_RISK");
      }
      AccountTrade(t, out);
    });
  }

  // Whole civil months from `date` (YYYY-MM-DD) to `ms`, as RULES.md's
  // "incorporated < 24 months before the event" counts them.
  static int64_t AgeInMonths(const std::string& date, int64_t ms) {
    absl::CivilDay inc;
    if (!absl::ParseCivilTime(date, &inc)) return 1 << 30;
    const absl::CivilDay now = absl::ToCivilDay(TimeOfMs(ms), absl::UTCTimeZone());
    int64_t months = absl::CivilMonth(now) - absl::CivilMonth(inc);
    if (now.day() < inc.day()) --months;
    return months;
  }

  // Three shipments of 158 H100 (2,501,456 TPP, each under 2,690,000) to one
  // consignee; the third brings the 30-day total to 7.5 M >= 6,725,000.
  void StartStructuring(const std::string& tag) {
    struct State {
      Org consignee;
      const Exporter* exporter = nullptr;
      std::vector<std::pair<int64_t, double>> shipments;
      bool fired = false;
    };
    auto st = std::make_shared<State>();
    const std::string dest = PickOne({"MY", "TH", "VN", "ID", "IN", "AE", "MX", "PH"});
    st->consignee = ScenarioOrg(dest, PartyKind::DATA_CENTER, now_ms_);
    st->exporter = &PickExporterFor(dest);
    for (int i = 0; i < 3; ++i) {
      pending_[kTrade].push_back([this, tag, st](int64_t t, GeneratedEvent* out) {
        v1::TradeEvent* tr = BeginTrade(t, out);
        FillShipment(st->exporter->org, st->exporter->source, st->consignee, ChipNamed("H100-SXM"),
                     158, AuthorizationType::NLR, tr);
        st->shipments.emplace_back(t, ControlledTpp(*tr));
        int n = 0;
        double sum = 0;
        for (const auto& [ts, tpp] : st->shipments) {
          if (ts > t - kStructuringWindowMs) {
            ++n;
            sum += tpp;
          }
        }
        if (!st->fired && n >= 3 && sum >= kStructuringTotalTpp) {
          st->fired = true;
          out->expected_rules = {"SHIPMENT_STRUCTURING"};
        }
        out->scenario = tag;
        AccountTrade(t, out);
      });
    }
  }

  // A consignee incorporated 3 to 18 months ago receives 1,024 H100
  // (16,211,968 TPP > 15,832,000) in one shipment.
  void StartNewEntity(const std::string& tag) {
    pending_[kTrade].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const gen::Chip& chip = ChipNamed("H100-SXM");
      const std::string dest =
          PickOne({"MY", "TH", "VN", "ID", "IN", "AE", "SA", "MX", "BR", "PH"});
      Org c = ScenarioOrg(dest, PartyKind::DATA_CENTER, t);
      c.incorporated_on = DateString(t, rng_.Between(90, 540));
      const Exporter& x = PickExporterFor(dest);
      v1::TradeEvent* tr = BeginTrade(t, out);
      FillShipment(x.org, x.source, c, chip, 1024, AuthorizationType::NLR, tr);
      out->expected_rules = {"NEW_ENTITY_VELOCITY"};
      out->scenario = tag;
      AccountTrade(t, out);
    });
  }

  // 512 H100 (512 x 700 W x 1.5 x 1.3 = 0.70 MW) to a site declared at
  // 0.2-0.5 MW.
  void StartSitePower(const std::string& tag) {
    pending_[kTrade].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const gen::Chip& chip = ChipNamed("H100-SXM");
      const std::string dest = PickOne({"MY", "TH", "VN", "IN", "AE", "MX", "US", "JP", "DE"});
      const Org c = ScenarioOrg(dest, PartyKind::DATA_CENTER, t);
      const Exporter& x = PickExporterFor(dest);
      v1::TradeEvent* tr = BeginTrade(t, out);
      FillShipment(x.org, x.source, c, chip, 512, AuthorizationType::NLR, tr);
      tr->mutable_site()->set_site_id(Id("SITE", ++site_n_, 6));
      tr->mutable_site()->set_declared_power_mw(0.05 * rng_.Between(4, 10));
      out->expected_rules = {"SITE_POWER_IMPLAUSIBLE"};
      out->scenario = tag;
      AccountTrade(t, out);
    });
  }

  // 8 H100 with serials shipped to country A (clean); later the same serials
  // show up in a cloud usage record in country B != A.
  void StartSerialDiversion(const std::string& tag) {
    pending_[kTrade].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const gen::Chip& chip = ChipNamed("H100-SXM");
      const std::string dest = PickOne({"SG", "JP", "DE", "AE", "IN", "MY", "US"});
      const Org c = ScenarioOrg(dest, PartyKind::DATA_CENTER, t);
      const Exporter& x = PickExporterFor(dest);
      v1::TradeEvent* tr = BeginTrade(t, out);
      FillShipment(x.org, x.source, c, chip, 8, AuthorizationType::NLR, tr);
      AddSerials(tr->mutable_items(0));
      std::vector<std::string> serials(tr->items(0).serials().begin(),
                                       tr->items(0).serials().end());
      out->scenario = tag;
      AccountTrade(t, out);
      pending_[kCloud].push_back([this, tag, dest, serials](int64_t t2, GeneratedEvent* out2) {
        std::vector<const Datacenter*> elsewhere;
        for (const Datacenter& dc : datacenters_) {
          if (dc.country != dest) elsewhere.push_back(&dc);
        }
        const Datacenter& dc = elsewhere.empty() ? datacenters_[0] : *rng_.Pick(elsewhere);
        v1::CloudUsageEvent* cu = BeginCloud(t2, dc, out2);
        FillParty(rng_.Pick(tenants_), cu->mutable_tenant());
        cu->set_accelerator_model("H100-SXM");
        cu->set_accelerator_count(static_cast<int64_t>(serials.size()));
        for (const std::string& s : serials) cu->add_accelerator_serials(s);
        SetTimestamp(t2 - 3'600'000, cu->mutable_period_start());
        SetTimestamp(t2, cu->mutable_period_end());
        cu->set_workload(Workload::INFERENCE);
        // Only a mismatch when the datacenter really is elsewhere.
        if (dc.country != dest) out2->expected_rules = {"SERIAL_LOCATION_MISMATCH"};
        out2->scenario = tag;
      });
    });
  }

  // A clean tenant running inference on Huawei Ascend in some cloud.
  void StartAscendCloud(const std::string& tag) {
    pending_[kCloud].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const Datacenter& dc = rng_.Pick(datacenters_);
      const Org tenant = ScenarioOrg(TenantCountries().Sample(rng_), PartyKind::OTHER, t);
      v1::CloudUsageEvent* cu = BeginCloud(t, dc, out);
      FillParty(tenant, cu->mutable_tenant());
      FillJobShape(t, ChipNamed(rng_.Bernoulli(0.7) ? "ASCEND-910C" : "ASCEND-910B"), cu);
      cu->set_workload(Workload::INFERENCE);
      cu->set_model_id(rng_.Pick(models_).id);
      out->expected_rules = {"PRC_ADVANCED_IC"};
      out->scenario = tag;
    });
  }

  // A subsidiary of a restricted-country parent trains on 4,096 H100 for two
  // weeks; measured 1.5e24 ops >= 1e24.
  void StartRestrictedTraining(const std::string& tag) {
    pending_[kCloud].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      static constexpr absl::string_view kCountries[] = {"SG", "MY", "AE", "TH"};
      Org tenant = ScenarioOrg(kCountries[rng_.Below(std::size(kCountries))], PartyKind::OTHER, t);
      const std::string parent_hq = PickRestricted(t);
      tenant.parent_id = Id("SP", scenario_party_n_, 6);
      tenant.parent_name = MakeOrgName(rng_, PartyKind::OTHER, parent_hq);
      tenant.parent_hq_country = parent_hq;
      const Datacenter& dc = rng_.Pick(datacenters_);
      v1::CloudUsageEvent* cu = BeginCloud(t, dc, out);
      FillParty(tenant, cu->mutable_tenant());
      cu->set_accelerator_model("H100-SXM");
      cu->set_accelerator_count(4096);
      SetTimestamp(t - 14 * kDayMs, cu->mutable_period_start());
      SetTimestamp(t, cu->mutable_period_end());
      cu->set_measured_ops(1.5e24);
      cu->set_workload(Workload::TRAINING);
      cu->set_model_id(Id("sc-model", scenario_n_, 6));
      out->expected_rules = {"RESTRICTED_TRAINING_COMPUTE"};
      out->scenario = tag;
    });
  }

  Org RestrictedRecipient(int64_t t) {
    return ScenarioOrg(PickRestricted(t),
                       rng_.Bernoulli(0.5) ? PartyKind::CLOUD_PROVIDER : PartyKind::OTHER, t);
  }

  // Unpublished frontier weights (>= 1e26 ops) to a restricted country.
  void StartFrontierWeights(const std::string& tag) {
    pending_[kModel].push_back([this, tag](int64_t t, GeneratedEvent* out) {
      const Org& lab = labs_[rng_.Below(3)];  // the US labs
      v1::ModelTransferEvent* mt = BeginModel(t, out);
      mt->set_model_id(Id("sc-frontier", scenario_n_, 6));
      mt->set_training_ops(rng_.LogUniform(1.05 * kModelOpsThreshold, 5 * kModelOpsThreshold));
      mt->set_weights_published(false);
      FillParty(lab, mt->mutable_source_org());
      mt->set_source_country(lab.country);
      SetRecipient(RestrictedRecipient(t), mt);
      mt->set_mechanism(PickMechanism());
      mt->mutable_authorization()->set_type(AuthorizationType::NONE);
      out->expected_rules = {"MODEL_WEIGHT_TRANSFER"};
      out->scenario = tag;
    });
  }

  // A base model (8e25, unpublished) goes to a Tier 1 country: nothing
  // fires. Later its fine-tune (3e25 own ops, base_model_id set) goes to a
  // restricted country: 8e25 + 3e25 >= 1e26 fires.
  void StartFinetune(const std::string& tag) {
    struct State {
      std::string base_id;
      Org holder;  // the Tier 1 recipient of the base, who fine-tunes it
    };
    auto st = std::make_shared<State>();
    st->base_id = Id("sc-base", scenario_n_, 6);
    pending_[kModel].push_back([this, tag, st](int64_t t, GeneratedEvent* out) {
      static constexpr absl::string_view kTier1[] = {"GB", "JP", "DE", "FR", "CA", "KR"};
      const Org& lab = labs_[rng_.Below(3)];
      st->holder = ScenarioOrg(kTier1[rng_.Below(std::size(kTier1))], PartyKind::OTHER, t);
      v1::ModelTransferEvent* mt = BeginModel(t, out);
      mt->set_model_id(st->base_id);
      mt->set_training_ops(8e25);
      mt->set_weights_published(false);
      FillParty(lab, mt->mutable_source_org());
      mt->set_source_country(lab.country);
      SetRecipient(st->holder, mt);
      mt->set_mechanism(TransferMechanism::CLOUD_COPY);
      mt->mutable_authorization()->set_type(AuthorizationType::NONE);
      out->scenario = tag;
    });
    pending_[kModel].push_back([this, tag, st](int64_t t, GeneratedEvent* out) {
      v1::ModelTransferEvent* mt = BeginModel(t, out);
      mt->set_model_id(absl::StrCat(st->base_id, "-ft"));
      mt->set_base_model_id(st->base_id);
      mt->set_training_ops(3e25);
      mt->set_weights_published(false);
      FillParty(st->holder, mt->mutable_source_org());
      mt->set_source_country(st->holder.country);
      SetRecipient(RestrictedRecipient(t), mt);
      mt->set_mechanism(PickMechanism());
      mt->mutable_authorization()->set_type(AuthorizationType::NONE);
      out->expected_rules = {"MODEL_WEIGHT_TRANSFER"};
      out->scenario = tag;
    });
  }

  // ---- state ------------------------------------------------------------

  const Options opts_;
  DataReport report_;
  gen::Rng rng_;
  int64_t now_ms_ = 0;
  gen::WeightedTable stream_table_;
  std::vector<double> gaps_s_;
  std::vector<std::string> entity_list_names_;
  double gap_scale_ = 0;
  std::vector<gen::JobShape> jobs_;

  absl::flat_hash_set<std::string> used_names_;
  std::vector<Exporter> exporters_;
  std::vector<size_t> us_exporters_;
  std::vector<size_t> tw_exporters_;
  std::vector<std::pair<std::string, double>> shares_;
  std::vector<std::vector<size_t>> consignees_by_dest_;  // parallel to shares_
  std::vector<std::vector<size_t>> large_by_dest_;       // the large buyers
  gen::WeightedTable dest_table_;
  std::vector<Org> consignees_;
  absl::flat_hash_map<std::string, size_t> consignee_index_;
  std::vector<ConsigneeState> consignee_state_;
  std::vector<Datacenter> datacenters_;
  std::vector<Org> tenants_;
  std::vector<TenantState> tenant_state_;
  std::vector<Org> labs_;
  std::vector<BaseModel> models_;

  struct CountryQuota {
    double tpp = 0;
  };
  absl::flat_hash_map<std::string, CountryQuota> country_quota_;  // aidr window
  std::deque<Step> pending_[kNumStreams];

  uint64_t trade_n_ = 0;
  uint64_t cloud_n_ = 0;
  uint64_t model_n_ = 0;
  uint64_t shipment_n_ = 0;
  uint64_t serial_n_ = 0;
  uint64_t job_n_ = 0;
  uint64_t finetune_n_ = 0;
  uint64_t scenario_n_ = 0;
  uint64_t scenario_party_n_ = 0;
  uint64_t site_n_ = 0;
  uint64_t parent_n_ = 0;
};

absl::StatusOr<std::unique_ptr<EventGenerator>> EventGenerator::Create(Options options) {
  auto finite_nonneg = [](double x) { return std::isfinite(x) && x >= 0; };
  if (!std::isfinite(options.events_per_second) || options.events_per_second <= 0) {
    return absl::InvalidArgumentError("events_per_second must be > 0");
  }
  if (!finite_nonneg(options.trade_weight) || !finite_nonneg(options.cloud_weight) ||
      !finite_nonneg(options.model_weight) ||
      options.trade_weight + options.cloud_weight + options.model_weight <= 0) {
    return absl::InvalidArgumentError("stream weights must be >= 0 and not all 0");
  }
  if (!(options.violation_rate >= 0 && options.violation_rate <= 1)) {
    return absl::InvalidArgumentError("violation_rate must be in [0, 1]");
  }
  if (options.max_rows_per_file < 1 || options.num_consignees < 1 || options.num_tenants < 1) {
    return absl::InvalidArgumentError(
        "max_rows_per_file, num_consignees and num_tenants must be >= 1");
  }
  if (options.start_time == absl::InfinitePast() || options.start_time == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("start_time must be finite");
  }
  // Keeps every id well under the contract's 128 characters.
  if (options.id_namespace.size() > 32 ||
      !std::all_of(options.id_namespace.begin(), options.id_namespace.end(), [](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.';
      })) {
    return absl::InvalidArgumentError("id_namespace: up to 32 of [A-Za-z0-9_.]");
  }

  const std::vector<std::string> known = Impl::AllScenarioNames();
  for (const auto& name : options.scenarios) {
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown scenario '", name, "' (known: ", absl::StrJoin(known, ", "), ")"));
    }
  }
  gen::SourceData data;
  DataReport report;
  std::vector<std::string> fallbacks;
  if (absl::Status s =
          gen::LoadTradeDestinations(options.data_dir, options.max_rows_per_file, &data, &report);
      !s.ok()) {
    if (options.require_data) return s;
    report.unmapped_names.clear();
    report.excluded_restricted.clear();
    gen::BuiltinTradeDestinations(&data);
    fallbacks.push_back(absl::StrCat("trade: ", s.message()));
  }
  // Optional: without the list the front-company scenario is off.
  if (absl::Status s = gen::LoadEntityListNames(options.data_dir, &data, &report); !s.ok()) {
    if (options.require_data) return s;
  }
  if (absl::Status s =
          gen::LoadCloudJobs(options.data_dir, options.max_rows_per_file, &data, &report);
      !s.ok()) {
    if (options.require_data) return s;
    gen::BuiltinCloudJobs(&data);
    fallbacks.push_back(absl::StrCat("cloud: ", s.message()));
  }
  report.fallback_reason = absl::StrJoin(fallbacks, "; ");
  return std::unique_ptr<EventGenerator>(new EventGenerator(
      std::make_unique<Impl>(std::move(options), std::move(data), std::move(report))));
}

EventGenerator::EventGenerator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
EventGenerator::~EventGenerator() = default;

void EventGenerator::Next(GeneratedEvent* out) { impl_->Next(out); }

std::vector<std::string> EventGenerator::ScenarioNames() { return Impl::AllScenarioNames(); }

const DataReport& EventGenerator::data_report() const { return impl_->report(); }

const std::vector<std::pair<std::string, double>>& EventGenerator::destination_shares() const {
  return impl_->shares();
}

std::vector<std::string> EventGenerator::ExpectedRulesFor(const GeneratedEvent& event,
                                                          absl::string_view profile) {
  std::vector<std::string> rules;
  for (const std::string& label : event.expected_rules) {
    const size_t at = label.find('@');
    if (at == std::string::npos) {
      rules.push_back(label);
    } else if (absl::string_view(label).substr(at + 1) == profile) {
      rules.push_back(label.substr(0, at));
    }
  }
  return rules;
}

}  // namespace exportwatch

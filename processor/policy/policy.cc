#include "processor/policy/policy.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "common/status_macros.h"
#include "connectors/event_codec.h"
#include "google/protobuf/util/json_util.h"
#include "processor/policy/shipped_profiles.h"

namespace exportwatch {
namespace {

constexpr int64_t kSecondsPerDay = 86400;

absl::StatusOr<int64_t> ParseDay(absl::string_view field, const std::string& text,
                                 int64_t if_empty) {
  if (text.empty()) return if_empty;
  absl::CivilDay day;
  if (text.size() != 10 || !absl::ParseCivilTime(text, &day)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": '", text, "' is not YYYY-MM-DD"));
  }
  return day - absl::CivilDay(1970, 1, 1);
}

int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

const absl::flat_hash_set<absl::string_view>& KnownRules() {
  static const auto* rules =
      new absl::flat_hash_set<absl::string_view>{"EMBARGOED_DESTINATION",
                                                 "HQ_IN_RESTRICTED_COUNTRY",
                                                 "PRC_ADVANCED_IC",
                                                 "COUNTRY_QUOTA",
                                                 "CONSIGNEE_LPP_QUOTA",
                                                 "SHIPMENT_STRUCTURING",
                                                 "TRANSSHIPMENT_ROUTE",
                                                 "THIRD_COUNTRY_PAYMENT",
                                                 "SCREENING_MATCH",
                                                 "NEW_ENTITY_VELOCITY",
                                                 "SITE_POWER_IMPLAUSIBLE",
                                                 "SERIAL_LOCATION_MISMATCH",
                                                 "RESTRICTED_TRAINING_COMPUTE",
                                                 "MODEL_WEIGHT_TRANSFER",
                                                 "COMPOSITE_RISK"};
  return *rules;
}

absl::StatusOr<std::shared_ptr<const Policy>> FromJson(absl::string_view json,
                                                       absl::string_view origin) {
  v1::Policy proto;
  google::protobuf::util::JsonParseOptions opts;  // unknown fields are errors here
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &proto, opts);
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", std::string(s.message())));
  }
  auto policy = Policy::Create(std::move(proto));
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", policy.status().message()));
  }
  return policy;
}

}  // namespace

absl::StatusOr<std::shared_ptr<const Policy>> Policy::Create(v1::Policy proto) {
  std::shared_ptr<Policy> p(new Policy(std::move(proto)));
  RETURN_IF_ERROR(p->Index());
  return std::shared_ptr<const Policy>(std::move(p));
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::FromProfile(absl::string_view name) {
  std::string known;
  for (const auto& profile : ShippedProfiles()) {
    if (profile.name == name) return FromJson(profile.json, absl::StrCat("profile ", name));
    absl::StrAppend(&known, known.empty() ? "" : ", ", profile.name);
  }
  return absl::NotFoundError(absl::StrCat("no profile '", name, "' (shipped: ", known, ")"));
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open policy file ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  return FromJson(buf.str(), path);
}

absl::Status Policy::Index() {
  auto invalid = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (proto_.name().empty()) return invalid("name: required");
  if (proto_.version().empty()) return invalid("version: required");
  ref_.set_name(proto_.name());
  ref_.set_version(proto_.version());
  for (int i = 0; i < proto_.enabled_rules_size(); ++i) {
    const std::string& r = proto_.enabled_rules(i);
    if (!KnownRules().contains(r)) return invalid("enabled_rules[", i, "]: unknown rule '", r, "'");
    enabled_.insert(r);
  }
  for (int g = 0; g < proto_.country_groups_size(); ++g) {
    const auto& group = proto_.country_groups(g);
    if (group.name().empty()) return invalid("country_groups[", g, "].name: required");
    for (int m = 0; m < group.members_size(); ++m) {
      const auto& mem = group.members(m);
      std::string field = absl::StrCat("country_groups[", g, "].members[", m, "]");
      if (!IsIsoCountry(mem.country())) {
        return invalid(field, ".country: '", mem.country(), "' is not an ISO 3166-1 code");
      }
      ASSIGN_OR_RETURN(int64_t from, ParseDay(absl::StrCat(field, ".valid_from"), mem.valid_from(),
                                              std::numeric_limits<int64_t>::min()));
      ASSIGN_OR_RETURN(int64_t until,
                       ParseDay(absl::StrCat(field, ".valid_until"), mem.valid_until(),
                                std::numeric_limits<int64_t>::max()));
      if (until <= from) return invalid(field, ": valid_until is not after valid_from");
      membership_[absl::StrCat(group.name(), "/", mem.country())].push_back({from, until});
    }
  }
  // A typo in a group's name must not silently switch detection off.
  for (const char* group : {"D5_MACAU", "TIER1"}) {
    bool found = false;
    for (const auto& g : proto_.country_groups()) found = found || g.name() == group;
    if (!found && !proto_.enabled_rules().empty()) {
      return invalid("country_groups: group ", group, " is required (the rules use it)");
    }
  }
  for (int c = 0; c < proto_.chips_size(); ++c) {
    const auto& chip = proto_.chips(c);
    if (chip.chip_model().empty()) return invalid("chips[", c, "].chip_model: required");
    if (chip.tpp_per_unit() < 0) return invalid("chips[", c, "].tpp_per_unit: must be >= 0");
    if (!chips_.emplace(chip.chip_model(), &chip).second) {
      return invalid("chips[", c, "]: duplicate chip_model '", chip.chip_model(), "'");
    }
  }
  for (int h = 0; h < proto_.transshipment_hubs_size(); ++h) {
    if (!IsIsoCountry(proto_.transshipment_hubs(h))) {
      return invalid("transshipment_hubs[", h, "]: not an ISO 3166-1 code");
    }
    hubs_.insert(proto_.transshipment_hubs(h));
  }
  const auto& q = proto_.consignee_lpp_quota();
  if (RuleEnabled("CONSIGNEE_LPP_QUOTA")) {
    if (q.limit() <= 0) return invalid("consignee_lpp_quota.limit: must be > 0");
    if (q.levels_size() == 0) return invalid("consignee_lpp_quota.levels: at least one level");
  }
  if (q.levels_size() != q.level_severities_size()) {
    return invalid("consignee_lpp_quota.level_severities: one per level");
  }
  for (int i = 0; i < q.levels_size(); ++i) {
    if (q.levels(i) <= 0 || (i > 0 && q.levels(i) <= q.levels(i - 1))) {
      return invalid("consignee_lpp_quota.levels[", i, "]: levels must be > 0 and increasing");
    }
    v1::Severity sev;
    if (!v1::Severity_Parse(q.level_severities(i), &sev) || sev == v1::SEVERITY_UNSPECIFIED) {
      return invalid("consignee_lpp_quota.level_severities[", i, "]: unknown severity '",
                     q.level_severities(i), "'");
    }
  }
  if (proto_.model_weights().training_ops_threshold() < 0) {
    return invalid("model_weights.training_ops_threshold: must be >= 0");
  }
  if (proto_.allowed_lateness_seconds() < 0)
    return invalid("allowed_lateness_seconds: must be >= 0");
  if (proto_.dedup_retention_seconds() < 0) return invalid("dedup_retention_seconds: must be >= 0");
  return absl::OkStatus();
}

bool Policy::InGroup(absl::string_view group, absl::string_view country,
                     int64_t unix_seconds) const {
  auto it = membership_.find(absl::StrCat(group, "/", country));
  if (it == membership_.end()) return false;
  int64_t day = FloorDiv(unix_seconds, kSecondsPerDay);
  for (const auto& iv : it->second) {
    if (day >= iv.from_day && day < iv.until_day) return true;
  }
  return false;
}

const v1::ChipSpec* Policy::Chip(absl::string_view model) const {
  auto it = chips_.find(model);
  return it == chips_.end() ? nullptr : it->second;
}

double Policy::UnitTpp(const v1::Item& item) const {
  if (item.has_tpp_per_unit()) return item.tpp_per_unit();
  const v1::ChipSpec* chip = Chip(item.chip_model());
  return chip ? chip->tpp_per_unit() : 0;
}

bool Policy::IsControlled(const v1::Item& item) const {
  const v1::ChipSpec* chip = Chip(item.chip_model());
  if (chip != nullptr) return chip->controlled();
  return item.has_tpp_per_unit() && item.tpp_per_unit() >= proto_.controlled_tpp_threshold();
}

bool Policy::IsControlledChip(absl::string_view model) const {
  const v1::ChipSpec* chip = Chip(model);
  return chip != nullptr && chip->controlled();
}

bool Policy::IsPrcAdvancedIc(absl::string_view model) const {
  const v1::ChipSpec* chip = Chip(model);
  return chip != nullptr && chip->prc_advanced_ic();
}

}  // namespace exportwatch

#include "processor/policy/policy.h"

#include <fstream>
#include <limits>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "common/iso_date.h"
#include "common/status_macros.h"
#include "connectors/event_codec.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "processor/policy/json_locator.h"
#include "processor/policy/shipped_profiles.h"

namespace exportwatch {
namespace {

absl::StatusOr<int64_t> ParseDay(absl::string_view field, const std::string& text,
                                 int64_t if_empty) {
  if (text.empty()) return if_empty;
  absl::CivilDay day;
  if (!ParseIsoDay(text, &day)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": '", text, "' is not YYYY-MM-DD"));
  }
  return day - absl::CivilDay(1970, 1, 1);
}

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

// Rules of RULES.md that are quotas: they run as declared in `quotas`.
bool IsQuotaKindRule(absl::string_view id) {
  return id == "COUNTRY_QUOTA" || id == "CONSIGNEE_LPP_QUOTA";
}

absl::Status ValidateLevels(const std::string& field, const v1::QuotaDefinition& q) {
  auto invalid = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (q.levels_size() == 0) return invalid(field, ".levels: at least one level");
  if (q.levels_size() != q.level_severities_size()) {
    return invalid(field, ".level_severities: one per level (", q.levels_size(), " levels, ",
                   q.level_severities_size(), " severities)");
  }
  for (int i = 0; i < q.levels_size(); ++i) {
    if (q.levels(i) <= 0 || (i > 0 && q.levels(i) <= q.levels(i - 1))) {
      return invalid(field, ".levels[", i, "]: levels must be > 0 and increasing");
    }
    v1::Severity sev;
    if (!v1::Severity_Parse(q.level_severities(i), &sev) || sev == v1::SEVERITY_UNSPECIFIED) {
      return invalid(field, ".level_severities[", i, "]: unknown severity '", q.level_severities(i),
                     "'");
    }
  }
  return absl::OkStatus();
}

std::string AtLine(const std::optional<JsonLocation>& at) {
  return at ? absl::StrCat("line ", at->line, ":", at->column, ": ") : "";
}

absl::StatusOr<std::shared_ptr<const Policy>> ParseJson(absl::string_view json,
                                                        absl::string_view origin) {
  v1::Policy proto;
  google::protobuf::util::JsonParseOptions opts;  // unknown fields are errors here
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(json.data(), json.size()), &proto, opts);
  if (!s.ok()) {
    // protobuf says what; the locator says where. Its snippet of the text
    // (after the first line) is replaced by the line number.
    std::string message(s.message());
    message = message.substr(0, message.find('\n'));
    std::optional<JsonLocation> at = FindJsonSyntaxError(json);
    if (!at) at = LocateJsonPath(json, ErrorFieldPath(message));
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", AtLine(at), message));
  }
  auto policy = Policy::Create(std::move(proto));
  if (!policy.ok()) {
    const std::string message(policy.status().message());
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": ", AtLine(LocateJsonPath(json, ErrorFieldPath(message))), message));
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
    if (profile.name == name) return ParseJson(profile.json, absl::StrCat("profile ", name));
    absl::StrAppend(&known, known.empty() ? "" : ", ", profile.name);
  }
  return absl::NotFoundError(absl::StrCat("no profile '", name, "' (shipped: ", known, ")"));
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open policy file ", path));
  std::stringstream buf;
  buf << in.rdbuf();
  const std::string text = buf.str();
  return IsTextFormatPath(path) ? FromText(text, path) : ParseJson(text, path);
}

bool Policy::IsTextFormatPath(absl::string_view path) {
  for (absl::string_view ext : {".txtpb", ".textproto", ".pbtxt"}) {
    if (absl::EndsWith(path, ext)) return true;
  }
  return false;
}

absl::StatusOr<std::shared_ptr<const Policy>> Policy::FromJson(absl::string_view json,
                                                               absl::string_view origin) {
  return ParseJson(json, origin);
}

namespace {
// Collects the text parser's first error with its position (1-based).
class FirstError final : public google::protobuf::io::ErrorCollector {
 public:
  void AddError(int line, int column, const std::string& message) override {
    if (error.empty()) error = absl::StrCat("line ", line + 1, ":", column + 1, ": ", message);
  }
  std::string error;
};
}  // namespace

absl::StatusOr<std::shared_ptr<const Policy>> Policy::FromText(absl::string_view text,
                                                               absl::string_view origin) {
  v1::Policy proto;
  google::protobuf::TextFormat::Parser parser;
  FirstError errors;
  parser.RecordErrorsTo(&errors);
  if (!parser.ParseFromString(std::string(text), &proto)) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": ", errors.error.empty() ? "unparsable" : errors.error));
  }
  auto policy = Policy::Create(std::move(proto));
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", policy.status().message()));
  }
  return policy;
}

absl::Status Policy::Index() {
  auto invalid = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (proto_.name().empty()) return invalid("name: required");
  if (proto_.version().empty()) return invalid("version: required");
  ref_.set_name(proto_.name());
  ref_.set_version(proto_.version());
  for (int i = 0; i < proto_.enabled_rules_size(); ++i) {
    const std::string& r = proto_.enabled_rules(i);
    bool declared_quota = false;
    for (const auto& q : proto_.quotas()) declared_quota = declared_quota || q.rule_id() == r;
    if (!KnownRules().contains(r) && !declared_quota) {
      return invalid("enabled_rules[", i, "]: unknown rule '", r,
                     "' (neither a rule of RULES.md nor the rule_id of an entry of quotas)");
    }
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
      membership_[group.name()][mem.country()].push_back({from, until});
    }
  }
  // membership_ is complete: its values stay where they are from here on.
  auto group_of = [this](absl::string_view name) -> const GroupMembers* {
    auto it = membership_.find(name);
    return it == membership_.end() ? nullptr : &it->second;
  };
  d5_macau_ = group_of("D5_MACAU");
  tier1_ = group_of("TIER1");
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
  absl::flat_hash_set<std::string> quota_ids;
  for (int i = 0; i < proto_.quotas_size(); ++i) {
    const auto& q = proto_.quotas(i);
    std::string field = absl::StrCat("quotas[", i, "]");
    RETURN_IF_ERROR(ValidateQuota(field, q));
    if (!quota_ids.insert(q.id()).second) return invalid(field, ".id: duplicate '", q.id(), "'");
    quota_rule_ids_.insert(q.rule_id());
  }
  for (int i = 0; i < proto_.enabled_rules_size(); ++i) {
    const std::string& r = proto_.enabled_rules(i);
    if (IsQuotaKindRule(r) && !quota_rule_ids_.contains(r)) {
      return invalid("enabled_rules[", i, "]: ", r,
                     " is enabled but no entry of quotas declares it");
    }
  }
  auto positive = [&](absl::string_view field, double v) -> absl::Status {
    if (v > 0) return absl::OkStatus();
    return invalid(field, ": must be > 0");
  };
  if (RuleEnabled("SHIPMENT_STRUCTURING")) {
    const auto& s = proto_.shipment_structuring();
    RETURN_IF_ERROR(positive("shipment_structuring.window_days", s.window_days()));
    RETURN_IF_ERROR(positive("shipment_structuring.min_shipments", s.min_shipments()));
    RETURN_IF_ERROR(positive("shipment_structuring.max_shipment_tpp", s.max_shipment_tpp()));
    RETURN_IF_ERROR(positive("shipment_structuring.min_total_tpp", s.min_total_tpp()));
  }
  if (RuleEnabled("NEW_ENTITY_VELOCITY")) {
    const auto& v = proto_.new_entity_velocity();
    RETURN_IF_ERROR(positive("new_entity_velocity.max_age_months", v.max_age_months()));
    RETURN_IF_ERROR(positive("new_entity_velocity.window_days", v.window_days()));
    RETURN_IF_ERROR(positive("new_entity_velocity.min_total_tpp", v.min_total_tpp()));
  }
  if (RuleEnabled("SITE_POWER_IMPLAUSIBLE")) {
    RETURN_IF_ERROR(positive("site_power.server_overhead", proto_.site_power().server_overhead()));
    RETURN_IF_ERROR(positive("site_power.pue", proto_.site_power().pue()));
  }
  if (RuleEnabled("SERIAL_LOCATION_MISMATCH")) {
    RETURN_IF_ERROR(
        positive("serial_location.two_sites_hours", proto_.serial_location().two_sites_hours()));
  }
  if (RuleEnabled("RESTRICTED_TRAINING_COMPUTE")) {
    const auto& t = proto_.training_compute();
    RETURN_IF_ERROR(
        positive("training_compute.restricted_ops_threshold", t.restricted_ops_threshold()));
    if (t.non_tier1_ops_threshold() < 0) {
      return invalid("training_compute.non_tier1_ops_threshold: must be >= 0 (0 = off)");
    }
  }
  if (RuleEnabled("COMPOSITE_RISK")) {
    const auto& c = proto_.composite_risk();
    RETURN_IF_ERROR(positive("composite_risk.window_days", c.window_days()));
    RETURN_IF_ERROR(positive("composite_risk.min_distinct_rules", c.min_distinct_rules()));
    for (int i = 0; i < c.input_rules_size(); ++i) {
      if (!KnownRules().contains(c.input_rules(i)) && !quota_rule_ids_.contains(c.input_rules(i))) {
        return invalid("composite_risk.input_rules[", i, "]: unknown rule '", c.input_rules(i),
                       "'");
      }
      if (c.input_rules(i) == "COMPOSITE_RISK") {
        return invalid("composite_risk.input_rules[", i, "]: cannot be built on itself");
      }
    }
    if (c.min_distinct_rules() > c.input_rules_size()) {
      return invalid("composite_risk.min_distinct_rules: more than there are input_rules");
    }
  }
  if (RuleEnabled("SCREENING_MATCH")) {
    double m = proto_.screening().min_score();
    if (m <= 0 || m > 1) return invalid("screening.min_score: must be in (0, 1]");
  }
  if (proto_.utilization() < 0 || proto_.utilization() > 1) {
    return invalid("utilization: must be in [0, 1]");
  }
  if (proto_.model_weights().training_ops_threshold() < 0) {
    return invalid("model_weights.training_ops_threshold: must be >= 0");
  }
  if (proto_.allowed_lateness_seconds() < 0)
    return invalid("allowed_lateness_seconds: must be >= 0");
  if (proto_.dedup_retention_seconds() < 0) return invalid("dedup_retention_seconds: must be >= 0");
  return absl::OkStatus();
}

absl::Status Policy::ValidateQuota(const std::string& field, const v1::QuotaDefinition& q) const {
  auto invalid = [](auto... parts) { return absl::InvalidArgumentError(absl::StrCat(parts...)); };
  if (q.id().empty()) return invalid(field, ".id: required");
  // '|' separates the parts of a quota window's key ("<id>|<subject>|<start>",
  // the quota-usage topic's key and the batch's report slot): without it in
  // ids the key names one window, whatever '|' the subject holds.
  if (absl::StrContains(q.id(), '|')) return invalid(field, ".id: must not contain '|'");
  if (KnownRules().contains(q.id()) && !IsQuotaKindRule(q.id())) {
    return invalid(field, ".id: '", q.id(), "' is the id of a rule that is not a quota");
  }
  if (q.rule_id().empty()) return invalid(field, ".rule_id: required");
  if (KnownRules().contains(q.rule_id()) && !IsQuotaKindRule(q.rule_id())) {
    return invalid(field, ".rule_id: '", q.rule_id(), "' is a rule that is not a quota");
  }
  if (q.scope() == v1::QuotaScope::SCOPE_UNSPECIFIED) return invalid(field, ".scope: required");
  if (q.measure() == v1::QuotaMeasure::MEASURE_UNSPECIFIED) {
    return invalid(field, ".measure: required (TPP or UNITS)");
  }
  switch (q.window().kind()) {
    case v1::QuotaWindow::KIND_UNSPECIFIED:
      return invalid(field, ".window.kind: required (CALENDAR_YEAR, FIXED or LIFETIME)");
    case v1::QuotaWindow::FIXED: {
      ASSIGN_OR_RETURN(int64_t from,
                       ParseDay(absl::StrCat(field, ".window.from"), q.window().from(), -1));
      ASSIGN_OR_RETURN(int64_t until,
                       ParseDay(absl::StrCat(field, ".window.until"), q.window().until(), -1));
      if (from < 0 || until < 0) return invalid(field, ".window: FIXED needs from and until");
      if (until <= from) return invalid(field, ".window.until: not after from");
      break;
    }
    default:
      if (!q.window().from().empty() || !q.window().until().empty()) {
        return invalid(field, ".window: from/until are for FIXED windows only");
      }
  }
  if (q.keys_size() == 0 && q.limit() <= 0) return invalid(field, ".limit: must be > 0");
  absl::flat_hash_set<std::string> keys;
  for (int k = 0; k < q.keys_size(); ++k) {
    if (q.keys(k).key().empty()) return invalid(field, ".keys[", k, "].key: required");
    if (q.keys(k).limit() <= 0) return invalid(field, ".keys[", k, "].limit: must be > 0");
    if (!keys.insert(q.keys(k).key()).second) {
      return invalid(field, ".keys[", k, "].key: duplicate '", q.keys(k).key(), "'");
    }
  }
  RETURN_IF_ERROR(ValidateLevels(field, q));
  for (int g = 0; g < q.destination_groups_size(); ++g) {
    const std::string& name = q.destination_groups(g);
    bool known = name == "TIER2";
    for (const auto& group : proto_.country_groups()) known = known || group.name() == name;
    if (!known) {
      return invalid(field, ".destination_groups[", g, "]: no country group '", name,
                     "' (TIER2 or a name of country_groups)");
    }
  }
  for (int c = 0; c < q.chip_models_size(); ++c) {
    if (q.chip_models(c).empty()) return invalid(field, ".chip_models[", c, "]: empty");
  }
  return absl::OkStatus();
}

bool Policy::IsTier2(absl::string_view country, int64_t unix_seconds) const {
  return IsIsoCountry(country) && !IsTier1(country, unix_seconds) &&
         !IsRestricted(country, unix_seconds);
}

bool Policy::InDestinationGroup(absl::string_view group, absl::string_view country,
                                int64_t unix_seconds) const {
  return group == "TIER2" ? IsTier2(country, unix_seconds) : InGroup(group, country, unix_seconds);
}

double Policy::ChipTdpWatts(absl::string_view model) const {
  const v1::ChipSpec* chip = Chip(model);
  return chip ? chip->tdp_watts() : 0;
}

double Policy::ControlledTpp(const v1::TradeEvent& t) const {
  double tpp = 0;
  for (const auto& item : t.items()) {
    if (IsControlled(item)) tpp += UnitTpp(item) * static_cast<double>(item.quantity());
  }
  return tpp;
}

bool Policy::IsControlledShipment(const v1::TradeEvent& t) const {
  for (const auto& item : t.items()) {
    if (IsControlled(item)) return true;
  }
  return false;
}

bool Policy::InGroup(absl::string_view group, absl::string_view country,
                     int64_t unix_seconds) const {
  auto g = membership_.find(group);
  return InGroupOf(g == membership_.end() ? nullptr : &g->second, country, unix_seconds);
}

bool Policy::InGroupOf(const GroupMembers* members, absl::string_view country,
                       int64_t unix_seconds) {
  // Parties often leave their headquarters' countries empty: no hashing.
  if (members == nullptr || country.empty()) return false;
  auto it = members->find(country);
  if (it == members->end()) return false;
  const int64_t day = UnixDayOf(unix_seconds);
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

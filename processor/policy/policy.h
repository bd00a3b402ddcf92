// Policy: a validated, indexed view of a v1::Policy (policy is data).
//
// Immutable once built, so one instance is shared by every thread; a new
// version is a new instance swapped in whole.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "exportwatch/v1/alert.pb.h"
#include "exportwatch/v1/events.pb.h"
#include "exportwatch/v1/policy.pb.h"

namespace exportwatch {

class Policy {
 public:
  // Validates `proto` (every error names its field) and indexes it.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Policy>> Create(v1::Policy proto);
  // A shipped profile by name ("current", "aidr-2025").
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Policy>> FromProfile(
      absl::string_view name);
  // A policy in protobuf's JSON mapping of v1::Policy; `origin` prefixes
  // errors (a file name, "reference-data@offset").
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Policy>> FromJson(
      absl::string_view json, absl::string_view origin);
  // A policy in protobuf text format; syntax errors carry line:column.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Policy>> FromText(
      absl::string_view text, absl::string_view origin);
  // A policy file: text format when it ends in .txtpb, .textproto or
  // .pbtxt, else JSON (protobuf JSON mapping of v1::Policy).
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Policy>> FromFile(
      const std::string& path);

  // True for the file names FromFile reads as text format.
  static bool IsTextFormatPath(absl::string_view path);

  // The command lines' rule: a policy file, when given, wins over the profile.
  [[nodiscard]] static absl::StatusOr<std::shared_ptr<const Policy>> Load(
      const std::string& policy_file, absl::string_view profile) {
    return policy_file.empty() ? FromProfile(profile) : FromFile(policy_file);
  }

  // Indexes point into proto_: never copied, shared by pointer.
  Policy(const Policy&) = delete;
  Policy& operator=(const Policy&) = delete;

  const v1::Policy& proto() const { return proto_; }
  const v1::PolicyRef& ref() const { return ref_; }
  bool RuleEnabled(absl::string_view rule_id) const { return enabled_.contains(rule_id); }

  // Membership of `group` for `country` on the UTC day of `unix_seconds`.
  bool InGroup(absl::string_view group, absl::string_view country, int64_t unix_seconds) const;
  // In D5_MACAU at that time.
  bool IsRestricted(absl::string_view country, int64_t unix_seconds) const {
    return InGroupOf(d5_macau_, country, unix_seconds);
  }
  bool IsTier1(absl::string_view country, int64_t unix_seconds) const {
    return InGroupOf(tier1_, country, unix_seconds);
  }
  // TIER2: every other country (ISO code) that is neither TIER1 nor
  // restricted at that time.
  bool IsTier2(absl::string_view country, int64_t unix_seconds) const;
  // InGroup, with TIER2 computed as above.
  bool InDestinationGroup(absl::string_view group, absl::string_view country,
                          int64_t unix_seconds) const;
  bool IsHub(absl::string_view country) const { return hubs_.contains(country); }

  // Catalog entry, or null.
  const v1::ChipSpec* Chip(absl::string_view model) const;
  // TPP of one unit: the item's own figure wins, else the catalog, else 0.
  double UnitTpp(const v1::Item& item) const;
  // Controlled: catalog flag, else own TPP >= the 3A090.a threshold.
  bool IsControlled(const v1::Item& item) const;
  bool IsControlledChip(absl::string_view model) const;
  bool IsPrcAdvancedIc(absl::string_view model) const;
  // Catalog TDP in watts, 0 when unknown.
  double ChipTdpWatts(absl::string_view model) const;
  // Sum of TPP x quantity over the controlled items of a shipment.
  double ControlledTpp(const v1::TradeEvent& t) const;
  // At least one controlled item.
  bool IsControlledShipment(const v1::TradeEvent& t) const;

 private:
  struct Interval {
    int64_t from_day;   // days since epoch, inclusive
    int64_t until_day;  // exclusive
  };
  explicit Policy(v1::Policy proto) : proto_(std::move(proto)) {}
  absl::Status Index();
  absl::Status ValidateQuota(const std::string& field, const v1::QuotaDefinition& q) const;

  v1::Policy proto_;
  v1::PolicyRef ref_;
  absl::flat_hash_set<std::string> enabled_;
  // Group -> country -> validity intervals. Nested, so that InGroup (several
  // calls per event) looks up two string_views instead of building a key.
  using GroupMembers = absl::flat_hash_map<std::string, std::vector<Interval>>;
  absl::flat_hash_map<std::string, GroupMembers> membership_;
  // The groups the rules ask about several times per event, found once
  // (null when the policy has no such group; set once membership_ is full).
  const GroupMembers* d5_macau_ = nullptr;
  const GroupMembers* tier1_ = nullptr;

  static bool InGroupOf(const GroupMembers* members, absl::string_view country,
                        int64_t unix_seconds);
  absl::flat_hash_map<std::string, const v1::ChipSpec*> chips_;
  absl::flat_hash_set<std::string> hubs_;
  absl::flat_hash_set<std::string> quota_rule_ids_;
};

}  // namespace exportwatch

// The profiles in processor/policy/profiles/, compiled into the binary.
#pragma once

#include "absl/strings/string_view.h"
#include <string_view>
#include <vector>

namespace exportwatch {

struct ShippedProfile {
  absl::string_view name;  // file stem, e.g. "aidr-2025"
  absl::string_view json;
};

const std::vector<ShippedProfile>& ShippedProfiles();

}  // namespace exportwatch

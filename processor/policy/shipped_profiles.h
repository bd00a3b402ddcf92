// The profiles in processor/policy/profiles/, compiled into the binary.
#pragma once

#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"

namespace exportwatch {

struct ShippedProfile {
  absl::string_view name;  // file stem, e.g. "aidr-2025"
  absl::string_view json;
};

const std::vector<ShippedProfile>& ShippedProfiles();

}  // namespace exportwatch

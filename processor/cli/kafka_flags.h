#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "connectors/kafka_types.h"

namespace exportwatch::cli {

// "KEY=VALUE" strings -> librdkafka properties.
inline absl::Status ParseKafkaProps(const std::vector<std::string>& props, KafkaConfig* out) {
  for (const auto& p : props) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--kafka ", p, ": expected KEY=VALUE"));
    }
    (*out)[p.substr(0, eq)] = p.substr(eq + 1);
  }
  return absl::OkStatus();
}

}  // namespace exportwatch::cli

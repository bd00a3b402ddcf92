// JSON as the contract writes it: protobuf's JSON mapping with the proto
// field names (snake_case), enums by name.
#pragma once

#include <string>

#include "google/protobuf/message.h"

namespace exportwatch {

std::string ToJson(const google::protobuf::Message& msg);

}  // namespace exportwatch

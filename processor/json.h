// JSON as the contract writes it: protobuf's JSON mapping with the proto
// field names (snake_case), enums by name.
#pragma once

#include <string>

#include "exportwatch/v1/alert.pb.h"
#include "google/protobuf/message.h"

namespace exportwatch {

// protobuf's JSON printer (util::MessageToJsonString).
std::string ToJson(const google::protobuf::Message& msg);

// An alert, as the generic ToJson prints it (same fields, escapes and
// number forms), with two differences: it costs ~1/7 of the instructions
// (an alert is printed for the alerts topic on the detection path), and
// the keys of evidence.values come sorted, where protobuf's printer emits
// its map's order. Falls back to the generic printer for what it does not
// write itself (invalid UTF-8, an out-of-range timestamp, an enum value
// with no name, a Value with no kind). protobuf's printer stops part-way
// at a timestamp outside years 1-9999: no alert carries one (event times
// are checked at ingest, detected_at is the clock).
std::string ToJson(const v1::Alert& alert);

}  // namespace exportwatch

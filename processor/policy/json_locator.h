// Line numbers for policy JSON errors. protobuf 3.21's JSON parser reports
// what is wrong (and a field path) but not where; this small scanner finds
// the first syntax error's position, and the line of the key at a field
// path, so that every policy error names the field and the line.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"

namespace exportwatch {

struct JsonLocation {
  int line = 0;    // 1-based
  int column = 0;  // 1-based, in bytes
};

// Where `json` stops being valid JSON; nullopt when it is valid (or nested
// deeper than 64 levels, which this scanner does not follow).
std::optional<JsonLocation> FindJsonSyntaxError(absl::string_view json);

// Where the key (or array element) at `path` starts: "screening.min_score",
// "quotas[0].levels[1]". Keys compare without case and underscores, so a
// proto field path finds its lowerCamelCase JSON key too. nullopt when
// absent.
std::optional<JsonLocation> LocateJsonPath(absl::string_view json, absl::string_view path);

// The field path at the start of a policy error message, in the forms
// protobuf's JSON parser ("(screening) min_scor: ...", "(a.b): ...") and
// Policy validation ("quotas[0].levels[1]: ...") write; empty if none.
std::string ErrorFieldPath(absl::string_view message);

}  // namespace exportwatch

#pragma once

#include <string>

#include "exportwatch/v1/alert.pb.h"

namespace exportwatch {

// One readable line: event time, severity, rule, subject, title, policy.
std::string FormatAlertLine(const v1::Alert& alert);

}  // namespace exportwatch

// Where CONSIGNEE_LPP_QUOTA keeps its counters, for the QueryService.
#pragma once

#include <cstdint>
#include <string>

namespace exportwatch {

// Calendar year (UTC) of an event time.
int LppQuotaYear(int64_t unix_seconds);
// The state name of the v1::QuotaState of one consignee and year.
std::string LppQuotaStateName(int year);

}  // namespace exportwatch

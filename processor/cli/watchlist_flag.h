// --watchlist, shared by the commands that run the engine.
#pragma once

#include <string>
#include <vector>

#include "processor/policy/policy.h"
#include "processor/watchlist_data.h"

namespace exportwatch::cli {

inline constexpr char kWatchlistHelp[] =
    "screening list for SCREENING_MATCH: CSL JSON or CSV, or OFAC sdn.csv (alt.csv and add.csv "
    "read from beside it); repeat for several lists";

// Loads `files` into `out` and reports on stderr as `who` (the version,
// skipped rows, or that SCREENING_MATCH is on without a list). False, after
// printing the error, when a file cannot be loaded.
bool LoadWatchlistFlag(const std::vector<std::string>& files, const Policy& policy, const char* who,
                       WatchlistData* out);

}  // namespace exportwatch::cli

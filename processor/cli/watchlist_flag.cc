#include "processor/cli/watchlist_flag.h"

#include <iostream>

namespace exportwatch::cli {

bool LoadWatchlistFlag(const std::vector<std::string>& files, const Policy& policy, const char* who,
                       WatchlistData* out) {
  if (files.empty()) {
    if (policy.RuleEnabled("SCREENING_MATCH")) {
      std::cerr << who << ": no --watchlist: SCREENING_MATCH is enabled but raises nothing\n";
    }
    return true;
  }
  auto w = LoadWatchlists(files);
  if (!w.ok()) {
    std::cerr << "exportwatch " << who << ": --watchlist: " << w.status().message() << "\n";
    return false;
  }
  *out = *std::move(w);
  std::cerr << who << ": watchlist " << out->version << ", " << out->list->entries().size()
            << " entries, " << out->malformed << " malformed rows skipped\n";
  for (const auto& warning : out->warnings) std::cerr << "  " << warning << "\n";
  return true;
}

}  // namespace exportwatch::cli

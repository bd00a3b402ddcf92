// The screening lists the processor runs under: one immutable, indexed
// screening::Watchlist built from one or more published lists, with a
// version string that alerts cite. Like the policy, a new version replaces
// the old one whole (see EngineHolder::SwapWatchlist).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "screening/watchlist.h"

namespace exportwatch {

struct WatchlistData {
  // Null: no list loaded (SCREENING_MATCH raises nothing).
  std::shared_ptr<const screening::Watchlist> list;
  // "<origins>@<entries>#<8 hex digits of a hash of ids and names>": equal
  // for equal content, whatever the file's time stamp.
  std::string version;
  // Malformed rows skipped while loading (each named in `warnings`).
  size_t malformed = 0;
  std::vector<std::string> warnings;
};

// Loads and indexes the lists in `paths` (each CSL JSON, CSL CSV or OFAC
// sdn.csv, told apart by content: screening::LoadWatchlistFile). Entry ids
// must be unique across the files. Fails when a file cannot be read or
// parsed as a whole; malformed rows are skipped and reported.
[[nodiscard]] absl::StatusOr<WatchlistData> LoadWatchlists(const std::vector<std::string>& paths);

// A list held in memory (a `reference-data` record with key "watchlist":
// CSL JSON or CSV).
[[nodiscard]] absl::StatusOr<WatchlistData> WatchlistFromText(absl::string_view data,
                                                              const std::string& origin);

// True for the lists whose match makes a controlled shipment CRITICAL
// (RULES.md): the BIS Entity List and OFAC's SDN list.
bool IsEntityListOrSdn(absl::string_view source);

// The reference-data record key of a watchlist.
inline constexpr char kWatchlistRecordKey[] = "watchlist";

}  // namespace exportwatch

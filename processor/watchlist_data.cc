#include "processor/watchlist_data.h"

#include <filesystem>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "screening/list_loader.h"

namespace exportwatch {
namespace {

uint64_t Fnv1a(absl::string_view s, uint64_t h) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

absl::StatusOr<WatchlistData> Index(std::vector<screening::LoadedList> lists,
                                    const std::vector<std::string>& origins) {
  WatchlistData out;
  std::vector<screening::WatchlistEntry> entries;
  for (auto& l : lists) {
    for (const auto& r : l.reports) {
      out.malformed += r.malformed;
      for (const auto& e : r.errors) out.warnings.push_back(e);
    }
    for (auto& e : l.entries) entries.push_back(std::move(e));
  }
  uint64_t h = 14695981039346656037ull;
  for (const auto& e : entries) {
    h = Fnv1a(e.id, h);
    h = Fnv1a(e.name, h);
    for (const auto& a : e.alt_names) h = Fnv1a(a, h);
    h = Fnv1a(e.source, h);
  }
  out.version = absl::StrFormat("%s@%d#%08x", absl::StrJoin(origins, "+"), entries.size(),
                                static_cast<uint32_t>(h ^ (h >> 32)));
  ASSIGN_OR_RETURN(std::unique_ptr<screening::Watchlist> list,
                   screening::Watchlist::Build(std::move(entries)));
  out.list = std::move(list);
  return out;
}

}  // namespace

absl::StatusOr<WatchlistData> LoadWatchlists(const std::vector<std::string>& paths) {
  std::vector<screening::LoadedList> lists;
  std::vector<std::string> origins;
  for (const auto& p : paths) {
    ASSIGN_OR_RETURN(screening::LoadedList l, screening::LoadWatchlistFile(p));
    lists.push_back(std::move(l));
    origins.push_back(std::filesystem::path(p).filename().string());
  }
  return Index(std::move(lists), origins);
}

absl::StatusOr<WatchlistData> WatchlistFromText(absl::string_view data, const std::string& origin) {
  ASSIGN_OR_RETURN(screening::LoadedList l, screening::ParseWatchlistText(data, origin));
  std::vector<screening::LoadedList> lists;
  lists.push_back(std::move(l));
  return Index(std::move(lists), {origin});
}

bool IsEntityListOrSdn(absl::string_view source) {
  const std::string lower = absl::AsciiStrToLower(source);
  return absl::StrContains(lower, "entity list") || absl::StrContains(lower, "(el)") ||
         absl::StrContains(lower, "specially designated nationals") ||
         absl::StrContains(lower, "(sdn)");
}

}  // namespace exportwatch

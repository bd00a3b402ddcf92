// EntityRegistry: the parties an instance has seen recently, so that a new
// screening list can be checked against them at once ("re-screen known
// active entities when a list changes", issue 3) instead of waiting for
// their next event.
//
// Each ingest stage keeps one, in memory, bounded: the `capacity` parties
// seen most recently (by arrival), each with a slim copy of the first event
// that named it since it entered the registry (SlimForScreening). After a restart it refills from
// traffic; a party not seen since then is screened again with its next event. Every instance
// re-screens the parties of its own input partitions, and the alerts' ids depend only on (party,
// list version), so instances that both knew a party raise one alert between them (alertd keeps the
// first).
//
// Not thread-safe: owned by one stage thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "exportwatch/v1/alert.pb.h"
#include "exportwatch/v1/events.pb.h"
#include "processor/detection_engine.h"

namespace exportwatch {

class EntityRegistry {
 public:
  // Default capacity: 200,000 parties (~300 bytes each).
  explicit EntityRegistry(size_t capacity = 200'000) : capacity_(capacity) {}

  // Records the screened parties of a valid event: `parties`, its
  // ScreenedParties (computed here when not given).
  void Note(const v1::Event& event, const std::vector<ScreenedParty>& parties);
  void Note(const v1::Event& event);

  // After the engine's watchlist changed from `before` (null: none) to
  // `after`'s: screens every known party against the entries `after` added
  // or changed, and appends the SCREENING_MATCH alerts (trigger
  // "list_update"). Nothing when the rule is off or `after` has no list.
  // Returns the number of parties screened.
  size_t Rescreen(const WatchlistData& before, const DetectionEngine& after, absl::Time now,
                  std::vector<v1::Alert>* alerts) const;

  size_t size() const { return parties_.size(); }
  int64_t evictions() const { return evictions_; }

 private:
  struct Known {
    v1::Event slim;
    uint64_t last_seen = 0;  // arrival counter
  };
  // Drops the least recently seen half (amortized O(1) per Note).
  void Evict();

  size_t capacity_;
  uint64_t clock_ = 0;
  int64_t evictions_ = 0;
  absl::flat_hash_map<std::string, Known> parties_;
};

}  // namespace exportwatch

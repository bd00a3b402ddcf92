// FactBatcher: groups the facts a stage routes in one poll batch by facts
// partition, one Kafka record (a v1::FactBatch) per partition.
//
// Why: re-keying sends almost every event through Kafka a second time, and
// Kafka's cost is per record (producer queue, broker thread, consumer
// copy). One record per partition per poll batch makes it per batch. Order
// is kept: the facts of one key are in one partition, in the order added,
// and a stage's records to one partition are produced in order by an
// idempotent producer.
//
// The partition of a fact is PartitionOfKey(key) (murmur2, what a keyed
// record would get), over the partition count the facts topic had at start.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "exportwatch/v1/internal.pb.h"

namespace exportwatch {

class FactBatcher {
 public:
  struct Record {
    int32_t partition;
    // A serialized v1::FactBatch.
    std::string value;
  };

  // A record is closed once it holds `max_record_bytes` (a larger single
  // fact gets a record of its own).
  explicit FactBatcher(int32_t partitions, size_t max_record_bytes = 512 << 10);

  int32_t partitions() const { return static_cast<int32_t>(open_.size()); }

  // Appends `fact` to the record of its key's partition. `event_bytes`, when
  // not empty, is the fact's event already serialized (then `fact` has no
  // event): an event routed to several keys is serialized once, not copied
  // into a Fact per key.
  void Add(const v1::Fact& fact, absl::string_view event_bytes = {});

  // Every record since the last Take, closed ones first; clears.
  std::vector<Record> Take();

 private:
  size_t max_record_bytes_;
  // The open record of each partition (serialized FactBatch bytes so far).
  std::vector<std::string> open_;
  std::vector<Record> closed_;
};

}  // namespace exportwatch

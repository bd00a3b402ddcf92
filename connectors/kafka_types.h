// Plain types shared by the Kafka source and sink: no librdkafka in here.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"

namespace exportwatch {

struct TopicPartition {
  std::string topic;
  int32_t partition = 0;
  bool operator==(const TopicPartition&) const = default;
  auto operator<=>(const TopicPartition&) const = default;
};

// A partition and the offset of the next record to read from it.
struct PartitionOffset {
  TopicPartition tp;
  // -1: the group's committed offset, else the start of the log.
  int64_t offset = -1;
};

struct Header {
  std::string key;
  std::string value;
};

// One consumed record. Views are valid until the next Poll().
struct Record {
  absl::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  absl::string_view key;
  absl::string_view value;
  // The content-type header, empty when absent.
  absl::string_view content_type;
  int64_t timestamp_ms = 0;
  // Every header, only when KafkaSourceOptions::capture_headers is set (it
  // costs an allocation per record).
  std::vector<std::pair<absl::string_view, absl::string_view>> headers;
};

// librdkafka configuration properties (e.g. session.timeout.ms) passed
// through unchanged; documented by librdkafka's CONFIGURATION.md.
using KafkaConfig = std::map<std::string, std::string>;

}  // namespace exportwatch

#include "processor/fact_batch.h"

#include <utility>

#include "connectors/kafka_sink.h"

namespace exportwatch {
namespace {

// Tags (length-delimited) of FactBatch.facts (field 1) and Fact.event (3).
constexpr char kFactsTag = (1 << 3) | 2;
constexpr char kEventTag = (3 << 3) | 2;

size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

}  // namespace

FactBatcher::FactBatcher(int32_t partitions, size_t max_record_bytes)
    : max_record_bytes_(max_record_bytes), open_(partitions > 0 ? partitions : 1) {}

void FactBatcher::Add(const v1::Fact& fact, absl::string_view event_bytes) {
  const int32_t p = PartitionOfKey(fact.key(), partitions());
  std::string& buf = open_[p];
  const size_t own = fact.ByteSizeLong();
  const size_t size =
      own + (event_bytes.empty() ? 0 : 1 + VarintSize(event_bytes.size()) + event_bytes.size());
  if (!buf.empty() && buf.size() + size + 10 > max_record_bytes_) {
    closed_.push_back({p, std::move(buf)});
    buf.clear();
  }
  // FactBatch's wire form is its facts, each tagged and length-prefixed:
  // appending one costs no copy of the others.
  buf.push_back(kFactsTag);
  AppendVarint(size, &buf);
  const size_t at = buf.size();
  buf.resize(at + own);
  fact.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&buf[at]));
  if (!event_bytes.empty()) {
    // Field order does not matter on the wire: the event goes last.
    buf.push_back(kEventTag);
    AppendVarint(event_bytes.size(), &buf);
    buf.append(event_bytes.data(), event_bytes.size());
  }
}

std::vector<FactBatcher::Record> FactBatcher::Take() {
  std::vector<Record> out = std::move(closed_);
  closed_.clear();
  for (int32_t p = 0; p < partitions(); ++p) {
    if (open_[p].empty()) continue;
    out.push_back({p, std::move(open_[p])});
    open_[p].clear();
  }
  return out;
}

}  // namespace exportwatch

#include "processor/fact_batch.h"

#include <utility>

#include "connectors/kafka_sink.h"
#include "processor/wire.h"

namespace exportwatch {

FactBatcher::FactBatcher(int32_t partitions, size_t max_record_bytes)
    : max_record_bytes_(max_record_bytes), open_(partitions > 0 ? partitions : 1) {}

void FactBatcher::Add(const v1::Fact& fact, absl::string_view event_bytes) {
  const int32_t p = PartitionOfKey(fact.key(), partitions());
  std::string& buf = open_[p];
  const size_t own = fact.ByteSizeLong();
  const size_t size =
      own + (event_bytes.empty()
                 ? 0
                 : wire::LengthDelimitedSize(v1::Fact::kEventFieldNumber, event_bytes.size()));
  if (!buf.empty() && buf.size() + size + 10 > max_record_bytes_) {
    closed_.push_back({p, std::move(buf)});
    buf.clear();
  }
  // FactBatch's wire form is its facts, each tagged and length-prefixed:
  // appending one costs no copy of the others.
  wire::AppendLengthDelimitedHeader(v1::FactBatch::kFactsFieldNumber, size, &buf);
  const size_t at = buf.size();
  buf.resize(at + own);
  fact.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(&buf[at]));
  if (!event_bytes.empty()) {
    // Field order does not matter on the wire: the event goes last.
    wire::AppendLengthDelimited(v1::Fact::kEventFieldNumber, event_bytes, &buf);
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

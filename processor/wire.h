// The few pieces of protobuf's wire format the processor writes itself,
// where appending encoded bytes saves building, serializing and freeing a
// message per record: the facts of a FactBatch (fact_batch.cc) and the
// one-serial events of SERIAL_LOCATION_MISMATCH's facts. Fields on the wire
// are (tag, length, bytes) and may come in any order; a repeated message
// field may appear any number of times.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace exportwatch::wire {

inline size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}

inline void AppendVarint(uint64_t v, std::string* out) {
  while (v >= 0x80) {
    out->push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out->push_back(static_cast<char>(v));
}

// The tag of a length-delimited field (strings, bytes, messages).
constexpr uint64_t LengthDelimitedTag(int field_number) {
  return (static_cast<uint64_t>(field_number) << 3) | 2;
}

// The bytes a length-delimited field of `length` bytes takes, tag included.
inline size_t LengthDelimitedSize(int field_number, size_t length) {
  return VarintSize(LengthDelimitedTag(field_number)) + VarintSize(length) + length;
}

// Appends the tag and length of a field whose `length` bytes follow.
inline void AppendLengthDelimitedHeader(int field_number, size_t length, std::string* out) {
  AppendVarint(LengthDelimitedTag(field_number), out);
  AppendVarint(length, out);
}

inline void AppendLengthDelimited(int field_number, absl::string_view bytes, std::string* out) {
  AppendLengthDelimitedHeader(field_number, bytes.size(), out);
  out->append(bytes.data(), bytes.size());
}

}  // namespace exportwatch::wire

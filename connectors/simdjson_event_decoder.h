// Fast JSON decoding of input events: simdjson's DOM parser (one pass that
// validates the syntax, UTF-8 and nesting), then a walk that fills the
// `v1::Event` through generated setters. No reflection, no intermediate
// representation, no per-field allocation beyond the message's own strings.
//
// Semantics: exactly those of protobuf 3.21's JSON mapping as event_codec.cc
// configures it (`JsonStringToMessage`, default `JsonParseOptions`, unknown
// fields removed and counted by a retry), which stays the reference: for any
// document this decoder accepts, the reference accepts it and produces the
// same message (byte for byte once serialised); for any document it rejects,
// the reference rejects it too. tests/connectors/json_equivalence_test.cc
// checks this on fixtures, generator output and mutation fuzz. In detail:
//
// - keys: the proto name (`event_id`) or the json_name (`eventId`), case
//   sensitive; any other key is an unknown field: skipped and counted.
// - `null` for any field, or as an element of a repeated field, means "not
//   set" (no presence for messages and optional fields, no element).
// - string fields: JSON strings only. int64: a JSON integer, a number with an
//   integral value (`5.0`, `1e3`) in range, or a string `[+-]?[0-9]+` in
//   range. double: any JSON number. bool: `true` / `false`. Enums: the value
//   name exactly as declared, a string holding the number of a declared
//   value (`"2"`, `"+02"`), or any integral JSON number in int32 range
//   (undeclared numbers are kept, as proto3 does).
// - Timestamp: protobuf's RFC 3339 reader: `YYYY-MM-DDTHH:MM:SS[.frac]`
//   then `Z` or `+HH:MM` / `-HH:MM`; the date and time fields may have
//   fewer digits (`2025-1-2T3:4:5Z`), the fraction any number of digits
//   (nanoseconds from the first nine), the day is checked against the
//   month; the text ends at the first NUL character. No range check beyond
//   years 1-9999 (ValidateEvent does it).
// - a repeated field given a single value (not an array) holds that one
//   element.
// - the record's limits (`DecodeLimits`) are enforced while decoding, so
//   that DecodeEvent can skip ValidateEvent's reflection walk (CheckShape):
//   nesting exactly as the reference's pre-scan counts it, string sizes and
//   element counts with CheckShape's messages (reported once the whole
//   record is known to need no hand-over: a field given twice could change
//   the answer). Numbers are finite: JSON has no others.
//
// Forms that protobuf's mapping treats in ways this decoder does not mirror
// are answered with UNIMPLEMENTED, and the caller decodes that record with
// the reference instead (DecodeEvent does, see DecodeInfo::json_fallback).
// None occurs in well-formed producer output. They are:
// - anything simdjson rejects (syntax errors, but also the reference's
//   extensions: single quotes, unquoted keys, `\v` escapes, big integers...),
//   so that the reference's error message is the one reported;
// - a field given twice (the reference merges messages, concatenates
//   repeated fields, keeps the last scalar, rejects a second oneof member);
// - an empty key; a root that is not an object; many unknown fields in one
//   object (over 16) or a large object inside one (over 64 keys);
// - a string for a double or bool field (protobuf reads it with strtod /
//   safe_strtob, e.g. "0x10", "Infinity", "yes");
// - a Timestamp written as an object (`{"seconds": 1}`);
// - an array nested in a repeated field (the reference flattens it);
// - with unknown fields present, anything the reference's retry (which
//   round-trips the document through google.protobuf.Value, i.e. doubles)
//   reads differently: integers beyond 2^53 for int64 fields, `-0.0` for
//   double fields, an unknown key given twice or a duplicated key inside an
//   unknown field (its re-parse rejects them), deep nesting. (With unknown
//   fields and one field spelled both ways, `event_id` and `eventId`, the
//   retry is not even deterministic: it re-reads the keys in the order of a
//   protobuf Map, which varies between instances. Handed over as a field
//   given twice.)
// - nesting deeper than the limit, for the reference's message.
//
// Memory: the parser and a padded copy of the record are kept between calls
// and grow to the largest record seen, bounded by
// DecodeLimits::max_record_bytes (simdjson needs ~8-16 bytes per input byte);
// so are the last message of each stream, reused. Elements of a repeated
// field past max_repeated are checked but not stored.
//
// Not thread-safe: one decoder per thread (DecodeEvent keeps one per thread).
#pragma once

#include <memory>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "connectors/event_codec.h"
#include "exportwatch/v1/events.pb.h"

namespace exportwatch {

class SimdjsonEventDecoder {
 public:
  // What the JSON document is: one event of a stream (a Kafka record), or a
  // replay line wrapping one ({"trade": {...}}, ...: a v1::Event).
  enum class Root { kTrade, kCloudUsage, kModelTransfer, kEvent };

  static Root RootOf(Stream stream);

  SimdjsonEventDecoder();
  ~SimdjsonEventDecoder();
  SimdjsonEventDecoder(const SimdjsonEventDecoder&) = delete;
  SimdjsonEventDecoder& operator=(const SimdjsonEventDecoder&) = delete;

  // Decodes `json` into `*out` (cleared first; for a stream root, its member
  // of the oneof is set). The nesting limit is limits.max_json_depth, plus
  // one for Root::kEvent (the wrapper), as DecodeReplayLine has it.
  // Does not check max_record_bytes (the caller does, before), nor the
  // contract's rules (ValidateEvent's other checks).
  //
  // Returns OK; INVALID_ARGUMENT, the record is bad, with a message naming
  // the field ("invalid JSON: items[0].quantity: ..." for a value the
  // mapping rejects, CheckShape's message for a limit); or UNIMPLEMENTED:
  // the record uses a form listed above, decode it with protobuf's mapping.
  // `*had_unknown_fields` (may be null) is set only on OK.
  [[nodiscard]] absl::Status Decode(Root root, absl::string_view json, const DecodeLimits& limits,
                                    v1::Event* out, bool* had_unknown_fields);

  // For tests: the decoder's field tables hold every field of the schema,
  // under its proto name and json_name (INTERNAL naming the first that
  // does not).
  [[nodiscard]] static absl::Status CheckFieldTables();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace exportwatch

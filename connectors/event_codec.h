// Decoding and validation of input records (shared/contract/EVENTS.md).
//
// Everything here treats its input as hostile: sizes and nesting are checked
// before the parser sees the bytes (or by it, for simdjson), every field the
// contract constrains is validated, and every failure is an INVALID_ARGUMENT
// whose message is the reason written on the dead letter.
//
// JSON is decoded by SimdjsonEventDecoder (simdjson_event_decoder.h), which
// has exactly the semantics of protobuf's JSON mapping and hands the few
// forms it does not mirror to that mapping (the *ProtobufJson functions
// below, also the reference its tests compare it with).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "exportwatch/v1/events.pb.h"

namespace exportwatch {

enum class Stream { kTrade, kCloudUsage, kModelTransfer };
enum class ContentType { kJson, kProtobuf };

absl::string_view StreamName(Stream stream);

struct DecodeLimits {
  // Records larger than this are rejected before parsing. Default 900 KiB:
  // a valid event then always fits, re-encoded as a fact, under Kafka's
  // default 1 MB message size.
  size_t max_record_bytes = 900 << 10;
  // Deepest JSON nesting accepted (objects and arrays). The deepest valid
  // event nests 4 levels; default 16.
  int max_json_depth = 16;
  // Longest string field, in bytes. Default 4 KiB (contract).
  size_t max_string_bytes = 4096;
  // Most elements in any one repeated field. Default 10,000.
  int max_repeated = 10000;
};

// Outcome details that are not errors.
struct DecodeInfo {
  // The record carried fields the schema does not know (ignored, counted).
  bool had_unknown_fields = false;
  // JSON only: the record used a form the fast decoder leaves to protobuf's
  // JSON mapping, which decoded it (see simdjson_event_decoder.h).
  bool json_fallback = false;
};

// `header` is the record's content-type header; empty means JSON.
[[nodiscard]] absl::StatusOr<ContentType> ParseContentType(absl::string_view header);

// Decodes one record of `stream` into the matching member of `out` and
// validates it. On error `out` is unspecified.
[[nodiscard]] absl::Status DecodeEvent(Stream stream, ContentType type, absl::string_view payload,
                                       const DecodeLimits& limits, v1::Event* out,
                                       DecodeInfo* info);

// Decodes one line of a replay file: {"trade": {...}} | {"cloud_usage": ...}
// | {"model_transfer": ...}, and validates it.
[[nodiscard]] absl::Status DecodeReplayLine(absl::string_view line, const DecodeLimits& limits,
                                            v1::Event* out, DecodeInfo* info);

// The same, with protobuf's JSON mapping (JsonStringToMessage after a depth
// pre-scan; unknown fields removed and counted by a retry) instead of the
// fast decoder: same results, several times slower. The fast decoder's
// fallback, and the reference of its tests and benchmarks.
[[nodiscard]] absl::Status DecodeEventProtobufJson(Stream stream, absl::string_view payload,
                                                   const DecodeLimits& limits, v1::Event* out,
                                                   DecodeInfo* info);
[[nodiscard]] absl::Status DecodeReplayLineProtobufJson(absl::string_view line,
                                                        const DecodeLimits& limits, v1::Event* out,
                                                        DecodeInfo* info);

// protobuf's JSON mapping alone, as the *ProtobufJson functions use it:
// nesting pre-scan (max_depth levels), JsonStringToMessage, unknown fields
// removed and counted (info->had_unknown_fields) by a retry. No other limit,
// no validation. For the fast decoder's tests.
[[nodiscard]] absl::Status ProtobufJsonToMessage(absl::string_view json, int max_depth,
                                                 google::protobuf::Message* msg, DecodeInfo* info);

// Validates a decoded event against the contract.
[[nodiscard]] absl::Status ValidateEvent(const v1::Event& event, const DecodeLimits& limits);

// ISO 3166-1 alpha-2 (upper case), plus XK (Kosovo, user-assigned but in
// use on screening lists).
bool IsIsoCountry(absl::string_view code);

// The event's envelope fields, whatever its stream.
absl::string_view EventId(const v1::Event& event);
int64_t EventTimeSeconds(const v1::Event& event);

namespace internal {
// True when the per-event finiteness check of small binary records reads
// every double of the schema (else such records take the full walk).
bool FastDoubleCheckCoversSchema();
}  // namespace internal

}  // namespace exportwatch

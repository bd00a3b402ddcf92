#include "connectors/event_codec.h"

#include <algorithm>
#include <bitset>
#include <cmath>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "common/iso_date.h"
#include "common/status_macros.h"
#include "connectors/simdjson_event_decoder.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/reflection.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace exportwatch {
namespace {

using v1::CloudUsageEvent;
using v1::Event;
using v1::ModelTransferEvent;
using v1::Party;
using v1::TradeEvent;

constexpr absl::string_view kCountries =
    "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI "
    "BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN "
    "CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK "
    "FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM "
    "HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN "
    "KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK "
    "ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP "
    "NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW "
    "SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF "
    "TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI "
    "VN VU WF WS XK YE YT ZA ZM ZW";

// kCountries as a 26 x 26 table.
const std::bitset<26 * 26>& CountryTable() {
  static const auto* table = [] {
    auto* t = new std::bitset<26 * 26>();
    for (size_t i = 0; i + 2 <= kCountries.size(); i += 3) {
      t->set((kCountries[i] - 'A') * 26 + (kCountries[i + 1] - 'A'));
    }
    return t;
  }();
  return *table;
}

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

// Rejects nesting deeper than `max_depth` without parsing: protobuf's JSON
// parser recurses per level, so a hostile depth must never reach it.
absl::Status CheckJsonDepth(absl::string_view json, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '{':
      case '[':
        if (++depth > max_depth) {
          return absl::InvalidArgumentError(
              absl::StrCat("JSON nested deeper than ", max_depth, " levels"));
        }
        break;
      case '}':
      case ']':
        --depth;
        break;
      default:
        break;
    }
  }
  return absl::OkStatus();
}

// Walks every string, repeated and double field: sizes bounded, numbers finite.
absl::Status CheckShape(const google::protobuf::Message& msg, const DecodeLimits& limits,
                        const std::string& path) {
  const auto* refl = msg.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  refl->ListFields(msg, &fields);
  for (const auto* f : fields) {
    std::string name = path.empty() ? f->name() : absl::StrCat(path, ".", f->name());
    using FD = google::protobuf::FieldDescriptor;
    if (f->is_repeated()) {
      int n = refl->FieldSize(msg, f);
      if (n > limits.max_repeated) {
        return Invalid(name, absl::StrCat("more than ", limits.max_repeated, " elements"));
      }
      for (int i = 0; i < n; ++i) {
        std::string elem = absl::StrCat(name, "[", i, "]");
        if (f->cpp_type() == FD::CPPTYPE_STRING) {
          if (refl->GetRepeatedStringReference(msg, f, i, nullptr).size() >
              limits.max_string_bytes) {
            return Invalid(elem,
                           absl::StrCat("string longer than ", limits.max_string_bytes, " bytes"));
          }
        } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
          RETURN_IF_ERROR(CheckShape(refl->GetRepeatedMessage(msg, f, i), limits, elem));
        } else if (f->cpp_type() == FD::CPPTYPE_DOUBLE) {
          if (!std::isfinite(refl->GetRepeatedDouble(msg, f, i))) {
            return Invalid(elem, "not a finite number");
          }
        }
      }
      continue;
    }
    if (f->cpp_type() == FD::CPPTYPE_STRING) {
      std::string scratch;
      if (refl->GetStringReference(msg, f, &scratch).size() > limits.max_string_bytes) {
        return Invalid(name,
                       absl::StrCat("string longer than ", limits.max_string_bytes, " bytes"));
      }
    } else if (f->cpp_type() == FD::CPPTYPE_MESSAGE) {
      RETURN_IF_ERROR(CheckShape(refl->GetMessage(msg, f), limits, name));
    } else if (f->cpp_type() == FD::CPPTYPE_DOUBLE) {
      if (!std::isfinite(refl->GetDouble(msg, f))) return Invalid(name, "not a finite number");
    }
  }
  return absl::OkStatus();
}

// Every double of the event schema, read by its generated accessor: the
// reflection walk this replaces cost ~2,000 instructions per event. An unset
// optional reads 0, which is finite.
bool EventDoublesFinite(const Event& e) {
  switch (e.kind_case()) {
    case Event::kTrade: {
      const TradeEvent& t = e.trade();
      if (!std::isfinite(t.value_usd())) return false;
      for (const auto& item : t.items()) {
        if (!std::isfinite(item.tpp_per_unit())) return false;
      }
      return std::isfinite(t.payment().amount_usd()) && std::isfinite(t.site().declared_power_mw());
    }
    case Event::kCloudUsage:
      return std::isfinite(e.cloud_usage().gpu_hours()) &&
             std::isfinite(e.cloud_usage().measured_ops());
    case Event::kModelTransfer:
      return std::isfinite(e.model_transfer().training_ops());
    case Event::KIND_NOT_SET:
      return true;
  }
  return true;
}

// How many doubles EventDoublesFinite reads: one per path from Event to a
// double field (value_usd, items.tpp_per_unit, payment.amount_usd,
// site.declared_power_mw, gpu_hours, measured_ops, training_ops).
constexpr int kDoublesRead = 7;

// Double fields reachable from `d`, one per path (the schema has no
// recursive messages; the depth bound is a guard).
int CountDoublePaths(const google::protobuf::Descriptor* d, int depth = 0) {
  using FD = google::protobuf::FieldDescriptor;
  if (depth > 32) return 0;
  int n = 0;
  for (int i = 0; i < d->field_count(); ++i) {
    const FD* f = d->field(i);
    if (f->cpp_type() == FD::CPPTYPE_DOUBLE) ++n;
    if (f->cpp_type() == FD::CPPTYPE_MESSAGE) n += CountDoublePaths(f->message_type(), depth + 1);
  }
  return n;
}

// CheckShape for an event parsed from `wire_bytes` of binary protobuf. A
// string or a repeated field's elements take at least one wire byte each,
// so a payload no longer than both limits cannot break them: only the
// doubles are left to check, by the plan above instead of a walk of every
// field. Otherwise (and to name a bad field) the full walk.
absl::Status CheckShapeOfWire(const Event& event, size_t wire_bytes, const DecodeLimits& limits) {
  // A schema with a double EventDoublesFinite does not read takes the full
  // walk for every event (slower, never wrong) until it is taught the new
  // field; event_codec_test fails meanwhile.
  static const bool kAllDoublesRead = internal::FastDoubleCheckCoversSchema();
  if (kAllDoublesRead && wire_bytes <= limits.max_string_bytes &&
      wire_bytes <= static_cast<size_t>(std::max(limits.max_repeated, 0)) &&
      EventDoublesFinite(event)) {
    return absl::OkStatus();
  }
  return CheckShape(event, limits, "");
}

absl::Status CheckCountry(absl::string_view field, const std::string& code, bool required = false) {
  if (code.empty()) {
    return required ? Invalid(field, "required") : absl::OkStatus();
  }
  if (!IsIsoCountry(code)) {
    return Invalid(field, absl::StrCat("unknown country code '", code.substr(0, 8),
                                       "' (ISO 3166-1 alpha-2 expected)"));
  }
  return absl::OkStatus();
}

absl::Status CheckNonNegative(absl::string_view field, double v) {
  return v < 0 ? Invalid(field, "must be >= 0") : absl::OkStatus();
}

// RFC 3339 covers years 0001-9999; binary protobuf can carry anything, and
// a time outside that range could not be written back as JSON.
absl::Status CheckTime(absl::string_view field, const google::protobuf::Timestamp& t) {
  constexpr int64_t kMaxSeconds = 253402300799;  // 9999-12-31T23:59:59Z
  if (t.seconds() <= 0) return Invalid(field, "before 1970");
  if (t.seconds() > kMaxSeconds) return Invalid(field, "after year 9999");
  if (t.nanos() < 0 || t.nanos() > 999999999) return Invalid(field, "nanos out of range");
  return absl::OkStatus();
}

absl::Status CheckEnvelope(const std::string& event_id, bool has_time,
                           const google::protobuf::Timestamp& t) {
  if (event_id.empty()) return Invalid("event_id", "required");
  if (event_id.size() > 128) return Invalid("event_id", "longer than 128 characters");
  if (!has_time) return Invalid("event_time", "required");
  return CheckTime("event_time", t);
}

// What CheckCountry accepts, without building the field's name.
bool CountryOk(const std::string& code, bool required = false) {
  return code.empty() ? !required : IsIsoCountry(code);
}

// Ten characters that absl::ParseCivilTime reads as a day. It also takes
// other spellings (a sign, spaces: strtoll reads the year); the common one,
// a valid date in digits, is answered without it.
bool IsDate(const std::string& s) {
  absl::CivilDay day;
  return ParseIsoDay(s, &day);
}

// `field`, or `field[index]` for index >= 0. Field names are built only for
// an error: this runs for every event.
absl::Status CheckParty(absl::string_view field, int index, const Party& p) {
  auto name = [&](absl::string_view sub) {
    std::string n = index < 0 ? std::string(field) : absl::StrCat(field, "[", index, "]");
    return sub.empty() ? n : absl::StrCat(n, ".", sub);
  };
  if (p.entity_id().empty() && p.name().empty()) {
    return Invalid(name(""), "a party needs entity_id or name");
  }
  if (!CountryOk(p.country())) return CheckCountry(name("country"), p.country());
  if (!CountryOk(p.hq_country())) return CheckCountry(name("hq_country"), p.hq_country());
  if (!CountryOk(p.ultimate_parent_hq_country())) {
    return CheckCountry(name("ultimate_parent_hq_country"), p.ultimate_parent_hq_country());
  }
  if (!p.incorporated_on().empty() && !IsDate(p.incorporated_on())) {
    return Invalid(name("incorporated_on"), "not a YYYY-MM-DD date");
  }
  return absl::OkStatus();
}

absl::Status ValidateTrade(const TradeEvent& e) {
  RETURN_IF_ERROR(CheckEnvelope(e.event_id(), e.has_event_time(), e.event_time()));
  if (e.has_exporter()) RETURN_IF_ERROR(CheckParty("exporter", -1, e.exporter()));
  if (e.has_purchaser()) RETURN_IF_ERROR(CheckParty("purchaser", -1, e.purchaser()));
  if (e.has_ultimate_consignee()) {
    RETURN_IF_ERROR(CheckParty("ultimate_consignee", -1, e.ultimate_consignee()));
  }
  if (e.has_end_user()) RETURN_IF_ERROR(CheckParty("end_user", -1, e.end_user()));
  for (int i = 0; i < e.intermediate_consignees_size(); ++i) {
    RETURN_IF_ERROR(CheckParty("intermediate_consignees", i, e.intermediate_consignees(i)));
  }
  RETURN_IF_ERROR(CheckCountry("destination_country", e.destination_country()));
  for (int i = 0; i < e.route_size(); ++i) {
    if (!CountryOk(e.route(i).country(), /*required=*/true)) {
      return CheckCountry(absl::StrCat("route[", i, "].country"), e.route(i).country(),
                          /*required=*/true);
    }
  }
  for (int i = 0; i < e.items_size(); ++i) {
    const auto& item = e.items(i);
    if (item.quantity() <= 0) {
      return Invalid(absl::StrCat("items[", i, "].quantity"), "must be a positive integer");
    }
    if (item.has_tpp_per_unit() && item.tpp_per_unit() < 0) {
      return CheckNonNegative(absl::StrCat("items[", i, "].tpp_per_unit"), item.tpp_per_unit());
    }
    if (item.chip_model().empty() && !item.has_tpp_per_unit()) {
      return Invalid(absl::StrCat("items[", i, "]"), "needs chip_model or tpp_per_unit");
    }
  }
  RETURN_IF_ERROR(CheckNonNegative("value_usd", e.value_usd()));
  RETURN_IF_ERROR(CheckNonNegative("payment.amount_usd", e.payment().amount_usd()));
  RETURN_IF_ERROR(CheckCountry("payment.payer_country", e.payment().payer_country()));
  if (e.site().has_declared_power_mw()) {
    RETURN_IF_ERROR(CheckNonNegative("site.declared_power_mw", e.site().declared_power_mw()));
  }
  return absl::OkStatus();
}

absl::Status ValidateCloud(const CloudUsageEvent& e) {
  RETURN_IF_ERROR(CheckEnvelope(e.event_id(), e.has_event_time(), e.event_time()));
  RETURN_IF_ERROR(CheckCountry("datacenter_country", e.datacenter_country()));
  if (e.has_tenant()) RETURN_IF_ERROR(CheckParty("tenant", -1, e.tenant()));
  if (e.accelerator_count() < 0) return Invalid("accelerator_count", "must be >= 0");
  if (e.has_gpu_hours()) RETURN_IF_ERROR(CheckNonNegative("gpu_hours", e.gpu_hours()));
  RETURN_IF_ERROR(CheckNonNegative("measured_ops", e.measured_ops()));
  if (e.has_period_start()) RETURN_IF_ERROR(CheckTime("period_start", e.period_start()));
  if (e.has_period_end()) RETURN_IF_ERROR(CheckTime("period_end", e.period_end()));
  if (e.has_period_start() && e.has_period_end() &&
      e.period_end().seconds() < e.period_start().seconds()) {
    return Invalid("period_end", "before period_start");
  }
  return absl::OkStatus();
}

absl::Status ValidateModel(const ModelTransferEvent& e) {
  RETURN_IF_ERROR(CheckEnvelope(e.event_id(), e.has_event_time(), e.event_time()));
  RETURN_IF_ERROR(CheckNonNegative("training_ops", e.training_ops()));
  RETURN_IF_ERROR(CheckCountry("source_country", e.source_country()));
  RETURN_IF_ERROR(CheckCountry("destination_country", e.destination_country()));
  if (e.has_source_org()) RETURN_IF_ERROR(CheckParty("source_org", -1, e.source_org()));
  if (e.has_recipient()) RETURN_IF_ERROR(CheckParty("recipient", -1, e.recipient()));
  return absl::OkStatus();
}

// Removes, recursively, the object keys that `type` does not define (the
// JSON mapping's names: json_name or the proto name). Returns how many.
int PruneUnknownFields(google::protobuf::Value* value, const google::protobuf::Descriptor* type) {
  if (value->has_list_value()) {
    int n = 0;
    for (auto& v : *value->mutable_list_value()->mutable_values())
      n += PruneUnknownFields(&v, type);
    return n;
  }
  if (!value->has_struct_value()) return 0;
  // Well-known types (Timestamp, Struct...) have their own JSON forms.
  if (type->file()->package() == "google.protobuf") return 0;
  int n = 0;
  auto* fields = value->mutable_struct_value()->mutable_fields();
  for (auto it = fields->begin(); it != fields->end();) {
    const google::protobuf::FieldDescriptor* f = type->FindFieldByName(it->first);
    if (f == nullptr) f = type->FindFieldByCamelcaseName(it->first);
    if (f == nullptr) {
      ++n;
      it = fields->erase(it);
      continue;
    }
    if (f->message_type() != nullptr) n += PruneUnknownFields(&it->second, f->message_type());
    ++it;
  }
  return n;
}

// Parses strictly: a misspelt enum value or a wrong type is an error. When
// the only trouble is fields the schema does not know, they are removed and
// counted (the contract: "unknown fields are ignored and counted"); the
// lenient protobuf parser cannot do this, as it also drops unknown enum
// values silently.
absl::Status ParseJson(absl::string_view json, google::protobuf::Message* msg, DecodeInfo* info) {
  google::protobuf::util::JsonParseOptions strict;
  google::protobuf::StringPiece piece(json.data(), json.size());
  auto s = google::protobuf::util::JsonStringToMessage(piece, msg, strict);
  if (s.ok()) return absl::OkStatus();
  auto invalid = [](const auto& status) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid JSON: ", std::string(status.message()).substr(0, 200)));
  };
  if (std::string(s.message()).find("Cannot find field") == std::string::npos) return invalid(s);
  // Slow path, only for records that carry unknown fields.
  google::protobuf::Value generic;
  auto g = google::protobuf::util::JsonStringToMessage(piece, &generic, strict);
  if (!g.ok()) return invalid(g);
  int unknown = PruneUnknownFields(&generic, msg->GetDescriptor());
  std::string pruned;
  auto p = google::protobuf::util::MessageToJsonString(generic, &pruned);
  if (!p.ok()) return invalid(p);
  msg->Clear();
  auto s2 = google::protobuf::util::JsonStringToMessage(pruned, msg, strict);
  if (!s2.ok()) return invalid(s2);
  if (info && unknown > 0) info->had_unknown_fields = true;
  return absl::OkStatus();
}

}  // namespace

namespace internal {
bool FastDoubleCheckCoversSchema() { return CountDoublePaths(Event::descriptor()) == kDoublesRead; }
}  // namespace internal

absl::string_view StreamName(Stream stream) {
  switch (stream) {
    case Stream::kTrade:
      return "trade";
    case Stream::kCloudUsage:
      return "cloud_usage";
    case Stream::kModelTransfer:
      return "model_transfer";
  }
  return "unknown";
}

bool IsIsoCountry(absl::string_view code) {
  return code.size() == 2 && code[0] >= 'A' && code[0] <= 'Z' && code[1] >= 'A' && code[1] <= 'Z' &&
         CountryTable()[(code[0] - 'A') * 26 + (code[1] - 'A')];
}

absl::StatusOr<ContentType> ParseContentType(absl::string_view header) {
  if (header.empty() || header == "application/json" ||
      header.substr(0, 17) == "application/json;") {
    return ContentType::kJson;
  }
  if (header == "application/x-protobuf" || header == "application/protobuf") {
    return ContentType::kProtobuf;
  }
  return absl::InvalidArgumentError(absl::StrCat("unsupported content-type '", header.substr(0, 64),
                                                 "' (application/json or application/x-protobuf)"));
}

namespace {

// ValidateEvent's checks but the shapes (CheckShape), which the fast JSON
// decoder enforces while it decodes.
absl::Status ValidateContents(const Event& event) {
  switch (event.kind_case()) {
    case Event::kTrade:
      return ValidateTrade(event.trade());
    case Event::kCloudUsage:
      return ValidateCloud(event.cloud_usage());
    case Event::kModelTransfer:
      return ValidateModel(event.model_transfer());
    case Event::KIND_NOT_SET:
      break;
  }
  return absl::InvalidArgumentError("no event");
}

// One per thread: it keeps its parser's buffers between records.
SimdjsonEventDecoder& ThreadDecoder() {
  thread_local SimdjsonEventDecoder decoder;
  return decoder;
}

absl::Status CheckRecord(absl::string_view payload, const DecodeLimits& limits) {
  if (payload.size() > limits.max_record_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "record of ", payload.size(), " bytes exceeds the limit of ", limits.max_record_bytes));
  }
  if (payload.empty()) return absl::InvalidArgumentError("empty record");
  return absl::OkStatus();
}

google::protobuf::Message* MemberOf(Stream stream, Event* out) {
  switch (stream) {
    case Stream::kTrade:
      return out->mutable_trade();
    case Stream::kCloudUsage:
      return out->mutable_cloud_usage();
    case Stream::kModelTransfer:
      return out->mutable_model_transfer();
  }
  return out->mutable_trade();
}

absl::Status CheckWrapped(const Event& event) {
  if (event.kind_case() == Event::KIND_NOT_SET) {
    return absl::InvalidArgumentError(
        "line must wrap the event: {\"trade\": ...}, {\"cloud_usage\": ...} or "
        "{\"model_transfer\": ...}");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status DecodeEvent(Stream stream, ContentType type, absl::string_view payload,
                         const DecodeLimits& limits, Event* out, DecodeInfo* info) {
  RETURN_IF_ERROR(CheckRecord(payload, limits));
  if (type == ContentType::kJson) {
    bool unknown = false;
    absl::Status s = ThreadDecoder().Decode(SimdjsonEventDecoder::RootOf(stream), payload, limits,
                                            out, &unknown);
    if (s.ok()) {
      if (info && unknown) info->had_unknown_fields = true;
      return ValidateContents(*out);
    }
    if (s.code() != absl::StatusCode::kUnimplemented) return s;
    if (info) info->json_fallback = true;
    return DecodeEventProtobufJson(stream, payload, limits, out, info);
  }
  // The member of the previous record's stream is kept: cleared, it keeps
  // the memory of its strings, repeated fields and sub-messages (those are
  // `optional` in events.proto for this). Another stream replaces it.
  google::protobuf::Message* msg = MemberOf(stream, out);
  msg->Clear();
  // Binary protobuf: nesting is bounded by the schema (no recursive
  // messages), sizes by max_record_bytes.
  if (!msg->ParseFromArray(payload.data(), static_cast<int>(payload.size()))) {
    return absl::InvalidArgumentError("invalid protobuf");
  }
  if (info && !msg->GetReflection()->GetUnknownFields(*msg).empty()) {
    info->had_unknown_fields = true;
  }
  RETURN_IF_ERROR(CheckShapeOfWire(*out, payload.size(), limits));
  return ValidateContents(*out);
}

absl::Status DecodeEventProtobufJson(Stream stream, absl::string_view payload,
                                     const DecodeLimits& limits, Event* out, DecodeInfo* info) {
  RETURN_IF_ERROR(CheckRecord(payload, limits));
  out->Clear();
  google::protobuf::Message* msg = MemberOf(stream, out);
  RETURN_IF_ERROR(CheckJsonDepth(payload, limits.max_json_depth));
  RETURN_IF_ERROR(ParseJson(payload, msg, info));
  return ValidateEvent(*out, limits);
}

absl::Status DecodeReplayLine(absl::string_view line, const DecodeLimits& limits, Event* out,
                              DecodeInfo* info) {
  if (line.size() > limits.max_record_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line of ", line.size(), " bytes exceeds the limit of ", limits.max_record_bytes));
  }
  bool unknown = false;
  absl::Status s =
      ThreadDecoder().Decode(SimdjsonEventDecoder::Root::kEvent, line, limits, out, &unknown);
  if (s.ok()) {
    RETURN_IF_ERROR(CheckWrapped(*out));
    if (info && unknown) info->had_unknown_fields = true;
    return ValidateContents(*out);
  }
  if (s.code() != absl::StatusCode::kUnimplemented) return s;
  if (info) info->json_fallback = true;
  return DecodeReplayLineProtobufJson(line, limits, out, info);
}

absl::Status DecodeReplayLineProtobufJson(absl::string_view line, const DecodeLimits& limits,
                                          Event* out, DecodeInfo* info) {
  if (line.size() > limits.max_record_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "line of ", line.size(), " bytes exceeds the limit of ", limits.max_record_bytes));
  }
  out->Clear();
  RETURN_IF_ERROR(CheckJsonDepth(line, limits.max_json_depth + 1));
  RETURN_IF_ERROR(ParseJson(line, out, info));
  RETURN_IF_ERROR(CheckWrapped(*out));
  return ValidateEvent(*out, limits);
}

absl::Status ProtobufJsonToMessage(absl::string_view json, int max_depth,
                                   google::protobuf::Message* msg, DecodeInfo* info) {
  RETURN_IF_ERROR(CheckJsonDepth(json, max_depth));
  return ParseJson(json, msg, info);
}

absl::Status ValidateEvent(const Event& event, const DecodeLimits& limits) {
  RETURN_IF_ERROR(CheckShape(event, limits, ""));
  return ValidateContents(event);
}

absl::string_view EventId(const Event& event) {
  switch (event.kind_case()) {
    case Event::kTrade:
      return event.trade().event_id();
    case Event::kCloudUsage:
      return event.cloud_usage().event_id();
    case Event::kModelTransfer:
      return event.model_transfer().event_id();
    case Event::KIND_NOT_SET:
      break;
  }
  return {};
}

int64_t EventTimeSeconds(const Event& event) {
  switch (event.kind_case()) {
    case Event::kTrade:
      return event.trade().event_time().seconds();
    case Event::kCloudUsage:
      return event.cloud_usage().event_time().seconds();
    case Event::kModelTransfer:
      return event.model_transfer().event_time().seconds();
    case Event::KIND_NOT_SET:
      break;
  }
  return 0;
}

}  // namespace exportwatch

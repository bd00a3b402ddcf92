#include "connectors/simdjson_event_decoder.h"

#include <simdjson.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "google/protobuf/timestamp.pb.h"

namespace exportwatch {
namespace {

namespace dom = simdjson::dom;
using ElementType = dom::element_type;
using google::protobuf::RepeatedPtrField;
using google::protobuf::Timestamp;

// Every integer up to this magnitude is exactly a double.
constexpr int64_t kMaxExactDouble = int64_t{1} << 53;
// Deepest max_json_depth for which the reference's unknown-field retry is
// known to work (it re-parses the document as google.protobuf.Value, three
// message levels per JSON level, under protobuf's recursion limit of 100).
constexpr int kMaxRetryDepth = 24;
// Keys of an object inside an unknown field compared pairwise for
// duplicates; larger objects go to the reference.
constexpr int kMaxUnknownObjectKeys = 64;
// Unknown fields per message (compared pairwise); more go to the reference.
constexpr int kMaxUnknownKeys = 16;

absl::string_view Sv(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Only after checking the element's type. By value: value_unsafe() returns a
// reference into a temporary.
dom::array AsArray(dom::element v) { return v.get_array().value_unsafe(); }
dom::object AsObject(dom::element v) { return v.get_object().value_unsafe(); }

// How a JSON value reads for error messages.
absl::string_view Kind(ElementType type) {
  switch (type) {
    case ElementType::ARRAY:
      return "an array";
    case ElementType::OBJECT:
      return "an object";
    case ElementType::INT64:
    case ElementType::UINT64:
    case ElementType::DOUBLE:
      return "a number";
    case ElementType::STRING:
      return "a string";
    case ElementType::BOOL:
      return "a boolean";
    case ElementType::NULL_VALUE:
      return "null";
  }
  return "a value";
}

// A short, printable excerpt of an input value for an error message.
std::string Quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = absl::StrCat("\"", absl::CHexEscape(Sv(s.substr(0, kMax))), "\"");
  if (s.size() > kMax) out.insert(out.size() - 1, "...");
  return out;
}

// Members of Event's oneof kept for reuse: cleared, they keep their strings
// and repeated elements, so that decoding allocates less (a processor
// decodes every record into one Event). Their sub-messages (Party,
// Payment...) are kept too: they are `optional` in events.proto, so Clear()
// empties them rather than deleting them.
struct Spares {
  std::unique_ptr<v1::TradeEvent> trade;
  std::unique_ptr<v1::CloudUsageEvent> cloud_usage;
  std::unique_ptr<v1::ModelTransferEvent> model_transfer;

  // Moves out's member, if any, here and clears *out.
  void Stash(v1::Event* out) {
    switch (out->kind_case()) {
      case v1::Event::kTrade:
        trade.reset(out->release_trade());
        break;
      case v1::Event::kCloudUsage:
        cloud_usage.reset(out->release_cloud_usage());
        break;
      case v1::Event::kModelTransfer:
        model_transfer.reset(out->release_model_transfer());
        break;
      case v1::Event::KIND_NOT_SET:
        break;
    }
    out->Clear();
  }

  // Sets out's member from the spare (cleared) or a new one.
  template <typename M>
  static M* Install(v1::Event* out, std::unique_ptr<M>& spare,
                    void (v1::Event::*set_allocated)(M*)) {
    M* m = spare != nullptr ? spare.release() : new M();
    m->Clear();
    (out->*set_allocated)(m);
    return m;
  }
};

// State of one Decode() call: limits, findings, the path to the current
// field (rendered only for an error) and the failure.
class Ctx {
 public:
  enum class Failure { kNone, kInvalid, kUnsupported };

  Ctx(const DecodeLimits& limits, absl::string_view shape_root, int max_nesting, Spares* spares)
      : limits_(limits), shape_root_(shape_root), max_nesting_(max_nesting), spares_(spares) {}

  const DecodeLimits& limits() const { return limits_; }
  Spares& spares() { return *spares_; }

  // Around every object and array. Deeper than the limit, the record is
  // handed over, for the reference's own message.
  bool Enter() {
    if (++nesting_ > max_nesting_) return Unsupported("nested deeper than the limit");
    return true;
  }
  void Leave() { --nesting_; }

  void Push(absl::string_view name) {
    if (depth_ < kMaxFrames) frames_[depth_] = {name, -1};
    ++depth_;
  }
  void Pop() { --depth_; }
  void SetIndex(int index) {
    if (depth_ > 0 && depth_ <= kMaxFrames) frames_[depth_ - 1].index = index;
  }

  // The record carries a key the schema does not define.
  void SawUnknown() { unknown_ = true; }
  bool unknown() const { return unknown_; }
  // A value the reference's unknown-field retry would read differently.
  void SawRetryLossy() { retry_lossy_ = true; }
  bool retry_lossy() const { return retry_lossy_; }

  // Failures. Each returns false, for `return ctx.Invalid(...)`.
  // A value the JSON mapping rejects: "invalid JSON: <path>: <why>", the
  // path from the document's root.
  bool Invalid(absl::string_view why) {
    failure_ = Failure::kInvalid;
    std::string path = Path();
    message_ = path.empty() ? absl::StrCat("invalid JSON: ", why)
                            : absl::StrCat("invalid JSON: ", path, ": ", why);
    return false;
  }
  // A DecodeLimits violation, in CheckShape's words (path from the Event).
  // Not final: decoding goes on, since a later form left to the reference
  // may change the outcome (a field given twice keeps its last value there);
  // the first violation is the error if none comes. Returns true.
  bool Limit(absl::string_view why) {
    if (!limit_message_.empty()) return true;
    std::string path = Path();
    if (!shape_root_.empty()) {
      path = path.empty() ? std::string(shape_root_) : absl::StrCat(shape_root_, ".", path);
    }
    limit_message_ = absl::StrCat(path, ": ", why);
    return true;
  }
  const std::string& limit_message() const { return limit_message_; }
  // A form left to the reference.
  bool Unsupported(absl::string_view why) {
    failure_ = Failure::kUnsupported;
    message_ = std::string(why);
    return false;
  }

  absl::Status status() const {
    switch (failure_) {
      case Failure::kNone:
        return absl::OkStatus();
      case Failure::kInvalid:
        return absl::InvalidArgumentError(message_);
      case Failure::kUnsupported:
        return absl::UnimplementedError(message_);
    }
    return absl::InternalError("unreachable");
  }

 private:
  static constexpr int kMaxFrames = 8;  // the schema nests 4 deep
  struct Frame {
    absl::string_view name;
    int index;
  };

  std::string Path() const {
    std::string out;
    for (int i = 0; i < depth_ && i < kMaxFrames; ++i) {
      if (i > 0) out += '.';
      absl::StrAppend(&out, frames_[i].name);
      if (frames_[i].index >= 0) absl::StrAppend(&out, "[", frames_[i].index, "]");
    }
    return out;
  }

  const DecodeLimits& limits_;
  const absl::string_view shape_root_;
  const int max_nesting_;
  Spares* const spares_;
  int nesting_ = 0;
  Frame frames_[kMaxFrames];
  int depth_ = 0;
  bool unknown_ = false;
  bool retry_lossy_ = false;
  Failure failure_ = Failure::kNone;
  std::string message_;
  std::string limit_message_;
};

// ---------------------------------------------------------------------------
// Scalars: protobuf's DataPiece conversions (util/internal/datapiece.cc).

enum class Read { kValue, kNull, kFailed };

// protobuf's safe_strto64 / safe_strto32 behind DataPiece::StringToNumber:
// no leading or trailing space, an optional sign, decimal digits, in range.
template <typename Int>
bool ParseIntString(std::string_view s, Int* out) {
  if (s.empty() || s.front() == ' ' || s.back() == ' ') return false;
  size_t i = 0;
  bool negative = false;
  if (s[0] == '-' || s[0] == '+') {
    negative = s[0] == '-';
    if (++i == s.size()) return false;
  }
  using Unsigned = std::make_unsigned_t<Int>;
  const Unsigned limit = negative ? Unsigned(std::numeric_limits<Int>::max()) + 1
                                  : Unsigned(std::numeric_limits<Int>::max());
  Unsigned value = 0;
  for (; i < s.size(); ++i) {
    if (!IsDigit(s[i])) return false;
    Unsigned digit = static_cast<Unsigned>(s[i] - '0');
    if (value > (limit - digit) / 10) return false;
    value = value * 10 + digit;
  }
  *out = negative ? static_cast<Int>(Unsigned(0) - value) : static_cast<Int>(value);
  return true;
}

Read ReadString(Ctx& ctx, dom::element v, std::string_view* out) {
  switch (v.type()) {
    case ElementType::STRING:
      *out = v.get_string().value_unsafe();
      if (out->size() > ctx.limits().max_string_bytes) {
        ctx.Limit(absl::StrCat("string longer than ", ctx.limits().max_string_bytes, " bytes"));
      }
      return Read::kValue;
    case ElementType::NULL_VALUE:
      return Read::kNull;
    default:
      ctx.Invalid(absl::StrCat("expected a string, got ", Kind(v.type())));
      return Read::kFailed;
  }
}

Read ReadInt64(Ctx& ctx, dom::element v, int64_t* out) {
  switch (v.type()) {
    case ElementType::INT64:
      *out = v.get_int64().value_unsafe();
      if (*out > kMaxExactDouble || *out < -kMaxExactDouble) ctx.SawRetryLossy();
      return Read::kValue;
    case ElementType::UINT64:
      ctx.Invalid(absl::StrCat(v.get_uint64().value_unsafe(), " is out of range for int64"));
      return Read::kFailed;
    case ElementType::DOUBLE: {
      // FloatingPointToIntConvertAndCheck: integral and in range.
      double d = v.get_double().value_unsafe();
      if (std::trunc(d) != d || d < -9223372036854775808.0 || d >= 9223372036854775808.0) {
        ctx.Invalid(absl::StrCat(d, " is not an int64"));
        return Read::kFailed;
      }
      *out = static_cast<int64_t>(d);
      return Read::kValue;
    }
    case ElementType::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      if (!ParseIntString(s, out)) {
        ctx.Invalid(absl::StrCat(Quote(s), " is not an int64"));
        return Read::kFailed;
      }
      return Read::kValue;
    }
    case ElementType::NULL_VALUE:
      return Read::kNull;
    default:
      ctx.Invalid(absl::StrCat("expected an integer, got ", Kind(v.type())));
      return Read::kFailed;
  }
}

Read ReadDouble(Ctx& ctx, dom::element v, double* out) {
  switch (v.type()) {
    case ElementType::INT64:
      *out = static_cast<double>(v.get_int64().value_unsafe());
      return Read::kValue;
    case ElementType::UINT64:
      *out = static_cast<double>(v.get_uint64().value_unsafe());
      return Read::kValue;
    case ElementType::DOUBLE:
      *out = v.get_double().value_unsafe();
      // The retry prints -0.0 as "-0", which reads back as the integer 0.
      if (*out == 0 && std::signbit(*out)) ctx.SawRetryLossy();
      return Read::kValue;
    case ElementType::STRING:
      ctx.Unsupported("a string for a double field");
      return Read::kFailed;
    case ElementType::NULL_VALUE:
      return Read::kNull;
    default:
      ctx.Invalid(absl::StrCat("expected a number, got ", Kind(v.type())));
      return Read::kFailed;
  }
}

Read ReadBool(Ctx& ctx, dom::element v, bool* out) {
  switch (v.type()) {
    case ElementType::BOOL:
      *out = v.get_bool().value_unsafe();
      return Read::kValue;
    case ElementType::STRING:
      ctx.Unsupported("a string for a bool field");
      return Read::kFailed;
    case ElementType::NULL_VALUE:
      return Read::kNull;
    default:
      ctx.Invalid(absl::StrCat("expected true or false, got ", Kind(v.type())));
      return Read::kFailed;
  }
}

// The declared values of an enum, read once from its descriptor.
struct EnumInfo {
  std::vector<std::pair<std::string, int>> values;
  std::string names;  // for error messages: "A, B, C"

  bool Known(int number) const {
    for (const auto& [name, n] : values) {
      if (n == number) return true;
    }
    return false;
  }
};

template <typename E>
const EnumInfo& InfoOf() {
  static const EnumInfo* info = [] {
    auto* i = new EnumInfo();
    const google::protobuf::EnumDescriptor* d = google::protobuf::GetEnumDescriptor<E>();
    for (int k = 0; k < d->value_count(); ++k) {
      i->values.emplace_back(d->value(k)->name(), d->value(k)->number());
      absl::StrAppend(&i->names, k > 0 ? ", " : "", d->value(k)->name());
    }
    return i;
  }();
  return *info;
}

// DataPiece::ToEnum without the lenient options: the exact name, a string
// holding a declared number, or any int32 number (kept even if undeclared).
Read ReadEnum(Ctx& ctx, dom::element v, const EnumInfo& info, int* out) {
  switch (v.type()) {
    case ElementType::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      for (const auto& [name, number] : info.values) {
        if (s == name) {
          *out = number;
          return Read::kValue;
        }
      }
      int32_t n;
      if (ParseIntString(s, &n) && info.Known(n)) {
        *out = n;
        return Read::kValue;
      }
      ctx.Invalid(absl::StrCat("unknown value ", Quote(s), " (expected one of ", info.names, ")"));
      return Read::kFailed;
    }
    case ElementType::INT64: {
      int64_t n = v.get_int64().value_unsafe();
      if (n < std::numeric_limits<int32_t>::min() || n > std::numeric_limits<int32_t>::max()) {
        ctx.Invalid(absl::StrCat(n, " is out of range for an enum"));
        return Read::kFailed;
      }
      *out = static_cast<int>(n);
      return Read::kValue;
    }
    case ElementType::DOUBLE: {
      double d = v.get_double().value_unsafe();
      if (std::trunc(d) != d || d < -2147483648.0 || d > 2147483647.0) {
        ctx.Invalid(absl::StrCat(d, " is not an enum number"));
        return Read::kFailed;
      }
      *out = static_cast<int>(d);
      return Read::kValue;
    }
    case ElementType::UINT64:
      ctx.Invalid(absl::StrCat(v.get_uint64().value_unsafe(), " is out of range for an enum"));
      return Read::kFailed;
    case ElementType::NULL_VALUE:
      return Read::kNull;
    default:
      ctx.Invalid(absl::StrCat("expected one of ", info.names, ", got ", Kind(v.type())));
      return Read::kFailed;
  }
}

// Days since 1970-01-01 of a proleptic Gregorian date.
int64_t DaysFromCivil(int64_t y, int m, int d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

bool IsLeapYear(int y) { return y % 400 == 0 || (y % 4 == 0 && y % 100 != 0); }

// protobuf's internal::ParseTime (stubs/time.cc), which reads a C string:
// the text ends at the first NUL.
bool ParseTime(std::string_view s, int64_t* seconds, int32_t* nanos) {
  if (size_t nul = s.find('\0'); nul != std::string_view::npos) s = s.substr(0, nul);
  size_t p = 0;
  auto at = [&](size_t i) { return i < s.size() ? s[i] : '\0'; };
  // At most `width` digits, at least one, value in [min, max].
  auto parse_int = [&](int width, int min, int max, int* out) {
    if (!IsDigit(at(p))) return false;
    int value = 0;
    for (int i = 0; i < width && IsDigit(at(p)); ++i, ++p) value = value * 10 + (at(p) - '0');
    if (value < min || value > max) return false;
    *out = value;
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!parse_int(4, 1, 9999, &year) || at(p++) != '-' || !parse_int(2, 1, 12, &month) ||
      at(p++) != '-' || !parse_int(2, 1, 31, &day) || at(p++) != 'T' ||
      !parse_int(2, 0, 23, &hour) || at(p++) != ':' || !parse_int(2, 0, 59, &minute) ||
      at(p++) != ':' || !parse_int(2, 0, 59, &second)) {
    return false;
  }
  static constexpr int kDaysInMonth[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (day > kDaysInMonth[month] + (month == 2 && IsLeapYear(year) ? 1 : 0)) return false;
  int64_t secs = DaysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  int32_t frac = 0;
  if (at(p) == '.') {
    ++p;
    if (!IsDigit(at(p))) return false;
    int len = 0;
    for (; IsDigit(at(p)); ++p, ++len) {
      if (len < 9) frac = frac * 10 + (at(p) - '0');
    }
    for (; len < 9; ++len) frac *= 10;
  }
  char zone = at(p);
  if (zone == 'Z') {
    ++p;
  } else if (zone == '+' || zone == '-') {
    ++p;
    int oh, om;
    if (!parse_int(2, 0, 23, &oh) || at(p++) != ':' || !parse_int(2, 0, 59, &om)) return false;
    int64_t offset = (oh * 60 + om) * 60;
    secs += zone == '+' ? -offset : offset;
  } else {
    return false;
  }
  if (p != s.size()) return false;
  *seconds = secs;
  *nanos = frac;
  return true;
}

// ---------------------------------------------------------------------------
// Messages: a table of fields per message type, generated setters.

template <typename M>
struct Field {
  absl::string_view name;       // proto name
  absl::string_view json_name;  // lowerCamelCase
  bool (*decode)(Ctx& ctx, dom::element value, M* msg);
};

template <typename M>
absl::Span<const Field<M>> FieldsOf();

template <typename T>
struct MemberFn;
template <typename C, typename R>
struct MemberFn<R (C::*)()> {
  using Class = C;
};
template <typename C, typename A>
struct MemberFn<void (C::*)(A)> {
  using Class = C;
  using Arg = A;
};
template <auto kFn>
using ClassOf = typename MemberFn<decltype(kFn)>::Class;
template <auto kFn>
using ArgOf = typename MemberFn<decltype(kFn)>::Arg;

// Skims the value of an unknown field for what would make the reference's
// retry (a re-parse as google.protobuf.Value) fail where the fields it
// keeps are fine: a duplicated key.
bool CheckUnknownValue(Ctx& ctx, dom::element v) {
  if (v.type() == ElementType::ARRAY) {
    if (!ctx.Enter()) return false;
    for (dom::element e : AsArray(v)) {
      if (!CheckUnknownValue(ctx, e)) return false;
    }
    ctx.Leave();
    return true;
  }
  if (v.type() != ElementType::OBJECT) return true;
  if (!ctx.Enter()) return false;
  std::string_view keys[kMaxUnknownObjectKeys];
  int n = 0;
  for (dom::key_value_pair kv : AsObject(v)) {
    if (n == kMaxUnknownObjectKeys) return ctx.Unsupported("a large object in an unknown field");
    for (int i = 0; i < n; ++i) {
      if (keys[i] == kv.key) return ctx.Unsupported("a duplicated key in an unknown field");
    }
    keys[n++] = kv.key;
    if (!CheckUnknownValue(ctx, kv.value)) return false;
  }
  ctx.Leave();
  return true;
}

template <typename M>
bool DecodeObject(Ctx& ctx, dom::object obj, M* msg) {
  if (!ctx.Enter()) return false;
  const absl::Span<const Field<M>> fields = FieldsOf<M>();
  uint32_t seen = 0;
  absl::string_view unknown_keys[kMaxUnknownKeys];
  int unknown_count = 0;
  size_t next = 0;  // producers write fields in order: try the next one first
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    const absl::string_view key = Sv(it.key());
    size_t i = next;
    if (i >= fields.size() || (key != fields[i].name && key != fields[i].json_name)) {
      for (i = 0; i < fields.size(); ++i) {
        if (key == fields[i].name || key == fields[i].json_name) break;
      }
    }
    if (i == fields.size()) {
      if (key.empty()) return ctx.Unsupported("an empty key");
      // The retry rejects an unknown key given twice.
      if (unknown_count == kMaxUnknownKeys) return ctx.Unsupported("many unknown fields");
      for (int k = 0; k < unknown_count; ++k) {
        if (unknown_keys[k] == key) return ctx.Unsupported("an unknown field given twice");
      }
      unknown_keys[unknown_count++] = key;
      ctx.SawUnknown();
      if (!CheckUnknownValue(ctx, it.value())) return false;
      continue;
    }
    const uint32_t bit = uint32_t{1} << i;
    if (seen & bit) return ctx.Unsupported("a field given twice");
    seen |= bit;
    next = i + 1;
    ctx.Push(fields[i].name);
    if (!fields[i].decode(ctx, it.value(), msg)) return false;
    ctx.Pop();
  }
  ctx.Leave();
  return true;
}

// Field decoders, instantiated per generated accessor.

template <auto kMutable>  // std::string* M::mutable_x()
bool StringField(Ctx& ctx, dom::element v, ClassOf<kMutable>* m) {
  std::string_view s;
  Read r = ReadString(ctx, v, &s);
  if (r == Read::kValue) (m->*kMutable)()->assign(s.data(), s.size());
  return r != Read::kFailed;
}

template <auto kSet>  // void M::set_x(int64_t)
bool Int64Field(Ctx& ctx, dom::element v, ClassOf<kSet>* m) {
  int64_t n;
  Read r = ReadInt64(ctx, v, &n);
  if (r == Read::kValue) (m->*kSet)(n);
  return r != Read::kFailed;
}

template <auto kSet>  // void M::set_x(double), optional or not
bool DoubleField(Ctx& ctx, dom::element v, ClassOf<kSet>* m) {
  double d;
  Read r = ReadDouble(ctx, v, &d);
  if (r == Read::kValue) (m->*kSet)(d);
  return r != Read::kFailed;
}

template <auto kSet>  // void M::set_x(bool)
bool BoolField(Ctx& ctx, dom::element v, ClassOf<kSet>* m) {
  bool b;
  Read r = ReadBool(ctx, v, &b);
  if (r == Read::kValue) (m->*kSet)(b);
  return r != Read::kFailed;
}

template <auto kSet>  // void M::set_x(E)
bool EnumField(Ctx& ctx, dom::element v, ClassOf<kSet>* m) {
  using E = ArgOf<kSet>;
  int n;
  Read r = ReadEnum(ctx, v, InfoOf<E>(), &n);
  if (r == Read::kValue) (m->*kSet)(static_cast<E>(n));
  return r != Read::kFailed;
}

template <auto kMutable>  // Timestamp* M::mutable_x()
bool TimestampField(Ctx& ctx, dom::element v, ClassOf<kMutable>* m) {
  switch (v.type()) {
    case ElementType::STRING: {
      std::string_view s = v.get_string().value_unsafe();
      int64_t seconds;
      int32_t nanos;
      if (!ParseTime(s, &seconds, &nanos)) {
        return ctx.Invalid(absl::StrCat(Quote(s), " is not an RFC 3339 time"));
      }
      Timestamp* t = (m->*kMutable)();
      t->set_seconds(seconds);
      t->set_nanos(nanos);
      return true;
    }
    case ElementType::NULL_VALUE:
      return true;
    case ElementType::OBJECT:
      return ctx.Unsupported("a Timestamp written as an object");
    default:
      return ctx.Invalid(absl::StrCat("expected an RFC 3339 time, got ", Kind(v.type())));
  }
}

template <auto kMutable>  // Sub* M::mutable_x()
bool MessageField(Ctx& ctx, dom::element v, ClassOf<kMutable>* m) {
  switch (v.type()) {
    case ElementType::OBJECT:
      return DecodeObject(ctx, AsObject(v), (m->*kMutable)());
    case ElementType::NULL_VALUE:
      return true;
    default:
      return ctx.Invalid(absl::StrCat("expected an object, got ", Kind(v.type())));
  }
}

// Calls add(element, index) for each element of a repeated field's value:
// the elements of an array, or a single non-array value; nulls are skipped
// (and not counted by the index).
template <typename Add>
bool ForEachElement(Ctx& ctx, dom::element v, Add add) {
  switch (v.type()) {
    case ElementType::NULL_VALUE:
      return true;
    case ElementType::ARRAY: {
      if (!ctx.Enter()) return false;
      int index = 0;
      for (dom::element e : AsArray(v)) {
        if (e.type() == ElementType::NULL_VALUE) continue;
        if (e.type() == ElementType::ARRAY) return ctx.Unsupported("an array in an array");
        ctx.SetIndex(index);
        if (!add(e, index++)) return false;
      }
      ctx.Leave();
      ctx.SetIndex(-1);
      return true;
    }
    default:
      ctx.SetIndex(0);
      if (!add(v, 0)) return false;
      ctx.SetIndex(-1);
      return true;
  }
}

// Whether element `index` is to be stored. Past the limit, elements are
// still decoded (a later form may hand the record over) but not kept: the
// record is rejected.
bool Keep(Ctx& ctx, int index) {
  if (index < ctx.limits().max_repeated) return true;
  ctx.SetIndex(-1);
  ctx.Limit(absl::StrCat("more than ", ctx.limits().max_repeated, " elements"));
  ctx.SetIndex(index);
  return false;
}

// (mutable_x is overloaded, hence the explicit types.)
template <typename M, RepeatedPtrField<std::string>* (M::*kMutable)()>
bool RepeatedStringField(Ctx& ctx, dom::element v, M* m) {
  RepeatedPtrField<std::string>* field = (m->*kMutable)();
  return ForEachElement(ctx, v, [&](dom::element e, int index) {
    const bool keep = Keep(ctx, index);  // first: CheckShape counts first
    std::string_view s;
    if (ReadString(ctx, e, &s) != Read::kValue) return false;  // never null here
    if (keep) field->Add()->assign(s.data(), s.size());
    return true;
  });
}

template <typename M, typename Sub, RepeatedPtrField<Sub>* (M::*kMutable)()>
bool RepeatedMessageField(Ctx& ctx, dom::element v, M* m) {
  auto* field = (m->*kMutable)();
  return ForEachElement(ctx, v, [&](dom::element e, int index) {
    const bool keep = Keep(ctx, index);
    if (e.type() != ElementType::OBJECT) {
      return ctx.Invalid(absl::StrCat("expected an object, got ", Kind(e.type())));
    }
    if (keep) return DecodeObject(ctx, AsObject(e), field->Add());
    Sub discarded;
    return DecodeObject(ctx, AsObject(e), &discarded);
  });
}

// A member of Event's oneof `kind`.
template <typename M, std::unique_ptr<M> Spares::*kSpare, void (v1::Event::*kSetAllocated)(M*)>
bool KindField(Ctx& ctx, dom::element v, v1::Event* m) {
  switch (v.type()) {
    case ElementType::OBJECT:
      if (m->kind_case() != v1::Event::KIND_NOT_SET) {
        return ctx.Invalid("only one of trade, cloud_usage, model_transfer may be set");
      }
      return DecodeObject(ctx, AsObject(v),
                          Spares::Install(m, ctx.spares().*kSpare, kSetAllocated));
    case ElementType::NULL_VALUE:
      return true;
    default:
      return ctx.Invalid(absl::StrCat("expected an object, got ", Kind(v.type())));
  }
}

// The tables. Order: declaration order in events.proto (producers, our own
// generator included, write fields in that order). At most 32 per message.

using v1::Authorization;
using v1::CloudUsageEvent;
using v1::Event;
using v1::Item;
using v1::ModelTransferEvent;
using v1::Party;
using v1::Payment;
using v1::RouteNode;
using v1::Site;
using v1::TradeEvent;

template <>
absl::Span<const Field<Party>> FieldsOf<Party>() {
  static constexpr Field<Party> kFields[] = {
      {"entity_id", "entityId", &StringField<&Party::mutable_entity_id>},
      {"name", "name", &StringField<&Party::mutable_name>},
      {"country", "country", &StringField<&Party::mutable_country>},
      {"hq_country", "hqCountry", &StringField<&Party::mutable_hq_country>},
      {"ultimate_parent_id", "ultimateParentId", &StringField<&Party::mutable_ultimate_parent_id>},
      {"ultimate_parent_name", "ultimateParentName",
       &StringField<&Party::mutable_ultimate_parent_name>},
      {"ultimate_parent_hq_country", "ultimateParentHqCountry",
       &StringField<&Party::mutable_ultimate_parent_hq_country>},
      {"kind", "kind", &EnumField<&Party::set_kind>},
      {"address", "address", &StringField<&Party::mutable_address>},
      {"incorporated_on", "incorporatedOn", &StringField<&Party::mutable_incorporated_on>},
      {"registration_ids", "registrationIds",
       &RepeatedStringField<Party, &Party::mutable_registration_ids>},
      {"phones", "phones", &RepeatedStringField<Party, &Party::mutable_phones>},
  };
  return kFields;
}

template <>
absl::Span<const Field<RouteNode>> FieldsOf<RouteNode>() {
  static constexpr Field<RouteNode> kFields[] = {
      {"country", "country", &StringField<&RouteNode::mutable_country>},
      {"role", "role", &EnumField<&RouteNode::set_role>},
  };
  return kFields;
}

template <>
absl::Span<const Field<Item>> FieldsOf<Item>() {
  static constexpr Field<Item> kFields[] = {
      {"chip_model", "chipModel", &StringField<&Item::mutable_chip_model>},
      {"quantity", "quantity", &Int64Field<&Item::set_quantity>},
      {"serials", "serials", &RepeatedStringField<Item, &Item::mutable_serials>},
      {"tpp_per_unit", "tppPerUnit", &DoubleField<&Item::set_tpp_per_unit>},
  };
  return kFields;
}

template <>
absl::Span<const Field<Authorization>> FieldsOf<Authorization>() {
  static constexpr Field<Authorization> kFields[] = {
      {"type", "type", &EnumField<&Authorization::set_type>},
      {"id", "id", &StringField<&Authorization::mutable_id>},
  };
  return kFields;
}

template <>
absl::Span<const Field<Payment>> FieldsOf<Payment>() {
  static constexpr Field<Payment> kFields[] = {
      {"payer_name", "payerName", &StringField<&Payment::mutable_payer_name>},
      {"payer_country", "payerCountry", &StringField<&Payment::mutable_payer_country>},
      {"amount_usd", "amountUsd", &DoubleField<&Payment::set_amount_usd>},
  };
  return kFields;
}

template <>
absl::Span<const Field<Site>> FieldsOf<Site>() {
  static constexpr Field<Site> kFields[] = {
      {"site_id", "siteId", &StringField<&Site::mutable_site_id>},
      {"declared_power_mw", "declaredPowerMw", &DoubleField<&Site::set_declared_power_mw>},
  };
  return kFields;
}

template <>
absl::Span<const Field<TradeEvent>> FieldsOf<TradeEvent>() {
  using T = TradeEvent;
  static constexpr Field<T> kFields[] = {
      {"event_id", "eventId", &StringField<&T::mutable_event_id>},
      {"event_time", "eventTime", &TimestampField<&T::mutable_event_time>},
      {"source", "source", &StringField<&T::mutable_source>},
      {"shipment_id", "shipmentId", &StringField<&T::mutable_shipment_id>},
      {"order_id", "orderId", &StringField<&T::mutable_order_id>},
      {"exporter", "exporter", &MessageField<&T::mutable_exporter>},
      {"purchaser", "purchaser", &MessageField<&T::mutable_purchaser>},
      {"ultimate_consignee", "ultimateConsignee", &MessageField<&T::mutable_ultimate_consignee>},
      {"end_user", "endUser", &MessageField<&T::mutable_end_user>},
      {"intermediate_consignees", "intermediateConsignees",
       &RepeatedMessageField<T, Party, &T::mutable_intermediate_consignees>},
      {"destination_country", "destinationCountry", &StringField<&T::mutable_destination_country>},
      {"route", "route", &RepeatedMessageField<T, RouteNode, &T::mutable_route>},
      {"items", "items", &RepeatedMessageField<T, Item, &T::mutable_items>},
      {"value_usd", "valueUsd", &DoubleField<&T::set_value_usd>},
      {"authorization", "authorization", &MessageField<&T::mutable_authorization>},
      {"payment", "payment", &MessageField<&T::mutable_payment>},
      {"declared_purpose", "declaredPurpose", &EnumField<&T::set_declared_purpose>},
      {"site", "site", &MessageField<&T::mutable_site>},
  };
  return kFields;
}

template <>
absl::Span<const Field<CloudUsageEvent>> FieldsOf<CloudUsageEvent>() {
  using C = CloudUsageEvent;
  static constexpr Field<C> kFields[] = {
      {"event_id", "eventId", &StringField<&C::mutable_event_id>},
      {"event_time", "eventTime", &TimestampField<&C::mutable_event_time>},
      {"source", "source", &StringField<&C::mutable_source>},
      {"provider_id", "providerId", &StringField<&C::mutable_provider_id>},
      {"region", "region", &StringField<&C::mutable_region>},
      {"datacenter_country", "datacenterCountry", &StringField<&C::mutable_datacenter_country>},
      {"site_id", "siteId", &StringField<&C::mutable_site_id>},
      {"tenant", "tenant", &MessageField<&C::mutable_tenant>},
      {"accelerator_model", "acceleratorModel", &StringField<&C::mutable_accelerator_model>},
      {"accelerator_count", "acceleratorCount", &Int64Field<&C::set_accelerator_count>},
      {"accelerator_serials", "acceleratorSerials",
       &RepeatedStringField<C, &C::mutable_accelerator_serials>},
      {"period_start", "periodStart", &TimestampField<&C::mutable_period_start>},
      {"period_end", "periodEnd", &TimestampField<&C::mutable_period_end>},
      {"gpu_hours", "gpuHours", &DoubleField<&C::set_gpu_hours>},
      {"measured_ops", "measuredOps", &DoubleField<&C::set_measured_ops>},
      {"workload", "workload", &EnumField<&C::set_workload>},
      {"job_id", "jobId", &StringField<&C::mutable_job_id>},
      {"model_id", "modelId", &StringField<&C::mutable_model_id>},
  };
  return kFields;
}

template <>
absl::Span<const Field<ModelTransferEvent>> FieldsOf<ModelTransferEvent>() {
  using T = ModelTransferEvent;
  static constexpr Field<T> kFields[] = {
      {"event_id", "eventId", &StringField<&T::mutable_event_id>},
      {"event_time", "eventTime", &TimestampField<&T::mutable_event_time>},
      {"source", "source", &StringField<&T::mutable_source>},
      {"transfer_id", "transferId", &StringField<&T::mutable_transfer_id>},
      {"model_id", "modelId", &StringField<&T::mutable_model_id>},
      {"base_model_id", "baseModelId", &StringField<&T::mutable_base_model_id>},
      {"training_ops", "trainingOps", &DoubleField<&T::set_training_ops>},
      {"weights_published", "weightsPublished", &BoolField<&T::set_weights_published>},
      {"source_org", "sourceOrg", &MessageField<&T::mutable_source_org>},
      {"source_country", "sourceCountry", &StringField<&T::mutable_source_country>},
      {"destination_country", "destinationCountry", &StringField<&T::mutable_destination_country>},
      {"recipient", "recipient", &MessageField<&T::mutable_recipient>},
      {"mechanism", "mechanism", &EnumField<&T::set_mechanism>},
      {"authorization", "authorization", &MessageField<&T::mutable_authorization>},
  };
  return kFields;
}

template <>
absl::Span<const Field<Event>> FieldsOf<Event>() {
  static constexpr Field<Event> kFields[] = {
      {"trade", "trade", &KindField<TradeEvent, &Spares::trade, &Event::set_allocated_trade>},
      {"cloud_usage", "cloudUsage",
       &KindField<CloudUsageEvent, &Spares::cloud_usage, &Event::set_allocated_cloud_usage>},
      {"model_transfer", "modelTransfer",
       &KindField<ModelTransferEvent, &Spares::model_transfer,
                  &Event::set_allocated_model_transfer>},
  };
  return kFields;
}

// Every field of M's descriptor is in its table, under its names, once.
template <typename M>
absl::Status CheckTable() {
  const google::protobuf::Descriptor* d = M::descriptor();
  absl::Span<const Field<M>> fields = FieldsOf<M>();
  if (fields.size() != static_cast<size_t>(d->field_count()) || fields.size() > 32) {
    return absl::InternalError(absl::StrCat(d->full_name(), ": ", fields.size(),
                                            " fields in table, ", d->field_count(),
                                            " in the schema"));
  }
  for (const Field<M>& f : fields) {
    const google::protobuf::FieldDescriptor* fd = d->FindFieldByName(std::string(f.name));
    if (fd == nullptr || fd->json_name() != f.json_name || fd->camelcase_name() != f.json_name) {
      return absl::InternalError(absl::StrCat(d->full_name(), ": table entry ", f.name, "/",
                                              f.json_name, " does not match the schema"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

class SimdjsonEventDecoder::Impl {
 public:
  absl::Status Decode(Root root, absl::string_view json, const DecodeLimits& limits, v1::Event* out,
                      bool* had_unknown_fields) {
    spares_.Stash(out);
    // simdjson reads up to SIMDJSON_PADDING bytes past the end.
    const size_t needed = json.size() + simdjson::SIMDJSON_PADDING;
    if (buffer_.size() < needed) buffer_.resize(std::max(needed, 2 * buffer_.size()));
    std::memcpy(buffer_.data(), json.data(), json.size());
    std::memset(buffer_.data() + json.size(), 0, simdjson::SIMDJSON_PADDING);

    // The reference's pre-scan accepts max_json_depth levels of nesting (one
    // more with the replay wrapper); the walk checks that exactly. simdjson's
    // own limit (it accepts max_depth - 1 levels, not counting an empty [] or
    // {}) is a little wider: it bounds the walk's recursion.
    const int max_nesting = std::max(0, limits.max_json_depth) + (root == Root::kEvent ? 1 : 0);
    const size_t max_depth = static_cast<size_t>(max_nesting) + 2;
    if (parser_.max_depth() != max_depth || parser_.capacity() < json.size()) {
      if (parser_.allocate(std::max(json.size(), parser_.capacity()), max_depth)) {
        return absl::UnimplementedError("simdjson: cannot allocate");
      }
    }
    dom::element doc;
    if (auto error = parser_.parse(buffer_.data(), json.size(), false).get(doc)) {
      return absl::UnimplementedError(absl::StrCat("simdjson: ", simdjson::error_message(error)));
    }
    if (doc.type() != ElementType::OBJECT) {
      return absl::UnimplementedError("the root is not an object");
    }
    const dom::object obj = AsObject(doc);
    bool ok = false;
    switch (root) {
      case Root::kTrade: {
        Ctx ctx(limits, "trade", max_nesting, &spares_);
        ok = DecodeObject(ctx, obj,
                          Spares::Install(out, spares_.trade, &v1::Event::set_allocated_trade));
        return Finish(ctx, ok, limits, had_unknown_fields);
      }
      case Root::kCloudUsage: {
        Ctx ctx(limits, "cloud_usage", max_nesting, &spares_);
        ok = DecodeObject(
            ctx, obj,
            Spares::Install(out, spares_.cloud_usage, &v1::Event::set_allocated_cloud_usage));
        return Finish(ctx, ok, limits, had_unknown_fields);
      }
      case Root::kModelTransfer: {
        Ctx ctx(limits, "model_transfer", max_nesting, &spares_);
        ok = DecodeObject(
            ctx, obj,
            Spares::Install(out, spares_.model_transfer, &v1::Event::set_allocated_model_transfer));
        return Finish(ctx, ok, limits, had_unknown_fields);
      }
      case Root::kEvent: {
        Ctx ctx(limits, "", max_nesting, &spares_);
        ok = DecodeObject(ctx, obj, out);
        return Finish(ctx, ok, limits, had_unknown_fields);
      }
    }
    return absl::InternalError("unknown root");
  }

 private:
  static absl::Status Finish(const Ctx& ctx, bool ok, const DecodeLimits& limits,
                             bool* had_unknown_fields) {
    if (!ok) return ctx.status();
    if (ctx.unknown() && (ctx.retry_lossy() || limits.max_json_depth > kMaxRetryDepth)) {
      return absl::UnimplementedError("unknown fields with values the retry reads differently");
    }
    if (!ctx.limit_message().empty()) return absl::InvalidArgumentError(ctx.limit_message());
    if (had_unknown_fields != nullptr) *had_unknown_fields = ctx.unknown();
    return absl::OkStatus();
  }

  dom::parser parser_;
  std::vector<char> buffer_;
  Spares spares_;
};

SimdjsonEventDecoder::Root SimdjsonEventDecoder::RootOf(Stream stream) {
  switch (stream) {
    case Stream::kTrade:
      return Root::kTrade;
    case Stream::kCloudUsage:
      return Root::kCloudUsage;
    case Stream::kModelTransfer:
      return Root::kModelTransfer;
  }
  return Root::kEvent;
}

SimdjsonEventDecoder::SimdjsonEventDecoder() : impl_(std::make_unique<Impl>()) {}
SimdjsonEventDecoder::~SimdjsonEventDecoder() = default;

absl::Status SimdjsonEventDecoder::Decode(Root root, absl::string_view json,
                                          const DecodeLimits& limits, v1::Event* out,
                                          bool* had_unknown_fields) {
  return impl_->Decode(root, json, limits, out, had_unknown_fields);
}

absl::Status SimdjsonEventDecoder::CheckFieldTables() {
  for (absl::Status s : {CheckTable<Party>(), CheckTable<RouteNode>(), CheckTable<Item>(),
                         CheckTable<Authorization>(), CheckTable<Payment>(), CheckTable<Site>(),
                         CheckTable<TradeEvent>(), CheckTable<CloudUsageEvent>(),
                         CheckTable<ModelTransferEvent>(), CheckTable<Event>()}) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace exportwatch

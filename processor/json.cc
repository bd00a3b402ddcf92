#include "processor/json.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace exportwatch {

std::string ToJson(const google::protobuf::Message& msg) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  std::string out;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(msg, &out, opts);
  return out;
}

namespace {

// Code points protobuf's printer writes as \u escapes besides the C0
// controls, '"', '\\', '<' and '>' (its list: controls, format and
// invisible characters; tests/processor/json_test.cc compares every code
// point with it).
bool EscapedAbove0x7e(uint32_t cp) {
  return (cp >= 0x7f && cp <= 0x9f) || cp == 0xad || (cp >= 0x600 && cp <= 0x603) || cp == 0x6dd ||
         cp == 0x70f || cp == 0x17b4 || cp == 0x17b5 || (cp >= 0x200b && cp <= 0x200f) ||
         (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2064) ||
         (cp >= 0x206a && cp <= 0x206f) || cp == 0xfeff || (cp >= 0xfff9 && cp <= 0xfffb) ||
         (cp >= 0x1d173 && cp <= 0x1d17a) || cp == 0xe0001 || (cp >= 0xe0020 && cp <= 0xe007f);
}

void AppendU(uint32_t unit, std::string* out) { absl::StrAppendFormat(out, "\\u%04x", unit); }

// The next code point of valid UTF-8 at s[*i] (advancing *i), or false.
bool NextCodePoint(std::string_view s, size_t* i, uint32_t* cp) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(*i);
  size_t n;
  uint32_t min;
  if (b0 < 0x80) {
    *cp = b0;
    ++*i;
    return true;
  } else if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 1, min = 0x80, *cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 2, min = 0x800, *cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 3, min = 0x10000, *cp = b0 & 0x07;
  } else {
    return false;
  }
  if (*i + n >= s.size()) return false;  // truncated sequence
  for (size_t k = 1; k <= n; ++k) {
    const unsigned char b = byte(*i + k);
    if ((b & 0xc0) != 0x80) return false;
    *cp = (*cp << 6) | (b & 0x3f);
  }
  // Overlong forms, UTF-16 surrogates and code points past U+10FFFF.
  if (*cp < min || (*cp >= 0xd800 && *cp <= 0xdfff) || *cp > 0x10ffff) return false;
  *i += n + 1;
  return true;
}

// The JSON printer of one alert: appends to out_, and sets ok_ = false on
// anything it leaves to protobuf's printer.
class AlertWriter {
 public:
  explicit AlertWriter(std::string* out) : out_(out) {}
  bool ok() const { return ok_; }

  void Alert(const v1::Alert& a) {
    Open();
    String("alert_id", a.alert_id());
    String("rule_id", a.rule_id());
    if (a.severity() != 0)
      Enum("severity", v1::Severity_IsValid(a.severity()),
           [&] { return v1::Severity_Name(a.severity()); });
    if (a.has_subject()) {
      Key("subject");
      Open();
      if (a.subject().kind() != 0) {
        Enum("kind", v1::SubjectKind_IsValid(a.subject().kind()),
             [&] { return v1::SubjectKind_Name(a.subject().kind()); });
      }
      String("id", a.subject().id());
      Close();
    }
    String("title", a.title());
    if (a.has_event_time()) Timestamp("event_time", a.event_time());
    if (a.has_detected_at()) Timestamp("detected_at", a.detected_at());
    if (a.has_policy()) {
      Key("policy");
      Open();
      String("name", a.policy().name());
      String("version", a.policy().version());
      Close();
    }
    if (a.has_evidence()) {
      Key("evidence");
      Open();
      if (!a.evidence().event_ids().empty()) {
        Key("event_ids");
        out_->push_back('[');
        for (int i = 0; i < a.evidence().event_ids_size(); ++i) {
          if (i > 0) out_->push_back(',');
          Quoted(a.evidence().event_ids(i));
        }
        out_->push_back(']');
      }
      if (a.evidence().has_values()) {
        Key("values");
        Struct(a.evidence().values());
      }
      Close();
    }
    String("cursor", a.cursor());
    if (a.has_triage()) {
      Key("triage");
      Open();
      if (a.triage().status() != 0) {
        Enum("status", v1::AlertStatus_IsValid(a.triage().status()),
             [&] { return v1::AlertStatus_Name(a.triage().status()); });
      }
      String("updated_by", a.triage().updated_by());
      String("note", a.triage().note());
      if (a.triage().has_updated_at()) Timestamp("updated_at", a.triage().updated_at());
      Close();
    }
    Close();
  }

 private:
  void Open() {
    out_->push_back('{');
    first_.push_back(true);
  }
  void Close() {
    out_->push_back('}');
    first_.pop_back();
  }
  // The comma before an object's member, unless it is the first.
  void Separate() {
    if (!first_.back()) out_->push_back(',');
    first_.back() = false;
  }
  void Key(std::string_view name) {
    Separate();
    out_->push_back('"');
    out_->append(name);
    out_->append("\":");
  }
  // proto3: an empty string is the default, not printed.
  void String(std::string_view name, const std::string& value) {
    if (value.empty()) return;
    Key(name);
    Quoted(value);
  }
  template <typename NameFn>
  void Enum(std::string_view name, bool valid, NameFn value_name) {
    if (!valid) {
      ok_ = false;  // protobuf prints the number
      return;
    }
    Key(name);
    out_->push_back('"');
    out_->append(value_name());
    out_->push_back('"');
  }

  void Quoted(std::string_view s) {
    out_->push_back('"');
    size_t i = 0;
    size_t plain_from = 0;
    while (i < s.size()) {
      const unsigned char c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '<' && c != '>') {
        ++i;
        continue;
      }
      out_->append(s.substr(plain_from, i - plain_from));
      const size_t at = i;
      uint32_t cp;
      if (!NextCodePoint(s, &i, &cp)) {
        ok_ = false;  // protobuf drops invalid bytes; leave it to protobuf
        return;
      }
      switch (cp) {
        case '"':
          out_->append("\\\"");
          break;
        case '\\':
          out_->append("\\\\");
          break;
        case '\b':
          out_->append("\\b");
          break;
        case '\f':
          out_->append("\\f");
          break;
        case '\n':
          out_->append("\\n");
          break;
        case '\r':
          out_->append("\\r");
          break;
        case '\t':
          out_->append("\\t");
          break;
        default:
          if (cp < 0x20 || cp == '<' || cp == '>' || EscapedAbove0x7e(cp)) {
            if (cp >= 0x10000) {
              AppendU(0xd800 + ((cp - 0x10000) >> 10), out_);
              AppendU(0xdc00 + ((cp - 0x10000) & 0x3ff), out_);
            } else {
              AppendU(cp, out_);
            }
          } else {
            out_->append(s.substr(at, i - at));
          }
      }
      plain_from = i;
    }
    out_->append(s.substr(plain_from));
    out_->push_back('"');
  }

  // RFC 3339 in UTC with 0, 3, 6 or 9 fraction digits, as protobuf writes.
  void Timestamp(std::string_view name, const google::protobuf::Timestamp& ts) {
    constexpr int64_t kMin = -62135596800;  // 0001-01-01T00:00:00Z
    constexpr int64_t kMax = 253402300799;  // 9999-12-31T23:59:59Z
    if (ts.seconds() < kMin || ts.seconds() > kMax || ts.nanos() < 0 || ts.nanos() > 999999999) {
      ok_ = false;
      return;
    }
    Key(name);
    const absl::CivilSecond c =
        absl::ToCivilSecond(absl::FromUnixSeconds(ts.seconds()), absl::UTCTimeZone());
    absl::StrAppendFormat(out_, "\"%04d-%02d-%02dT%02d:%02d:%02d", c.year(), c.month(), c.day(),
                          c.hour(), c.minute(), c.second());
    const int32_t nanos = ts.nanos();
    if (nanos == 0) {
    } else if (nanos % 1000000 == 0) {
      absl::StrAppendFormat(out_, ".%03d", nanos / 1000000);
    } else if (nanos % 1000 == 0) {
      absl::StrAppendFormat(out_, ".%06d", nanos / 1000);
    } else {
      absl::StrAppendFormat(out_, ".%09d", nanos);
    }
    out_->append("Z\"");
  }

  // protobuf's SimpleDtoa: 15 significant digits if they read back as the
  // same double, else 17; non-finite numbers as the strings JSON allows.
  void Number(double v) {
    if (std::isnan(v)) {
      out_->append("\"NaN\"");
      return;
    }
    if (std::isinf(v)) {
      out_->append(v > 0 ? "\"Infinity\"" : "\"-Infinity\"");
      return;
    }
    // Whole numbers below 1e15 print as their digits under %.15g.
    if (v == std::trunc(v) && std::fabs(v) < 1e15 && !(v == 0 && std::signbit(v))) {
      absl::StrAppend(out_, static_cast<int64_t>(v));
      return;
    }
    char buf[32];
    std::snprintf(buf, sizeof(buf), "%.15g", v);
    if (std::strtod(buf, nullptr) != v) std::snprintf(buf, sizeof(buf), "%.17g", v);
    out_->append(buf);
  }

  void Value(const google::protobuf::Value& v) {
    switch (v.kind_case()) {
      case google::protobuf::Value::kNullValue:
        out_->append("null");
        break;
      case google::protobuf::Value::kNumberValue:
        Number(v.number_value());
        break;
      case google::protobuf::Value::kStringValue:
        Quoted(v.string_value());
        break;
      case google::protobuf::Value::kBoolValue:
        out_->append(v.bool_value() ? "true" : "false");
        break;
      case google::protobuf::Value::kStructValue:
        Struct(v.struct_value());
        break;
      case google::protobuf::Value::kListValue: {
        out_->push_back('[');
        bool first = true;
        for (const auto& item : v.list_value().values()) {
          if (!first) out_->push_back(',');
          first = false;
          Value(item);
        }
        out_->push_back(']');
        break;
      }
      default:
        ok_ = false;  // a Value with no kind
        out_->append("null");
    }
  }

  void Struct(const google::protobuf::Struct& s) {
    std::vector<const google::protobuf::Map<std::string, google::protobuf::Value>::value_type*>
        fields;
    fields.reserve(s.fields().size());
    for (const auto& f : s.fields()) fields.push_back(&f);
    std::sort(fields.begin(), fields.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    Open();
    for (const auto* f : fields) {
      Separate();
      Quoted(f->first);  // a key of the data: escaped, unlike Key's names
      out_->push_back(':');
      Value(f->second);
    }
    Close();
  }

  std::string* out_;
  bool ok_ = true;
  // Per open object: no member written yet.
  std::vector<bool> first_;
};

}  // namespace

std::string ToJson(const v1::Alert& alert) {
  std::string out;
  out.reserve(1024);
  AlertWriter writer(&out);
  writer.Alert(alert);
  if (!writer.ok()) return ToJson(static_cast<const google::protobuf::Message&>(alert));
  return out;
}

}  // namespace exportwatch

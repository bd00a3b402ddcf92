#include "screening/list_loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "screening/csv.h"

namespace exportwatch::screening {
namespace {

absl::StatusOr<std::string> ReadBounded(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    if (errno == ENOENT) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
    return absl::FailedPreconditionError(absl::StrCat(path, ": ", std::strerror(errno)));
  }
  const std::streamoff size = in.tellg();
  if (size < 0) return absl::FailedPreconditionError(absl::StrCat(path, ": cannot size"));
  if (static_cast<uint64_t>(size) > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(path, ": ", size, " bytes exceeds max_file_bytes ", max_bytes));
  }
  std::string data(static_cast<size_t>(size), '\0');
  in.seekg(0);
  if (size > 0 && !in.read(data.data(), size)) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": read failed"));
  }
  return data;
}

bool IsValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

std::string Latin1ToUtf8(absl::string_view s) {
  std::string out;
  out.reserve(s.size() + s.size() / 8);
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x80) {
      out.push_back(ch);
    } else {
      out.push_back(static_cast<char>(0xC0 | (c >> 6)));
      out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
    }
  }
  return out;
}

std::string BaseName(const std::string& path) {
  size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

uint64_t Fnv1a(absl::string_view s, uint64_t h = 14695981039346656037ull) {
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// Records problems of one file.
class Reporter {
 public:
  Reporter(std::string file, const LoadOptions& options) : options_(options) {
    report_.file = std::move(file);
  }
  void Malformed(size_t line, absl::string_view field, absl::string_view reason) {
    ++report_.malformed;
    if (report_.errors.size() < options_.max_errors_kept) {
      if (field.empty()) {
        report_.errors.push_back(absl::StrCat(report_.file, ":", line, ": ", reason));
      } else {
        report_.errors.push_back(
            absl::StrCat(report_.file, ":", line, ": field '", field, "': ", reason));
      }
    }
  }
  void MalformedAt(absl::string_view where, absl::string_view field, absl::string_view reason) {
    ++report_.malformed;
    if (report_.errors.size() < options_.max_errors_kept) {
      report_.errors.push_back(
          absl::StrCat(report_.file, ": ", where, ": field '", field, "': ", reason));
    }
  }
  absl::Status Row() {
    if (++report_.rows > options_.max_rows) {
      return absl::ResourceExhaustedError(
          absl::StrCat(report_.file, ": more than max_rows ", options_.max_rows, " rows"));
    }
    return absl::OkStatus();
  }
  void Loaded() { ++report_.loaded; }
  LoadReport Take() { return std::move(report_); }

 private:
  const LoadOptions& options_;
  LoadReport report_;
};

// The name of a 1-based CSV field: the header's, or its number.
std::string FieldName(size_t field, const std::vector<std::string>& header) {
  if (field == 0) return "";
  if (field <= header.size()) return header[field - 1];
  return absl::StrCat("#", field);
}

std::string Trimmed(absl::string_view s) { return std::string(absl::StripAsciiWhitespace(s)); }

// ';'-separated values, trimmed, empty ones dropped.
std::vector<std::string> SplitList(absl::string_view s) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(s, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

void AddUnique(std::vector<std::string>* v, std::string s) {
  if (s.empty() || std::find(v->begin(), v->end(), s) != v->end()) return;
  v->push_back(std::move(s));
}

// "..., Yerevan, Armenia, AM" -> "AM".
void AddAddressCountry(absl::string_view address, std::vector<std::string>* countries) {
  size_t comma = address.rfind(',');
  absl::string_view last = absl::StripAsciiWhitespace(
      comma == absl::string_view::npos ? address : address.substr(comma + 1));
  if (last.size() == 2 && absl::ascii_isupper(last[0]) && absl::ascii_isupper(last[1])) {
    AddUnique(countries, std::string(last));
  }
}

// "Entity List (EL) - Bureau of Industry and Security" -> "EL".
std::string ListCode(absl::string_view source) {
  size_t open = source.find('(');
  size_t close = source.find(')', open);
  if (open == absl::string_view::npos || close == absl::string_view::npos) {
    return absl::StrCat(absl::Hex(Fnv1a(source) & 0xffffffff));
  }
  return std::string(source.substr(open + 1, close - open - 1));
}

std::string HashId(const WatchlistEntry& e) {
  uint64_t h = Fnv1a(e.source);
  h = Fnv1a("\x1f", h);
  h = Fnv1a(e.name, h);
  for (const auto& a : e.addresses) {
    h = Fnv1a("\x1f", h);
    h = Fnv1a(a, h);
  }
  return absl::StrCat("h:", absl::Hex(h, absl::kZeroPad16));
}

std::string CslId(absl::string_view given_id, absl::string_view entity_number,
                  const WatchlistEntry& e) {
  if (!given_id.empty()) return std::string(given_id);
  if (!entity_number.empty()) return absl::StrCat(entity_number, "@", ListCode(e.source));
  return HashId(e);
}

// ---------------------------------------------------------------- CSL CSV

absl::StatusOr<LoadedList> ParseCslCsv(absl::string_view data, const std::string& file,
                                       const LoadOptions& options) {
  CsvReader::Limits limits;
  limits.max_field_bytes = options.max_field_bytes;
  CsvReader reader(data, ',', limits);
  std::vector<std::string> fields;
  std::string error;
  CsvReader::Result r = reader.Next(&fields, &error);
  if (r != CsvReader::Result::kRecord) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ":1: no header row", error.empty() ? "" : ": ", error));
  }
  absl::flat_hash_map<std::string, size_t> column;
  std::vector<std::string> header;
  for (size_t i = 0; i < fields.size(); ++i) {
    std::string name = Trimmed(fields[i]);
    if (i == 0) name = std::string(absl::StripPrefix(name, "\xEF\xBB\xBF"));  // UTF-8 BOM
    header.push_back(absl::AsciiStrToLower(name));
    column.emplace(header.back(), i);
  }
  for (const char* required : {"name", "source"}) {
    if (!column.contains(required)) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ":1: header has no '", required, "' column"));
    }
  }
  const size_t width = fields.size();
  auto get = [&](absl::string_view col) -> absl::string_view {
    auto it = column.find(col);
    if (it == column.end() || it->second >= fields.size()) return {};
    return absl::StripAsciiWhitespace(fields[it->second]);
  };

  LoadedList out;
  Reporter rep(file, options);
  absl::flat_hash_set<std::string> ids;
  while ((r = reader.Next(&fields, &error)) != CsvReader::Result::kEnd) {
    RETURN_IF_ERROR(rep.Row());
    if (r == CsvReader::Result::kMalformed) {
      rep.Malformed(reader.line(), FieldName(reader.error_field(), header), error);
      continue;
    }
    if (fields.size() != width) {
      rep.Malformed(reader.line(), "",
                    absl::StrCat("expected ", width, " fields, found ", fields.size()));
      continue;
    }
    WatchlistEntry e;
    e.name = std::string(get("name"));
    e.source = std::string(get("source"));
    if (e.name.empty()) {
      rep.Malformed(reader.line(), "name", "empty");
      continue;
    }
    if (e.source.empty()) {
      rep.Malformed(reader.line(), "source", "empty");
      continue;
    }
    e.type = std::string(get("type"));
    e.alt_names = SplitList(get("alt_names"));
    e.programs = SplitList(get("programs"));
    e.addresses = SplitList(get("addresses"));
    for (const auto& a : e.addresses) AddAddressCountry(a, &e.countries);
    for (const auto& c : SplitList(get("citizenships"))) AddUnique(&e.countries, c);
    for (const auto& c : SplitList(get("nationalities"))) AddUnique(&e.countries, c);
    e.id = CslId(get("_id"), get("entity_number"), e);
    if (!ids.insert(e.id).second) {
      rep.Malformed(reader.line(), column.contains("_id") ? "_id" : "entity_number",
                    absl::StrCat("duplicate id '", e.id, "'"));
      continue;
    }
    out.entries.push_back(std::move(e));
    rep.Loaded();
  }
  out.reports.push_back(rep.Take());
  return out;
}

// ---------------------------------------------------------------- CSL JSON

// protobuf's parser recurses per nesting level: refuse deep documents first.
absl::Status CheckJsonDepth(absl::string_view json, const std::string& file, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > max_depth) {
        return absl::InvalidArgumentError(
            absl::StrCat(file, ": JSON nested deeper than ", max_depth, " levels"));
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return absl::OkStatus();
}

// A string, or a number written as a string.
bool ScalarString(const google::protobuf::Value& v, std::string* out) {
  if (v.kind_case() == google::protobuf::Value::kStringValue) {
    *out = Trimmed(v.string_value());
    return true;
  }
  if (v.kind_case() == google::protobuf::Value::kNumberValue) {
    *out = absl::StrCat(v.number_value());
    return true;
  }
  return false;
}

// A list of strings, or one ';'-separated string, or null. False otherwise.
bool StringList(const google::protobuf::Value& v, std::vector<std::string>* out) {
  switch (v.kind_case()) {
    case google::protobuf::Value::kNullValue:
      return true;
    case google::protobuf::Value::kStringValue:
      *out = SplitList(v.string_value());
      return true;
    case google::protobuf::Value::kListValue:
      for (const auto& item : v.list_value().values()) {
        if (item.kind_case() != google::protobuf::Value::kStringValue) return false;
        std::string s = Trimmed(item.string_value());
        if (!s.empty()) out->push_back(std::move(s));
      }
      return true;
    default:
      return false;
  }
}

absl::StatusOr<LoadedList> ParseCslJson(absl::string_view data, const std::string& file,
                                        const LoadOptions& options) {
  RETURN_IF_ERROR(CheckJsonDepth(data, file, 32));
  google::protobuf::Struct doc;
  google::protobuf::util::JsonParseOptions parse;
  auto s = google::protobuf::util::JsonStringToMessage(
      google::protobuf::StringPiece(data.data(), data.size()), &doc, parse);
  if (!s.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": invalid JSON: ", std::string(s.message()).substr(0, 200)));
  }
  auto results = doc.fields().find("results");
  if (results == doc.fields().end() ||
      results->second.kind_case() != google::protobuf::Value::kListValue) {
    return absl::InvalidArgumentError(absl::StrCat(file, ": no \"results\" array"));
  }
  LoadedList out;
  Reporter rep(file, options);
  absl::flat_hash_set<std::string> ids;
  const auto& items = results->second.list_value().values();
  for (int i = 0; i < items.size(); ++i) {
    RETURN_IF_ERROR(rep.Row());
    const std::string where = absl::StrCat("results[", i, "]");
    if (items[i].kind_case() != google::protobuf::Value::kStructValue) {
      rep.MalformedAt(where, "", "not an object");
      continue;
    }
    const auto& f = items[i].struct_value().fields();
    auto field = [&](const char* name) -> const google::protobuf::Value* {
      auto it = f.find(name);
      if (it == f.end() || it->second.kind_case() == google::protobuf::Value::kNullValue) {
        return nullptr;
      }
      return &it->second;
    };
    WatchlistEntry e;
    std::string given_id, entity_number;
    bool ok = true;
    for (const auto& [name, dest] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"name", &e.name},
             {"source", &e.source},
             {"type", &e.type},
             {"id", &given_id},
             {"_id", &given_id},
             {"entity_number", &entity_number}}) {
      const auto* v = field(name);
      if (v != nullptr && !ScalarString(*v, dest)) {
        rep.MalformedAt(where, name, "not a string");
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (e.name.empty()) {
      rep.MalformedAt(where, "name", "missing or empty");
      continue;
    }
    if (e.source.empty()) {
      rep.MalformedAt(where, "source", "missing or empty");
      continue;
    }
    for (const auto& [name, dest] :
         std::initializer_list<std::pair<const char*, std::vector<std::string>*>>{
             {"alt_names", &e.alt_names}, {"programs", &e.programs}}) {
      const auto* v = field(name);
      if (v != nullptr && !StringList(*v, dest)) {
        rep.MalformedAt(where, name, "not a list of strings");
        ok = false;
        break;
      }
    }
    if (!ok) continue;
    if (const auto* v = field("addresses"); v != nullptr) {
      if (v->kind_case() != google::protobuf::Value::kListValue) {
        rep.MalformedAt(where, "addresses", "not a list");
        continue;
      }
      for (const auto& a : v->list_value().values()) {
        if (a.kind_case() == google::protobuf::Value::kStringValue) {
          AddUnique(&e.addresses, Trimmed(a.string_value()));
          AddAddressCountry(a.string_value(), &e.countries);
        } else if (a.kind_case() == google::protobuf::Value::kStructValue) {
          std::vector<std::string> parts;
          std::string country;
          for (const char* key : {"address", "city", "state", "postal_code", "country"}) {
            auto it = a.struct_value().fields().find(key);
            std::string part;
            if (it != a.struct_value().fields().end() && ScalarString(it->second, &part) &&
                !part.empty()) {
              parts.push_back(part);
              if (std::strcmp(key, "country") == 0) country = part;
            }
          }
          AddUnique(&e.addresses, absl::StrJoin(parts, ", "));
          AddUnique(&e.countries, country);
        } else {
          rep.MalformedAt(where, "addresses", "an item is neither a string nor an object");
          ok = false;
          break;
        }
      }
      if (!ok) continue;
    }
    e.id = CslId(given_id, entity_number, e);
    if (!ids.insert(e.id).second) {
      rep.MalformedAt(where, "id", absl::StrCat("duplicate id '", e.id, "'"));
      continue;
    }
    out.entries.push_back(std::move(e));
    rep.Loaded();
  }
  out.reports.push_back(rep.Take());
  return out;
}

// ---------------------------------------------------------------- OFAC

// OFAC writes "-0-" (with a trailing space) for null.
std::string OfacField(absl::string_view s) {
  s = absl::StripAsciiWhitespace(s);
  if (s == "-0-") return "";
  return std::string(s);
}

// "SDGT] [IFSR" -> {"SDGT", "IFSR"}.
std::vector<std::string> OfacPrograms(absl::string_view s) {
  std::vector<std::string> out;
  for (absl::string_view p : absl::StrSplit(s, absl::ByAnyChar("[]"))) {
    p = absl::StripAsciiWhitespace(p);
    if (!p.empty()) AddUnique(&out, std::string(p));
  }
  return out;
}

// Aliases in the Remarks: a.k.a. 'NAME'; f.k.a. 'NAME'. A quote closes the
// alias when it is followed by ; . , ) or the end (names hold apostrophes).
std::vector<std::string> RemarkAliases(absl::string_view remarks) {
  std::vector<std::string> out;
  for (absl::string_view marker : {"a.k.a. '", "f.k.a. '", "n.k.a. '"}) {
    size_t pos = 0;
    while ((pos = remarks.find(marker, pos)) != absl::string_view::npos) {
      const size_t begin = pos + marker.size();
      size_t end = begin;
      while ((end = remarks.find('\'', end)) != absl::string_view::npos) {
        if (end + 1 == remarks.size() ||
            absl::string_view(";.,)").find(remarks[end + 1]) != absl::string_view::npos) {
          break;
        }
        ++end;
      }
      if (end == absl::string_view::npos) break;
      std::string alias = Trimmed(remarks.substr(begin, end - begin));
      if (!alias.empty()) AddUnique(&out, std::move(alias));
      pos = end;
    }
  }
  return out;
}

absl::StatusOr<std::string> ReadOfac(const std::string& path, const LoadOptions& options) {
  ASSIGN_OR_RETURN(std::string data, ReadBounded(path, options.max_file_bytes));
  if (!IsValidUtf8(data)) data = Latin1ToUtf8(data);
  return data;
}

const std::vector<std::string>& SdnColumns() {
  static const auto* c = new std::vector<std::string>{
      "ent_num",   "SDN_Name", "SDN_Type", "Program",   "Title",      "Call_Sign",
      "Vess_type", "Tonnage",  "GRT",      "Vess_flag", "Vess_owner", "Remarks"};
  return *c;
}
const std::vector<std::string>& AltColumns() {
  static const auto* c =
      new std::vector<std::string>{"ent_num", "alt_num", "alt_type", "alt_name", "alt_remarks"};
  return *c;
}
const std::vector<std::string>& AddColumns() {
  static const auto* c = new std::vector<std::string>{
      "ent_num", "Add_num", "Address", "City/State/Province/Postal Code", "Country", "Add_remarks"};
  return *c;
}

bool ParseEntNum(absl::string_view s, int64_t* out) {
  return absl::SimpleAtoi(absl::StripAsciiWhitespace(s), out) && *out > 0;
}

// The checks every OFAC file's row gets first: read whole, `columns` fields,
// a valid ent_num (into *ent). False after reporting why the row is
// malformed.
bool OfacRowEntNum(CsvReader::Result r, const CsvReader& reader,
                   const std::vector<std::string>& fields, const std::string& error,
                   const std::vector<std::string>& columns, Reporter& rep, int64_t* ent) {
  if (r == CsvReader::Result::kMalformed) {
    rep.Malformed(reader.line(), FieldName(reader.error_field(), columns), error);
    return false;
  }
  if (fields.size() != columns.size()) {
    rep.Malformed(reader.line(), "",
                  absl::StrCat("expected ", columns.size(), " fields, found ", fields.size()));
    return false;
  }
  if (!ParseEntNum(fields[0], ent)) {
    rep.Malformed(reader.line(), "ent_num",
                  absl::StrCat("not a positive integer: '", fields[0].substr(0, 40), "'"));
    return false;
  }
  return true;
}

}  // namespace

size_t LoadedList::malformed() const {
  size_t n = 0;
  for (const auto& r : reports) n += r.malformed;
  return n;
}

absl::StatusOr<LoadedList> LoadCslCsv(const std::string& path, const LoadOptions& options) {
  ASSIGN_OR_RETURN(std::string data, ReadBounded(path, options.max_file_bytes));
  return ParseCslCsv(data, BaseName(path), options);
}

absl::StatusOr<LoadedList> LoadCslJson(const std::string& path, const LoadOptions& options) {
  ASSIGN_OR_RETURN(std::string data, ReadBounded(path, options.max_file_bytes));
  return ParseCslJson(data, BaseName(path), options);
}

namespace {

// The rows of alt.csv or add.csv: each names an SDN entry by ent_num. Rows
// that are malformed, have the wrong field count or name an unknown entry
// are counted in the file's report; `use` gets the entry of every other.
absl::Status ForEachOfacDetailRow(
    const std::string& path, const std::vector<std::string>& columns, const LoadOptions& options,
    const absl::flat_hash_map<int64_t, size_t>& by_ent, LoadedList* out,
    const std::function<void(WatchlistEntry&, const std::vector<std::string>&, Reporter&, size_t)>&
        use) {
  ASSIGN_OR_RETURN(std::string data, ReadOfac(path, options));
  CsvReader::Limits limits;
  limits.max_field_bytes = options.max_field_bytes;
  Reporter rep(BaseName(path), options);
  CsvReader reader(data, ',', limits);
  std::vector<std::string> fields;
  std::string error;
  CsvReader::Result r;
  while ((r = reader.Next(&fields, &error)) != CsvReader::Result::kEnd) {
    RETURN_IF_ERROR(rep.Row());
    int64_t ent = 0;
    if (!OfacRowEntNum(r, reader, fields, error, columns, rep, &ent)) continue;
    auto it = by_ent.find(ent);
    if (it == by_ent.end()) {
      rep.Malformed(reader.line(), "ent_num", absl::StrCat(ent, " is not in the SDN file"));
      continue;
    }
    use(out->entries[it->second], fields, rep, reader.line());
  }
  out->reports.push_back(rep.Take());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<LoadedList> LoadOfacSdn(const OfacFiles& files, const LoadOptions& options) {
  CsvReader::Limits limits;
  limits.max_field_bytes = options.max_field_bytes;
  std::vector<std::string> fields;
  std::string error;
  CsvReader::Result r;
  LoadedList out;
  absl::flat_hash_map<int64_t, size_t> by_ent;

  {
    ASSIGN_OR_RETURN(std::string data, ReadOfac(files.sdn, options));
    Reporter rep(BaseName(files.sdn), options);
    CsvReader reader(data, ',', limits);
    while ((r = reader.Next(&fields, &error)) != CsvReader::Result::kEnd) {
      RETURN_IF_ERROR(rep.Row());
      int64_t ent = 0;
      if (!OfacRowEntNum(r, reader, fields, error, SdnColumns(), rep, &ent)) continue;
      WatchlistEntry e;
      e.id = absl::StrCat(ent);
      e.name = OfacField(fields[1]);
      if (e.name.empty()) {
        rep.Malformed(reader.line(), "SDN_Name", "empty");
        continue;
      }
      if (by_ent.contains(ent)) {
        rep.Malformed(reader.line(), "ent_num", absl::StrCat("duplicate ", ent));
        continue;
      }
      const std::string type = absl::AsciiStrToLower(OfacField(fields[2]));
      e.type = type.empty()           ? "Entity"
               : type == "individual" ? "Individual"
               : type == "vessel"     ? "Vessel"
               : type == "aircraft"   ? "Aircraft"
                                      : OfacField(fields[2]);
      e.programs = OfacPrograms(OfacField(fields[3]));
      e.source = kOfacSdnSource;
      if (files.alt.empty()) e.alt_names = RemarkAliases(OfacField(fields[11]));
      by_ent.emplace(ent, out.entries.size());
      out.entries.push_back(std::move(e));
      rep.Loaded();
    }
    out.reports.push_back(rep.Take());
  }

  if (!files.alt.empty()) {
    RETURN_IF_ERROR(ForEachOfacDetailRow(
        files.alt, AltColumns(), options, by_ent, &out,
        [&](WatchlistEntry& e, const std::vector<std::string>& f, Reporter& rep, size_t line) {
          std::string alias = OfacField(f[3]);
          if (alias.empty()) {
            rep.Malformed(line, "alt_name", "empty");
            return;
          }
          AddUnique(&e.alt_names, std::move(alias));
          rep.Loaded();
        }));
  }
  if (!files.add.empty()) {
    RETURN_IF_ERROR(ForEachOfacDetailRow(
        files.add, AddColumns(), options, by_ent, &out,
        [&](WatchlistEntry& e, const std::vector<std::string>& f, Reporter& rep, size_t) {
          std::vector<std::string> parts;
          for (size_t k = 2; k <= 4; ++k) {
            std::string p = OfacField(f[k]);
            if (!p.empty()) parts.push_back(std::move(p));
          }
          AddUnique(&e.addresses, absl::StrJoin(parts, ", "));
          AddUnique(&e.countries, OfacField(f[4]));
          rep.Loaded();
        }));
  }
  return out;
}

namespace {

enum class ListForm { kCslJson, kCslCsv, kOther };

ListForm DetectForm(absl::string_view data) {
  absl::string_view head = absl::StripLeadingAsciiWhitespace(data.substr(0, 4096));
  if (absl::StartsWith(head, "\xEF\xBB\xBF")) head.remove_prefix(3);  // UTF-8 byte order mark
  if (absl::StartsWith(head, "{")) return ListForm::kCslJson;
  const absl::string_view first_line = head.substr(0, head.find('\n'));
  bool name = false, source = false;
  for (absl::string_view col : absl::StrSplit(first_line, ',')) {
    col = absl::StripAsciiWhitespace(col);
    col = absl::StripSuffix(absl::StripPrefix(col, "\""), "\"");
    name |= col == "name";
    source |= col == "source";
  }
  return name && source ? ListForm::kCslCsv : ListForm::kOther;
}

bool FileExists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

// alt.csv / add.csv beside sdn.csv: "<dir>/alt.csv", else the sdn file's name
// with "sdn" replaced ("sdn_2022-02-25.csv" -> "alt_2022-02-25.csv").
std::string Companion(const std::string& sdn_path, absl::string_view kind) {
  std::filesystem::path p(sdn_path);
  std::filesystem::path plain = p.parent_path() / absl::StrCat(kind, ".csv");
  if (FileExists(plain.string())) return plain.string();
  std::string base = p.filename().string();
  const size_t at = base.find("sdn");
  if (at == std::string::npos) return "";
  base.replace(at, 3, std::string(kind));
  std::filesystem::path renamed = p.parent_path() / base;
  return FileExists(renamed.string()) ? renamed.string() : "";
}

}  // namespace

absl::StatusOr<LoadedList> LoadWatchlistFile(const std::string& path, const LoadOptions& options) {
  ASSIGN_OR_RETURN(std::string data, ReadBounded(path, options.max_file_bytes));
  switch (DetectForm(data)) {
    case ListForm::kCslJson:
      return ParseCslJson(data, BaseName(path), options);
    case ListForm::kCslCsv:
      return ParseCslCsv(data, BaseName(path), options);
    case ListForm::kOther:
      break;
  }
  OfacFiles files;
  files.sdn = path;
  files.alt = Companion(path, "alt");
  files.add = Companion(path, "add");
  return LoadOfacSdn(files, options);
}

absl::StatusOr<LoadedList> ParseWatchlistText(absl::string_view data, const std::string& origin,
                                              const LoadOptions& options) {
  if (data.size() > options.max_file_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(origin, ": larger than ", options.max_file_bytes, " bytes"));
  }
  switch (DetectForm(data)) {
    case ListForm::kCslJson:
      return ParseCslJson(data, origin, options);
    case ListForm::kCslCsv:
      return ParseCslCsv(data, origin, options);
    case ListForm::kOther:
      break;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(origin,
                   ": neither CSL JSON (an object with \"results\") nor CSL CSV (a header with "
                   "\"name\" and \"source\" columns)"));
}

}  // namespace exportwatch::screening

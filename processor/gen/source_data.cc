#include "processor/gen/source_data.h"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "processor/gen/reference.h"
#include "screening/list_loader.h"

namespace exportwatch::gen {
namespace {

constexpr char kTaiwanDir[] = "taiwan-hs8542-exports";
constexpr char kTaiwanCsv[] = "taiwan_exports_by_country_2013_2025.csv";
constexpr char kTaiwanNameMap[] = "country_name_map_full.json";
// Processors and controllers: the 8542 line that holds GPUs and AI
// accelerators (the memories, amplifiers, ... lines would blur the mix).
constexpr char kProcessorsHsCode[] = "85423100002";
constexpr char kAlibabaPods[] = "alibaba-clusterdata/gpu-v2023/openb_pod_list_default.csv";
// A name-map JSON larger than this is not the 6 KB file we expect.
constexpr size_t kMaxNameMapBytes = 1 << 20;

std::string JoinPath(const std::string& dir, absl::string_view rel) {
  if (dir.empty() || dir.back() == '/') return absl::StrCat(dir, rel);
  return absl::StrCat(dir, "/", rel);
}

absl::Status ReadSmallFile(const std::string& path, size_t max_bytes, std::string* out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  *out = std::move(buf).str();
  if (out->size() > max_bytes) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is larger than expected"));
  }
  return absl::OkStatus();
}

// One CSV line without its line ending; the UTF-8 BOM is dropped from the
// first line.
bool ReadLine(std::istream& in, bool first, std::string* line) {
  if (!std::getline(in, *line)) return false;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  if (first && absl::StartsWith(*line, "\xEF\xBB\xBF")) line->erase(0, 3);
  return true;
}

}  // namespace

absl::Status LoadTradeDestinations(const std::string& data_dir, int max_rows, SourceData* data,
                                   DataReport* report) {
  const std::string dir = JoinPath(data_dir, kTaiwanDir);
  // Chinese -> English names, written by the data set's author.
  std::string json;
  if (absl::Status s = ReadSmallFile(JoinPath(dir, kTaiwanNameMap), kMaxNameMapBytes, &json);
      !s.ok()) {
    return s;
  }
  if (absl::StartsWith(json, "\xEF\xBB\xBF")) json.erase(0, 3);
  google::protobuf::Struct name_map;
  if (auto s = google::protobuf::util::JsonStringToMessage(json, &name_map); !s.ok()) {
    return absl::DataLossError(absl::StrCat(kTaiwanNameMap, ": ", s.ToString()));
  }

  const std::string csv_path = JoinPath(dir, kTaiwanCsv);
  std::ifstream in(csv_path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", csv_path));
  std::string line;
  if (!ReadLine(in, /*first=*/true, &line) || !absl::StartsWith(line, "Year,Country,HS Code")) {
    return absl::DataLossError(absl::StrCat(csv_path, ": unexpected header"));
  }
  // (year, Chinese name) -> USD. The description column may hold commas, so
  // the value is taken from the last field.
  std::map<std::pair<int, std::string>, double> by_year_country;
  int rows = 0;
  int used = 0;
  int max_year = 0;
  while (rows < max_rows && ReadLine(in, /*first=*/false, &line)) {
    ++rows;
    std::vector<absl::string_view> f = absl::StrSplit(line, ',');
    if (f.size() < 5) continue;
    int year = 0;
    double usd = 0;
    if (!absl::SimpleAtoi(f[0], &year) || !absl::SimpleAtod(f.back(), &usd)) continue;
    if (absl::StripAsciiWhitespace(f[2]) != kProcessorsHsCode || usd <= 0) continue;
    by_year_country[{year, std::string(f[1])}] += usd;
    max_year = std::max(max_year, year);
    ++used;
  }
  if (used == 0)
    return absl::DataLossError(absl::StrCat(csv_path, ": no HS ", kProcessorsHsCode, " rows"));

  // The latest full year plus the partial one after it (2024 + Jan-Jul 2025
  // in the stored file): recent enough to show the MY / VN / MX growth.
  absl::flat_hash_map<std::string, double> by_iso;
  int used_rows = 0;
  for (const auto& [key, usd] : by_year_country) {
    const auto& [year, zh_name] = key;
    if (year < max_year - 1) continue;
    ++used_rows;
    const auto it = name_map.fields().find(zh_name);
    if (it == name_map.fields().end() || !it->second.has_string_value()) {
      report->unmapped_names.push_back(zh_name);
      continue;
    }
    const std::string& english = it->second.string_value();
    const std::optional<absl::string_view> iso = IsoFromEnglishName(english);
    if (!iso) {
      // Aggregates and codes the processor would reject: dropped, and the
      // remaining weights are renormalised by the sampler.
      report->unmapped_names.push_back(english);
      continue;
    }
    if (IsEverRestricted(*iso)) {
      report->excluded_restricted.emplace_back(*iso);
      continue;
    }
    by_iso[std::string(*iso)] += usd;
  }
  auto dedup = [](std::vector<std::string>* v) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  };
  dedup(&report->unmapped_names);
  dedup(&report->excluded_restricted);

  data->destinations.clear();
  for (const auto& [iso, usd] : by_iso) data->destinations.push_back({iso, usd});
  // Heaviest first, ties by code: a fixed order keeps sampling deterministic.
  std::sort(data->destinations.begin(), data->destinations.end(),
            [](const CountryWeight& a, const CountryWeight& b) {
              return a.weight != b.weight ? a.weight > b.weight : a.iso < b.iso;
            });
  if (data->destinations.empty()) {
    return absl::DataLossError(absl::StrCat(csv_path, ": no usable destination"));
  }
  report->trade_from_file = true;
  report->trade_file = csv_path;
  report->trade_years = {max_year - 1, max_year};
  report->trade_hs_code = kProcessorsHsCode;
  report->trade_rows_read = rows;
  report->trade_rows_used = used_rows;
  report->trade_countries = static_cast<int>(data->destinations.size());
  return absl::OkStatus();
}

absl::Status LoadCloudJobs(const std::string& data_dir, int max_rows, SourceData* data,
                           DataReport* report) {
  const std::string path = JoinPath(data_dir, kAlibabaPods);
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string line;
  if (!ReadLine(in, /*first=*/true, &line))
    return absl::DataLossError(absl::StrCat(path, ": empty"));
  // Columns by name, so a reordered export still loads.
  const std::vector<std::string> header = absl::StrSplit(line, ',');
  auto column = [&](absl::string_view name) {
    auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int c_gpus = column("num_gpu");
  const int c_milli = column("gpu_milli");
  const int c_created = column("creation_time");
  const int c_deleted = column("deletion_time");
  if (c_gpus < 0 || c_milli < 0 || c_created < 0 || c_deleted < 0) {
    return absl::DataLossError(
        absl::StrCat(path, ": missing num_gpu/gpu_milli/creation_time/deletion_time"));
  }
  const int needed = std::max({c_gpus, c_milli, c_created, c_deleted});

  std::vector<JobShape> jobs;
  std::vector<double> created;
  int rows = 0;
  while (rows < max_rows && ReadLine(in, /*first=*/false, &line)) {
    ++rows;
    std::vector<absl::string_view> f = absl::StrSplit(line, ',');
    if (static_cast<int>(f.size()) <= needed) continue;
    int gpus = 0;
    int milli = 0;
    double t0 = 0;
    double t1 = 0;
    if (!absl::SimpleAtoi(f[c_gpus], &gpus) || gpus < 1) continue;  // CPU-only pod
    if (!absl::SimpleAtod(f[c_created], &t0) || !absl::SimpleAtod(f[c_deleted], &t1) || t1 < t0) {
      continue;
    }
    if (!absl::SimpleAtoi(f[c_milli], &milli) || milli <= 0 || milli > 1000) milli = 1000;
    jobs.push_back({gpus, gpus == 1 ? milli : 1000, t1 - t0});
    created.push_back(t0);
  }
  if (jobs.size() < 2) return absl::DataLossError(absl::StrCat(path, ": no GPU pods"));
  std::sort(created.begin(), created.end());
  data->interarrival_s.clear();
  for (size_t i = 1; i < created.size(); ++i)
    data->interarrival_s.push_back(created[i] - created[i - 1]);
  data->jobs = std::move(jobs);
  report->cloud_from_file = true;
  report->cloud_file = path;
  report->cloud_rows_read = rows;
  report->cloud_jobs = static_cast<int>(data->jobs.size());
  return absl::OkStatus();
}

void BuiltinTradeDestinations(SourceData* data) {
  // Taiwan HS 85423100002 exports 2024 + Jan-Jul 2025, million USD, the
  // non-restricted destinations above 1 M (from the same CSV).
  data->destinations = {
      {"MX", 2489}, {"MY", 1368}, {"VN", 1329}, {"SG", 1313}, {"TH", 888}, {"US", 660}, {"JP", 407},
      {"IN", 207},  {"KR", 133},  {"PH", 114},  {"TR", 92},   {"ID", 88},  {"DE", 69},  {"PL", 28},
      {"HU", 25},   {"BR", 19},   {"NL", 19},   {"CH", 15},   {"LV", 14},  {"LT", 13},  {"IL", 8.5},
      {"AE", 7.0},  {"CR", 5.5},  {"EG", 5.3},  {"GB", 4.5},  {"FR", 4.4}, {"IT", 3.9}, {"RO", 3.2},
      {"CA", 2.9},  {"AU", 2.2},  {"MA", 1.9},  {"AT", 1.5},  {"CZ", 1.4}, {"PT", 1.3}, {"BE", 1.1},
  };
}

void BuiltinCloudJobs(SourceData* data) {
  // Ventiles of the gpu-v2023 GPU pods (7,064): duration and creation gaps in
  // seconds; GPU counts 1:6989, 2:16, 4:15, 8:44; shares of one GPU among the
  // single-GPU pods 1000 (56%), 810, 470, 320, 650, 230.
  static constexpr double kDuration[] = {43,  74,  105,  138,  175,  208,  249,  309,  414,  545,
                                         702, 902, 1130, 1423, 1990, 2761, 4006, 6260, 14700};
  static constexpr double kGap[] = {2,   10,  27,  38,  53,  71,  95,  121,  152, 187,
                                    229, 274, 339, 407, 502, 622, 798, 1115, 1677};
  static constexpr int kMilli[] = {1000, 1000, 1000, 1000, 1000, 810, 810, 470, 320, 650};
  data->jobs.clear();
  data->interarrival_s.assign(std::begin(kGap), std::end(kGap));
  for (size_t i = 0; i < std::size(kDuration); ++i) {
    for (int milli : kMilli) data->jobs.push_back({1, milli, kDuration[i]});
  }
  // About 1% multi-GPU, as in the trace.
  data->jobs.push_back({8, 1000, 2761});
  data->jobs.push_back({4, 1000, 545});
}

absl::Status LoadEntityListNames(const std::string& data_dir, SourceData* data,
                                 DataReport* report) {
  auto list = screening::LoadCslCsv(data_dir + "/moov-io-watchman/csl.csv");
  if (!list.ok()) return list.status();
  for (const auto& e : list->entries) {
    if (!absl::StartsWith(e.source, "Entity List") || e.type == "Individual") continue;
    data->entity_list_names.push_back(e.name);
  }
  report->entity_list_names = static_cast<int>(data->entity_list_names.size());
  return absl::OkStatus();
}

}  // namespace exportwatch::gen

// Loading the real public data the generator draws its baseline from
// (shared/data, see processor/gen/README.md), with built-in fallbacks.
#pragma once

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace exportwatch {

// What Create() actually loaded: lets callers and tests check that the real
// files were used, and which rows were dropped.
struct DataReport {
  // Trade destinations (taiwan-hs8542-exports).
  bool trade_from_file = false;
  std::string trade_file;        // the CSV read, when trade_from_file
  std::vector<int> trade_years;  // years summed, e.g. {2024, 2025}
  std::string trade_hs_code;     // the HS code kept ("85423100002")
  int trade_rows_read = 0;       // data rows read (bounded)
  int trade_rows_used = 0;       // rows of the kept code and years
  int trade_countries = 0;       // destinations kept
  // Names dropped: no ISO code (Chinese name when not in the name map).
  std::vector<std::string> unmapped_names;
  // ISO codes dropped because restricted (D:5 + Macau + HK, incl. KH).
  std::vector<std::string> excluded_restricted;
  // Cloud job shapes (alibaba-clusterdata gpu-v2023).
  bool cloud_from_file = false;
  std::string cloud_file;
  int cloud_rows_read = 0;
  int cloud_jobs = 0;  // GPU pods kept as job shapes
  // Entity List names for the `entity-list-front-company` scenario
  // (moov-io-watchman/csl.csv); 0: the scenario is off.
  int entity_list_names = 0;
  // Why built-in defaults were used (empty when every file was read).
  std::string fallback_reason;
};

namespace gen {

struct CountryWeight {
  std::string iso;
  double weight = 0;  // USD exported in the summed years (any scale)
};

// One GPU task of the Alibaba trace.
struct JobShape {
  int gpus = 1;           // num_gpu, 1..8
  int gpu_milli = 1000;   // share of one GPU when gpus == 1 (1..1000)
  double duration_s = 0;  // deletion_time - creation_time
};

struct SourceData {
  // Non-restricted destinations with an ISO code, heaviest first.
  std::vector<CountryWeight> destinations;
  std::vector<JobShape> jobs;
  // Gaps between consecutive GPU task creations, seconds (unscaled).
  std::vector<double> interarrival_s;
  // Names of organisations on the BIS Entity List.
  std::vector<std::string> entity_list_names;
};

// Reads taiwan-hs8542-exports/{taiwan_exports_by_country_2013_2025.csv,
// country_name_map_full.json} under `data_dir`: the HS 85423100002
// (processors and controllers) export value per destination, summed over the
// two latest years in the file. At most `max_rows` data rows are read.
absl::Status LoadTradeDestinations(const std::string& data_dir, int max_rows, SourceData* data,
                                   DataReport* report);

// Reads alibaba-clusterdata/gpu-v2023/openb_pod_list_default.csv: GPU pods
// (num_gpu >= 1) as job shapes, creation-time gaps as inter-arrival times.
absl::Status LoadCloudJobs(const std::string& data_dir, int max_rows, SourceData* data,
                           DataReport* report);

// Reads moov-io-watchman/csl.csv: the names of the organisations (not
// individuals) on the BIS Entity List. No built-in stand-in: the scenario
// that uses them must match the list the replay screens against.
absl::Status LoadEntityListNames(const std::string& data_dir, SourceData* data, DataReport* report);

// Built-in stand-ins, summarised from the same files (see the .cc).
void BuiltinTradeDestinations(SourceData* data);
void BuiltinCloudJobs(SourceData* data);

}  // namespace gen
}  // namespace exportwatch

// Helpers for the screening tests: the shared data folder and its CSVs.
#pragma once

#include <string>
#include <vector>

#include "screening/csv.h"
#include "tests/common/test_util.h"

namespace exportwatch::screening::testing {

// A file under ../shared/data (the project's real public data).
inline std::string DataPath(const std::string& relative) {
  return std::string(EW_SHARED_DIR) + "/data/" + relative;
}

// All records of a CSV file (malformed records are dropped and counted).
inline std::vector<std::vector<std::string>> ReadCsv(const std::string& path,
                                                     size_t* malformed = nullptr) {
  const std::string data = exportwatch::testing::ReadFile(path);
  CsvReader reader(data);
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> fields;
  std::string error;
  for (;;) {
    auto r = reader.Next(&fields, &error);
    if (r == CsvReader::Result::kEnd) break;
    if (r == CsvReader::Result::kMalformed) {
      if (malformed != nullptr) ++*malformed;
      continue;
    }
    rows.push_back(fields);
  }
  return rows;
}

}  // namespace exportwatch::screening::testing

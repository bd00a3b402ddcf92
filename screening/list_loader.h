// Loaders for the published screening lists, into WatchlistEntry values.
//
// Every loader reads its files whole (at most LoadOptions::max_file_bytes
// each) and fails only on the environment or the file as a whole: missing
// or unreadable (kNotFound / kFailedPrecondition), too large or too many
// rows (kResourceExhausted), a CSV header without the required columns or
// JSON that does not parse (kInvalidArgument). A malformed row (wrong field
// count, broken quoting, empty name, bad ent_num, duplicate id, an alias of
// an unknown entry) is skipped and counted in its file's LoadReport, with
// the first few messages kept as "file:line: field 'name': reason".
//
// Formats:
//   - US Consolidated Screening List CSV (trade.gov; both the 2019 schema
//     and the current one with `_id`): header row; `name` and `source`
//     required; `alt_names`, `programs`, `addresses`, `citizenships` and
//     `nationalities` are ';'-separated; countries are also taken from an
//     address's trailing 2-letter code.
//   - CSL JSON (the trade.gov API form):
//     {"results": [{"id", "name", "alt_names": [...], "source", "type",
//     "programs": [...], "addresses": [strings or {"address", "city",
//     "state", "postal_code", "country"}]}, ...]}; errors name the result
//     index ("results[3]") as the JSON parser keeps no line numbers.
//   - OFAC legacy CSV: sdn.csv (ent_num, SDN_Name, SDN_Type, Program, Title,
//     Call_Sign, Vess_type, Tonnage, GRT, Vess_flag, Vess_owner, Remarks; no
//     header; "-0-" is empty), and optionally alt.csv (ent_num, alt_num,
//     alt_type, alt_name, alt_remarks) and add.csv (ent_num, add_num,
//     address, city/state/postal, country, add_remarks). Without alt.csv,
//     aliases are read from the Remarks ("a.k.a. 'NAME';"). Files that are
//     not valid UTF-8 are read as Latin-1 (older OFAC files).
//
// Entry ids: OFAC ent_num; CSL `_id`, else "<entity_number>@<list code>"
// (e.g. "20264@SDN"), else "h:" + a stable 64-bit FNV-1a hash of source,
// name and addresses (stable across processes and versions, for Diff()).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "screening/watchlist.h"

namespace exportwatch::screening {

struct LoadOptions {
  // Largest file read, in bytes. Default: 256 MiB.
  size_t max_file_bytes = size_t{256} << 20;
  // Most data rows (or JSON results) per file. Default: 2,000,000.
  size_t max_rows = 2'000'000;
  // Longest CSV field, in bytes. Default: 65536.
  size_t max_field_bytes = 65536;
  // Error messages kept per file (all are counted). Default: 20.
  size_t max_errors_kept = 20;
};

// What happened to one file.
struct LoadReport {
  std::string file;
  size_t rows = 0;                  // data rows (records, JSON results) read
  size_t loaded = 0;                // rows that made an entry, alias or address
  size_t malformed = 0;             // rows skipped
  std::vector<std::string> errors;  // the first max_errors_kept messages
};

struct LoadedList {
  std::vector<WatchlistEntry> entries;
  std::vector<LoadReport> reports;  // one per file read
  size_t malformed() const;
};

// Consolidated Screening List, CSV form.
[[nodiscard]] absl::StatusOr<LoadedList> LoadCslCsv(const std::string& path,
                                                    const LoadOptions& options = {});

// Consolidated Screening List, JSON form.
[[nodiscard]] absl::StatusOr<LoadedList> LoadCslJson(const std::string& path,
                                                     const LoadOptions& options = {});

struct OfacFiles {
  std::string sdn;  // sdn.csv, required
  std::string alt;  // alt.csv, optional ("" = aliases from the Remarks)
  std::string add;  // add.csv, optional
};
// OFAC SDN list, legacy CSV form. Source: "Specially Designated Nationals
// (SDN) - Treasury Department".
[[nodiscard]] absl::StatusOr<LoadedList> LoadOfacSdn(const OfacFiles& files,
                                                     const LoadOptions& options = {});

// Any of the forms above, told apart by content (what an operator passes to
// `--watchlist`):
//   - starts with '{' (after whitespace): CSL JSON;
//   - a first line with a `name` and a `source` column: CSL CSV;
//   - otherwise OFAC sdn.csv, with alt.csv and add.csv read from the same
//     directory when they exist (named alt.csv / add.csv, or the sdn file's
//     name with "sdn" replaced by "alt" / "add").
[[nodiscard]] absl::StatusOr<LoadedList> LoadWatchlistFile(const std::string& path,
                                                           const LoadOptions& options = {});

// CSL JSON or CSV held in memory (a `reference-data` record), told apart as
// above; `origin` names it in errors. OFAC's three-file form is not
// accepted here (kInvalidArgument).
[[nodiscard]] absl::StatusOr<LoadedList> ParseWatchlistText(absl::string_view data,
                                                            const std::string& origin,
                                                            const LoadOptions& options = {});

// The source name the OFAC loader gives its entries.
inline constexpr char kOfacSdnSource[] =
    "Specially Designated Nationals (SDN) - Treasury Department";

}  // namespace exportwatch::screening

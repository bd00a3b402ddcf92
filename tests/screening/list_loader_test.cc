// List loaders over the real published files, quoted CSV, malformed rows,
// and the list diff between two OFAC snapshots.
#include "screening/list_loader.h"

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "screening/csv.h"
#include "tests/screening/screening_test_util.h"

namespace exportwatch::screening {
namespace {

using testing::DataPath;

void Write(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

const WatchlistEntry* FindByName(const LoadedList& l, const std::string& name) {
  for (const auto& e : l.entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

size_t CountSource(const LoadedList& l, const std::string& prefix) {
  return static_cast<size_t>(std::count_if(l.entries.begin(), l.entries.end(), [&](const auto& e) {
    return e.source.rfind(prefix, 0) == 0;
  }));
}

TEST(ScreeningCsvReaderTest, QuotedFieldsEmbeddedDelimitersQuotesAndNewlines) {
  const std::string data =
      "a,\"b, with comma\",\"say \"\"hi\"\"\"\r\n"
      "\"multi\nline\",,-0- \n"
      "\n"
      "x,\"closed\" ,y\n"
      "\x1A";
  CsvReader r(data);
  std::vector<std::string> f;
  std::string err;
  ASSERT_EQ(r.Next(&f, &err), CsvReader::Result::kRecord);
  EXPECT_EQ(f, (std::vector<std::string>{"a", "b, with comma", "say \"hi\""}));
  EXPECT_EQ(r.line(), 1u);
  ASSERT_EQ(r.Next(&f, &err), CsvReader::Result::kRecord);
  EXPECT_EQ(f, (std::vector<std::string>{"multi\nline", "", "-0- "}));
  EXPECT_EQ(r.line(), 2u);
  ASSERT_EQ(r.Next(&f, &err), CsvReader::Result::kRecord);
  EXPECT_EQ(f, (std::vector<std::string>{"x", "closed", "y"}));
  EXPECT_EQ(r.line(), 5u);
  EXPECT_EQ(r.Next(&f, &err), CsvReader::Result::kEnd);
}

TEST(ScreeningCsvReaderTest, MalformedRecordCostsOneLine) {
  const std::string data =
      "1,\"ok\"\n"
      "2,\"bad\"x,3\n"
      "3,\"fine\"\n"
      "4,\"never closed\n"
      "5,\"after\"\n";
  CsvReader r(data);
  std::vector<std::string> f;
  std::string err;
  ASSERT_EQ(r.Next(&f, &err), CsvReader::Result::kRecord);
  ASSERT_EQ(r.Next(&f, &err), CsvReader::Result::kMalformed);
  EXPECT_EQ(r.line(), 2u);
  EXPECT_EQ(err, "text after closing quote");
  EXPECT_EQ(r.error_field(), 2u);
  ASSERT_EQ(r.Next(&f, &err), CsvReader::Result::kRecord);
  EXPECT_EQ(f[1], "fine");
  EXPECT_EQ(r.line(), 3u);
  // The unclosed quote swallows to the next quote; the record is rejected
  // and reading resumes on the following line.
  ASSERT_EQ(r.Next(&f, &err), CsvReader::Result::kMalformed);
  EXPECT_EQ(r.line(), 4u);
  ASSERT_EQ(r.Next(&f, &err), CsvReader::Result::kRecord);
  EXPECT_EQ(f, (std::vector<std::string>{"5", "after"}));
  EXPECT_EQ(r.line(), 5u);
  EXPECT_EQ(r.Next(&f, &err), CsvReader::Result::kEnd);
}

TEST(ScreeningCsvReaderTest, FieldLimit) {
  CsvReader::Limits limits;
  limits.max_field_bytes = 4;
  CsvReader r("abcde,x\nab,\"abcde\"\nok,ok\n", ',', limits);
  std::vector<std::string> f;
  std::string err;
  EXPECT_EQ(r.Next(&f, &err), CsvReader::Result::kMalformed);
  EXPECT_EQ(r.Next(&f, &err), CsvReader::Result::kMalformed);
  EXPECT_EQ(r.Next(&f, &err), CsvReader::Result::kRecord);
  EXPECT_EQ(r.line(), 3u);
}

TEST(ScreeningListLoaderTest, CslCsv2019Schema) {
  auto l = LoadCslCsv(DataPath("moov-io-watchman/csl.csv"));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->entries.size(), 115u);
  EXPECT_EQ(l->malformed(), 0u);
  ASSERT_EQ(l->reports.size(), 1u);
  EXPECT_EQ(l->reports[0].rows, 115u);
  EXPECT_EQ(CountSource(*l, "Entity List (EL)"), 22u);
  EXPECT_EQ(CountSource(*l, "Specially Designated Nationals (SDN)"), 28u);
  const auto* e = FindByName(*l, "2904977 CANADA, INC.");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->id, "8124@SDN");
  EXPECT_EQ(e->programs, (std::vector<std::string>{"CUBA"}));
  EXPECT_NE(std::find(e->countries.begin(), e->countries.end(), "CA"), e->countries.end());
  // ';'-separated aliases.
  bool seen_aliases = false;
  for (const auto& x : l->entries) {
    if (std::find(x.alt_names.begin(), x.alt_names.end(), "SEVENTH OF TIR") != x.alt_names.end()) {
      seen_aliases = true;
      EXPECT_EQ(x.alt_names.size(), 7u);
    }
  }
  EXPECT_TRUE(seen_aliases);
  // Rows without entity_number get a stable hashed id.
  const auto* dpl = FindByName(*l, "ADRIAN MANUEL HERNANDEZ");
  ASSERT_NE(dpl, nullptr);
  EXPECT_EQ(dpl->id.rfind("h:", 0), 0u) << dpl->id;
  auto again = LoadCslCsv(DataPath("moov-io-watchman/csl.csv"));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(FindByName(*again, "ADRIAN MANUEL HERNANDEZ")->id, dpl->id);
}

TEST(ScreeningListLoaderTest, CslCsvCurrentSchema) {
  auto l = LoadCslCsv(DataPath("moov-io-watchman/consolidated.csv"));
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(l->entries.size(), 13u);
  EXPECT_EQ(l->malformed(), 0u);
  EXPECT_EQ(CountSource(*l, "Military End User (MEU) List"), 1u);
  EXPECT_EQ(CountSource(*l, "Entity List (EL)"), 1u);
  const auto* plc = FindByName(*l, "Mohammed ABU JHEISHEH");
  ASSERT_NE(plc, nullptr);
  EXPECT_EQ(plc->id, "9673");
  EXPECT_EQ(plc->alt_names,
            (std::vector<std::string>{"Mohammad Mutlaq ABU JHESHEH", "Mohammed ABU JEHEISHA"}));
}

TEST(ScreeningListLoaderTest, CslCsvMalformedRowsAreCountedWithFileLineAndField) {
  ::exportwatch::testing::TempDir dir;
  const std::string path = dir.File("bad_csl.csv");
  Write(path,
        "source,entity_number,name,alt_names,addresses\n"
        "Entity List (EL) - Bureau of Industry and Security,1,\"Acme, Ltd.\",\"Acme; ACME "
        "\"\"Export\"\"\",\"1 Road, Town, CN\"\n"
        "Entity List (EL) - Bureau of Industry and Security,2,,,\n"
        "Entity List (EL) - Bureau of Industry and Security,3,too,few\n"
        "Entity List (EL) - Bureau of Industry and Security,4,\"broken\"quote,,\n"
        "Entity List (EL) - Bureau of Industry and Security,1,Duplicate Id,,\n"
        ",5,No Source,,\n"
        "Entity List (EL) - Bureau of Industry and Security,6,Good Two,,\n");
  auto l = LoadCslCsv(path);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->entries.size(), 2u);
  EXPECT_EQ(l->entries[0].name, "Acme, Ltd.");
  EXPECT_EQ(l->entries[0].alt_names, (std::vector<std::string>{"Acme", "ACME \"Export\""}));
  EXPECT_EQ(l->entries[0].countries, (std::vector<std::string>{"CN"}));
  const LoadReport& r = l->reports[0];
  EXPECT_EQ(r.rows, 7u);
  EXPECT_EQ(r.malformed, 5u);
  ASSERT_EQ(r.errors.size(), 5u);
  EXPECT_EQ(r.errors[0], "bad_csl.csv:3: field 'name': empty");
  EXPECT_EQ(r.errors[1], "bad_csl.csv:4: expected 5 fields, found 4");
  EXPECT_EQ(r.errors[2], "bad_csl.csv:5: field 'name': text after closing quote");
  EXPECT_EQ(r.errors[3], "bad_csl.csv:6: field 'entity_number': duplicate id '1@EL'");
  EXPECT_EQ(r.errors[4], "bad_csl.csv:7: field 'source': empty");
}

TEST(ScreeningListLoaderTest, WholeFileErrors) {
  EXPECT_EQ(LoadCslCsv("/nonexistent/csl.csv").status().code(), absl::StatusCode::kNotFound);
  ::exportwatch::testing::TempDir dir;
  Write(dir.File("noname.csv"), "source,entity_number\nx,1\n");
  auto s = LoadCslCsv(dir.File("noname.csv")).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("noname.csv:1: header has no 'name' column"), std::string::npos) << s;
  LoadOptions small;
  small.max_file_bytes = 1000;
  EXPECT_EQ(LoadCslCsv(DataPath("moov-io-watchman/csl.csv"), small).status().code(),
            absl::StatusCode::kResourceExhausted);
  LoadOptions few;
  few.max_rows = 10;
  EXPECT_EQ(LoadCslCsv(DataPath("moov-io-watchman/csl.csv"), few).status().code(),
            absl::StatusCode::kResourceExhausted);
  Write(dir.File("bad.json"), "{\"results\": [");
  EXPECT_EQ(LoadCslJson(dir.File("bad.json")).status().code(), absl::StatusCode::kInvalidArgument);
  Write(dir.File("deep.json"), std::string(100, '[') + std::string(100, ']'));
  EXPECT_EQ(LoadCslJson(dir.File("deep.json")).status().code(), absl::StatusCode::kInvalidArgument);
  Write(dir.File("noresults.json"), "{\"total\": 0}");
  EXPECT_EQ(LoadCslJson(dir.File("noresults.json")).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ScreeningListLoaderTest, CslJson) {
  auto l = LoadCslJson(std::string(EW_SOURCE_DIR) + "/tests/fixtures/screening/csl_results.json");
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->entries.size(), 3u);
  const auto& huawei = l->entries[0];
  EXPECT_EQ(huawei.id, "e0b1f0c2");
  EXPECT_EQ(huawei.name, "Huawei Technologies Co., Ltd.");
  EXPECT_EQ(huawei.alt_names, (std::vector<std::string>{"Huawei", "Huawei Technologies"}));
  EXPECT_EQ(huawei.source, "Entity List (EL) - Bureau of Industry and Security");
  EXPECT_EQ(huawei.programs, (std::vector<std::string>{"EAR"}));
  EXPECT_EQ(huawei.countries, (std::vector<std::string>{"CN"}));
  ASSERT_EQ(huawei.addresses.size(), 1u);
  EXPECT_EQ(huawei.addresses[0], "Bantian, Longgang District, Shenzhen, Guangdong, 518129, CN");
  EXPECT_EQ(l->entries[1].id, "36@SDN");
  EXPECT_TRUE(l->entries[1].alt_names.empty());
  EXPECT_EQ(l->entries[1].countries, (std::vector<std::string>{"CU"}));
  EXPECT_EQ(l->entries[2].alt_names,
            (std::vector<std::string>{"Sinobright", "Sino Bright Import & Export"}));
  const LoadReport& r = l->reports[0];
  EXPECT_EQ(r.rows, 6u);
  EXPECT_EQ(r.malformed, 3u);
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0], "csl_results.json: results[3]: field 'name': missing or empty");
  EXPECT_EQ(r.errors[1], "csl_results.json: results[4]: field 'alt_names': not a list of strings");
  EXPECT_EQ(r.errors[2], "csl_results.json: results[5]: field '': not an object");
}

TEST(ScreeningListLoaderTest, OfacSdnWithAliasesAndAddresses) {
  OfacFiles files;
  files.sdn = DataPath("moov-io-watchman/bench/sdn.csv");
  files.alt = DataPath("moov-io-watchman/bench/alt.csv");
  files.add = DataPath("moov-io-watchman/bench/add.csv");
  auto l = LoadOfacSdn(files);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->reports.size(), 3u);
  for (const auto& r : l->reports) {
    std::printf("%s: %zu rows, %zu loaded, %zu malformed\n", r.file.c_str(), r.rows, r.loaded,
                r.malformed);
    for (const auto& e : r.errors) std::printf("  %s\n", e.c_str());
  }
  EXPECT_EQ(l->entries.size(), 8976u);
  EXPECT_EQ(l->reports[0].malformed, 0u);
  EXPECT_EQ(l->reports[1].rows, 11910u);
  EXPECT_EQ(l->reports[1].malformed, 0u);
  EXPECT_EQ(l->reports[2].malformed, 0u);
  const auto* bnc = FindByName(*l, "BANCO NACIONAL DE CUBA");
  ASSERT_NE(bnc, nullptr);
  EXPECT_EQ(bnc->id, "306");
  EXPECT_EQ(bnc->type, "Entity");
  EXPECT_EQ(bnc->source, kOfacSdnSource);
  EXPECT_EQ(bnc->programs, (std::vector<std::string>{"CUBA"}));
  EXPECT_NE(std::find(bnc->alt_names.begin(), bnc->alt_names.end(), "NATIONAL BANK OF CUBA"),
            bnc->alt_names.end());
  EXPECT_FALSE(bnc->countries.empty());
}

TEST(ScreeningListLoaderTest, OfacAliasesFromRemarksAndMalformedRows) {
  ::exportwatch::testing::TempDir dir;
  Write(dir.File("sdn.csv"),
        "306,\"BANCO NACIONAL DE CUBA\",-0- ,\"CUBA\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,"
        "\"a.k.a. 'BNC'; a.k.a. 'AL-QA'IDA BANK'.\"\r\n"
        "abc,\"BAD ENT NUM\",-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n"
        "307,-0- ,-0- ,\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \r\n"
        "308,\"SHORT ROW\",-0- \r\n"
        "309,\"SMITH, John\",\"individual\",\"SDGT] [IFSR\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- "
        "\r\n"
        "\x1A");
  OfacFiles files;
  files.sdn = dir.File("sdn.csv");
  auto l = LoadOfacSdn(files);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->entries.size(), 2u);
  EXPECT_EQ(l->entries[0].alt_names, (std::vector<std::string>{"BNC", "AL-QA'IDA BANK"}));
  EXPECT_EQ(l->entries[1].type, "Individual");
  EXPECT_EQ(l->entries[1].programs, (std::vector<std::string>{"SDGT", "IFSR"}));
  const LoadReport& r = l->reports[0];
  EXPECT_EQ(r.malformed, 3u);
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0], "sdn.csv:2: field 'ent_num': not a positive integer: 'abc'");
  EXPECT_EQ(r.errors[1], "sdn.csv:3: field 'SDN_Name': empty");
  EXPECT_EQ(r.errors[2], "sdn.csv:4: expected 12 fields, found 3");

  // alt.csv rows for unknown entries are counted, not applied.
  Write(dir.File("alt.csv"),
        "306,1,\"aka\",\"NATIONAL BANK OF CUBA\",-0- \n999,2,\"aka\",\"X\",-0- \n");
  files.alt = dir.File("alt.csv");
  auto with_alt = LoadOfacSdn(files);
  ASSERT_TRUE(with_alt.ok()) << with_alt.status();
  EXPECT_EQ(with_alt->entries[0].alt_names, (std::vector<std::string>{"NATIONAL BANK OF CUBA"}));
  ASSERT_EQ(with_alt->reports.size(), 2u);
  EXPECT_EQ(with_alt->reports[1].malformed, 1u);
  EXPECT_EQ(with_alt->reports[1].errors[0],
            "alt.csv:2: field 'ent_num': 999 is not in the SDN file");
}

TEST(ScreeningListLoaderTest, Latin1OfacFileIsRead) {
  ::exportwatch::testing::TempDir dir;
  Write(dir.File("sdn.csv"),
        "1,\"GARC\xCD"
        "A, Jos\xC9\",\"individual\",\"X\",-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- ,-0- \n");
  OfacFiles files;
  files.sdn = dir.File("sdn.csv");
  auto l = LoadOfacSdn(files);
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->entries.size(), 1u);
  EXPECT_EQ(l->entries[0].name,
            "GARC\xC3\x8D"
            "A, Jos\xC3\x89");
}

WatchlistDiff SnapshotDiff(const char* older, const char* newer) {
  OfacFiles a, b;
  a.sdn = DataPath(std::string("ofac-sdn-git-scrape/") + older);
  b.sdn = DataPath(std::string("ofac-sdn-git-scrape/") + newer);
  auto la = LoadOfacSdn(a);
  auto lb = LoadOfacSdn(b);
  EXPECT_TRUE(la.ok()) << la.status();
  EXPECT_TRUE(lb.ok()) << lb.status();
  if (!la.ok() || !lb.ok()) return {};
  EXPECT_EQ(la->malformed(), 0u);
  EXPECT_EQ(lb->malformed(), 0u);
  return Diff(la->entries, lb->entries);
}

// 2022-02-24 -> 02-25: the first Russia-invasion designations, 91 additions.
TEST(ScreeningListLoaderTest, DiffOfOfacSnapshotsFindsThe91Additions) {
  WatchlistDiff d = SnapshotDiff("sdn_2022-02-24T0152Z.csv", "sdn_2022-02-25T0150Z.csv");
  std::printf("2022-02-24 -> 02-25: %zu added, %zu removed, %zu changed\n", d.added.size(),
              d.removed.size(), d.changed.size());
  EXPECT_EQ(d.added.size(), 91u);
  EXPECT_TRUE(d.removed.empty());
}

// 2024-05-02 -> 05-03: 8 removals.
TEST(ScreeningListLoaderTest, DiffOfOfacSnapshotsFindsThe8Removals) {
  WatchlistDiff d = SnapshotDiff("sdn_2024-05-02T1843Z.csv", "sdn_2024-05-03T1843Z.csv");
  std::printf("2024-05-02 -> 05-03: %zu added, %zu removed, %zu changed\n", d.added.size(),
              d.removed.size(), d.changed.size());
  EXPECT_EQ(d.removed.size(), 8u);
  EXPECT_TRUE(d.added.empty());
}

}  // namespace
}  // namespace exportwatch::screening

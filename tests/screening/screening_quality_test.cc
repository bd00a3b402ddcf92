// Screening quality against real data: recall on misspelled UN names,
// false matches on synthetic non-sanctioned people, agreement with OFAC's
// own search scores, cross-script pairs. Prints the measured figures
// (screening/README.md quotes them).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "screening/list_loader.h"
#include "screening/score.h"
#include "screening/watchlist.h"
#include "tests/screening/screening_test_util.h"

namespace exportwatch::screening {
namespace {

using testing::DataPath;
using testing::ReadCsv;

constexpr double kThreshold = 0.88;  // RULES.md SCREENING_MATCH default

class ScreeningQualityTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto n = Normalizer::Create();
    ASSERT_TRUE(n.ok()) << n.status();
    normalizer_ = new std::shared_ptr<const Normalizer>(std::move(*n));
  }
  static void TearDownTestSuite() {
    delete normalizer_;
    normalizer_ = nullptr;
  }
  static std::shared_ptr<const Normalizer> normalizer() { return *normalizer_; }

  static std::unique_ptr<Watchlist> Build(std::vector<WatchlistEntry> entries) {
    WatchlistOptions o;
    o.normalizer = normalizer();
    auto w = Watchlist::Build(std::move(entries), o);
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? std::move(*w) : nullptr;
  }

  static double Score(const std::string& a, const std::string& b) {
    auto na = normalizer()->Normalize(a);
    auto nb = normalizer()->Normalize(b);
    EXPECT_TRUE(na.ok() && nb.ok());
    return NameScore(*na, *nb);
  }

  static std::shared_ptr<const Normalizer>* normalizer_;
};
std::shared_ptr<const Normalizer>* ScreeningQualityTest::normalizer_ = nullptr;

// The full names (first column) of a yente fixture.
std::vector<std::string> FullNames(const std::string& relative) {
  auto rows = ReadCsv(DataPath(relative));
  std::vector<std::string> names;
  for (size_t i = 1; i < rows.size(); ++i) names.push_back(rows[i].at(0));
  return names;
}

// The 683 UN-listed names are the list; their misspelled / reordered
// twins (same row) are screened. A hit is the right entry at >= 0.88.
TEST_F(ScreeningQualityTest, RecallOnMisspelledUnNames) {
  const auto listed = FullNames(
      "opensanctions-yente/candidate_generation_benchmark/"
      "positives_un_untreated.csv");
  const auto queries = FullNames(
      "opensanctions-yente/candidate_generation_benchmark/"
      "positives_un_treated.csv");
  ASSERT_EQ(listed.size(), 683u);
  ASSERT_EQ(queries.size(), listed.size());
  std::vector<WatchlistEntry> entries;
  for (size_t i = 0; i < listed.size(); ++i) {
    WatchlistEntry e;
    e.id = std::to_string(i);
    e.name = listed[i];
    e.source = "UN";
    entries.push_back(std::move(e));
  }
  auto list = Build(std::move(entries));
  ASSERT_NE(list, nullptr);
  size_t found = 0, changed = 0, found_changed = 0;
  for (size_t i = 0; i < queries.size(); ++i) {
    auto matches = list->Screen(queries[i]);
    ASSERT_TRUE(matches.ok()) << matches.status();
    bool hit = false;
    for (const auto& m : *matches) hit |= m.entry_index == i;
    found += hit;
    if (queries[i] != listed[i]) {
      ++changed;
      found_changed += hit;
      if (!hit) {
        std::printf("  missed: '%s' -> '%s' (score %.3f)\n", queries[i].c_str(), listed[i].c_str(),
                    Score(queries[i], listed[i]));
      }
    }
  }
  const double recall = static_cast<double>(found) / static_cast<double>(queries.size());
  const double recall_changed = static_cast<double>(found_changed) / static_cast<double>(changed);
  std::printf(
      "RECALL un_treated vs un_untreated: %zu/%zu = %.2f%% (perturbed names only: "
      "%zu/%zu = %.2f%%)\n",
      found, queries.size(), 100 * recall, found_changed, changed, 100 * recall_changed);
  EXPECT_GE(recall, 0.95);
}

// The US lists we have: OFAC SDN with aliases, and the CSL excerpts.
std::vector<WatchlistEntry> UsLists() {
  std::vector<WatchlistEntry> all;
  OfacFiles files;
  files.sdn = DataPath("moov-io-watchman/bench/sdn.csv");
  files.alt = DataPath("moov-io-watchman/bench/alt.csv");
  auto sdn = LoadOfacSdn(files);
  EXPECT_TRUE(sdn.ok()) << sdn.status();
  if (sdn.ok()) all = std::move(sdn->entries);
  for (const char* csl : {"moov-io-watchman/csl.csv", "moov-io-watchman/consolidated.csv"}) {
    auto l = LoadCslCsv(DataPath(csl));
    EXPECT_TRUE(l.ok()) << l.status();
    if (!l.ok()) continue;
    for (auto& e : l->entries) {
      e.id = std::string(csl) + ":" + e.id;
      all.push_back(std::move(e));
    }
  }
  return all;
}

// Synthetic people generated to resemble no sanctioned person: a hit at
// >= 0.88 against the US lists is a false match.
TEST_F(ScreeningQualityTest, FalseMatchRateOnSyntheticPeople) {
  auto list = Build(UsLists());
  ASSERT_NE(list, nullptr);
  std::printf("US lists: %zu entries, %zu names, %zu terms, %zu keys\n", list->stats().entries,
              list->stats().names, list->stats().terms, list->stats().keys);
  for (const char* file : {"negatives_us.csv", "negatives_global.csv"}) {
    const auto names =
        FullNames(std::string("opensanctions-yente/candidate_generation_benchmark/") + file);
    ASSERT_EQ(names.size(), 50000u);
    size_t hits = 0, shown = 0;
    for (const auto& name : names) {
      auto matches = list->Screen(name);
      ASSERT_TRUE(matches.ok()) << matches.status();
      if (matches->empty()) continue;
      ++hits;
      if (shown++ < 10) {
        std::printf("  false match: '%s' ~ '%s' %.3f\n", name.c_str(),
                    (*matches)[0].matched_name.c_str(), (*matches)[0].score);
      }
    }
    const double rate = static_cast<double>(hits) / static_cast<double>(names.size());
    std::printf("FPR %s vs OFAC SDN+alt and CSL: %zu/%zu = %.3f%%\n", file, hits, names.size(),
                100 * rate);
    EXPECT_LE(rate, 0.005) << file;
  }
}

// The index against an exhaustive scan: of the (query, entry) pairs that
// score >= 0.88 when every list name is scored, the share Screen() returns.
// Queries: list names with two typos each (a swap and a deletion in the
// middle of the name), and synthetic people.
TEST_F(ScreeningQualityTest, IndexFindsWhatAnExhaustiveScanFinds) {
  OfacFiles files;
  files.sdn = DataPath("moov-io-watchman/bench/sdn.csv");
  files.alt = DataPath("moov-io-watchman/bench/alt.csv");
  auto sdn = LoadOfacSdn(files);
  ASSERT_TRUE(sdn.ok()) << sdn.status();
  std::vector<std::pair<size_t, ScoringName>> all_names;
  for (size_t i = 0; i < sdn->entries.size(); ++i) {
    const auto& e = sdn->entries[i];
    std::vector<std::string> names = {e.name};
    names.insert(names.end(), e.alt_names.begin(), e.alt_names.end());
    for (const auto& name : names) {
      auto n = normalizer()->Normalize(name);
      ASSERT_TRUE(n.ok());
      if (!n->empty()) all_names.emplace_back(i, ScoringName(n->tokens));
    }
  }
  std::vector<std::string> queries;
  for (size_t i = 0; i < sdn->entries.size(); i += 100) {
    std::string q = sdn->entries[i].name;
    if (q.size() > 6) {
      std::swap(q[q.size() / 2], q[q.size() / 2 + 1]);
      q.erase(q.size() / 3, 1);
    }
    queries.push_back(q);
  }
  const auto negatives =
      FullNames("opensanctions-yente/candidate_generation_benchmark/negatives_global.csv");
  for (size_t i = 0; i < 50; ++i) queries.push_back(negatives[i * 7]);
  auto list = Build(std::move(sdn->entries));
  ASSERT_NE(list, nullptr);
  size_t exhaustive = 0, found = 0;
  for (const auto& q : queries) {
    auto nq = normalizer()->Normalize(q);
    ASSERT_TRUE(nq.ok());
    const ScoringName sq(nq->tokens);
    std::vector<size_t> truth;
    for (const auto& [entry, name] : all_names) {
      if (NameScoreAtLeast(sq, name, kThreshold) >= kThreshold) truth.push_back(entry);
    }
    std::sort(truth.begin(), truth.end());
    truth.erase(std::unique(truth.begin(), truth.end()), truth.end());
    ScreenOptions all_results;
    all_results.max_results = 1000;
    const auto matches = list->ScreenNormalized(*nq, all_results);
    for (size_t entry : truth) {
      ++exhaustive;
      for (const auto& m : matches) {
        if (m.entry_index == entry) {
          ++found;
          break;
        }
      }
    }
    // The index never reports what the scan would not.
    EXPECT_LE(matches.size(), truth.size()) << q;
  }
  const double share = static_cast<double>(found) / static_cast<double>(exhaustive);
  std::printf(
      "INDEX vs exhaustive scan: %zu queries, %zu/%zu matching (query, entry) pairs "
      "found = %.2f%%\n",
      queries.size(), found, exhaustive, 100 * share);
  EXPECT_GE(share, 0.95);
}

// OFAC's own search scores (0-100) for query/result pairs: mean absolute
// difference of ours x 100 over the positive rows.
TEST_F(ScreeningQualityTest, AgreementWithOfacScores) {
  auto rows = ReadCsv(DataPath("opensanctions-nomenklatura/ofac_fixtures.csv"));
  ASSERT_GT(rows.size(), 100u);
  double sum = 0, signed_sum = 0;
  size_t n = 0, within5 = 0, negatives = 0, negatives_below = 0;
  for (size_t i = 1; i < rows.size(); ++i) {
    const auto& r = rows[i];
    ASSERT_EQ(r.size(), 3u);
    double ofac = 0;
    ASSERT_TRUE(absl::SimpleAtod(r[2], &ofac));
    const double ours = 100 * Score(r[0], r[1]);
    if (ofac < 0) {
      ++negatives;
      negatives_below += ours < 80;
      continue;
    }
    const double d = std::fabs(ours - ofac);
    sum += d;
    signed_sum += ours - ofac;
    within5 += d <= 5;
    ++n;
  }
  const double mad = sum / static_cast<double>(n);
  const double bias = signed_sum / static_cast<double>(n);
  std::printf(
      "OFAC agreement: MAD %.2f points over %zu rows (mean ours - OFAC %.2f), %zu within "
      "5 points; %zu/%zu of OFAC's non-results score < 80\n",
      mad, n, bias, within5, negatives_below, negatives);
  // We are stricter than OFAC by design (a part of a name, or a shared
  // first name, is not a match; see screening/README.md): the bound is the
  // measured 16.2 with a little slack, not OFAC-emulator grade (<= 2).
  EXPECT_LE(mad, 18.0);
  EXPECT_EQ(n, 164u);
}

// watchman's cross-script pairs with the minimum scores its embedding model
// reaches. ICU transliteration gets alphabetic scripts with vowels
// (Cyrillic, Greek) right, and those must reach watchman's minimum; Arabic
// and Hebrew lose their unwritten vowels, and Han/Kana/Hangul romanize
// differently from the customary spellings (金正恩 -> "jin zheng en", not
// "kim jong un"): those are printed, not asserted (README: limits).
TEST_F(ScreeningQualityTest, CrossScriptPairs) {
  const std::string data =
      exportwatch::testing::ReadFile(DataPath("moov-io-watchman/cross_script_pairs.csv"));
  std::string filtered;
  for (absl::string_view line : absl::StrSplit(data, '\n')) {
    if (!line.empty() && line[0] != '#') absl::StrAppend(&filtered, line, "\n");
  }
  CsvReader reader(filtered);
  std::vector<std::string> f;
  std::string error;
  size_t pairs = 0, reached = 0, alphabetic = 0;
  while (reader.Next(&f, &error) == CsvReader::Result::kRecord) {
    ASSERT_EQ(f.size(), 4u);
    double min_score = 0;
    ASSERT_TRUE(absl::SimpleAtod(f[2], &min_score));
    const double s = Score(f[0], f[1]);
    ++pairs;
    reached += s >= min_score;
    // UTF-8 lead bytes of Greek (U+0370..03FF) and Cyrillic (U+0400..04FF).
    const auto lead = static_cast<unsigned char>(f[0][0]);
    if (lead >= 0xCD && lead <= 0xD3) {
      ++alphabetic;
      EXPECT_GE(s, min_score) << f[0] << " / " << f[1];
    }
    std::printf("  %s / %s: %.3f (watchman min %.2f; %s)\n", f[0].c_str(), f[1].c_str(), s,
                min_score, f[3].c_str());
  }
  std::printf("cross-script: %zu/%zu pairs reach watchman's minimum\n", reached, pairs);
  EXPECT_EQ(pairs, 22u);
  EXPECT_EQ(alphabetic, 6u);
}

}  // namespace
}  // namespace exportwatch::screening

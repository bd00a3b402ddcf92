// Token and name similarity.
#include "screening/score.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "screening/normalize.h"
#include "tests/screening/screening_test_util.h"

namespace exportwatch::screening {
namespace {

TEST(ScreeningScoreTest, JaroWinklerKnownValues) {
  // Winkler's examples.
  EXPECT_NEAR(JaroWinkler("martha", "marhta"), 0.961, 0.001);
  EXPECT_NEAR(JaroWinkler("dwayne", "duane"), 0.840, 0.001);
  EXPECT_NEAR(JaroWinkler("dixon", "dicksonx"), 0.813, 0.001);
  EXPECT_EQ(JaroWinkler("", ""), 1.0);
  EXPECT_EQ(JaroWinkler("abc", ""), 0.0);
  EXPECT_EQ(JaroWinkler("abc", "xyz"), 0.0);
  EXPECT_EQ(JaroWinkler("same", "same"), 1.0);
}

TEST(ScreeningScoreTest, EditSimilarityCountsTranspositionsOnce) {
  EXPECT_DOUBLE_EQ(EditSimilarity("kitten", "sitting"), 1.0 - 3.0 / 7.0);
  EXPECT_DOUBLE_EQ(EditSimilarity("faiz", "afiz"), 0.75);  // one transposition
  EXPECT_DOUBLE_EQ(EditSimilarity("", ""), 1.0);
  EXPECT_DOUBLE_EQ(EditSimilarity("abc", ""), 0.0);
  std::string long_a(200, 'a'), long_b(200, 'a');
  long_b[100] = 'b';
  EXPECT_DOUBLE_EQ(EditSimilarity(long_a, long_b), 1.0 - 1.0 / 200.0);
}

TEST(ScreeningScoreTest, TokenSimilarityIsStricterForShortTokens) {
  // One typo costs a short token more than a long one.
  EXPECT_LT(TokenSimilarity("chen", "cheng"), TokenSimilarity("vladimir", "vladimr"));
  EXPECT_LT(TokenSimilarity("chen", "cheng"), JaroWinkler("chen", "cheng"));
}

class ScreeningNameScoreTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto n = Normalizer::Create();
    ASSERT_TRUE(n.ok()) << n.status();
    normalizer_ = std::move(*n).release();
  }
  static void TearDownTestSuite() {
    delete normalizer_;
    normalizer_ = nullptr;
  }
  static ScoringName Prep(const std::string& s) {
    auto n = normalizer_->Normalize(s);
    EXPECT_TRUE(n.ok()) << n.status();
    return ScoringName(n.ok() ? n->tokens : std::vector<std::string>{});
  }
  static double Score(const std::string& a, const std::string& b) {
    return NameScore(Prep(a), Prep(b));
  }
  static Normalizer* normalizer_;
};
Normalizer* ScreeningNameScoreTest::normalizer_ = nullptr;

TEST_F(ScreeningNameScoreTest, SuffixesPunctuationAndWordOrderDoNotMatter) {
  EXPECT_EQ(Score("Huawei Technologies Co Ltd", "HUAWEI TECHNOLOGIES CO., LTD."), 1.0);
  EXPECT_EQ(Score("Vladimir Putin", "PUTIN, Vladimir"), 1.0);
  EXPECT_EQ(Score("SALEK, ABDULHAI", "ABDULHAI SALEK"), 1.0);
  EXPECT_EQ(Score("AL-QAEDA", "AL QAEDA"), 1.0);
  EXPECT_EQ(Score("ALQAEDA", "AL QAEDA"), 1.0);  // compact form
}

TEST_F(ScreeningNameScoreTest, IsSymmetric) {
  const std::vector<std::pair<std::string, std::string>> pairs = {
      {"VLADIMIR PUTIN", "PUTIN, Vladimir Vladimirovich"},
      {"BASHIR UD DIN", "MAHMOOD, Sultan Bashiruddin"},
      {"KIM SKO CHOL", "KIM SOK CHOL"},
      {"Erik John Lee", "LEE, John"}};
  for (const auto& [a, b] : pairs) EXPECT_DOUBLE_EQ(Score(a, b), Score(b, a)) << a << " / " << b;
}

TEST_F(ScreeningNameScoreTest, TyposStayAboveThresholdOtherPeopleBelow) {
  EXPECT_GE(Score("VLADIMR PUTIN", "PUTIN, Vladimir"), 0.88);
  EXPECT_GE(Score("AREFULLAHA REF GHAZI MOHAMMAD", "AREFULLAH AREF GHAZI MOHAMMAD"), 0.88);
  EXPECT_GE(Score("KIM SKO CHOL", "KIM SOK CHOL"), 0.88);
  EXPECT_GE(Score("NAJIBULAH MUHAMAD JUMA", "NAJIBULLAH MUHAMMAD JUMA"), 0.88);
  // A split word matches its joined form.
  EXPECT_GE(Score("MAHMOOD BASHIR UD DIN", "MAHMOOD BASHIRUDDIN"), 0.88);
  // Sharing a first name is not a match; a name inside a longer one is not
  // either.
  EXPECT_LT(Score("VLADIMIR PUTIN", "VLADIMIR BILIY"), 0.88);
  EXPECT_LT(Score("Desiree Daniels", "DANIEL"), 0.88);
  EXPECT_LT(Score("PUTIN", "PUTIN, Vladimir"), 0.88);
  EXPECT_EQ(Score("", "PUTIN"), 0.0);
}

// NameScoreAtLeast (the watchlist's bounded form) agrees with NameScore
// whenever the score reaches the floor, and stays below the floor otherwise.
TEST_F(ScreeningNameScoreTest, BoundedScoreAgreesWithFullScore) {
  auto listed = testing::ReadCsv(testing::DataPath(
      "opensanctions-yente/candidate_generation_benchmark/positives_un_untreated.csv"));
  auto treated = testing::ReadCsv(testing::DataPath(
      "opensanctions-yente/candidate_generation_benchmark/positives_un_treated.csv"));
  ASSERT_EQ(listed.size(), treated.size());
  size_t compared = 0;
  for (size_t i = 1; i < listed.size(); ++i) {
    // Each treated name against its twin and against a neighbour.
    for (size_t j : {i, i % (listed.size() - 1) + 1}) {
      const ScoringName a = Prep(treated[i][0]), b = Prep(listed[j][0]);
      const double full = NameScore(a, b);
      for (double floor : {0.5, 0.88, 0.95}) {
        const double bounded = NameScoreAtLeast(a, b, floor);
        if (full >= floor) {
          EXPECT_DOUBLE_EQ(bounded, full) << treated[i][0] << " / " << listed[j][0];
        } else {
          EXPECT_LT(bounded, floor) << treated[i][0] << " / " << listed[j][0];
        }
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 4000u);
}

// The same on random names over a 3-letter alphabet, where the compact form
// often beats the token score (its bounded edit distance is exercised).
TEST(ScreeningScoreTest, BoundedScoreAgreesOnRandomNames) {
  std::mt19937 rng(42);
  auto token = [&] {
    std::string t(2 + rng() % 7, 'a');
    for (auto& c : t) c = static_cast<char>('a' + rng() % 3);
    return t;
  };
  auto name = [&] {
    std::vector<std::string> tokens(1 + rng() % 4);
    for (auto& t : tokens) t = token();
    return ScoringName(std::move(tokens));
  };
  size_t compact_wins = 0;
  for (int i = 0; i < 20000; ++i) {
    const ScoringName a = name();
    // b: a with a few edits to its compact form, re-split at random.
    std::string c = a.compact();
    for (int e = static_cast<int>(rng() % 3); e > 0 && !c.empty(); --e) {
      c[rng() % c.size()] = static_cast<char>('a' + rng() % 3);
    }
    std::vector<std::string> parts;
    for (size_t p = 0; p < c.size();) {
      const size_t n = 1 + rng() % 6;
      parts.push_back(c.substr(p, n));
      p += n;
    }
    const ScoringName b(parts);
    const double full = NameScore(a, b);
    compact_wins += full > NameScoreAtLeast(a, b, 1.0) && full < 1.0;
    for (double floor : {0.3, 0.7, 0.88}) {
      const double bounded = NameScoreAtLeast(a, b, floor);
      if (full >= floor) {
        ASSERT_DOUBLE_EQ(bounded, full) << a.compact() << " / " << c;
      } else {
        ASSERT_LT(bounded, floor) << a.compact() << " / " << c;
      }
    }
  }
  EXPECT_GT(compact_wins, 1000u);
}

}  // namespace
}  // namespace exportwatch::screening

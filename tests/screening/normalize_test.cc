// Normalizer: case, punctuation, legal forms, initials, transliteration.
#include "screening/normalize.h"

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace exportwatch::screening {
namespace {

class ScreeningNormalizeTest : public ::testing::Test {
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
  static std::string Norm(absl::string_view s) {
    auto n = normalizer_->Normalize(s);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.ok() ? n->Joined() : "<error>";
  }
  static Normalizer* normalizer_;
};
Normalizer* ScreeningNormalizeTest::normalizer_ = nullptr;

TEST_F(ScreeningNormalizeTest, CaseAndPunctuation) {
  EXPECT_EQ(Norm("HUAWEI  Technologies"), "huawei technologies");
  EXPECT_EQ(Norm("PUTIN, Vladimir Vladimirovich"), "putin vladimir vladimirovich");
  EXPECT_EQ(Norm("AL-QA'IDA"), "al qaida");
  EXPECT_EQ(Norm("O'BRIEN"), "obrien");
  EXPECT_EQ(Norm("Mus\xE2\x80\x99"
                 "ab"),
            "musab");  // typographic apostrophe
  EXPECT_EQ(Norm("  (CETC) 54th Research Institute; "), "cetc 54th research institute");
  EXPECT_EQ(Norm("---"), "");
  EXPECT_EQ(Norm(""), "");
}

TEST_F(ScreeningNormalizeTest, LegalFormsAreDropped) {
  EXPECT_EQ(Norm("Huawei Technologies Co., Ltd."), "huawei technologies");
  EXPECT_EQ(Norm("HUAWEI TECHNOLOGIES CO LTD"), "huawei technologies");
  EXPECT_EQ(Norm("Acme GmbH"), "acme");
  EXPECT_EQ(Norm("Petronas Sdn. Bhd."), "petronas");
  EXPECT_EQ(Norm("Sinobright Import and Export Company Limited"), "sinobright import and export");
  EXPECT_EQ(Norm("AL JIL ALQADEM GENERAL TRADING L.L.C."), "al jil alqadem general trading");
  EXPECT_EQ(Norm("DONCOALTRADE SP Z O O"), "doncoaltrade");
  EXPECT_EQ(Norm("Rosneft Oil Company PJSC"), "rosneft oil");
  EXPECT_EQ(Norm("Public Joint Stock Company Rosneft"), "rosneft");
  EXPECT_EQ(Norm("OOO Romashka"), "romashka");
  EXPECT_EQ(Norm("LLC CST"), "cst");
  EXPECT_EQ(Norm("Anadolu A.S."), "anadolu");
  // Only at the ends, and never the last token.
  EXPECT_EQ(Norm("Bank AG Holding"), "bank ag holding");
  EXPECT_EQ(Norm("Limited"), "limited");
  EXPECT_EQ(Norm("Co. Ltd."), "co");
}

TEST_F(ScreeningNormalizeTest, DottedInitialsAreJoined) {
  EXPECT_EQ(Norm("J.P. MORGAN"), "jp morgan");
  EXPECT_EQ(Norm("U.S.A. Trading"), "usa trading");
  EXPECT_EQ(Norm("Jennifer L. McClellan"), "jennifer l mcclellan");
  EXPECT_EQ(Norm("A. B. Smith"), "a b smith");
}

TEST_F(ScreeningNormalizeTest, OtherScriptsAreTransliterated) {
  EXPECT_EQ(Norm("\xD0\x92\xD0\xBB\xD0\xB0\xD0\xB4\xD0\xB8\xD0\xBC\xD0\xB8\xD1\x80 "
                 "\xD0\x9F\xD1\x83\xD1\x82\xD0\xB8\xD0\xBD"),
            "vladimir putin");  // Владимир Путин
  EXPECT_EQ(Norm("\xE4\xB9\xA0\xE8\xBF\x91\xE5\xB9\xB3"), "xi jin ping");  // 习近平
  EXPECT_EQ(Norm("\xD9\x85\xD8\xAD\xD9\x85\xD8\xAF \xD8\xB9\xD9\x84\xD9\x8A"),
            "mhmd ly");  // محمد علي
  EXPECT_EQ(Norm("\xCE\x9D\xCE\xB9\xCE\xBA\xCF\x8C\xCE\xBB\xCE\xB1\xCE\xBF\xCF\x82"),
            "nikolaos");  // Νικόλαος
  EXPECT_EQ(Norm("Maria Alice Nathan Le\xC3\xA3o"), "maria alice nathan leao");
  EXPECT_EQ(Norm("Stra\xC3\x9F"
                 "e \xC3\x86r\xC3\xB8"),
            "strasse aero");
  // Full-width forms.
  EXPECT_EQ(Norm("\xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3 Trading"), "abc trading");
}

TEST_F(ScreeningNormalizeTest, InvalidUtf8BecomesSeparators) {
  EXPECT_EQ(Norm("Jos\xE9 Garc\xED"
                 "a"),
            "jos garc a");
  EXPECT_EQ(Norm("\xFF\xFE\xFD"), "");
}

TEST_F(ScreeningNormalizeTest, LongNamesAreRejected) {
  std::string longest(4096, 'a');
  EXPECT_TRUE(normalizer_->Normalize(longest).ok());
  auto r = normalizer_->Normalize(longest + "a");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ScreeningNormalizeTest, BadTransliterationIdIsAnError) {
  NormalizerOptions o;
  o.transliteration = "No-Such-Transform";
  EXPECT_EQ(Normalizer::Create(o).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ScreeningNormalizeTest, ConcurrentCallsAgree) {
  const std::vector<std::string> inputs = {
      "\xD0\x92\xD0\xBB\xD0\xB0\xD0\xB4\xD0\xB8\xD0\xBC\xD0\xB8\xD1\x80",
      "\xE4\xB9\xA0\xE8\xBF\x91\xE5\xB9\xB3", "Le\xC3\xA3o Ltd", "plain ascii co"};
  std::vector<std::string> expected;
  for (const auto& s : inputs) expected.push_back(Norm(s));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const size_t k = static_cast<size_t>(i + t) % inputs.size();
        auto n = normalizer_->Normalize(inputs[k]);
        if (!n.ok() || n->Joined() != expected[k]) ++failures[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

}  // namespace
}  // namespace exportwatch::screening

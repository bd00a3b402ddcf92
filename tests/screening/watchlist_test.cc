// Watchlist: build, screen, bounds, concurrent readers, diff.
#include "screening/watchlist.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace exportwatch::screening {
namespace {

WatchlistEntry Entry(std::string id, std::string name, std::vector<std::string> alt = {},
                     std::string source = "Entity List (EL) - Bureau of Industry and Security") {
  WatchlistEntry e;
  e.id = std::move(id);
  e.name = std::move(name);
  e.alt_names = std::move(alt);
  e.source = std::move(source);
  return e;
}

std::vector<WatchlistEntry> SmallList() {
  return {Entry("1", "Huawei Technologies Co., Ltd.", {"Huawei"}),
          Entry("2", "PUTIN, Vladimir Vladimirovich", {"PUTIN, Vladimir"},
                "Specially Designated Nationals (SDN) - Treasury Department"),
          Entry("3", "BIN LADEN, Osama", {"BIN LADIN, Usama"}),
          Entry("4", "Semiconductor Manufacturing International Corporation", {"SMIC"}),
          Entry("5", "OOO Romashka"),
          Entry("6", "AL QAEDA")};
}

class ScreeningWatchlistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto w = Watchlist::Build(SmallList());
    ASSERT_TRUE(w.ok()) << w.status();
    list_ = std::move(*w);
  }
  std::vector<Match> Screen(const std::string& name, const ScreenOptions& o = {}) {
    auto m = list_->Screen(name, o);
    EXPECT_TRUE(m.ok()) << m.status();
    return m.ok() ? *m : std::vector<Match>{};
  }
  std::unique_ptr<Watchlist> list_;
};

TEST_F(ScreeningWatchlistTest, FindsNamesAndAliases) {
  auto m = Screen("HUAWEI TECHNOLOGIES CO LTD");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(list_->entry(m[0].entry_index).id, "1");
  EXPECT_EQ(m[0].score, 1.0);
  EXPECT_FALSE(m[0].alias);
  EXPECT_EQ(m[0].matched_name, "Huawei Technologies Co., Ltd.");

  m = Screen("Vladimir Putin");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(list_->entry(m[0].entry_index).id, "2");
  EXPECT_TRUE(m[0].alias);
  EXPECT_EQ(m[0].matched_name, "PUTIN, Vladimir");
  EXPECT_EQ(m[0].score, 1.0);

  // Transliterated: Владимир Путин.
  m = Screen(
      "\xD0\x92\xD0\xBB\xD0\xB0\xD0\xB4\xD0\xB8\xD0\xBC\xD0\xB8\xD1\x80 "
      "\xD0\x9F\xD1\x83\xD1\x82\xD0\xB8\xD0\xBD");
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(list_->entry(m[0].entry_index).id, "2");

  // Typos, legal forms, word order, joined words.
  EXPECT_EQ(Screen("Usama bin Ladenn").size(), 1u);
  EXPECT_EQ(Screen("Romashka LLC").size(), 1u);
  EXPECT_EQ(Screen("Semiconductor Manufactoring Internatonal Corp").size(), 1u);
  EXPECT_EQ(Screen("ALQAEDA").size(), 1u);
}

TEST_F(ScreeningWatchlistTest, DoesNotMatchOtherNames) {
  EXPECT_TRUE(Screen("Vladimir Biliy").empty());
  EXPECT_TRUE(Screen("Putin").empty());  // a part of the name only
  EXPECT_TRUE(Screen("Acme Trading Ltd").empty());
  EXPECT_TRUE(Screen("").empty());
  EXPECT_TRUE(Screen("Ltd.").empty());
}

TEST_F(ScreeningWatchlistTest, ThresholdAndMaxResults) {
  ScreenOptions loose;
  loose.threshold = 0.5;
  auto m = Screen("Vladimir Biliy", loose);
  ASSERT_FALSE(m.empty());
  EXPECT_EQ(list_->entry(m[0].entry_index).id, "2");
  EXPECT_LT(m[0].score, 0.88);
  loose.threshold = 0.0;
  loose.max_results = 2;
  EXPECT_LE(Screen("Huawei Putin Laden", loose).size(), 2u);
}

TEST_F(ScreeningWatchlistTest, RejectsOverlongNamesAndBoundsLongOnes) {
  auto m = list_->Screen(std::string(5000, 'a'));
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  // The longest accepted names: one token, or many; both end quickly.
  std::string many;
  while (many.size() + 8 <= 4096) many += "huawei  ";
  for (const std::string& name : {std::string(4096, 'h'), many}) {
    const auto start = std::chrono::steady_clock::now();
    auto r = list_->Screen(name);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  }
}

TEST_F(ScreeningWatchlistTest, StatsAndFind) {
  EXPECT_EQ(list_->stats().entries, 6u);
  EXPECT_EQ(list_->stats().names, 10u);
  EXPECT_EQ(list_->stats().skipped_names, 0u);
  EXPECT_GT(list_->stats().keys, list_->stats().terms);
  ASSERT_TRUE(list_->Find("4").has_value());
  EXPECT_EQ(list_->entry(*list_->Find("4")).alt_names[0], "SMIC");
  EXPECT_FALSE(list_->Find("nope").has_value());
}

TEST(ScreeningWatchlistBuildTest, RejectsBadIdsAndCountsSkippedNames) {
  auto dup = Watchlist::Build({Entry("1", "A"), Entry("1", "B")});
  EXPECT_EQ(dup.status().code(), absl::StatusCode::kInvalidArgument);
  auto empty = Watchlist::Build({Entry("", "A")});
  EXPECT_EQ(empty.status().code(), absl::StatusCode::kInvalidArgument);
  WatchlistOptions o;
  o.max_entries = 1;
  EXPECT_EQ(Watchlist::Build({Entry("1", "A"), Entry("2", "B")}, o).status().code(),
            absl::StatusCode::kResourceExhausted);
  o = WatchlistOptions();
  o.max_names_per_entry = 2;
  auto w = Watchlist::Build({Entry("1", "Good", {"Alias One", "Alias Two", "Alias Three"}),
                             Entry("2", std::string(5000, 'x')), Entry("3", "---")},
                            o);
  ASSERT_TRUE(w.ok()) << w.status();
  EXPECT_EQ((*w)->stats().names, 2u);
  EXPECT_EQ((*w)->stats().skipped_names, 4u);  // 2 aliases, 1 too long, 1 without tokens
}

TEST_F(ScreeningWatchlistTest, ConcurrentReadersAgree) {
  const std::vector<std::string> queries = {"Huawei Technologies",
                                            "Vladimir Putin",
                                            "Usama bin Ladin",
                                            "SMIC",
                                            "Nobody Here",
                                            "\xD0\x9F\xD1\x83\xD1\x82\xD0\xB8\xD0\xBD "
                                            "\xD0\x92\xD0\xBB\xD0\xB0\xD0\xB4\xD0\xB8\xD0\xBC"
                                            "\xD0\xB8\xD1\x80"};
  std::vector<size_t> expected;
  for (const auto& q : queries) expected.push_back(Screen(q).size());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        const size_t k = static_cast<size_t>(i + t) % queries.size();
        auto m = list_->Screen(queries[k]);
        if (!m.ok() || m->size() != expected[k]) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ScreeningWatchlistDiffTest, AddedRemovedChanged) {
  std::vector<WatchlistEntry> older = {Entry("1", "A"), Entry("2", "B", {"b1"}), Entry("3", "C")};
  std::vector<WatchlistEntry> newer = {Entry("1", "A"), Entry("2", "B", {"b1", "b2"}),
                                       Entry("4", "D")};
  WatchlistDiff d = Diff(older, newer);
  EXPECT_EQ(d.added, (std::vector<std::string>{"4"}));
  EXPECT_EQ(d.removed, (std::vector<std::string>{"3"}));
  EXPECT_EQ(d.changed, (std::vector<std::string>{"2"}));
  // The same through built watchlists; alias order does not matter.
  newer[1].alt_names = {"b1"};
  auto a = Watchlist::Build(older);
  auto b = Watchlist::Build(newer);
  ASSERT_TRUE(a.ok() && b.ok());
  d = Diff(**a, **b);
  EXPECT_TRUE(d.changed.empty());
}

}  // namespace
}  // namespace exportwatch::screening

#include "state/alert_log.h"

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "state/memory_alert_log.h"
#include "state/rocksdb_alert_log.h"

namespace exportwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A fresh directory under the test temp dir, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = ::testing::TempDir() + "alert_log_test_XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    const char* made = mkdtemp(buf.data());
    EXPECT_NE(made, nullptr);
    path_ = made != nullptr ? made : pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

v1::Alert MakeAlert(const std::string& id, const std::string& rule = "RULE_A",
                    v1::Severity severity = v1::MEDIUM, const std::string& subject = "SUBJ-1",
                    int64_t event_seconds = 1'700'000'000) {
  v1::Alert alert;
  alert.set_alert_id(id);
  alert.set_rule_id(rule);
  alert.set_severity(severity);
  alert.mutable_subject()->set_kind(v1::ENTITY);
  alert.mutable_subject()->set_id(subject);
  alert.set_title(absl::StrCat("alert ", id));
  alert.mutable_event_time()->set_seconds(event_seconds);
  return alert;
}

std::vector<std::string> Ids(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> ids;
  for (const v1::Alert& a : alerts) ids.push_back(a.alert_id());
  return ids;
}

std::vector<std::string> Cursors(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> cursors;
  for (const v1::Alert& a : alerts) cursors.push_back(a.cursor());
  return cursors;
}

std::unique_ptr<AlertLog> OpenOrDie(const std::string& path, size_t list_scan_limit = 100000) {
  RocksDbAlertLogOptions options;
  options.path = path;
  options.list_scan_limit = list_scan_limit;
  absl::StatusOr<std::unique_ptr<AlertLog>> log = OpenRocksDbAlertLog(options);
  EXPECT_TRUE(log.ok()) << log.status();
  return log.ok() ? *std::move(log) : nullptr;
}

TEST(CursorTest, FormatsFixedWidthLowercaseHex) {
  EXPECT_EQ(FormatCursor(0), "0000000000000000");
  EXPECT_EQ(FormatCursor(255), "00000000000000ff");
  EXPECT_EQ(FormatCursor(std::numeric_limits<uint64_t>::max()), "ffffffffffffffff");
  // Cursor order is numeric order.
  EXPECT_LT(FormatCursor(9), FormatCursor(10));
  EXPECT_LT(FormatCursor(0xff), FormatCursor(0x100));
}

TEST(CursorTest, ParsesStrictly) {
  for (uint64_t seq :
       {uint64_t{0}, uint64_t{1}, uint64_t{0xabcdef}, std::numeric_limits<uint64_t>::max()}) {
    absl::StatusOr<uint64_t> parsed = ParseCursor(FormatCursor(seq));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, seq);
  }
  for (const char* bad :
       {"", "1", "000000000000001", "00000000000000001", "00000000000000FF", "000000000000000g",
        "-000000000000001", " 000000000000001", "0x00000000000001"}) {
    EXPECT_EQ(ParseCursor(bad).status().code(), absl::StatusCode::kInvalidArgument)
        << "\"" << bad << "\"";
  }
}

TEST(AlertFilterTest, MatchesEveryCriterion) {
  v1::Alert alert = MakeAlert("a", "RULE_A", v1::HIGH, "SUBJ-1", 1000);
  EXPECT_TRUE(AlertFilter().Matches(alert));
  EXPECT_TRUE(AlertFilter().set_min_severity(v1::HIGH).Matches(alert));
  EXPECT_FALSE(AlertFilter().set_min_severity(v1::CRITICAL).Matches(alert));
  EXPECT_TRUE(AlertFilter().set_rule_ids({"X", "RULE_A"}).Matches(alert));
  EXPECT_FALSE(AlertFilter().set_rule_ids({"X"}).Matches(alert));
  EXPECT_TRUE(AlertFilter().set_subject_ids({"SUBJ-1"}).Matches(alert));
  EXPECT_FALSE(AlertFilter().set_subject_ids({"SUBJ-2"}).Matches(alert));
  const absl::Time t = absl::FromUnixSeconds(1000);
  EXPECT_TRUE(AlertFilter().set_event_time_range(t, std::nullopt).Matches(alert));
  EXPECT_FALSE(
      AlertFilter().set_event_time_range(t + absl::Nanoseconds(1), std::nullopt).Matches(alert));
  // The end is exclusive.
  EXPECT_FALSE(AlertFilter().set_event_time_range(std::nullopt, t).Matches(alert));
  EXPECT_TRUE(
      AlertFilter().set_event_time_range(std::nullopt, t + absl::Seconds(1)).Matches(alert));
}

TEST(RocksDbAlertLogTest, AppendAssignsCursorsAndDropsDuplicates) {
  TempDir dir;
  std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->HeadSeq(), 0u);

  absl::StatusOr<AlertLog::AppendResult> first =
      log->Append({MakeAlert("a"), MakeAlert("b"), MakeAlert("a")}, "");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(Ids(first->appended), ElementsAre("a", "b"));
  EXPECT_THAT(Cursors(first->appended), ElementsAre(FormatCursor(1), FormatCursor(2)));
  EXPECT_EQ(first->duplicates, 1u);

  absl::StatusOr<AlertLog::AppendResult> second = log->Append({MakeAlert("b"), MakeAlert("c")}, "");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(Ids(second->appended), ElementsAre("c"));
  EXPECT_THAT(Cursors(second->appended), ElementsAre(FormatCursor(3)));
  EXPECT_EQ(second->duplicates, 1u);
  EXPECT_EQ(log->HeadSeq(), 3u);

  absl::StatusOr<v1::Alert> c = log->Get("c");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->cursor(), FormatCursor(3));
  EXPECT_EQ(c->title(), "alert c");
  EXPECT_EQ(log->Get("zzz").status().code(), absl::StatusCode::kNotFound);

  AlertLog::Counters counters = log->counters();
  EXPECT_EQ(counters.appended, 3u);
  EXPECT_EQ(counters.duplicates_dropped, 2u);
}

TEST(RocksDbAlertLogTest, EmptyAlertIdRejectsTheWholeBatch) {
  TempDir dir;
  std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
  ASSERT_NE(log, nullptr);
  absl::StatusOr<AlertLog::AppendResult> result =
      log->Append({MakeAlert("a"), MakeAlert("")}, "pos-1");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log->HeadSeq(), 0u);
  absl::StatusOr<std::optional<std::string>> position = log->LastSourcePosition();
  ASSERT_TRUE(position.ok());
  EXPECT_FALSE(position->has_value());
}

TEST(RocksDbAlertLogTest, SourcePositionAndSequenceSurviveReopen) {
  TempDir dir;
  {
    std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->Append({MakeAlert("a"), MakeAlert("b")}, "alerts/0@10").ok());
    // Only duplicates: the position still advances.
    absl::StatusOr<AlertLog::AppendResult> dup = log->Append({MakeAlert("a")}, "alerts/0@11");
    ASSERT_TRUE(dup.ok());
    EXPECT_THAT(dup->appended, IsEmpty());
    // No position: the stored one is kept.
    ASSERT_TRUE(log->Append({}, "").ok());
  }
  std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
  ASSERT_NE(log, nullptr);
  EXPECT_EQ(log->HeadSeq(), 2u);
  absl::StatusOr<std::optional<std::string>> position = log->LastSourcePosition();
  ASSERT_TRUE(position.ok()) << position.status();
  EXPECT_EQ(*position, std::optional<std::string>("alerts/0@11"));

  // A replay after the restart: old ids dropped, numbering continues.
  absl::StatusOr<AlertLog::AppendResult> replay =
      log->Append({MakeAlert("b"), MakeAlert("c")}, "alerts/0@12");
  ASSERT_TRUE(replay.ok()) << replay.status();
  EXPECT_THAT(Ids(replay->appended), ElementsAre("c"));
  EXPECT_THAT(Cursors(replay->appended), ElementsAre(FormatCursor(3)));
  EXPECT_EQ(replay->duplicates, 1u);
}

TEST(RocksDbAlertLogTest, StatusUpdateIsDurable) {
  TempDir dir;
  {
    std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
    ASSERT_NE(log, nullptr);
    ASSERT_TRUE(log->Append({MakeAlert("a"), MakeAlert("b")}, "").ok());
    v1::Triage triage;
    triage.set_status(v1::ACKNOWLEDGED);
    triage.set_updated_by("analyst-7");
    triage.set_note("looking");
    triage.mutable_updated_at()->set_seconds(1'800'000'000);
    absl::StatusOr<v1::Alert> updated = log->UpdateStatus("b", triage);
    ASSERT_TRUE(updated.ok()) << updated.status();
    EXPECT_EQ(updated->triage().status(), v1::ACKNOWLEDGED);
    EXPECT_EQ(updated->cursor(), FormatCursor(2));
    EXPECT_EQ(log->UpdateStatus("nope", triage).status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(log->counters().status_updates, 1u);
  }
  std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
  ASSERT_NE(log, nullptr);
  absl::StatusOr<v1::Alert> b = log->Get("b");
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->triage().status(), v1::ACKNOWLEDGED);
  EXPECT_EQ(b->triage().updated_by(), "analyst-7");
  EXPECT_EQ(b->triage().note(), "looking");
  EXPECT_EQ(b->triage().updated_at().seconds(), 1'800'000'000);
  // The update shows in reads by sequence too, and the order is unchanged.
  absl::StatusOr<std::vector<v1::Alert>> all = log->ReadAfter(0, 10);
  ASSERT_TRUE(all.ok());
  EXPECT_THAT(Ids(*all), ElementsAre("a", "b"));
  EXPECT_EQ((*all)[1].triage().status(), v1::ACKNOWLEDGED);
  // A re-delivered copy does not reset the triage.
  ASSERT_TRUE(log->Append({MakeAlert("b")}, "").ok());
  EXPECT_EQ(log->Get("b")->triage().status(), v1::ACKNOWLEDGED);
}

TEST(RocksDbAlertLogTest, ReadAfterPagesInOrder) {
  TempDir dir;
  std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
  ASSERT_NE(log, nullptr);
  std::vector<v1::Alert> batch;
  for (int i = 0; i < 7; ++i) batch.push_back(MakeAlert(absl::StrCat("id", i)));
  ASSERT_TRUE(log->Append(batch, "").ok());
  std::vector<std::string> seen;
  uint64_t after = 0;
  for (;;) {
    absl::StatusOr<std::vector<v1::Alert>> page = log->ReadAfter(after, 3);
    ASSERT_TRUE(page.ok()) << page.status();
    if (page->empty()) break;
    for (const v1::Alert& a : *page) {
      absl::StatusOr<uint64_t> seq = ParseCursor(a.cursor());
      ASSERT_TRUE(seq.ok());
      EXPECT_EQ(*seq, after + 1);  // gap-free
      after = *seq;
      seen.push_back(a.alert_id());
    }
  }
  EXPECT_THAT(seen, ElementsAre("id0", "id1", "id2", "id3", "id4", "id5", "id6"));
  EXPECT_THAT(*log->ReadAfter(7, 3), IsEmpty());
  EXPECT_THAT(*log->ReadAfter(std::numeric_limits<uint64_t>::max(), 3), IsEmpty());
}

TEST(RocksDbAlertLogTest, ListPaginatesWithFilters) {
  TempDir dir;
  std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
  ASSERT_NE(log, nullptr);
  std::vector<v1::Alert> batch;
  std::vector<std::string> want;
  for (int i = 0; i < 40; ++i) {
    v1::Severity severity = i % 2 == 0 ? v1::HIGH : v1::LOW;
    std::string rule = i % 3 == 0 ? "RULE_B" : "RULE_A";
    int64_t when = 1000 + i;
    batch.push_back(MakeAlert(absl::StrCat("id", i), rule, severity, "S", when));
    if (severity == v1::HIGH && rule == "RULE_A" && when >= 1005 && when < 1035) {
      want.push_back(absl::StrCat("id", i));
    }
  }
  ASSERT_TRUE(log->Append(batch, "").ok());
  AlertFilter filter;
  filter.set_min_severity(v1::MEDIUM)
      .set_rule_ids({"RULE_A"})
      .set_event_time_range(absl::FromUnixSeconds(1005), absl::FromUnixSeconds(1035));
  std::vector<std::string> got;
  std::string token;
  int pages = 0;
  do {
    absl::StatusOr<AlertLog::ListPage> page = log->List(filter, token, 3);
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_LE(page->alerts.size(), 3u);
    for (const v1::Alert& a : page->alerts) got.push_back(a.alert_id());
    token = page->next_page_token;
    ASSERT_LT(++pages, 100);
  } while (!token.empty());
  EXPECT_EQ(got, want);

  // Unfiltered: exactly full pages and no token after the last.
  absl::StatusOr<AlertLog::ListPage> all = log->List(AlertFilter(), "", 40);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->alerts.size(), 40u);
  EXPECT_EQ(all->next_page_token, "");
  absl::StatusOr<AlertLog::ListPage> first = log->List(AlertFilter(), "", 39);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->next_page_token, FormatCursor(39));
}

TEST(RocksDbAlertLogTest, ListScanLimitEndsPagesEarlyButMakesProgress) {
  TempDir dir;
  std::unique_ptr<AlertLog> log = OpenOrDie(dir.path(), /*list_scan_limit=*/4);
  ASSERT_NE(log, nullptr);
  std::vector<v1::Alert> batch;
  for (int i = 0; i < 10; ++i) {
    batch.push_back(MakeAlert(absl::StrCat("id", i), i == 9 ? "RARE" : "COMMON"));
  }
  ASSERT_TRUE(log->Append(batch, "").ok());
  AlertFilter filter;
  filter.set_rule_ids({"RARE"});
  std::vector<std::string> got;
  std::vector<size_t> page_sizes;
  std::string token;
  do {
    absl::StatusOr<AlertLog::ListPage> page = log->List(filter, token, 100);
    ASSERT_TRUE(page.ok()) << page.status();
    page_sizes.push_back(page->alerts.size());
    for (const v1::Alert& a : page->alerts) got.push_back(a.alert_id());
    token = page->next_page_token;
    ASSERT_LT(page_sizes.size(), 10u);
  } while (!token.empty());
  EXPECT_THAT(got, ElementsAre("id9"));
  EXPECT_THAT(page_sizes, ElementsAre(0, 0, 1));
}

TEST(RocksDbAlertLogTest, BadPageTokenIsInvalidArgument) {
  TempDir dir;
  std::unique_ptr<AlertLog> log = OpenOrDie(dir.path());
  ASSERT_NE(log, nullptr);
  ASSERT_TRUE(log->Append({MakeAlert("a")}, "").ok());
  for (const char* bad : {"abc", "000000000000000Z", "00000000000000011"}) {
    EXPECT_EQ(log->List(AlertFilter(), bad, 10).status().code(), absl::StatusCode::kInvalidArgument)
        << bad;
  }
  EXPECT_EQ(log->List(AlertFilter(), "", 0).status().code(), absl::StatusCode::kInvalidArgument);
  // A well-formed token past the head is simply the end.
  absl::StatusOr<AlertLog::ListPage> past = log->List(AlertFilter(), FormatCursor(1000), 10);
  ASSERT_TRUE(past.ok());
  EXPECT_THAT(past->alerts, IsEmpty());
  EXPECT_EQ(past->next_page_token, "");
}

TEST(RocksDbAlertLogTest, EmptyPathIsInvalidArgument) {
  EXPECT_EQ(OpenRocksDbAlertLog(RocksDbAlertLogOptions()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MemoryAlertLogTest, BehavesLikeTheDurableOne) {
  absl::StatusOr<std::unique_ptr<AlertLog>> log = NewMemoryAlertLog();
  ASSERT_TRUE(log.ok()) << log.status();
  absl::StatusOr<AlertLog::AppendResult> result =
      (*log)->Append({MakeAlert("x"), MakeAlert("y"), MakeAlert("x")}, "p");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_THAT(Cursors(result->appended), ElementsAre(FormatCursor(1), FormatCursor(2)));
  EXPECT_EQ((*log)->HeadSeq(), 2u);
  EXPECT_EQ(*(*log)->LastSourcePosition(), std::optional<std::string>("p"));
  // Two in-memory logs are independent.
  absl::StatusOr<std::unique_ptr<AlertLog>> other = NewMemoryAlertLog();
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_EQ((*other)->HeadSeq(), 0u);
}

}  // namespace
}  // namespace exportwatch

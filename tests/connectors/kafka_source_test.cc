// KafkaSource's commits, over real sockets to the mock cluster.
#include "connectors/kafka_source.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "connectors/kafka_sink.h"
#include "connectors/mock_cluster.h"
#include "gtest/gtest.h"

namespace exportwatch {
namespace {

// Starts every assigned partition at the group's committed offset.
class GroupOffsets final : public RebalanceListener {
 public:
  absl::StatusOr<std::vector<PartitionOffset>> OnAssigned(
      const std::vector<TopicPartition>& parts) override {
    ++assignments;
    std::vector<PartitionOffset> out;
    for (const auto& tp : parts) out.push_back({tp, -1});
    return out;
  }
  void OnRevoked(const std::vector<TopicPartition>&) override {}
  int assignments = 0;
};

class KafkaSourceTest : public testing::Test {
 protected:
  void SetUp() override {
    auto c = MockKafkaCluster::Create(1);
    ASSERT_TRUE(c.ok()) << c.status();
    cluster_ = std::move(*c);
    ASSERT_TRUE(cluster_->CreateTopic("t", 1, 1).ok());
    KafkaSinkOptions so;
    so.brokers = cluster_->bootstraps();
    auto s = KafkaSink::Create(so);
    ASSERT_TRUE(s.ok()) << s.status();
    sink_ = std::move(*s);
  }

  void ProduceN(int n) {
    for (int i = 0; i < n; ++i) ASSERT_TRUE(sink_->Produce("t", "k", absl::StrCat("v", i)).ok());
    ASSERT_TRUE(sink_->Flush(absl::Seconds(10)).ok());
  }

  std::unique_ptr<KafkaSource> Consumer() {
    KafkaSourceOptions o;
    o.brokers = cluster_->bootstraps();
    o.group_id = "g";
    o.topics = {"t"};
    auto s = KafkaSource::Create(o, &listener_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  // The offsets of the records polled until `n` arrived (or 20 s passed).
  static std::vector<int64_t> PollOffsets(KafkaSource& source, size_t n) {
    std::vector<int64_t> seen;
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (seen.size() < n && absl::Now() < deadline) {
      auto records = source.Poll(absl::Milliseconds(100));
      EXPECT_TRUE(records.ok()) << records.status();
      if (!records.ok()) break;
      for (const Record& r : *records) seen.push_back(r.offset);
    }
    return seen;
  }

  GroupOffsets listener_;
  std::unique_ptr<MockKafkaCluster> cluster_;
  std::unique_ptr<KafkaSink> sink_;
};

TEST_F(KafkaSourceTest, AsyncCommitIsWhereTheGroupResumes) {
  ProduceN(5);
  {
    auto first = Consumer();
    ASSERT_NE(first, nullptr);
    ASSERT_EQ(PollOffsets(*first, 5).size(), 5u);
    // Only the first 3 are done: the group must resume at 3, not 5.
    first->CommitAsync({{{"t", 0}, 3}});
    // Close() waits for commits in flight.
    first->Close();
    EXPECT_TRUE(first->TakeAsyncCommitError().ok());
  }
  auto second = Consumer();
  ASSERT_NE(second, nullptr);
  std::vector<int64_t> seen = PollOffsets(*second, 2);
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0], 3);
  EXPECT_EQ(seen[1], 4);
}

// The stateful stage seeks a shard back to its restored offset: the next
// records are from there, none of those fetched before the seek.
TEST_F(KafkaSourceTest, SeekRereadsFromTheNewPosition) {
  ProduceN(10);
  auto source = Consumer();
  ASSERT_NE(source, nullptr);
  EXPECT_EQ(PollOffsets(*source, 10).size(), 10u);
  ASSERT_TRUE(source->Seek({{{"t", 0}, 4}}).ok());
  std::vector<int64_t> again = PollOffsets(*source, 6);
  EXPECT_EQ(again, (std::vector<int64_t>{4, 5, 6, 7, 8, 9}));
  ASSERT_TRUE(source->Seek({{{"t", 0}, -1}}).ok());  // -1: the log start
  std::vector<int64_t> from_start = PollOffsets(*source, 1);
  ASSERT_FALSE(from_start.empty());
  EXPECT_EQ(from_start.front(), 0);
  source->Close();
}

TEST_F(KafkaSourceTest, AsyncCommitFailureIsReportedOnALaterPoll) {
  ProduceN(1);
  auto source = Consumer();
  ASSERT_NE(source, nullptr);
  ASSERT_EQ(PollOffsets(*source, 1).size(), 1u);
  EXPECT_TRUE(source->TakeAsyncCommitError().ok());
  // 28 INVALID_COMMIT_OFFSET_SIZE: not retried by the client.
  cluster_->PushRequestErrors(/*OffsetCommit=*/8, {28});
  source->CommitAsync({{{"t", 0}, 1}});
  absl::Status error;
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (error.ok() && absl::Now() < deadline) {
    ASSERT_TRUE(source->Poll(absl::Milliseconds(100)).ok());
    error = source->TakeAsyncCommitError();
  }
  EXPECT_FALSE(error.ok());
  EXPECT_NE(error.message().find("commit offsets"), std::string::npos) << error;
  // Taken: the next call starts afresh.
  EXPECT_TRUE(source->TakeAsyncCommitError().ok());
}

// librdkafka before 2.3.0 aborts (rdkafka_sticky_assignor.c: Assertion
// `assignor_state' failed, its issue #4312) when a cooperative-sticky
// consumer is destroyed after it joined its group and before its first
// assignment: a processor stopped then exited with SIGABRT. Every SyncGroup
// fails here, so the consumer stays joined without an assignment.
TEST_F(KafkaSourceTest, DestroyedBeforeItsFirstAssignmentExitsCleanly) {
  cluster_->PushRequestErrors(/*SyncGroup=*/14,
                              std::vector<int>(1000, /*REBALANCE_IN_PROGRESS=*/27));
  auto source = Consumer();
  ASSERT_NE(source, nullptr);
  // The mock's first join waits 3 s for more members.
  absl::Time until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until) ASSERT_TRUE(source->Poll(absl::Milliseconds(100)).ok());
  EXPECT_EQ(listener_.assignments, 0);
  source->Close();
  source.reset();  // aborted the test process before the fix
}

}  // namespace
}  // namespace exportwatch

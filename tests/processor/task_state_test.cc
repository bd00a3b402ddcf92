// TaskState: the stateful stage's overlay over the state store.
#include "processor/task_state.h"

#include <memory>
#include <string>
#include <vector>

#include "exportwatch/v1/internal.pb.h"
#include "gtest/gtest.h"
#include "state/state_store.h"

namespace exportwatch {
namespace {

class TaskStateTest : public ::testing::Test {
 protected:
  std::optional<std::string> Stored(const std::string& key) {
    auto v = store_->Get(key);
    EXPECT_TRUE(v.ok()) << v.status();
    return v.ok() ? *v : std::nullopt;
  }

  std::unique_ptr<StateStore> store_ = NewMemoryStateStore();
  TaskState state_{store_.get(), 3600};
};

TEST_F(TaskStateTest, MutableIsParsedOnceAndWrittenAtCommit) {
  TaskState::Scoped quota(&state_, 3, "COUNTRY_QUOTA", "VN");
  const std::string key = TaskState::StateKey(3, "COUNTRY_QUOTA", "VN", "w/2025");

  bool found = true;
  auto q = quota.Mutable<v1::QuotaState>("w/2025", &found);
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_FALSE(found);
  (*q)->set_used(10);
  // The same message for the rest of the batch, and reads see it.
  auto again = quota.Mutable<v1::QuotaState>("w/2025", &found);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(found);
  EXPECT_EQ(*again, *q);
  (*again)->set_used((*again)->used() + 5);
  auto read = quota.Get("w/2025");
  ASSERT_TRUE(read.ok() && read->has_value());
  v1::QuotaState parsed;
  ASSERT_TRUE(parsed.ParseFromString(**read));
  EXPECT_EQ(parsed.used(), 15);
  EXPECT_FALSE(Stored(key).has_value()) << "nothing reaches the store before Commit";

  const auto& by_shard = state_.Stage();
  ASSERT_EQ(by_shard.size(), 1u);
  ASSERT_EQ(by_shard.at(3).size(), 1u);
  EXPECT_EQ(by_shard.at(3)[0]->key, key);
  ASSERT_TRUE(state_.Commit().ok());
  auto stored = Stored(key);
  ASSERT_TRUE(stored.has_value());
  ASSERT_TRUE(parsed.ParseFromString(*stored));
  EXPECT_EQ(parsed.used(), 15);

  // The next batch parses the stored value.
  auto next = quota.Mutable<v1::QuotaState>("w/2025", &found);
  ASSERT_TRUE(next.ok());
  EXPECT_TRUE(found);
  EXPECT_EQ((*next)->used(), 15);
}

TEST_F(TaskStateTest, PutAfterMutableWinsAndAbortDropsBoth) {
  TaskState::Scoped s(&state_, 0, "R", "k");
  bool found = false;
  auto m = s.Mutable<v1::QuotaState>("x", &found);
  ASSERT_TRUE(m.ok());
  (*m)->set_used(1);
  v1::QuotaState other;
  other.set_used(7);
  s.Put("x", other.SerializeAsString());
  ASSERT_TRUE(state_.Commit().ok());
  v1::QuotaState parsed;
  ASSERT_TRUE(parsed.ParseFromString(*Stored(TaskState::StateKey(0, "R", "k", "x"))));
  EXPECT_EQ(parsed.used(), 7);

  auto dropped = s.Mutable<v1::QuotaState>("y", &found);
  ASSERT_TRUE(dropped.ok());
  (*dropped)->set_used(3);
  state_.Abort();
  ASSERT_TRUE(state_.Commit().ok());
  EXPECT_FALSE(Stored(TaskState::StateKey(0, "R", "k", "y")).has_value());
}

TEST_F(TaskStateTest, StageGroupsByShardInKeyOrderAndCommitWritesIt) {
  const std::string a = TaskState::StateKey(2, "R", "b", "n");
  const std::string b = TaskState::StateKey(2, "R", "a", "n");
  const std::string c = TaskState::StateKey(10, "R", "a", "n");
  state_.Put(a, "A");
  state_.Put(b, "B");
  state_.Put(c, "C");
  ASSERT_FALSE(*state_.SeenBefore(2, "R", "a", "ev-1", 1000));
  const auto& staged = state_.Stage();
  ASSERT_EQ(staged.size(), 2u);
  const auto& two = staged.at(2);
  ASSERT_EQ(two.size(), 3u) << "two state keys and the dedup mark";
  for (size_t i = 1; i < two.size(); ++i) EXPECT_LT(two[i - 1]->key, two[i]->key);
  EXPECT_EQ(two[0]->key.substr(0, 4), "d/2/");
  ASSERT_EQ(staged.at(10).size(), 1u);

  // Staged writes are still read back, and the mark still counts.
  auto read = state_.Get(b);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(**read, "B");
  EXPECT_TRUE(*state_.SeenBefore(2, "R", "a", "ev-1", 1000));
  // A write after Stage (the changelog's checkpoints) wins.
  state_.Put(a, "A2");
  read = state_.Get(a);
  ASSERT_TRUE(read.ok() && read->has_value());
  EXPECT_EQ(**read, "A2");
  EXPECT_FALSE(Stored(a).has_value()) << "nothing reaches the store before Commit";

  ASSERT_TRUE(state_.Commit().ok());
  EXPECT_EQ(Stored(a), "A2");
  EXPECT_EQ(Stored(b), "B");
  EXPECT_EQ(Stored(c), "C");
  EXPECT_TRUE(*state_.SeenBefore(2, "R", "a", "ev-1", 1000));
  EXPECT_TRUE(state_.Stage().empty()) << "Commit empties the stage";
}

TEST_F(TaskStateTest, StageAgainAfterMoreWritesReturnsAllOfThemNewestFirst) {
  const std::string a = TaskState::StateKey(4, "R", "a", "n");
  const std::string b = TaskState::StateKey(4, "R", "b", "n");
  state_.Put(a, "A1");
  ASSERT_EQ(state_.Stage().at(4).size(), 1u);
  state_.Put(a, "A2");
  state_.Put(b, "B");
  const auto& again = state_.Stage();
  ASSERT_EQ(again.size(), 1u);
  const auto& ops = again.at(4);
  ASSERT_EQ(ops.size(), 2u) << "each key once";
  EXPECT_EQ(ops[0]->key, a);
  EXPECT_EQ(ops[0]->value, "A2") << "the newest value";
  EXPECT_EQ(ops[1]->key, b);
  ASSERT_TRUE(state_.Commit().ok());
  EXPECT_EQ(Stored(a), "A2");
  EXPECT_EQ(Stored(b), "B");
}

// The stateful stage leaves a fenced shard's part of a batch out of the
// local store: the shards beside it commit, and reads of the left-out shard
// see its stored state again.
TEST_F(TaskStateTest, CommitLeavesOutTheNamedShards) {
  const std::string kept = TaskState::StateKey(1, "R", "k", "n");
  const std::string gone = TaskState::StateKey(7, "R", "k", "n");
  state_.Put(gone, "old");
  ASSERT_TRUE(state_.Commit().ok());
  state_.Put(kept, "K");
  state_.Put(gone, "new");
  ASSERT_FALSE(*state_.SeenBefore(7, "R", "k", "ev-1", 1000));
  state_.SetOffset(7, "facts", 42);
  ASSERT_EQ(state_.Stage().size(), 2u);
  state_.Put("p/7/c/next", "9");  // a checkpoint written after Stage
  const std::vector<int32_t> leave_out{7};
  ASSERT_TRUE(state_.Commit(leave_out).ok());
  EXPECT_EQ(Stored(kept), "K");
  EXPECT_EQ(Stored(gone), "old");
  EXPECT_FALSE(Stored("p/7/c/next").has_value());
  EXPECT_EQ(*state_.StoredOffset(7, "facts"), -1);
  EXPECT_FALSE(*state_.SeenBefore(7, "R", "k", "ev-1", 1000)) << "its dedup mark left out too";
}

TEST_F(TaskStateTest, AbortDropsStagedWrites) {
  const std::string a = TaskState::StateKey(1, "R", "k", "n");
  state_.Put(a, "A");
  ASSERT_EQ(state_.Stage().size(), 1u);
  state_.Abort();
  ASSERT_TRUE(state_.Commit().ok());
  EXPECT_FALSE(Stored(a).has_value());
  auto read = state_.Get(a);
  ASSERT_TRUE(read.ok());
  EXPECT_FALSE(read->has_value());
}

TEST_F(TaskStateTest, UnreadableStoredValueStartsAfresh) {
  const std::string key = TaskState::StateKey(0, "R", "k", "x");
  WriteBatch b;
  b.Put(key, std::string("\xff\xff\xff", 3));  // not a QuotaState
  ASSERT_TRUE(store_->Write(b).ok());
  TaskState::Scoped s(&state_, 0, "R", "k");
  bool found = true;
  auto m = s.Mutable<v1::QuotaState>("x", &found);
  ASSERT_TRUE(m.ok());
  EXPECT_FALSE(found);
  EXPECT_EQ((*m)->used(), 0);
  EXPECT_EQ((*m)->event_ids_size(), 0);
}

TEST_F(TaskStateTest, SeenBeforeWithinTheBatchAndAfterCommit) {
  auto first = state_.SeenBefore(1, "R", "k", "ev-1", 1000);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(*first);
  EXPECT_TRUE(*state_.SeenBefore(1, "R", "k", "ev-1", 1000));
  EXPECT_FALSE(*state_.SeenBefore(1, "R", "other", "ev-1", 1000)) << "per (rule, key)";
  ASSERT_TRUE(state_.Commit().ok());
  const std::string mark = "d/1/R/1:k/ev-1";
  const auto stored_mark = Stored(mark);
  ASSERT_TRUE(stored_mark.has_value());
  // Found in the store (a later time would write a different expiry if the
  // mark were written again): the check leaves nothing behind to commit.
  EXPECT_TRUE(*state_.SeenBefore(1, "R", "k", "ev-1", 2000));
  ASSERT_TRUE(state_.Commit().ok());
  EXPECT_EQ(Stored(mark), stored_mark);
  // The same for a mark found in the staged batch (after Stage, before
  // Commit): a slot left behind would be written after it, and win.
  ASSERT_FALSE(*state_.SeenBefore(1, "R", "k", "ev-2", 1000));
  state_.Stage();
  EXPECT_TRUE(*state_.SeenBefore(1, "R", "k", "ev-2", 2000));
  ASSERT_TRUE(state_.Commit().ok());
  const std::string mark2 = "d/1/R/1:k/ev-2";
  EXPECT_EQ(Stored(mark2), stored_mark) << "same expiry (time 1000), not an empty value";
  // Length-prefixed keys: "a/b" + "c" is not "a" + "b/c".
  EXPECT_NE(TaskState::StateKey(0, "R", "a/b", "c"), TaskState::StateKey(0, "R", "a", "b/c"));
  EXPECT_EQ(TaskState::ShardOf(TaskState::StateKey(12, "R", "k", "n")), 12);
  EXPECT_EQ(TaskState::ShardOf("x/1/y"), -1);
}

}  // namespace
}  // namespace exportwatch

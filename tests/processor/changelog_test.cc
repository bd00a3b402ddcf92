// The changelog's replay rules against librdkafka's mock cluster in this
// process: chunked batches round-trip, a batch cut by a crash is never
// applied, a fenced-off writer (zombie) adds nothing, a zombie's own local
// copy is rebuilt when the shard comes back to it, and snapshots keep a
// shard restorable after the log lost its head (the mock keeps ~5 MB).
#include "processor/changelog.h"

#include <random>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "connectors/kafka_sink.h"
#include "connectors/mock_cluster.h"
#include "gtest/gtest.h"

namespace exportwatch {
namespace {

constexpr char kTopic[] = "changelog";

// Keys of the stepped-snapshot tests: 60 of them, so that a snapshot of
// ~100-byte chunks takes several steps.
std::string StepKey(int i) { return absl::StrCat("p/0/s/K/1:k/", i < 10 ? "0" : "", i); }

// The changelog's record encoding, for records the tests write by hand.
void PutFixed(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutOp(std::string* out, const std::string& key, const std::string& value) {
  *out += 'P';
  *out += static_cast<char>(key.size());
  *out += key;
  *out += static_cast<char>(value.size());
  *out += value;
}

class ChangelogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mock = MockKafkaCluster::Create(1);
    ASSERT_TRUE(mock.ok());
    mock_ = std::move(*mock);
    ASSERT_TRUE(mock_->CreateTopic(kTopic, 2, 1).ok());
    options_.brokers = mock_->bootstraps();
    options_.topic = kTopic;
  }

  std::unique_ptr<Changelog> NewChangelog(size_t max_record_bytes = 512 << 10,
                                          size_t snapshot_min_bytes = 1 << 20,
                                          size_t snapshot_step_bytes = 2 << 20) {
    ChangelogOptions o = options_;
    o.max_record_bytes = max_record_bytes;
    o.snapshot_min_bytes = snapshot_min_bytes;
    o.snapshot_step_bytes = snapshot_step_bytes;
    o.snapshot_duty = 1.0;  // every call takes a step
    auto c = Changelog::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    return std::move(*c);
  }

  // Appends `ops` on shard 0 and writes them locally, as the stage does.
  void Write(Changelog& c, StateStore* store, std::vector<WriteBatch::Op> ops,
             std::vector<int32_t>* fenced = nullptr) {
    std::map<int32_t, std::vector<const WriteBatch::Op*>> by_shard;
    for (const auto& op : ops) by_shard[0].push_back(&op);
    auto checkpoints = c.Append(by_shard, stop_, fenced);
    ASSERT_TRUE(checkpoints.ok()) << checkpoints.status();
    WriteBatch wb;
    for (auto& op : ops) {
      if (op.value) {
        wb.Put(op.key, *op.value);
      } else {
        wb.Delete(op.key);
      }
    }
    for (auto& op : *checkpoints) wb.Put(op.key, *op.value);
    ASSERT_TRUE(store->Write(wb).ok());
  }

  // A writer takes shard 0 and appends one batch of `ops` to its log.
  void LogOneBatch(std::vector<WriteBatch::Op> ops) {
    auto writer = NewChangelog();
    auto store = NewMemoryStateStore();
    ASSERT_TRUE(writer->Acquire(0, store.get(), stop_).ok());
    Write(*writer, store.get(), std::move(ops));
  }

  // Writes 60 keys on shard 0 (their snapshot takes several steps) and
  // starts that snapshot; returns the offset of its first chunk.
  int64_t StartSteppedSnapshot(Changelog& c, StateStore* store) {
    std::vector<WriteBatch::Op> first;
    for (int i = 0; i < 60; ++i) first.push_back({StepKey(i), absl::StrCat("v0-", i, "-pad-pad")});
    Write(c, store, first);
    const int64_t start = EndOffset();
    EXPECT_TRUE(c.SnapshotIfDue(store, stop_).ok());
    EXPECT_TRUE(c.snapshot_in_progress());
    return start;
  }

  // Appends a hand-made record to shard 0's log.
  void ProduceRaw(const std::string& key, const std::string& value) {
    KafkaSinkOptions so;
    so.brokers = options_.brokers;
    auto raw = KafkaSink::Create(so);
    ASSERT_TRUE(raw.ok());
    ASSERT_TRUE((*raw)->Produce(kTopic, key, value, {}, 0).ok());
    ASSERT_TRUE((*raw)->Flush(absl::Seconds(10)).ok());
  }

  int64_t StartOffset() { return Watermark(/*end=*/false); }
  int64_t EndOffset() { return Watermark(/*end=*/true); }
  int64_t Watermark(bool end) {
    KafkaSinkOptions so;
    so.brokers = options_.brokers;
    auto sink = KafkaSink::Create(so);
    EXPECT_TRUE(sink.ok());
    auto offset = end ? (*sink)->EndOffset(kTopic, 0, absl::Seconds(10))
                      : (*sink)->StartOffset(kTopic, 0, absl::Seconds(10));
    EXPECT_TRUE(offset.ok()) << offset.status();
    return offset.value_or(-1);
  }

  // Shard 0's state keys and values (checkpoints excluded: they are local).
  static std::map<std::string, std::string> Shard0(StateStore* store) {
    std::map<std::string, std::string> out;
    EXPECT_TRUE(store
                    ->Scan("p/0/", "",
                           [&](absl::string_view k, absl::string_view v) {
                             if (!absl::StartsWith(k, "p/0/c/"))
                               out[std::string(k)] = std::string(v);
                             return true;
                           })
                    .ok());
    return out;
  }

  static std::optional<std::string> Get(StateStore* store, const std::string& key) {
    auto v = store->Get(key);
    EXPECT_TRUE(v.ok());
    return *v;
  }

  std::unique_ptr<MockKafkaCluster> mock_;
  ChangelogOptions options_;
  std::atomic<bool> stop_{false};
};

TEST_F(ChangelogTest, ChunkedBatchesRoundTripOntoAnEmptyStore) {
  auto writer = NewChangelog(/*max_record_bytes=*/64);
  auto local = NewMemoryStateStore();
  ASSERT_TRUE(writer->Acquire(0, local.get(), stop_).ok());
  std::vector<WriteBatch::Op> batch;
  for (int i = 0; i < 20; ++i) {
    batch.push_back({"p/0/s/R/1:k/" + std::to_string(i), std::string(30, 'a' + i % 26)});
  }
  Write(*writer, local.get(), batch);
  Write(*writer, local.get(), {{"p/0/s/R/1:k/0", "second"}, {"p/0/o/facts", "42"}});
  EXPECT_GT(writer->records_out(), 2);  // the first batch was chunked

  auto fresh = NewMemoryStateStore();
  auto rs = NewChangelog()->Acquire(0, fresh.get(), stop_);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->batches_applied, 2);
  EXPECT_EQ(rs->ops_applied, 22);
  EXPECT_EQ(Get(fresh.get(), "p/0/s/R/1:k/0"), "second");
  EXPECT_EQ(Get(fresh.get(), "p/0/s/R/1:k/19"), std::string(30, 'a' + 19));
  EXPECT_EQ(Get(fresh.get(), "p/0/o/facts"), "42");
}

TEST_F(ChangelogTest, BatchCutByACrashIsNotApplied) {
  auto writer = NewChangelog();
  auto local = NewMemoryStateStore();
  ASSERT_TRUE(writer->Acquire(0, local.get(), stop_).ok());
  Write(*writer, local.get(), {{"p/0/s/Q/1:c/used", "10"}, {"p/0/o/facts", "5"}});
  // The writer crashed after chunk 0 of 2 of its next batch reached Kafka.
  int64_t epoch = 0;
  ASSERT_TRUE(absl::SimpleAtoi(*Get(local.get(), "p/0/c/epoch"), &epoch));
  std::string chunk(1, 'B');
  PutFixed(&chunk, static_cast<uint64_t>(epoch), 8);
  PutFixed(&chunk, 2, 8);  // seq
  PutFixed(&chunk, 0, 4);  // chunk 0
  PutFixed(&chunk, 2, 4);  // of 2
  PutOp(&chunk, "p/0/s/Q/1:c/used", "20");
  ProduceRaw("b/cut", chunk);

  // The restart replays from its checkpoint: the cut batch stays out, so the
  // facts after offset 5 are re-processed against used=10, not 20.
  auto again = NewChangelog();
  auto rs = again->Acquire(0, local.get(), stop_);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->incomplete_discarded, 1);
  EXPECT_EQ(Get(local.get(), "p/0/s/Q/1:c/used"), "10");
  auto fresh = NewMemoryStateStore();
  ASSERT_TRUE(NewChangelog()->Acquire(0, fresh.get(), stop_).ok());
  EXPECT_EQ(Get(fresh.get(), "p/0/s/Q/1:c/used"), "10");
  EXPECT_EQ(Get(fresh.get(), "p/0/o/facts"), "5");
}

TEST_F(ChangelogTest, FencedWriterAddsNothingAndRebuildsItsCopy) {
  auto a = NewChangelog();
  auto a_store = NewMemoryStateStore();
  ASSERT_TRUE(a->Acquire(0, a_store.get(), stop_).ok());
  Write(*a, a_store.get(), {{"p/0/s/Q/1:c/used", "1"}});
  // B takes the shard while A still believes it owns it.
  auto b = NewChangelog();
  auto b_store = NewMemoryStateStore();
  ASSERT_TRUE(b->Acquire(0, b_store.get(), stop_).ok());
  EXPECT_EQ(Get(b_store.get(), "p/0/s/Q/1:c/used"), "1");
  Write(*a, a_store.get(), {{"p/0/s/Q/1:c/used", "100"}, {"p/0/s/Q/1:z/used", "7"}});
  Write(*b, b_store.get(), {{"p/0/s/Q/1:c/used", "2"}});

  auto audit = NewMemoryStateStore();
  auto rs = RestoreWholeChangelog(options_, 2, audit.get());
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->fenced_discarded, 1);
  EXPECT_EQ(Get(audit.get(), "p/0/s/Q/1:c/used"), "2");
  EXPECT_EQ(Get(audit.get(), "p/0/s/Q/1:z/used"), std::nullopt);

  // The shard comes back to A: its local copy holds the zombie batch, so it
  // is dropped and rebuilt from the log.
  auto a2 = NewChangelog();
  auto back = a2->Acquire(0, a_store.get(), stop_);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->local_copy_dropped);
  EXPECT_EQ(Get(a_store.get(), "p/0/s/Q/1:c/used"), "2");
  EXPECT_EQ(Get(a_store.get(), "p/0/s/Q/1:z/used"), std::nullopt);
}

// A hot key rewritten whole by every batch (as a busy window log is) writes
// far more than the state's size: the mock drops the log's head, and only
// the snapshots keep the shard restorable from nothing.
TEST_F(ChangelogTest, SnapshotsKeepAShardRestorableAfterTheLogLostItsHead) {
  auto writer = NewChangelog(512 << 10, /*snapshot_min_bytes=*/256 << 10);
  auto local = NewMemoryStateStore();
  ASSERT_TRUE(writer->Acquire(0, local.get(), stop_).ok());
  // A second instance that owned the shard early on and then stopped: its
  // local copy falls behind the log's start.
  auto stale = NewMemoryStateStore();
  Write(*writer, local.get(), {{"p/0/s/Q/1:c/used", "0"}});
  ASSERT_TRUE(NewChangelog()->Acquire(0, stale.get(), stop_).ok());
  writer = NewChangelog(512 << 10, 256 << 10);  // the shard comes back
  ASSERT_TRUE(writer->Acquire(0, local.get(), stop_).ok());
  int i = 0;
  for (; i < 2000 && StartOffset() == 0; ++i) {
    Write(*writer, local.get(),
          {{"p/0/s/C/1:k/log", std::string(30 << 10, 'a' + i % 26)},
           {"p/0/s/Q/1:c/used", std::to_string(i)},
           {"p/0/s/Q/" + std::to_string(i % 50) + ":x/used", std::to_string(i)},
           {"p/0/o/facts", std::to_string(i + 1)}});
    ASSERT_TRUE(writer->SnapshotIfDue(local.get(), stop_).ok());
  }
  ASSERT_GT(StartOffset(), 0) << "the mock kept the whole log: nothing was tested";
  // One more batch after the last snapshot: it must be applied on top.
  Write(*writer, local.get(), {{"p/0/s/Q/1:c/used", "last"}});
  EXPECT_GT(writer->snapshots_out(), 5);
  const auto want = Shard0(local.get());
  ASSERT_EQ(want.at("p/0/s/Q/1:c/used"), "last");

  auto fresh = NewMemoryStateStore();
  auto rs = NewChangelog()->Acquire(0, fresh.get(), stop_);
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_GE(rs->snapshot_base, StartOffset());
  EXPECT_EQ(Shard0(fresh.get()), want);

  auto back = NewChangelog()->Acquire(0, stale.get(), stop_);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(back->local_copy_dropped);
  EXPECT_EQ(Shard0(stale.get()), want);

  auto audit = NewMemoryStateStore();
  auto whole = RestoreWholeChangelog(options_, 2, audit.get());
  ASSERT_TRUE(whole.ok()) << whole.status();
  EXPECT_EQ(Shard0(audit.get()), want);
}

// Without snapshots the same log is unrecoverable from nothing, and says so.
TEST_F(ChangelogTest, ALogThatLostItsHeadWithoutASnapshotIsDataLoss) {
  auto writer = NewChangelog();
  auto local = NewMemoryStateStore();
  ASSERT_TRUE(writer->Acquire(0, local.get(), stop_).ok());
  for (int i = 0; i < 2000 && StartOffset() == 0; ++i) {
    Write(*writer, local.get(), {{"p/0/s/C/1:k/log", std::string(30 << 10, 'a' + i % 26)}});
  }
  ASSERT_GT(StartOffset(), 0);
  auto fresh = NewMemoryStateStore();
  auto rs = NewChangelog()->Acquire(0, fresh.get(), stop_);
  EXPECT_TRUE(absl::IsDataLoss(rs.status())) << rs.status();
}

// A writer learns at its next append that another one fenced its shard
// (so that it can take the shard again); records of a fenced-off writer in
// between are not a fence and do not count.
TEST_F(ChangelogTest, AppendReportsAShardFencedByAnotherWriter) {
  auto z = NewChangelog();
  auto z_store = NewMemoryStateStore();
  ASSERT_TRUE(z->Acquire(0, z_store.get(), stop_).ok());
  auto a = NewChangelog();
  auto a_store = NewMemoryStateStore();
  ASSERT_TRUE(a->Acquire(0, a_store.get(), stop_).ok());
  std::vector<int32_t> fenced;
  Write(*a, a_store.get(), {{"p/0/s/Q/1:c/used", "1"}}, &fenced);
  EXPECT_TRUE(fenced.empty());
  Write(*z, z_store.get(), {{"p/0/s/Q/1:c/used", "50"}}, &fenced);
  EXPECT_EQ(fenced, std::vector<int32_t>{0});  // z: a's fence came after its own
  fenced.clear();
  Write(*a, a_store.get(), {{"p/0/s/Q/1:c/used", "2"}}, &fenced);
  EXPECT_TRUE(fenced.empty());  // z's batch in between is no fence
  // z takes the shard again: its restore drops its own zombie batch.
  z->Release(0);
  auto again = z->Acquire(0, z_store.get(), stop_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->local_copy_dropped);
  EXPECT_EQ(Get(z_store.get(), "p/0/s/Q/1:c/used"), "2");
  Write(*a, a_store.get(), {{"p/0/s/Q/1:c/used", "3"}}, &fenced);
  EXPECT_EQ(fenced, std::vector<int32_t>{0});  // now a is the one fenced
}

// The stateful stage leaves a fenced batch out of its local store: taking
// the shard again then reads on from the previous checkpoint (before the
// foreign fence) instead of rebuilding the shard from the log start.
TEST_F(ChangelogTest, AFencedBatchLeftOutLocallyNeedsNoRebuild) {
  auto z = NewChangelog();
  auto z_store = NewMemoryStateStore();
  ASSERT_TRUE(z->Acquire(0, z_store.get(), stop_).ok());
  for (int i = 0; i < 20; ++i) Write(*z, z_store.get(), {{"p/0/s/L/1:k/n", absl::StrCat(i)}});
  auto a = NewChangelog();
  auto a_store = NewMemoryStateStore();
  ASSERT_TRUE(a->Acquire(0, a_store.get(), stop_).ok());
  Write(*a, a_store.get(), {{"p/0/s/Q/1:c/used", "1"}});
  std::vector<WriteBatch::Op> zombie{{"p/0/s/Q/1:c/used", "50"}};
  std::map<int32_t, std::vector<const WriteBatch::Op*>> by_shard{{0, {&zombie[0]}}};
  std::vector<int32_t> fenced;
  ASSERT_TRUE(z->Append(by_shard, stop_, &fenced).ok());
  ASSERT_EQ(fenced, std::vector<int32_t>{0});  // and z writes nothing locally
  z->Release(0);
  auto again = z->Acquire(0, z_store.get(), stop_);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->local_copy_dropped);
  EXPECT_LT(again->records, 6) << "a's fence and batch, z's zombie batch, z's new fence";
  EXPECT_EQ(again->fenced_discarded, 1);
  EXPECT_EQ(Get(z_store.get(), "p/0/s/Q/1:c/used"), "1");
  EXPECT_EQ(Get(z_store.get(), "p/0/s/L/1:k/n"), "19");
}

// A crash in the middle of dropping a local copy leaves the drop's mark and
// some of the shard's keys: the next restore finishes the drop before it
// replays, so none of those keys outlives the rebuild.
TEST_F(ChangelogTest, ADropCutByACrashIsFinishedByTheNextRestore) {
  LogOneBatch({{"p/0/s/Q/1:c/used", "7"}});
  auto store = NewMemoryStateStore();
  WriteBatch leftovers;
  leftovers.Put("p/0/c/dropping", "1");
  leftovers.Put("p/0/s/Z/1:z/gone", "stale");
  leftovers.Put("d/0/Z/1:z/ev-1", EncodeExpiring(absl::ToUnixSeconds(absl::Now()) + 3600, ""));
  leftovers.Put("p/1/s/Z/1:z/other", "kept");  // another shard's
  ASSERT_TRUE(store->Write(leftovers).ok());
  auto b = NewChangelog();
  auto restored = b->Acquire(0, store.get(), stop_);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_TRUE(restored->local_copy_dropped);
  EXPECT_EQ(Shard0(store.get()), (std::map<std::string, std::string>{{"p/0/s/Q/1:c/used", "7"}}));
  EXPECT_EQ(Get(store.get(), "p/1/s/Z/1:z/other"), "kept");
  EXPECT_FALSE(Get(store.get(), "d/0/Z/1:z/ev-1").has_value());
  EXPECT_FALSE(Get(store.get(), "p/0/c/dropping").has_value());
}

// Keys of a shard with no checkpoint at all (no drop mark either) are kept:
// the replay from offset 0 writes over them. (The benches pre-load state
// this way; a restore that wiped such shards once cost them 5 s.)
TEST_F(ChangelogTest, KeysWithoutACheckpointAreKeptUnderTheReplay) {
  LogOneBatch({{"p/0/s/Q/1:c/used", "7"}});
  auto store = NewMemoryStateStore();
  WriteBatch preloaded;
  preloaded.Put("p/0/s/Q/1:c/used", "1");
  preloaded.Put("p/0/s/Z/1:z/kept", "pre");
  ASSERT_TRUE(store->Write(preloaded).ok());
  auto b = NewChangelog();
  auto restored = b->Acquire(0, store.get(), stop_);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_FALSE(restored->local_copy_dropped);
  EXPECT_EQ(Shard0(store.get()), (std::map<std::string, std::string>{{"p/0/s/Q/1:c/used", "7"},
                                                                     {"p/0/s/Z/1:z/kept", "pre"}}));
}

// A writer another instance has fenced writes no snapshot: a reader could
// otherwise take a zombie's state for the shard's.
TEST_F(ChangelogTest, FencedWriterWritesNoSnapshot) {
  auto a = NewChangelog(512 << 10, /*snapshot_min_bytes=*/1);
  auto a_store = NewMemoryStateStore();
  ASSERT_TRUE(a->Acquire(0, a_store.get(), stop_).ok());
  Write(*a, a_store.get(), {{"p/0/s/Q/1:c/used", "1"}});
  ASSERT_TRUE(a->SnapshotIfDue(a_store.get(), stop_).ok());
  EXPECT_EQ(a->snapshots_out(), 1);
  auto b = NewChangelog();
  auto b_store = NewMemoryStateStore();
  ASSERT_TRUE(b->Acquire(0, b_store.get(), stop_).ok());
  // Due again (its bytes outgrow twice the first snapshot), but fenced.
  Write(*a, a_store.get(),
        {{"p/0/s/Q/1:c/used", "100"}, {"p/0/s/L/1:c/log", std::string(4096, 'z')}});
  auto s = a->SnapshotIfDue(a_store.get(), stop_);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_EQ(a->snapshots_out(), 1);
}

// A snapshot written in steps, with batches landing between its steps that
// overwrite keys it wrote already and keys it has yet to write, delete one
// and add others: a restore from any offset up to its first chunk builds on
// it exactly the writer's state (as does one from offset 0, which skips
// it); a restore from later finds no base, says so, and leaves nothing.
TEST_F(ChangelogTest, ASnapshotInStepsAmongBatchesRestoresExactlyFromAnyStart) {
  auto writer = NewChangelog(/*max_record_bytes=*/300, /*snapshot_min_bytes=*/1,
                             /*snapshot_step_bytes=*/300);
  auto local = NewMemoryStateStore();
  ASSERT_TRUE(writer->Acquire(0, local.get(), stop_).ok());
  const int64_t snapshot_start = StartSteppedSnapshot(*writer, local.get());
  int steps = 1;
  for (int round = 1; writer->snapshot_in_progress(); ++round) {
    ASSERT_LT(round, 100) << "the snapshot never ended";
    Write(*writer, local.get(),
          {{StepKey(round % 10), absl::StrCat("early-", round)},
           {StepKey(59 - round % 10), absl::StrCat("late-", round)},
           {StepKey(30 + round % 5), std::nullopt},
           {absl::StrCat("p/0/s/N/1:n/", round), "new"},
           {"p/0/o/facts", absl::StrCat(round)}});
    ASSERT_TRUE(writer->SnapshotIfDue(local.get(), stop_).ok());
    ++steps;
  }
  EXPECT_GE(steps, 6) << "not a stepped snapshot: nothing was tested";
  EXPECT_EQ(writer->snapshots_out(), 1);
  Write(*writer, local.get(), {{StepKey(0), "after"}});
  const auto want = Shard0(local.get());
  ASSERT_FALSE(want.count(StepKey(31)));
  const int last_round = steps - 1;
  ASSERT_EQ(want.at(StepKey(59 - last_round % 10)), absl::StrCat("late-", last_round));
  const int64_t end = EndOffset();
  for (int64_t start = 0; start < end; ++start) {
    SCOPED_TRACE(absl::StrCat("restore from offset ", start, "; the snapshot began at ",
                              snapshot_start, ", the log ends at ", end));
    auto fresh = NewMemoryStateStore();
    auto rs = RestoreShardFrom(options_, 0, start, fresh.get());
    if (start <= snapshot_start) {
      ASSERT_TRUE(rs.ok()) << rs.status();
      EXPECT_EQ(Shard0(fresh.get()), want);
      EXPECT_EQ(rs->snapshot_base, start == 0 ? -1 : snapshot_start);
      EXPECT_EQ(rs->snapshots_skipped, start == 0 ? 1 : 0);
    } else {
      EXPECT_TRUE(absl::IsDataLoss(rs.status())) << rs.status();
      EXPECT_TRUE(Shard0(fresh.get()).empty());
    }
  }
}

// Another owner's fence in the middle of a stepped snapshot: the zombie
// stops writing it, and no reader takes what it wrote for a base.
TEST_F(ChangelogTest, AShardFencedDuringItsSnapshotAbandonsIt) {
  auto a = NewChangelog(300, 1, 600);
  auto a_store = NewMemoryStateStore();
  ASSERT_TRUE(a->Acquire(0, a_store.get(), stop_).ok());
  StartSteppedSnapshot(*a, a_store.get());
  auto b = NewChangelog();
  auto b_store = NewMemoryStateStore();
  ASSERT_TRUE(b->Acquire(0, b_store.get(), stop_).ok());
  EXPECT_EQ(Shard0(b_store.get()), Shard0(a_store.get()));
  auto s = a->SnapshotIfDue(a_store.get(), stop_);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_FALSE(a->snapshot_in_progress());
  EXPECT_EQ(a->snapshots_out(), 0);
  auto fresh = NewMemoryStateStore();
  auto rs = RestoreShardFrom(options_, 0, 1, fresh.get());
  EXPECT_TRUE(absl::IsDataLoss(rs.status())) << rs.status();
  EXPECT_TRUE(Shard0(fresh.get()).empty());
}

// A late chunk of a snapshot its writer gave up on (a step whose flush
// failed, delivered after the next snapshot began) does not end the next.
TEST_F(ChangelogTest, AStragglerOfAnAbandonedSnapshotIsIgnored) {
  auto writer = NewChangelog(300, 1, 300);
  auto local = NewMemoryStateStore();
  ASSERT_TRUE(writer->Acquire(0, local.get(), stop_).ok());
  // Batch seq 1, then snapshot seq 2.
  const int64_t snapshot_start = StartSteppedSnapshot(*writer, local.get());
  int64_t epoch = 0;
  ASSERT_TRUE(absl::SimpleAtoi(*Get(local.get(), "p/0/c/epoch"), &epoch));
  std::string chunk(1, 'S');
  PutFixed(&chunk, static_cast<uint64_t>(epoch), 8);
  PutFixed(&chunk, 1, 8);  // an older seq
  PutFixed(&chunk, 1, 4);  // chunk 1
  PutFixed(&chunk, 0, 4);  // not the last
  PutFixed(&chunk, 0, 8);  // fence offset
  PutFixed(&chunk, 0, 8);  // verified
  const std::string key = StepKey(99);
  PutOp(&chunk, key, "straggler");
  ProduceRaw("s/straggler", chunk);
  for (int round = 0; writer->snapshot_in_progress(); ++round) {
    ASSERT_LT(round, 100);
    // (Its first check reads the straggler's gap: no fence there.)
    ASSERT_TRUE(writer->SnapshotIfDue(local.get(), stop_).ok());
  }
  ASSERT_EQ(writer->snapshots_out(), 1);
  auto fresh = NewMemoryStateStore();
  auto rs = RestoreShardFrom(options_, 0, 1, fresh.get());
  ASSERT_TRUE(rs.ok()) << rs.status();
  EXPECT_EQ(rs->snapshot_base, snapshot_start);
  EXPECT_EQ(Shard0(fresh.get()), Shard0(local.get()));
  EXPECT_FALSE(Get(fresh.get(), key).has_value());
}

// Three instances pass shard 0 around at random while snapshots are written
// in steps: the owner appends batches (puts, deletes) and snapshot steps, a
// former owner that has not noticed (a zombie) appends too and is fenced, an
// owner crashes in the middle of a snapshot. Each new owner's restore from
// its own stale copy must give the last owner's state, and a restore from
// nothing at any offset must give the final state or (no trusted snapshot
// after it) DATA_LOSS with nothing left behind.
TEST_F(ChangelogTest, RandomOwnershipBatchesAndSnapshotsRestoreTheOwnersStateFromAnyStart) {
  std::mt19937 rng(20261207);
  struct Instance {
    std::unique_ptr<Changelog> changelog;
    std::unique_ptr<StateStore> store = NewMemoryStateStore();
    bool holds = false;  // it believes it owns the shard
  };
  std::vector<Instance> in(3);
  for (auto& i : in) i.changelog = NewChangelog(200, 300, 200);
  int owner = 0;
  ASSERT_TRUE(in[0].changelog->Acquire(0, in[0].store.get(), stop_).ok());
  in[0].holds = true;
  int snapshots = 0, crashes_mid_snapshot = 0, zombie_batches = 0, moves = 0;
  auto batch = [&](int round) {
    std::vector<WriteBatch::Op> ops;
    for (int n = 0; n < 3; ++n) {
      const int k = static_cast<int>(rng() % 40);
      if (rng() % 5 == 0) {
        ops.push_back({StepKey(k), std::nullopt});
      } else {
        ops.push_back({StepKey(k), absl::StrCat("r", round, "-", n, "-pad-pad-pad")});
      }
    }
    ops.push_back({"p/0/o/facts", absl::StrCat(round)});
    return ops;
  };
  for (int round = 1; round <= 400; ++round) {
    const unsigned action = rng() % 100;
    if (action < 6) {  // the shard moves; the old owner may go on as a zombie
      const int next = static_cast<int>((owner + 1 + rng() % 2) % 3);
      const auto want = Shard0(in[owner].store.get());
      if (in[next].holds) in[next].changelog->Release(0);
      ASSERT_TRUE(in[next].changelog->Acquire(0, in[next].store.get(), stop_).ok());
      in[next].holds = true;
      ASSERT_EQ(Shard0(in[next].store.get()), want) << "round " << round;
      owner = next;
      ++moves;
    } else if (action < 9) {  // the owner crashes (maybe mid-snapshot) and restarts
      crashes_mid_snapshot += in[owner].changelog->snapshot_in_progress() ? 1 : 0;
      const auto want = Shard0(in[owner].store.get());
      in[owner].changelog = NewChangelog(200, 300, 200);
      ASSERT_TRUE(in[owner].changelog->Acquire(0, in[owner].store.get(), stop_).ok());
      ASSERT_EQ(Shard0(in[owner].store.get()), want) << "round " << round;
    } else if (action < 14) {  // a zombie's batch: fenced, left out locally
      for (int z = 0; z < 3; ++z) {
        if (z == owner || !in[z].holds) continue;
        std::vector<WriteBatch::Op> ops = batch(round);
        std::map<int32_t, std::vector<const WriteBatch::Op*>> by_shard;
        for (const auto& op : ops) by_shard[0].push_back(&op);
        std::vector<int32_t> fenced;
        ASSERT_TRUE(in[z].changelog->Append(by_shard, stop_, &fenced).ok());
        ASSERT_EQ(fenced, std::vector<int32_t>{0}) << "round " << round;
        in[z].changelog->Release(0);
        in[z].holds = false;
        ++zombie_batches;
        break;
      }
    } else {
      Write(*in[owner].changelog, in[owner].store.get(), batch(round));
      const int64_t before = in[owner].changelog->snapshots_out();
      ASSERT_TRUE(in[owner].changelog->SnapshotIfDue(in[owner].store.get(), stop_).ok());
      snapshots += static_cast<int>(in[owner].changelog->snapshots_out() - before);
    }
  }
  EXPECT_GT(snapshots, 3);
  EXPECT_GT(moves, 5);
  EXPECT_GT(zombie_batches, 2);
  EXPECT_GT(crashes_mid_snapshot, 0);
  const auto want = Shard0(in[owner].store.get());
  const int64_t end = EndOffset();
  int based_on_a_snapshot = 0;
  for (int64_t start = 0; start < end; start += 7) {
    auto fresh = NewMemoryStateStore();
    auto rs = RestoreShardFrom(options_, 0, start, fresh.get());
    if (rs.ok()) {
      ASSERT_EQ(Shard0(fresh.get()), want) << "from offset " << start << " of " << end;
      based_on_a_snapshot += rs->snapshot_base >= 0 ? 1 : 0;
    } else {
      ASSERT_TRUE(absl::IsDataLoss(rs.status())) << rs.status();
      ASSERT_GT(start, 0);
      ASSERT_TRUE(Shard0(fresh.get()).empty()) << "from offset " << start;
    }
  }
  EXPECT_GT(based_on_a_snapshot, 5);
}

}  // namespace
}  // namespace exportwatch

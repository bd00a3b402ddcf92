// TaskState: the state of the stateful stage's shards in one StateStore,
// written one poll batch at a time.
//
// Key layout (one store per processor instance, shards side by side):
//   p/<partition>/s/<rule>/<len>:<key>/<name>    rule state of (rule, key)
//   p/<partition>/o/<topic>                      next input offset of the shard
//   d/<partition>/<rule>/<len>:<key>/<event_id>  de-duplication (expiring value)
//   p/<partition>/c/{next,epoch,own,since}       changelog checkpoint (local
//                                                only; processor/changelog.h;
//                                                c/dropping while a local copy
//                                                is being dropped)
// (<len> is the key's length, so keys containing '/' cannot collide.)
// Every read sees the batch's own earlier writes. Commit() writes the state
// changes, the dedup marks and the input offsets in one atomic batch: after
// a crash, state and position agree, and re-delivered facts are dropped
// (except those their rule keeps no mark for: Rule::ReapplyIsNoOp).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "processor/rules/rule.h"
#include "state/state_store.h"

namespace exportwatch {

class TaskState {
 public:
  // `dedup_retention_seconds`: how long (wall clock) an applied event id is
  // remembered; re-delivery after that would count again.
  TaskState(StateStore* store, int64_t dedup_retention_seconds)
      : store_(store), retention_(dedup_retention_seconds) {}

  static std::string StateKey(int32_t partition, absl::string_view rule, absl::string_view key,
                              absl::string_view name);
  static std::string OffsetKey(int32_t partition, absl::string_view topic);
  // The shard (partition) a key of this layout belongs to; -1 for others.
  static int32_t ShardOf(absl::string_view full_key);

  // Offset to resume `partition` of `topic` from; -1 when never committed.
  [[nodiscard]] absl::StatusOr<int64_t> StoredOffset(int32_t partition, absl::string_view topic);

  // True when (rule, key, event_id) was applied before (in the store or in
  // this batch); otherwise marks it applied in this batch.
  [[nodiscard]] absl::StatusOr<bool> SeenBefore(int32_t partition, absl::string_view rule,
                                                absl::string_view key, absl::string_view event_id,
                                                int64_t now_unix);

  [[nodiscard]] absl::StatusOr<std::optional<std::string>> Get(const std::string& full_key);
  void Put(std::string full_key, std::string value);
  void SetOffset(int32_t partition, absl::string_view topic, int64_t next_offset);

  // KeyState::Mutable over a full key.
  [[nodiscard]] absl::StatusOr<google::protobuf::MessageLite*> MutableMessage(
      const std::string& full_key, const google::protobuf::MessageLite& prototype, bool* found);

  // Moves the writes since the last Commit out of the overlay into the
  // batch Commit will write (moved, not copied), and returns them by shard,
  // each shard's in key order: what the changelog gets. Reads still see
  // them; a Put after Stage (the changelog's checkpoints) wins over a staged
  // write of the same key. A second call after more writes returns all of
  // them (and invalidates the first call's pointers).
  const std::map<int32_t, std::vector<const WriteBatch::Op*>>& Stage();

  // Writes everything since the last Commit atomically, except the writes of
  // the shards in `leave_out` (dropped: the stateful stage leaves out shards
  // another instance fenced, whose restore then resumes from their previous
  // checkpoint instead of rebuilding them).
  [[nodiscard]] absl::Status Commit(absl::Span<const int32_t> leave_out = {});
  // Drops everything since the last Commit.
  void Abort() {
    pending_.clear();
    messages_.clear();
    ClearStaged();
  }

  // KeyState of one (partition, rule, key) over this TaskState.
  class Scoped final : public KeyState {
   public:
    Scoped(TaskState* ts, int32_t partition, absl::string_view rule, absl::string_view key)
        : ts_(ts), prefix_(StateKey(partition, rule, key, "")) {}
    absl::StatusOr<std::optional<std::string>> Get(absl::string_view name) override;
    void Put(absl::string_view name, std::string value) override;

   protected:
    absl::StatusOr<google::protobuf::MessageLite*> MutableMessage(
        absl::string_view name, const google::protobuf::MessageLite& prototype,
        bool* found) override;

   private:
    TaskState* ts_;
    std::string prefix_;
  };

 private:
  // Get's tail: the staged batch, then the store.
  absl::StatusOr<std::optional<std::string>> StagedOrStored(const std::string& full_key);
  // Serializes messages_ into pending_ and empties it.
  void SerializeMessages();
  // Moves pending_ into staged_ (sorted by staged_order_), once per batch.
  void MoveToStage();
  void ClearStaged() {
    staged_.clear();
    staged_order_.clear();
    staged_by_shard_.clear();
  }

  StateStore* store_;
  int64_t retention_;
  absl::flat_hash_map<std::string, std::string> pending_;
  // Values held parsed (Mutable) until the batch ends: these win over
  // pending_ and the store for their keys.
  absl::flat_hash_map<std::string, std::unique_ptr<google::protobuf::MessageLite>> messages_;
  // Stage()'s output until Commit: the writes (in the overlay's hash
  // order), their indices in key order (RocksDB gets them in that order),
  // and pointers to them by shard (the changelog gets those).
  std::vector<WriteBatch::Op> staged_;
  std::vector<uint32_t> staged_order_;
  std::map<int32_t, std::vector<const WriteBatch::Op*>> staged_by_shard_;
};

}  // namespace exportwatch

#include "processor/task_state.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace exportwatch {

std::string TaskState::StateKey(int32_t partition, absl::string_view rule, absl::string_view key,
                                absl::string_view name) {
  // The key is length-prefixed: keys may contain '/', and "A/B"+"C" must not
  // meet "A"+"B/C".
  return absl::StrCat("p/", partition, "/s/", rule, "/", key.size(), ":", key, "/", name);
}

std::string TaskState::OffsetKey(int32_t partition, absl::string_view topic) {
  return absl::StrCat("p/", partition, "/o/", topic);
}

int32_t TaskState::ShardOf(absl::string_view key) {
  if (key.size() < 3 || (key[0] != 'p' && key[0] != 'd') || key[1] != '/') return -1;
  auto slash = key.find('/', 2);
  int32_t p = -1;
  if (slash == absl::string_view::npos || !absl::SimpleAtoi(key.substr(2, slash - 2), &p)) {
    return -1;
  }
  return p;
}

namespace {

// Moves every entry of `pending` to the end of `out` (keys too: extracted,
// not copied), leaving `pending` empty.
void ExtractInto(absl::flat_hash_map<std::string, std::string>& pending,
                 std::vector<WriteBatch::Op>* out) {
  out->reserve(out->size() + pending.size());
  for (auto it = pending.begin(); it != pending.end();) {
    auto node = pending.extract(it++);  // erasing invalidates only the erased
    out->push_back({std::move(node.key()), std::move(node.mapped())});
  }
  pending.clear();
}

}  // namespace

void TaskState::MoveToStage() {
  SerializeMessages();
  // Once per batch, so staged_ never reallocates under Stage's pointers;
  // later writes stay in pending_ and are written after the staged ones.
  if (pending_.empty() || !staged_.empty()) return;
  ExtractInto(pending_, &staged_);
  // Indices are sorted, not the ops: a swap moves 4 bytes, not two strings.
  staged_order_.resize(staged_.size());
  for (uint32_t i = 0; i < staged_order_.size(); ++i) staged_order_[i] = i;
  std::sort(staged_order_.begin(), staged_order_.end(),
            [this](uint32_t a, uint32_t b) { return staged_[a].key < staged_[b].key; });
}

const std::map<int32_t, std::vector<const WriteBatch::Op*>>& TaskState::Stage() {
  SerializeMessages();
  if (!staged_.empty() && !pending_.empty()) {
    // Written since an earlier Stage: staged again, all of it, each key once
    // with its newest value (the pending one), so the changelog misses none.
    for (auto& op : staged_) pending_.try_emplace(std::move(op.key), std::move(*op.value));
    ClearStaged();
  }
  MoveToStage();
  if (staged_by_shard_.empty()) {
    for (uint32_t i : staged_order_) {
      staged_by_shard_[ShardOf(staged_[i].key)].push_back(&staged_[i]);
    }
  }
  return staged_by_shard_;
}

absl::StatusOr<int64_t> TaskState::StoredOffset(int32_t partition, absl::string_view topic) {
  auto v = Get(OffsetKey(partition, topic));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return -1;
  int64_t offset = -1;
  if (!absl::SimpleAtoi(**v, &offset)) {
    return absl::DataLossError(absl::StrCat("corrupt offset for partition ", partition));
  }
  return offset;
}

absl::StatusOr<bool> TaskState::SeenBefore(int32_t partition, absl::string_view rule,
                                           absl::string_view key, absl::string_view event_id,
                                           int64_t now_unix) {
  // One hash lookup finds the mark among this batch's writes or reserves its
  // slot (marks are never held parsed in messages_, which only Scoped keys
  // reach): every fact asks, and nearly every answer is "not seen".
  auto [it, added] = pending_.try_emplace(
      absl::StrCat("d/", partition, "/", rule, "/", key.size(), ":", key, "/", event_id));
  if (!added) return true;
  auto v = StagedOrStored(it->first);
  if (!v.ok() || v->has_value()) {
    pending_.erase(it);
    if (!v.ok()) return v.status();
    return true;
  }
  it->second = EncodeExpiring(now_unix + retention_, "");
  return false;
}

absl::StatusOr<google::protobuf::MessageLite*> TaskState::MutableMessage(
    const std::string& full_key, const google::protobuf::MessageLite& prototype, bool* found) {
  if (auto it = messages_.find(full_key); it != messages_.end()) {
    *found = true;
    return it->second.get();
  }
  auto stored = Get(full_key);
  if (!stored.ok()) return stored.status();
  std::unique_ptr<google::protobuf::MessageLite> m(prototype.New());
  *found = stored->has_value() && m->ParseFromString(**stored);
  if (!*found) m->Clear();  // unreadable: start afresh rather than stop the stage
  google::protobuf::MessageLite* raw = m.get();
  messages_.emplace(full_key, std::move(m));
  return raw;
}

void TaskState::SerializeMessages() {
  for (auto& [key, message] : messages_) pending_[key] = message->SerializeAsString();
  messages_.clear();
}

absl::StatusOr<std::optional<std::string>> TaskState::Get(const std::string& full_key) {
  if (auto m = messages_.find(full_key); m != messages_.end()) {
    return std::optional<std::string>(m->second->SerializeAsString());
  }
  auto it = pending_.find(full_key);
  if (it != pending_.end()) return std::optional<std::string>(it->second);
  return StagedOrStored(full_key);
}

absl::StatusOr<std::optional<std::string>> TaskState::StagedOrStored(const std::string& full_key) {
  if (!staged_.empty()) {
    auto at = std::lower_bound(
        staged_order_.begin(), staged_order_.end(), full_key,
        [this](uint32_t i, const std::string& key) { return staged_[i].key < key; });
    if (at != staged_order_.end() && staged_[*at].key == full_key) return staged_[*at].value;
  }
  return store_->Get(full_key);
}

void TaskState::Put(std::string full_key, std::string value) {
  messages_.erase(full_key);
  pending_[std::move(full_key)] = std::move(value);
}

void TaskState::SetOffset(int32_t partition, absl::string_view topic, int64_t next_offset) {
  Put(OffsetKey(partition, topic), absl::StrCat(next_offset));
}

absl::Status TaskState::Commit(absl::Span<const int32_t> leave_out) {
  MoveToStage();
  if (staged_.empty() && pending_.empty()) return absl::OkStatus();
  auto left_out = [&](const std::string& key) {
    return !leave_out.empty() && absl::c_linear_search(leave_out, ShardOf(key));
  };
  // In key order: RocksDB's memtable inserts a key next to the previous one
  // from where that one went (its skiplist "splice"), instead of searching
  // from the top; in hash order every insert is a full search.
  WriteBatch batch;
  batch.Reserve(staged_.size() + pending_.size());
  for (uint32_t i : staged_order_) {
    if (left_out(staged_[i].key)) continue;
    batch.Put(std::move(staged_[i].key), std::move(*staged_[i].value));
  }
  ClearStaged();
  // Written since Stage (the changelog's checkpoints): last, so they win
  // over a staged write of the same key.
  std::vector<WriteBatch::Op> rest;
  ExtractInto(pending_, &rest);
  std::sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) { return a.key < b.key; });
  for (auto& op : rest) {
    if (!left_out(op.key)) batch.Put(std::move(op.key), std::move(*op.value));
  }
  if (batch.empty()) return absl::OkStatus();
  return store_->Write(batch);
}

absl::StatusOr<std::optional<std::string>> TaskState::Scoped::Get(absl::string_view name) {
  return ts_->Get(absl::StrCat(prefix_, name));
}

void TaskState::Scoped::Put(absl::string_view name, std::string value) {
  ts_->Put(absl::StrCat(prefix_, name), std::move(value));
}

absl::StatusOr<google::protobuf::MessageLite*> TaskState::Scoped::MutableMessage(
    absl::string_view name, const google::protobuf::MessageLite& prototype, bool* found) {
  return ts_->MutableMessage(absl::StrCat(prefix_, name), prototype, found);
}

}  // namespace exportwatch

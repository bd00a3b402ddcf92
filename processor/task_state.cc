#include "processor/task_state.h"

#include <algorithm>
#include <utility>
#include <vector>

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

std::map<int32_t, std::vector<WriteBatch::Op>> TaskState::PendingByShard() {
  SerializeMessages();
  std::map<int32_t, std::vector<WriteBatch::Op>> out;
  for (const auto& [k, v] : pending_) out[ShardOf(k)].push_back({k, v});
  return out;
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
  std::string k =
      absl::StrCat("d/", partition, "/", rule, "/", key.size(), ":", key, "/", event_id);
  auto v = Get(k);
  if (!v.ok()) return v.status();
  if (v->has_value()) return true;
  pending_[std::move(k)] = EncodeExpiring(now_unix + retention_, "");
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
  return store_->Get(full_key);
}

void TaskState::Put(std::string full_key, std::string value) {
  messages_.erase(full_key);
  pending_[std::move(full_key)] = std::move(value);
}

void TaskState::SetOffset(int32_t partition, absl::string_view topic, int64_t next_offset) {
  Put(OffsetKey(partition, topic), absl::StrCat(next_offset));
}

absl::Status TaskState::Commit() {
  SerializeMessages();
  if (pending_.empty()) return absl::OkStatus();
  // Extracted, not copied: the keys move into the batch.
  std::vector<std::pair<std::string, std::string>> sorted;
  sorted.reserve(pending_.size());
  for (auto it = pending_.begin(); it != pending_.end();) {
    auto node = pending_.extract(it++);  // erasing invalidates only the erased
    sorted.emplace_back(std::move(node.key()), std::move(node.mapped()));
  }
  pending_.clear();
  // In key order: RocksDB's memtable inserts a key next to the previous one
  // from where that one went (its skiplist "splice"), instead of searching
  // from the top; in hash order every insert is a full search.
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  WriteBatch batch;
  batch.Reserve(sorted.size());
  for (auto& [k, v] : sorted) batch.Put(std::move(k), std::move(v));
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

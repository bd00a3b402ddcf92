// StateStore: the key-value store behind every stateful task.
//
// Keys are byte strings; callers own the layout (see processor/task_state.h).
// A WriteBatch is applied atomically: the processor puts the state changes
// of a poll batch and the input offsets that produced them into one batch,
// so after a crash the state and the position agree.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace exportwatch {

class WriteBatch {
 public:
  struct Op {
    std::string key;
    std::optional<std::string> value;  // nullopt: delete
  };
  void Put(std::string key, std::string value) {
    ops_.push_back({std::move(key), std::move(value)});
  }
  void Delete(std::string key) { ops_.push_back({std::move(key), std::nullopt}); }
  void Reserve(size_t ops) { ops_.reserve(ops); }
  const std::vector<Op>& ops() const { return ops_; }
  bool empty() const { return ops_.empty(); }
  void Clear() { ops_.clear(); }

 private:
  std::vector<Op> ops_;
};

// A read-only view of a StateStore as of the moment it was taken: writes
// after that are not seen. It must not outlive its store. Lets a reader
// that works in steps (a changelog snapshot) see one consistent state while
// the store keeps taking writes.
class StateSnapshot {
 public:
  virtual ~StateSnapshot() = default;
  // As StateStore::Scan, over the view.
  [[nodiscard]] virtual absl::Status Scan(
      absl::string_view prefix, absl::string_view start,
      const std::function<bool(absl::string_view key, absl::string_view value)>& fn) = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // nullopt when the key is absent.
  [[nodiscard]] virtual absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) = 0;

  // Applies every op of `batch` or none. Durable when the call returns OK
  // (the WAL is synced or the store was opened with sync disabled for tests).
  [[nodiscard]] virtual absl::Status Write(const WriteBatch& batch) = 0;

  // Calls `fn` for keys >= `start` that begin with `prefix`, in key order,
  // until it returns false.
  [[nodiscard]] virtual absl::Status Scan(
      absl::string_view prefix, absl::string_view start,
      const std::function<bool(absl::string_view key, absl::string_view value)>& fn) = 0;

  // A view of the store as it is now (see StateSnapshot).
  [[nodiscard]] virtual std::unique_ptr<StateSnapshot> NewSnapshot() = 0;
};

// Values stored under keys that begin with the store's `ttl_prefix` start
// with an 8-byte big-endian expiry (unix seconds, wall clock); the store may
// drop them after that time. Used for event-id de-duplication.
std::string EncodeExpiring(int64_t expiry_unix_seconds, absl::string_view value);
// Returns {expiry, payload}; expiry 0 when `stored` is too short.
std::pair<int64_t, absl::string_view> DecodeExpiring(absl::string_view stored);

// An in-memory StateStore for tests: same semantics, no durability.
std::unique_ptr<StateStore> NewMemoryStateStore();

}  // namespace exportwatch

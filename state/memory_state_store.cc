#include <map>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "state/state_store.h"

namespace exportwatch {
namespace {

using Map = std::map<std::string, std::string, std::less<>>;

absl::Status ScanMap(const Map& data, absl::string_view prefix, absl::string_view start,
                     const std::function<bool(absl::string_view, absl::string_view)>& fn) {
  absl::string_view from = start > prefix ? start : prefix;
  for (auto it = data.lower_bound(from); it != data.end(); ++it) {
    if (absl::string_view(it->first).substr(0, prefix.size()) != prefix) break;
    if (!fn(it->first, it->second)) break;
  }
  return absl::OkStatus();
}

// A copy: the tests' stores are small.
class MemorySnapshot final : public StateSnapshot {
 public:
  explicit MemorySnapshot(Map data) : data_(std::move(data)) {}
  absl::Status Scan(absl::string_view prefix, absl::string_view start,
                    const std::function<bool(absl::string_view, absl::string_view)>& fn) override {
    return ScanMap(data_, prefix, start, fn);
  }

 private:
  const Map data_;
};

class MemoryStateStore final : public StateStore {
 public:
  absl::StatusOr<std::optional<std::string>> Get(absl::string_view key) override {
    absl::MutexLock lock(&mu_);
    auto it = data_.find(key);
    if (it == data_.end()) return std::nullopt;
    return it->second;
  }

  absl::Status Write(const WriteBatch& batch) override {
    absl::MutexLock lock(&mu_);
    for (const auto& op : batch.ops()) {
      if (op.value) {
        data_[op.key] = *op.value;
      } else {
        data_.erase(op.key);
      }
    }
    return absl::OkStatus();
  }

  absl::Status Scan(absl::string_view prefix, absl::string_view start,
                    const std::function<bool(absl::string_view, absl::string_view)>& fn) override {
    absl::MutexLock lock(&mu_);
    return ScanMap(data_, prefix, start, fn);
  }

  std::unique_ptr<StateSnapshot> NewSnapshot() override {
    absl::MutexLock lock(&mu_);
    return std::make_unique<MemorySnapshot>(data_);
  }

 private:
  absl::Mutex mu_;
  Map data_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

std::string EncodeExpiring(int64_t expiry, absl::string_view value) {
  std::string out(8, '\0');
  auto u = static_cast<uint64_t>(expiry);
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(u & 0xff);
    u >>= 8;
  }
  out.append(value.data(), value.size());
  return out;
}

std::pair<int64_t, absl::string_view> DecodeExpiring(absl::string_view stored) {
  if (stored.size() < 8) return {0, stored};
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u = (u << 8) | static_cast<unsigned char>(stored[i]);
  return {static_cast<int64_t>(u), stored.substr(8)};
}

std::unique_ptr<StateStore> NewMemoryStateStore() { return std::make_unique<MemoryStateStore>(); }

}  // namespace exportwatch

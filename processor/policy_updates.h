// Policy hot reload: the engine the stages use is swapped, whole, when a new
// policy version arrives, without a restart and without touching state.
//
// The same holds for the screening lists (watchlist files, reference-data
// key "watchlist"): a new list builds a new engine with the same policy;
// the ingest stage then re-screens the parties it knows (entity_registry.h).
//
// Sources of new versions (either or both):
//  - a policy file, polled every `poll_interval` (default 200 ms) for a
//    change of size, modification time or content;
//  - the compacted `reference-data` topic: a record with key "policy" whose
//    value is the policy JSON (every instance reads the topic whole, so every
//    instance converges on the newest record).
// An invalid version is rejected with its error (naming the field) and
// counted; the running policy stays. A version equal to the running one
// (same name, version and content) is ignored.
//
// Stages call EngineHolder::Current() once per batch: a batch is judged
// under one policy, and a swap between batches loses and doubles nothing.
// Rule state lives in the state store under the rule's (or quota's) id, so
// a rule whose definition did not change keeps its state; one whose numbers
// changed keeps its counters and is judged by the new numbers from the next
// batch on.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "connectors/kafka_types.h"
#include "processor/detection_engine.h"
#include "processor/policy/policy.h"

namespace exportwatch {

class EngineHolder {
 public:
  explicit EngineHolder(std::shared_ptr<const Policy> policy)
      : engine_(std::make_shared<DetectionEngine>(std::move(policy))) {}

  std::shared_ptr<const DetectionEngine> Current() const {
    absl::MutexLock lock(&mu_);
    return engine_;
  }
  EngineHolder(std::shared_ptr<const Policy> policy, WatchlistData watchlist)
      : engine_(std::make_shared<DetectionEngine>(std::move(policy), std::move(watchlist))) {}

  // Builds an engine for `policy` (keeping the watchlist) and makes it
  // current.
  void Swap(std::shared_ptr<const Policy> policy);
  // The same for a new watchlist (keeping the policy).
  void SwapWatchlist(WatchlistData watchlist);
  int64_t swaps() const { return swaps_.load(); }

 private:
  mutable absl::Mutex mu_;
  absl::Mutex swap_mu_;
  std::shared_ptr<const DetectionEngine> engine_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> swaps_{0};
};

struct PolicyUpdateOptions {
  // Policy file to watch; empty: none.
  std::string file;
  // Screening list files to watch (all reloaded together when any changes);
  // empty: none.
  std::vector<std::string> watchlist_files;
  // Kafka brokers and topic of reference data; empty topic: none.
  std::string brokers;
  std::string topic;
  // Extra librdkafka properties.
  KafkaConfig kafka_config;
  // File poll interval. Default 200 ms (a change lands within 1 s).
  absl::Duration poll_interval = absl::Milliseconds(200);
  // Told of every accepted or rejected version (for logs). May be empty.
  std::function<void(const std::string& message)> log;
};

// Runs the sources on a thread of its own until destroyed.
class PolicyUpdates {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<PolicyUpdates>> Start(
      PolicyUpdateOptions options, EngineHolder* holder);
  ~PolicyUpdates();

  int64_t accepted() const { return accepted_.load(); }
  int64_t rejected() const { return rejected_.load(); }

 private:
  PolicyUpdates(PolicyUpdateOptions o, EngineHolder* holder) : o_(std::move(o)), holder_(holder) {}
  void Loop();
  // Validates `json` from `origin` and swaps it in when it is new.
  void Offer(const std::string& json, const std::string& origin);
  // Swaps in a loaded watchlist when its content is new.
  void OfferWatchlist(absl::StatusOr<WatchlistData> list, const std::string& origin);
  std::string WatchlistSignature() const;

  PolicyUpdateOptions o_;
  EngineHolder* holder_;
  std::string running_json_;
  std::string file_signature_;
  std::string watchlist_signature_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> accepted_{0}, rejected_{0};
  std::thread thread_;
};

// The reference-data record key of a policy (a watchlist's is
// kWatchlistRecordKey, "watchlist": CSL JSON or CSV).
inline constexpr char kPolicyRecordKey[] = "policy";

}  // namespace exportwatch

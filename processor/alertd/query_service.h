// QueryService (ALERTS.md): GetQuotaUsage for a rule and subject, served by
// every alertd replica from a view of the processors' quota state.
//
// The stateful stage publishes the newest usage of every quota window it
// changes to the compacted quota-usage topic (processor/pipeline.h); alertd
// reads that topic whole at start-up and then follows it, into a QuotaView.
// So any replica answers for any subject, whichever processor owns the
// subject's shard, and the answer is at most one processor batch behind.
#pragma once

#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "exportwatch/v1/alert.grpc.pb.h"
#include "processor/alertd/auth.h"

namespace exportwatch {

class QuotaView {
 public:
  // Most quota windows kept; an update for a new window beyond it is
  // dropped (and counted). Default 1,000,000.
  explicit QuotaView(size_t max_windows = 1'000'000) : max_windows_(max_windows) {}

  // Takes the newest usage of one quota window. Within a window `used`
  // only grows, so an update below the one held is stale and ignored (and
  // counted): a processor that lost its shard to another instance without
  // knowing yet (a zombie) can publish one batch's usage after the new
  // owner has published a later one (processor/README.md).
  void Put(v1::QuotaUsage usage);

  // The usage of `quota` (a quota id, else a rule id) for `subject`: the
  // window that contains `at`, or the newest window when `at` is unset.
  // NOT_FOUND when none.
  [[nodiscard]] absl::StatusOr<v1::QuotaUsage> Get(const std::string& quota,
                                                   const std::string& subject,
                                                   std::optional<int64_t> at) const;
  size_t size() const;
  uint64_t dropped() const;
  uint64_t stale_ignored() const;

 private:
  mutable absl::Mutex mu_;
  // (quota id, subject) -> window start -> usage.
  absl::btree_map<std::pair<std::string, std::string>, absl::btree_map<int64_t, v1::QuotaUsage>>
      windows_ ABSL_GUARDED_BY(mu_);
  // rule id -> quota ids (for lookups by rule).
  absl::btree_map<std::string, std::set<std::string>> quotas_of_rule_ ABSL_GUARDED_BY(mu_);
  size_t count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t stale_ignored_ ABSL_GUARDED_BY(mu_) = 0;
  const size_t max_windows_;
};

class QueryServiceImpl final : public v1::QueryService::CallbackService {
 public:
  QueryServiceImpl(const QuotaView* view, std::shared_ptr<const BearerTokens> tokens)
      : view_(view), tokens_(std::move(tokens)) {}

  grpc::ServerUnaryReactor* GetQuotaUsage(grpc::CallbackServerContext* context,
                                          const v1::GetQuotaUsageRequest* request,
                                          v1::QuotaUsage* response) override;

 private:
  const QuotaView* view_;
  std::shared_ptr<const BearerTokens> tokens_;
};

}  // namespace exportwatch

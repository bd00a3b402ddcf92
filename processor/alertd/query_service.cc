#include "processor/alertd/query_service.h"

#include <set>

#include "absl/strings/str_cat.h"

namespace exportwatch {

void QuotaView::Put(v1::QuotaUsage usage) {
  absl::MutexLock lock(&mu_);
  auto& windows = windows_[{usage.quota_id(), usage.subject().id()}];
  const int64_t start = usage.window_start().seconds();
  auto it = windows.find(start);
  if (it == windows.end()) {
    if (count_ >= max_windows_) {
      ++dropped_;
      return;
    }
    ++count_;
    quotas_of_rule_[usage.rule_id()].insert(usage.quota_id());
    windows.emplace(start, std::move(usage));
  } else if (usage.used() >= it->second.used()) {
    it->second = std::move(usage);
  } else {
    ++stale_ignored_;
  }
}

absl::StatusOr<v1::QuotaUsage> QuotaView::Get(const std::string& quota, const std::string& subject,
                                              std::optional<int64_t> at) const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> ids = {quota};
  if (auto r = quotas_of_rule_.find(quota); r != quotas_of_rule_.end()) {
    for (const auto& q : r->second) {
      if (q != quota) ids.push_back(q);
    }
  }
  for (const auto& id : ids) {
    auto w = windows_.find({id, subject});
    if (w == windows_.end() || w->second.empty()) continue;
    if (!at) return w->second.rbegin()->second;
    for (const auto& [start, usage] : w->second) {
      const bool bounded = usage.has_window_end();
      if (!bounded || (*at >= start && *at < usage.window_end().seconds())) return usage;
    }
  }
  return absl::NotFoundError(absl::StrCat("no usage of ", quota, " for ", subject,
                                          at ? " in a window containing the given time" : ""));
}

size_t QuotaView::size() const {
  absl::MutexLock lock(&mu_);
  return count_;
}

uint64_t QuotaView::dropped() const {
  absl::MutexLock lock(&mu_);
  return dropped_;
}

uint64_t QuotaView::stale_ignored() const {
  absl::MutexLock lock(&mu_);
  return stale_ignored_;
}

grpc::ServerUnaryReactor* QueryServiceImpl::GetQuotaUsage(grpc::CallbackServerContext* context,
                                                          const v1::GetQuotaUsageRequest* request,
                                                          v1::QuotaUsage* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (tokens_ != nullptr && !tokens_->Allows(*context)) {
    reactor->Finish(grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                                 "missing or invalid bearer token (authorization: Bearer ...)"));
    return reactor;
  }
  for (const auto& [name, value] : {std::pair{"rule_id", &request->rule_id()},
                                    std::pair{"subject_id", &request->subject_id()}}) {
    if (value->empty() || value->size() > 256) {
      reactor->Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   absl::StrCat(name, " must be 1 to 256 bytes")));
      return reactor;
    }
  }
  std::optional<int64_t> at;
  if (request->has_at()) at = request->at().seconds();
  auto usage = view_->Get(request->rule_id(), request->subject_id(), at);
  if (!usage.ok()) {
    reactor->Finish(
        grpc::Status(grpc::StatusCode::NOT_FOUND, std::string(usage.status().message())));
    return reactor;
  }
  *response = *std::move(usage);
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

}  // namespace exportwatch

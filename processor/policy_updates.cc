#include "processor/policy_updates.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "connectors/kafka_source.h"

namespace exportwatch {

void EngineHolder::Swap(std::shared_ptr<const Policy> policy) {
  // Built outside the lock: the stages keep reading the old engine meanwhile.
  auto engine = std::make_shared<DetectionEngine>(std::move(policy));
  {
    absl::MutexLock lock(&mu_);
    engine_ = std::move(engine);
  }
  swaps_.fetch_add(1);
}

absl::StatusOr<std::unique_ptr<PolicyUpdates>> PolicyUpdates::Start(PolicyUpdateOptions options,
                                                                    EngineHolder* holder) {
  std::unique_ptr<PolicyUpdates> u(new PolicyUpdates(std::move(options), holder));
  if (!u->o_.file.empty()) {
    // The running policy came from this file: its content is the baseline.
    std::ifstream in(u->o_.file);
    std::stringstream buf;
    buf << in.rdbuf();
    u->running_json_ = buf.str();
  }
  u->thread_ = std::thread([p = u.get()] { p->Loop(); });
  return u;
}

PolicyUpdates::~PolicyUpdates() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void PolicyUpdates::Offer(const std::string& text, const std::string& origin) {
  if (text == running_json_) return;
  auto policy = origin == o_.file && Policy::IsTextFormatPath(o_.file)
                    ? Policy::FromText(text, origin)
                    : Policy::FromJson(text, origin);
  if (!policy.ok()) {
    ++rejected_;
    if (o_.log) o_.log(absl::StrCat("policy update rejected: ", policy.status().message()));
    // Not retried until the content changes again.
    running_json_ = text;
    return;
  }
  running_json_ = text;
  const auto ref = (*policy)->ref();
  holder_->Swap(*policy);
  ++accepted_;
  if (o_.log) {
    o_.log(
        absl::StrCat("policy ", ref.name(), " ", ref.version(), " in force (from ", origin, ")"));
  }
}

void PolicyUpdates::Loop() {
  std::unique_ptr<KafkaSource> source;
  if (!o_.topic.empty()) {
    KafkaSourceOptions so;
    so.brokers = o_.brokers;
    so.assign = {{{o_.topic, 0}, 0}};  // one partition, from the start
    so.config = o_.kafka_config;
    auto s = KafkaSource::Create(so, nullptr);
    if (s.ok()) {
      source = std::move(*s);
    } else if (o_.log) {
      o_.log(absl::StrCat("reference data: ", s.status().message()));
    }
  }
  while (!stop_.load()) {
    if (!o_.file.empty()) {
      struct stat st;
      if (::stat(o_.file.c_str(), &st) == 0) {
        std::string sig = absl::StrCat(st.st_size, "/", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
        if (sig != file_signature_) {
          file_signature_ = sig;
          std::ifstream in(o_.file);
          std::stringstream buf;
          buf << in.rdbuf();
          Offer(buf.str(), o_.file);
        }
      }
    }
    if (source) {
      auto records = source->Poll(o_.poll_interval);
      if (records.ok()) {
        // Only the newest policy record of the batch matters.
        const Record* newest = nullptr;
        for (const auto& r : *records) {
          if (r.key == kPolicyRecordKey && !r.value.empty()) newest = &r;
        }
        if (newest != nullptr) {
          Offer(std::string(newest->value), absl::StrCat(o_.topic, "@", newest->offset));
        }
      } else if (o_.log) {
        o_.log(absl::StrCat("reference data: ", records.status().message()));
        absl::SleepFor(o_.poll_interval);
      }
    } else {
      absl::SleepFor(o_.poll_interval);
    }
  }
  if (source) source->Close();
}

}  // namespace exportwatch

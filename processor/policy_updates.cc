#include "processor/policy_updates.h"

#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "connectors/kafka_source.h"

namespace exportwatch {

void EngineHolder::Swap(std::shared_ptr<const Policy> policy) {
  // Built outside the lock: the stages keep reading the old engine meanwhile.
  // Swaps are serialized so that a policy and a watchlist arriving together
  // cannot undo each other.
  absl::MutexLock swapping(&swap_mu_);
  auto engine = std::make_shared<DetectionEngine>(std::move(policy), Current()->watchlist());
  {
    absl::MutexLock lock(&mu_);
    engine_ = std::move(engine);
  }
  swaps_.fetch_add(1);
}

void EngineHolder::SwapWatchlist(WatchlistData watchlist) {
  absl::MutexLock swapping(&swap_mu_);
  auto engine = std::make_shared<DetectionEngine>(Current()->policy_ptr(), std::move(watchlist));
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
  // The running lists came from these files.
  u->watchlist_signature_ = u->WatchlistSignature();
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

std::string PolicyUpdates::WatchlistSignature() const {
  std::string sig;
  for (const auto& f : o_.watchlist_files) {
    struct stat st;
    if (::stat(f.c_str(), &st) != 0) {
      absl::StrAppend(&sig, "missing;");
      continue;
    }
    absl::StrAppend(&sig, st.st_size, "/", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ";");
  }
  return sig;
}

void PolicyUpdates::OfferWatchlist(absl::StatusOr<WatchlistData> list, const std::string& origin) {
  if (!list.ok()) {
    ++rejected_;
    if (o_.log) o_.log(absl::StrCat("watchlist update rejected: ", list.status().message()));
    return;
  }
  if (list->version == holder_->Current()->watchlist().version) return;
  const std::string version = list->version;
  const size_t malformed = list->malformed;
  holder_->SwapWatchlist(*std::move(list));
  ++accepted_;
  if (o_.log) {
    o_.log(absl::StrCat("watchlist ", version, " in force (from ", origin, ", ", malformed,
                        " malformed rows skipped)"));
  }
}

void PolicyUpdates::Loop() {
  std::unique_ptr<KafkaSource> source;
  if (!o_.topic.empty()) {
    KafkaSourceOptions so;
    so.brokers = o_.brokers;
    so.assign = {{{o_.topic, 0}, 0}};  // one partition, from the start
    so.config = o_.kafka_config;
    // Reference data changes a few times a day and takes effect within
    // seconds: its consumer keeps a long fetch wait even when --kafka lowers
    // fetch.wait.max.ms for the data path. Otherwise an empty topic costs a
    // fetch per wait, here and on the broker (at 1 ms on the mock broker,
    // which answers an empty fetch only after the whole wait: 2.5% of a
    // core in this consumer's thread while the processor is idle).
    so.config["fetch.wait.max.ms"] = "500";
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
    if (!o_.watchlist_files.empty()) {
      std::string sig = WatchlistSignature();
      if (sig != watchlist_signature_) {
        watchlist_signature_ = sig;
        OfferWatchlist(LoadWatchlists(o_.watchlist_files), "--watchlist files");
      }
    }
    if (source) {
      auto records = source->Poll(o_.poll_interval);
      if (records.ok()) {
        // Only the newest record of each key in the batch matters.
        const Record* newest = nullptr;
        const Record* newest_list = nullptr;
        for (const auto& r : *records) {
          if (r.value.empty()) continue;
          if (r.key == kPolicyRecordKey) newest = &r;
          if (r.key == kWatchlistRecordKey) newest_list = &r;
        }
        if (newest != nullptr) {
          Offer(std::string(newest->value), absl::StrCat(o_.topic, "@", newest->offset));
        }
        if (newest_list != nullptr) {
          const std::string origin = absl::StrCat(o_.topic, "@", newest_list->offset);
          OfferWatchlist(WatchlistFromText(newest_list->value, o_.topic), origin);
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

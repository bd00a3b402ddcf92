#include "processor/alertd_runner.h"

#include <iostream>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "google/protobuf/util/json_util.h"
#include "processor/alertd/alert_service.h"
#include "processor/alertd/query_service.h"
#include "state/rocksdb_alert_log.h"

namespace exportwatch {
namespace {

// Source position: "0=124,1=7": the next offset of each partition.
std::map<int32_t, int64_t> ParsePosition(const std::string& text) {
  std::map<int32_t, int64_t> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(part, '=');
    int32_t p;
    int64_t o;
    if (absl::SimpleAtoi(kv.first, &p) && absl::SimpleAtoi(kv.second, &o)) out[p] = o;
  }
  return out;
}

std::string FormatPosition(const std::map<int32_t, int64_t>& pos) {
  return absl::StrJoin(pos, ",", absl::PairFormatter("="));
}

class AlertdImpl final : public Alertd {
 public:
  explicit AlertdImpl(AlertdOptions o) : o_(std::move(o)) {}

  ~AlertdImpl() override {
    // Streams end (with their resume cursor) before the server goes.
    if (service_) service_->Shutdown();
    server_.reset();
  }

  absl::Status Init() {
    RocksDbAlertLogOptions lo;
    lo.path = o_.state_dir;
    ASSIGN_OR_RETURN(log_, OpenRocksDbAlertLog(lo));
    AlertServiceOptions so;
    so.subscriber_buffer = o_.subscriber_buffer;
    if (!o_.triage_topic.empty()) {
      KafkaSinkOptions po;
      po.brokers = o_.brokers;
      po.config = o_.kafka_config;
      ASSIGN_OR_RETURN(triage_producer_, KafkaSink::Create(po));
      so.replicate_triage = [this](const std::string& id, const v1::Triage& t) {
        return ReplicateTriage(id, t);
      };
    }
    if (!o_.auth_tokens_file.empty()) {
      ASSIGN_OR_RETURN(so.tokens, BearerTokens::Load(o_.auth_tokens_file));
    }
    service_ = std::make_unique<AlertService>(log_.get(), so);
    query_ = std::make_unique<QueryServiceImpl>(&quota_view_, so.tokens);
    AlertServerOptions server_opts;
    server_opts.address = o_.listen;
    ASSIGN_OR_RETURN(server_opts.credentials, MakeServerCredentials(o_.tls));
    server_opts.extra_services.push_back(query_.get());
    ASSIGN_OR_RETURN(server_, AlertServer::Start(service_.get(), server_opts));
    return absl::OkStatus();
  }

  int port() const override { return server_->port(); }
  uint64_t alerts_stored() const override { return log_->counters().appended; }

  absl::Status Run(const std::atomic<bool>& stop) override {
    KafkaSinkOptions meta_opts;
    meta_opts.brokers = o_.brokers;
    meta_opts.config = o_.kafka_config;
    ASSIGN_OR_RETURN(auto meta, KafkaSink::Create(meta_opts));
    int partitions = 0;
    while (!stop.load()) {
      auto n = meta->PartitionCount(o_.alerts_topic, absl::Seconds(5));
      if (n.ok()) {
        partitions = *n;
        break;
      }
      std::cerr << "alertd: waiting for topic " << o_.alerts_topic << ": " << n.status() << "\n";
      absl::SleepFor(absl::Seconds(1));
    }
    if (stop.load()) return absl::OkStatus();
    // The compacted topics alertd reads whole at every start; created here
    // when missing (alertd may start before the first processor).
    auto compacted = [&](const std::string& topic) -> absl::StatusOr<int> {
      auto n = meta->PartitionCount(topic, absl::Seconds(2));
      if (n.ok()) return n;
      if (auto e =
              meta->EnsureTopics({{topic, 1, {{"cleanup.policy", "compact"}}}}, absl::Seconds(10));
          !e.ok()) {
        std::cerr << "alertd: creating " << topic << ": " << e << "\n";
      }
      return meta->PartitionCount(topic, absl::Seconds(5));
    };
    // Updates of one alert share a key, hence a partition and an order:
    // every replica applies them in the same order.
    int triage_partitions = 0, usage_partitions = 0;
    if (!o_.triage_topic.empty()) {
      ASSIGN_OR_RETURN(triage_partitions, compacted(o_.triage_topic));
    }
    if (!o_.quota_usage_topic.empty()) {
      ASSIGN_OR_RETURN(usage_partitions, compacted(o_.quota_usage_topic));
    }
    ASSIGN_OR_RETURN(auto stored, log_->LastSourcePosition());
    std::map<int32_t, int64_t> position = stored ? ParsePosition(*stored) : decltype(position){};
    KafkaSourceOptions so;
    so.brokers = o_.brokers;
    so.config = o_.kafka_config;
    for (int32_t p = 0; p < partitions; ++p) {
      auto it = position.find(p);
      so.assign.push_back({{o_.alerts_topic, p}, it == position.end() ? -1 : it->second});
    }
    for (int32_t p = 0; p < usage_partitions; ++p) {
      so.assign.push_back({{o_.quota_usage_topic, p}, 0});  // all of it, every start
    }
    for (int32_t p = 0; p < triage_partitions; ++p) {
      so.assign.push_back({{o_.triage_topic, p}, 0});  // all of it, every start
    }
    ASSIGN_OR_RETURN(auto source, KafkaSource::Create(so, nullptr));
    google::protobuf::util::JsonParseOptions jopts;
    jopts.ignore_unknown_fields = true;
    uint64_t unreadable = 0;
    while (!stop.load()) {
      auto records = source->Poll(absl::Milliseconds(100));
      if (!records.ok()) return records.status();
      if (records->empty()) continue;
      std::vector<v1::Alert> alerts;
      alerts.reserve(records->size());
      for (const Record& r : *records) {
        if (r.topic == o_.triage_topic) {
          ApplyTriageRecord(r);
          continue;
        }
        if (r.topic == o_.quota_usage_topic) {
          ApplyQuotaUsageRecord(r);
          continue;
        }
        position[r.partition] = r.offset + 1;
        v1::Alert a;
        auto s = google::protobuf::util::JsonStringToMessage(
            google::protobuf::StringPiece(r.value.data(), r.value.size()), &a, jopts);
        if (!s.ok() || a.alert_id().empty()) {
          if (++unreadable <= 10) {
            std::cerr << "alertd: skipping unreadable alert at " << r.topic << "/" << r.partition
                      << "@" << r.offset << "\n";
          }
          continue;
        }
        a.clear_cursor();
        alerts.push_back(std::move(a));
      }
      if (alerts.empty() && position == published_position_) continue;  // triage only
      ApplyPendingTriage(alerts);
      auto appended = service_->Publish(std::move(alerts), FormatPosition(position));
      if (!appended.ok()) return appended.status();
      published_position_ = position;
    }
    source->Close();
    return absl::OkStatus();
  }

 private:
  // UpdateAlertStatus: the update on the triage topic, acknowledged.
  absl::Status ReplicateTriage(const std::string& alert_id, const v1::Triage& triage) {
    absl::MutexLock lock(&triage_mu_);  // Flush reports this producer's errors
    RETURN_IF_ERROR(triage_producer_->Produce(o_.triage_topic, alert_id, triage.SerializeAsString(),
                                              {{"content-type", "application/x-protobuf"}}));
    return triage_producer_->Flush(absl::Seconds(10));
  }

  // One record of the compacted quota-usage topic into the QueryService
  // view. A usage below the one held for its window is a former shard
  // owner's (QuotaView::Put) and is ignored.
  void ApplyQuotaUsageRecord(const Record& r) {
    v1::QuotaUsage u;
    if (r.value.size() > 64 * 1024 ||
        !u.ParseFromArray(r.value.data(), static_cast<int>(r.value.size())) ||
        u.quota_id().empty()) {
      if (++unreadable_usages_ <= 10) {
        std::cerr << "alertd: skipping unreadable quota usage at " << r.topic << "/" << r.partition
                  << "@" << r.offset << "\n";
      }
      return;
    }
    const uint64_t stale_before = quota_view_.stale_ignored();
    quota_view_.Put(std::move(u));
    const uint64_t stale = quota_view_.stale_ignored();
    if (stale > stale_before && stale <= 10) {
      std::cerr << "alertd: ignoring the quota usage at " << r.topic << "/" << r.partition << "@"
                << r.offset << ": below the one held for its window (a former shard owner's)\n";
    }
  }

  void ApplyTriageRecord(const Record& r) {
    v1::Triage t;
    if (r.key.empty() || r.key.size() > 256 || r.value.size() > 64 * 1024 ||
        !t.ParseFromArray(r.value.data(), static_cast<int>(r.value.size()))) {
      if (++unreadable_triage_ <= 10) {
        std::cerr << "alertd: skipping unreadable triage record at " << r.topic << "/"
                  << r.partition << "@" << r.offset << "\n";
      }
      return;
    }
    const std::string id(r.key);
    auto applied = log_->UpdateStatus(id, t);
    if (applied.ok()) {
      pending_triage_.erase(id);
    } else if (absl::IsNotFound(applied.status())) {
      // Its alert has not reached this replica yet.
      if (pending_triage_.size() < kMaxPendingTriage || pending_triage_.contains(id)) {
        pending_triage_[id] = std::move(t);
      } else if (++dropped_triage_ <= 10) {
        std::cerr << "alertd: too many triage updates for unknown alerts; dropped " << id << "\n";
      }
    } else {
      std::cerr << "alertd: triage of " << id << ": " << applied.status() << "\n";
    }
  }

  // Alerts about to be stored take their waiting triage with them.
  void ApplyPendingTriage(std::vector<v1::Alert>& alerts) {
    if (pending_triage_.empty()) return;
    for (auto& a : alerts) {
      auto it = pending_triage_.find(a.alert_id());
      if (it == pending_triage_.end()) continue;
      *a.mutable_triage() = std::move(it->second);
      pending_triage_.erase(it);
    }
  }

  static constexpr size_t kMaxPendingTriage = 100'000;
  AlertdOptions o_;
  absl::Mutex triage_mu_;
  std::unique_ptr<KafkaSink> triage_producer_;
  absl::flat_hash_map<std::string, v1::Triage> pending_triage_;
  std::map<int32_t, int64_t> published_position_;
  uint64_t unreadable_triage_ = 0, dropped_triage_ = 0;
  uint64_t unreadable_usages_ = 0;
  std::unique_ptr<AlertLog> log_;
  std::unique_ptr<AlertService> service_;
  QuotaView quota_view_;
  std::unique_ptr<QueryServiceImpl> query_;
  std::unique_ptr<AlertServer> server_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Alertd>> Alertd::Start(AlertdOptions options) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("--brokers is required");
  if (options.state_dir.empty()) return absl::InvalidArgumentError("a state directory is required");
  auto a = std::make_unique<AlertdImpl>(std::move(options));
  RETURN_IF_ERROR(a->Init());
  return a;
}

}  // namespace exportwatch

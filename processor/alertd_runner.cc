#include "processor/alertd_runner.h"

#include <iostream>
#include <map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "connectors/kafka_sink.h"
#include "connectors/kafka_source.h"
#include "google/protobuf/util/json_util.h"
#include "processor/alertd/alert_service.h"
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
    service_ = std::make_unique<AlertService>(log_.get(), so);
    AlertServerOptions server_opts;
    server_opts.address = o_.listen;
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
    ASSIGN_OR_RETURN(auto stored, log_->LastSourcePosition());
    std::map<int32_t, int64_t> position = stored ? ParsePosition(*stored) : decltype(position){};
    KafkaSourceOptions so;
    so.brokers = o_.brokers;
    so.config = o_.kafka_config;
    for (int32_t p = 0; p < partitions; ++p) {
      auto it = position.find(p);
      so.assign.push_back({{o_.alerts_topic, p}, it == position.end() ? -1 : it->second});
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
      auto appended = service_->Publish(std::move(alerts), FormatPosition(position));
      if (!appended.ok()) return appended.status();
    }
    source->Close();
    return absl::OkStatus();
  }

 private:
  AlertdOptions o_;
  std::unique_ptr<AlertLog> log_;
  std::unique_ptr<AlertService> service_;
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

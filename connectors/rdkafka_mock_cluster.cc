#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "connectors/mock_cluster.h"
#include "connectors/rdkafka_util.h"

namespace exportwatch {
namespace {

class RdKafkaMockCluster final : public MockKafkaCluster {
 public:
  RdKafkaMockCluster(rd_kafka_t* rk, rd_kafka_mock_cluster_t* mc) : rk_(rk), mc_(mc) {}
  ~RdKafkaMockCluster() override {
    rd_kafka_mock_cluster_destroy(mc_);
    rd_kafka_destroy(rk_);
  }
  std::string bootstraps() const override { return rd_kafka_mock_cluster_bootstraps(mc_); }
  absl::Status CreateTopic(const std::string& topic, int partitions, int rf) override {
    return rdk::ToStatus(rd_kafka_mock_topic_create(mc_, topic.c_str(), partitions, rf),
                         absl::StrCat("create topic ", topic));
  }
  absl::Status SetBrokerDown(int broker_id, bool down) override {
    return rdk::ToStatus(down ? rd_kafka_mock_broker_set_down(mc_, broker_id)
                              : rd_kafka_mock_broker_set_up(mc_, broker_id),
                         "broker state");
  }
  void PushRequestErrors(int16_t api_key, const std::vector<int>& codes) override {
    std::vector<rd_kafka_resp_err_t> errs;
    for (int c : codes) errs.push_back(static_cast<rd_kafka_resp_err_t>(c));
    rd_kafka_mock_push_request_errors_array(mc_, api_key, errs.size(), errs.data());
  }
  absl::Status SetBrokerRtt(int broker_id, absl::Duration rtt) override {
    return rdk::ToStatus(rd_kafka_mock_broker_set_rtt(
                             mc_, broker_id, static_cast<int>(absl::ToInt64Milliseconds(rtt))),
                         "broker rtt");
  }

 private:
  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* mc_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<MockKafkaCluster>> MockKafkaCluster::Create(int num_brokers) {
  if (num_brokers < 1) return absl::InvalidArgumentError("need at least one broker");
  char errstr[256];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The handle only hosts the cluster; keep it quiet.
  rd_kafka_conf_set(conf, "log_level", "0", errstr, sizeof(errstr));
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
  if (rk == nullptr) return absl::InternalError(absl::StrCat("mock cluster handle: ", errstr));
  rd_kafka_mock_cluster_t* mc = rd_kafka_mock_cluster_new(rk, num_brokers);
  if (mc == nullptr) {
    rd_kafka_destroy(rk);
    return absl::InternalError("could not create the mock cluster");
  }
  return std::make_unique<RdKafkaMockCluster>(rk, mc);
}

}  // namespace exportwatch

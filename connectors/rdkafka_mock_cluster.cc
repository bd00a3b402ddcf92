#include <dirent.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
  absl::Status SetGroupCoordinator(const std::string& group, int broker_id) override {
    return rdk::ToStatus(rd_kafka_mock_coordinator_set(mc_, "group", group.c_str(), broker_id),
                         absl::StrCat("coordinator of group ", group));
  }

 private:
  rd_kafka_t* rk_;
  rd_kafka_mock_cluster_t* mc_;
};

// Sets TCP_NODELAY on this process's listening sockets bound to `ports`. A real Kafka broker
// disables Nagle on every connection; librdkafka's mock does not, so when a client has several
// requests in flight on one connection (a producer flush to many
// partitions: one ProduceRequest each) every response after the first few
// waits for the client's delayed ACK, ~40 ms on Linux. Accepted sockets
// inherit the option from their listener, so setting it once is enough.
void DisableNagleOnListeners(const std::set<int>& ports) {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  while (dirent* e = readdir(dir)) {
    int fd = 0;
    if (!absl::SimpleAtoi(e->d_name, &fd) || fd == dirfd(dir)) continue;
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    int port = -1;
    if (addr.ss_family == AF_INET) port = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6) port = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    if (ports.count(port) == 0) continue;
    int one = 1;
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  closedir(dir);
}

// The ports of a bootstrap list "host:port,host:port".
std::set<int> PortsOf(absl::string_view bootstraps) {
  std::set<int> ports;
  for (absl::string_view hp : absl::StrSplit(bootstraps, ',', absl::SkipEmpty())) {
    int port = 0;
    size_t colon = hp.rfind(':');
    if (colon != absl::string_view::npos && absl::SimpleAtoi(hp.substr(colon + 1), &port)) {
      ports.insert(port);
    }
  }
  return ports;
}

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
  // EW_MOCK_NAGLE=1 keeps the mock's own behaviour (for A/B measurements).
  const char* keep_nagle = getenv("EW_MOCK_NAGLE");
  if (keep_nagle == nullptr || std::string(keep_nagle) != "1") {
    DisableNagleOnListeners(PortsOf(rd_kafka_mock_cluster_bootstraps(mc)));
  }
  return std::make_unique<RdKafkaMockCluster>(rk, mc);
}

}  // namespace exportwatch

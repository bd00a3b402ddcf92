// A test deployment of separate processes over loopback TCP: the mock broker,
// alertd and processors, each the real `exportwatch` binary.
#pragma once

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "connectors/event_codec.h"
#include "connectors/kafka_sink.h"
#include "connectors/mock_cluster.h"
#include "gtest/gtest.h"
#include "processor/alert_subscriber.h"
#include "processor/detection_engine.h"
#include "processor/json.h"
#include "processor/traffic.h"
#include "state/alert_log.h"
#include "tests/common/subprocess.h"
#include "tests/common/test_util.h"

namespace exportwatch::testing {

using namespace std::chrono_literals;

// Faster group failure detection than the defaults, for tests only.
inline const std::vector<std::string> kFastGroup = {
    "--kafka", "session.timeout.ms=6000",
    "--kafka", "heartbeat.interval.ms=500",
    "--kafka", "topic.metadata.refresh.interval.ms=1000"};

struct ClusterOptions {
  // Partitions of exportwatch-facts and of the state changelog. Default 8.
  int facts_partitions = 8;
  // Partitions of trade-events; the last one is kLonePartition (only written
  // on purpose). Default 5.
  int trade_partitions = 5;
  // Partitions of cloud-usage. Default 4.
  int cloud_partitions = 4;
  // Mock brokers. Default 1.
  int brokers = 1;
  // Host the mock cluster in the test process rather than an `exportwatch
  // mock-broker` child: fault injection (rdkafka_mock.h) only works from the
  // process that owns the cluster. Default false.
  bool in_process_broker = false;
};

class Cluster {
 public:
  explicit Cluster(std::string profile, ClusterOptions options = {})
      : profile_(std::move(profile)), options_(options) {
    std::vector<std::pair<std::string, int>> topics = {
        {"trade-events", options.trade_partitions},
        {"cloud-usage", options.cloud_partitions},
        {"model-transfers", 1},
        {"alerts", 1},
        {"dead-letters", 1},
        {"exportwatch-facts", options.facts_partitions},
        {"exportwatch-state-changelog", options.facts_partitions},
        {"reference-data", 1},
        {"exportwatch-quota-usage", 1},
        {"alert-triage", 1}};
    if (options.in_process_broker) {
      auto mock = MockKafkaCluster::Create(options.brokers);
      EXPECT_TRUE(mock.ok()) << mock.status();
      mock_ = std::move(*mock);
      for (const auto& [name, n] : topics) EXPECT_TRUE(mock_->CreateTopic(name, n, 1).ok());
      brokers_ = mock_->bootstraps();
    } else {
      std::vector<std::string> args = {EW_BINARY, "mock-broker", "--brokers",
                                       std::to_string(options.brokers)};
      for (const auto& [name, n] : topics) {
        args.push_back("--topic");
        args.push_back(name + ":" + std::to_string(n));
      }
      broker_ = std::make_unique<Subprocess>(args, dir_.File("broker.log"));
      brokers_ = broker_->WaitForLine("bootstrap.servers=", 20s);
      EXPECT_FALSE(brokers_.empty()) << "mock broker did not start";
    }
    alertd_ = std::make_unique<Subprocess>(
        std::vector<std::string>{EW_BINARY, "alertd", "--brokers", brokers_, "--state-dir",
                                 dir_.File("alertd"), "--listen", "127.0.0.1:0"},
        dir_.File("alertd.log"));
    std::string port = alertd_->WaitForLine("alertd listening on port ", 20s);
    EXPECT_FALSE(port.empty()) << "alertd did not start";
    alertd_target_ = "127.0.0.1:" + port;
    KafkaSinkOptions so;
    so.brokers = brokers_;
    so.config["message.max.bytes"] = "20000000";
    // The workload must arrive whole whatever the broker does (fault tests):
    // never give a record up; re-send requests a downed broker swallowed.
    so.config["message.timeout.ms"] = "0";
    so.config["socket.timeout.ms"] = "4000";
    producer_ = std::move(KafkaSink::Create(so).value());
  }

  // On failure, show what the processes said: the only clue in CI.
  ~Cluster() {
    if (!::testing::Test::HasFailure()) return;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      if (entry.path().extension() != ".log") continue;
      std::string text = ReadFile(entry.path().string());
      if (text.size() > 4000) text = "..." + text.substr(text.size() - 4000);
      std::cerr << "----- " << entry.path().filename().string() << "\n" << text << "\n";
    }
  }

  // `policy_file`: run under that file (watched for new versions) instead
  // of the cluster's profile.
  // `extra`: more flags.
  std::unique_ptr<Subprocess> StartProcessor(const std::string& name,
                                             const std::string& policy_file = "",
                                             const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {EW_BINARY,           "processor",
                                     "--brokers",         brokers_,
                                     "--state-dir",       dir_.File("state-" + name),
                                     "--no-create-topics"};
    args.push_back(policy_file.empty() ? "--profile" : "--policy");
    args.push_back(policy_file.empty() ? profile_ : policy_file);
    args.insert(args.end(), kFastGroup.begin(), kFastGroup.end());
    args.insert(args.end(), extra.begin(), extra.end());
    return std::make_unique<Subprocess>(args, dir_.File("processor-" + name + ".log"));
  }

  // trade-events has a fifth partition that only tests write to on purpose
  // (kLonePartition): the mock broker keeps ~5 MB per partition, so a 10 MB
  // record must not share a partition with records still to be read.
  static constexpr int kLonePartition = 4;
  void ProduceJson(const std::string& topic, const std::string& key, const std::string& value,
                   int partition = -1) {
    if (partition < 0 && topic == "trade-events") {
      partition = static_cast<int>(std::hash<std::string>()(key) %
                                   static_cast<size_t>(options_.trade_partitions - 1));
    }
    ASSERT_TRUE(
        producer_->Produce(topic, key, value, {{"content-type", "application/json"}}, partition)
            .ok());
  }
  int64_t EndOffset(const std::string& topic, int partition) {
    auto end = producer_->EndOffset(topic, partition, absl::Seconds(10));
    EXPECT_TRUE(end.ok()) << end.status();
    return end.ok() ? *end : 0;
  }
  void ProduceRaw(const std::string& topic, const std::string& key, const std::string& value,
                  int partition) {
    ASSERT_TRUE(producer_->Produce(topic, key, value, {}, partition).ok());
  }
  // Waits (up to 5 minutes) until every record produced is in Kafka.
  void Flush() {
    absl::Status s;
    for (int i = 0; i < 10; ++i) {
      s = producer_->Flush(absl::Seconds(30));
      if (s.ok()) return;
    }
    ADD_FAILURE() << "producer flush: " << s;
  }

  // Collects alerts from a subscription until `want` arrived or `timeout`.
  std::vector<v1::Alert> Collect(size_t want, std::chrono::seconds timeout,
                                 const std::string& after_cursor = FormatCursor(0)) {
    std::vector<v1::Alert> got;
    std::atomic<bool> stop{false};
    absl::Mutex mu;
    AlertSubscriberOptions o;
    o.target = alertd_target_;
    o.request.set_after_cursor(after_cursor);
    std::thread t([&] {
      (void)RunAlertSubscriber(o, stop, [&](const v1::Alert& a) {
        absl::MutexLock l(&mu);
        got.push_back(a);
      });
    });
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      {
        absl::MutexLock l(&mu);
        if (got.size() >= want) break;
      }
      std::this_thread::sleep_for(50ms);
    }
    stop = true;
    t.join();
    return got;
  }

  const std::string& brokers() const { return brokers_; }
  const ClusterOptions& options() const { return options_; }
  // The in-process mock cluster (fault injection); null for a child broker.
  MockKafkaCluster* mock() { return mock_.get(); }
  const std::string& alertd_target() const { return alertd_target_; }
  const TempDir& dir() const { return dir_; }
  Subprocess& alertd() { return *alertd_; }

 private:
  std::string profile_;
  ClusterOptions options_;
  TempDir dir_;
  std::unique_ptr<MockKafkaCluster> mock_;
  std::unique_ptr<Subprocess> broker_;
  std::unique_ptr<Subprocess> alertd_;
  std::string brokers_;
  std::string alertd_target_;
  std::unique_ptr<KafkaSink> producer_;
};

// What the processor must raise for `events`, by the same engine in-process
// (per-key order is the production order, as in Kafka with entity keys).
class Expected {
 public:
  explicit Expected(const std::string& profile)
      : engine_(*Policy::FromProfile(profile)),
        store_(NewMemoryStateStore()),
        state_(store_.get(), 86400) {}
  void Add(const v1::Event& e) {
    std::vector<v1::Alert> alerts;
    ASSERT_TRUE(engine_.ProcessInline(e, absl::Now(), state_, &alerts).ok());
    for (const auto& a : alerts) ids_.insert(a.alert_id());
  }
  const std::set<std::string>& ids() const { return ids_; }
  StateStore* store() { return store_.get(); }

 private:
  DetectionEngine engine_;
  std::unique_ptr<StateStore> store_;
  TaskState state_;
  std::set<std::string> ids_;
};

inline std::string EventJson(const v1::Event& e) {
  switch (e.kind_case()) {
    case v1::Event::kTrade:
      return ToJson(e.trade());
    case v1::Event::kCloudUsage:
      return ToJson(e.cloud_usage());
    default:
      return ToJson(e.model_transfer());
  }
}

inline std::string TopicOf(const v1::Event& e) {
  return e.has_trade() ? "trade-events" : e.has_cloud_usage() ? "cloud-usage" : "model-transfers";
}

}  // namespace exportwatch::testing

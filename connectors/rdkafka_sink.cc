// librdkafka implementation of KafkaSink.
#include <librdkafka/rdkafka.h>

#include <atomic>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "connectors/kafka_sink.h"
#include "connectors/rdkafka_util.h"

namespace exportwatch {
namespace {

class RdKafkaSink final : public KafkaSink {
 public:
  ~RdKafkaSink() override {
    if (rk_) {
      rd_kafka_flush(rk_, 5000);
      rd_kafka_destroy(rk_);
    }
  }

  absl::Status Init(const KafkaSinkOptions& o) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    KafkaConfig props = {
        {"bootstrap.servers", o.brokers},
        // Idempotent: retries never duplicate or reorder within a partition.
        {"enable.idempotence", "true"},
        // murmur2 on the key, as the Java client: facts of one key always land
        // on one partition, whichever client produced them.
        {"partitioner", "murmur2_random"},
        {"linger.ms", std::to_string(o.linger_ms)},
        {"compression.type", "none"},
        {"message.timeout.ms", "60000"},
    };
    for (const auto& [k, v] : o.config) props[k] = v;
    if (auto s = rdk::SetAll(conf, props); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &RdKafkaSink::OnDelivery);
    char errstr[512];
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kafka producer: ", errstr));
    }
    return absl::OkStatus();
  }

  absl::Status Produce(absl::string_view topic, absl::string_view key, absl::string_view value,
                       const std::vector<Header>& headers, int32_t partition,
                       int64_t* delivered_offset) override {
    rd_kafka_headers_t* hdrs = nullptr;
    if (!headers.empty()) {
      hdrs = rd_kafka_headers_new(headers.size());
      for (const auto& h : headers) {
        rd_kafka_header_add(hdrs, h.key.data(), static_cast<ssize_t>(h.key.size()), h.value.data(),
                            static_cast<ssize_t>(h.value.size()));
      }
    }
    for (int attempt = 0;; ++attempt) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          rk_, RD_KAFKA_V_TOPIC(std::string(topic).c_str()),
          RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
          RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_HEADERS(hdrs),
          RD_KAFKA_V_OPAQUE(delivered_offset), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();  // hdrs now owned
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && attempt < 1000) {
        // Back-pressure: serve delivery reports until there is room.
        rd_kafka_poll(rk_, 10);
        continue;
      }
      if (hdrs) rd_kafka_headers_destroy(hdrs);
      return rdk::ToStatus(err, absl::StrCat("produce to ", topic));
    }
  }

  absl::Status Flush(absl::Duration timeout) override {
    rd_kafka_resp_err_t err =
        rd_kafka_flush(rk_, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return rdk::ToStatus(err, "flush");
    absl::MutexLock lock(&mu_);
    if (!first_error_.ok()) {
      absl::Status s = first_error_;
      first_error_ = absl::OkStatus();
      return s;
    }
    return absl::OkStatus();
  }

  absl::StatusOr<int> PartitionCount(absl::string_view topic, absl::Duration timeout) override {
    rd_kafka_topic_t* rkt = rd_kafka_topic_new(rk_, std::string(topic).c_str(), nullptr);
    const rd_kafka_metadata_t* md = nullptr;
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(rk_, 0, rkt, &md, static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    rd_kafka_topic_destroy(rkt);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return rdk::ToStatus(err, "metadata");
    int n = -1;
    rd_kafka_resp_err_t terr = RD_KAFKA_RESP_ERR_NO_ERROR;
    if (md->topic_cnt == 1) {
      n = md->topics[0].partition_cnt;
      terr = md->topics[0].err;
    }
    rd_kafka_metadata_destroy(md);
    if (terr != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return rdk::ToStatus(terr, absl::StrCat("topic ", topic));
    }
    if (n <= 0) return absl::NotFoundError(absl::StrCat("topic ", topic, " has no partitions"));
    return n;
  }

  absl::StatusOr<int64_t> EndOffset(absl::string_view topic, int32_t partition,
                                    absl::Duration timeout) override {
    ASSIGN_OR_RETURN(auto w, Watermarks(topic, partition, timeout));
    return w.second;
  }

  absl::StatusOr<int64_t> StartOffset(absl::string_view topic, int32_t partition,
                                      absl::Duration timeout) override {
    ASSIGN_OR_RETURN(auto w, Watermarks(topic, partition, timeout));
    return w.first;
  }

  absl::Status EnsureTopics(const std::vector<TopicSpec>& topics, absl::Duration timeout) override {
    std::vector<rd_kafka_NewTopic_t*> news;
    char errstr[256];
    for (const auto& spec : topics) {
      rd_kafka_NewTopic_t* t =
          rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions, -1, errstr, sizeof(errstr));
      if (t == nullptr) {
        for (auto* n : news) rd_kafka_NewTopic_destroy(n);
        return absl::InvalidArgumentError(absl::StrCat("topic ", spec.name, ": ", errstr));
      }
      news.push_back(t);
      for (const auto& [k, v] : spec.config) {
        if (rd_kafka_NewTopic_set_config(t, k.c_str(), v.c_str()) != RD_KAFKA_RESP_ERR_NO_ERROR) {
          for (auto* n : news) rd_kafka_NewTopic_destroy(n);
          return absl::InvalidArgumentError(
              absl::StrCat("topic ", spec.name, ": bad config ", k, "=", v));
        }
      }
    }
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk_);
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk_, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(
        opts, static_cast<int>(absl::ToInt64Milliseconds(timeout)), errstr, sizeof(errstr));
    rd_kafka_CreateTopics(rk_, news.data(), news.size(), opts, q);
    rd_kafka_event_t* ev =
        rd_kafka_queue_poll(q, static_cast<int>(absl::ToInt64Milliseconds(timeout)) + 1000);
    absl::Status status = absl::OkStatus();
    if (ev == nullptr) {
      status = absl::DeadlineExceededError("create topics timed out");
    } else if (rd_kafka_event_error(ev)) {
      status = rdk::ToStatus(rd_kafka_event_error(ev), "create topics");
    } else {
      const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
      size_t n = 0;
      const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(res, &n);
      for (size_t i = 0; i < n && status.ok(); ++i) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(results[i]);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
          status = rdk::ToStatus(
              e, absl::StrCat("create topic ", rd_kafka_topic_result_name(results[i])));
        }
      }
    }
    if (ev) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_queue_destroy(q);
    for (auto* n : news) rd_kafka_NewTopic_destroy(n);
    return status;
  }

 private:
  // (low, high) watermarks, asked of the partition's leader.
  absl::StatusOr<std::pair<int64_t, int64_t>> Watermarks(absl::string_view topic, int32_t partition,
                                                         absl::Duration timeout) {
    int64_t low = 0, high = 0;
    rd_kafka_resp_err_t err =
        rd_kafka_query_watermark_offsets(rk_, std::string(topic).c_str(), partition, &low, &high,
                                         static_cast<int>(absl::ToInt64Milliseconds(timeout)));
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return rdk::ToStatus(err, absl::StrCat("watermarks of ", topic, "/", partition));
    }
    return std::make_pair(low, high);
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      // The record's msg_opaque: where the caller wants its offset.
      if (m->_private != nullptr) *static_cast<int64_t*>(m->_private) = m->offset;
      return;
    }
    auto* self = static_cast<RdKafkaSink*>(opaque);
    absl::MutexLock lock(&self->mu_);
    if (self->first_error_.ok()) {
      self->first_error_ = rdk::ToStatus(m->err, "delivery");
    }
  }

  rd_kafka_t* rk_ = nullptr;
  absl::Mutex mu_;
  absl::Status first_error_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

int32_t PartitionOfKey(absl::string_view key, int32_t partitions) {
  // librdkafka's own murmur2 partitioner (it does not read the topic
  // handle), so this can never drift from what the producer does.
  return rd_kafka_msg_partitioner_murmur2(nullptr, key.data(), key.size(), partitions, nullptr,
                                          nullptr);
}

absl::StatusOr<std::unique_ptr<KafkaSink>> KafkaSink::Create(const KafkaSinkOptions& options) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("no brokers given");
  auto sink = std::make_unique<RdKafkaSink>();
  RETURN_IF_ERROR(sink->Init(options));
  return sink;
}

}  // namespace exportwatch

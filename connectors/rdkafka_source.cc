// librdkafka implementation of KafkaSource (C API: batch consumption without
// per-message C++ wrappers).
#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/status_macros.h"
#include "connectors/kafka_source.h"
#include "connectors/rdkafka_util.h"

namespace exportwatch {
namespace {

std::vector<TopicPartition> ToVector(const rd_kafka_topic_partition_list_t* list) {
  std::vector<TopicPartition> out;
  for (int i = 0; i < list->cnt; ++i) {
    out.push_back({list->elems[i].topic, list->elems[i].partition});
  }
  return out;
}

class RdKafkaSource final : public KafkaSource {
 public:
  RdKafkaSource(RebalanceListener* listener, int max_batch, bool capture_headers)
      : listener_(listener), max_batch_(max_batch), capture_headers_(capture_headers) {
    msgs_.resize(max_batch);
  }

  ~RdKafkaSource() override {
    Close();
    ReleaseMessages();
    if (queue_) rd_kafka_queue_destroy(queue_);
    if (rk_ == nullptr) return;
#if RD_KAFKA_VERSION < 0x020300ff
    // librdkafka before 2.3.0 (Debian 12 has 2.0.2) aborts destroying a
    // cooperative-sticky member that joined its group but never received an
    // assignment (its issue #4312: the assignor's state is still null). That
    // is a process stopped during its group's first rebalance. An assignment
    // callback proves the state exists; without one the closed handle (it
    // has left the group) is left to the process's exit instead.
    if (subscribed_ && !assigned_once_) {
      std::fprintf(stderr,
                   "kafka consumer: closed before its first assignment; its handle is kept "
                   "until exit (librdkafka < 2.3.0 aborts destroying it, issue #4312)\n");
      return;
    }
#endif
    rd_kafka_destroy(rk_);
  }

  absl::Status Init(const KafkaSourceOptions& o) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    KafkaConfig props = {
        {"bootstrap.servers", o.brokers},
        {"enable.auto.commit", "false"},
        {"enable.auto.offset.store", "false"},
        {"auto.offset.reset", "earliest"},
        {"enable.partition.eof", "false"},
        // Cooperative: partitions that stay with a member never stop.
        {"partition.assignment.strategy", "cooperative-sticky"},
        {"fetch.wait.max.ms", "20"},
        // A member that dies without leaving (kill -9, a lost node) holds
        // its partitions until its session times out, and the group's
        // input stops until then: 6 s, the broker's default minimum
        // (group.min.session.timeout.ms), instead of librdkafka's 45 s.
        // Heartbeats come from librdkafka's own thread, so a long batch
        // cannot miss them (max.poll.interval.ms covers a stuck stage).
        {"session.timeout.ms", "6000"},
        {"heartbeat.interval.ms", "1500"},
        // Memory: each consumer holds at most about this much prefetched
        // (checked before each fetch) plus one fetch response.
        {"queued.max.messages.kbytes", "16384"},
        {"fetch.message.max.bytes", "1048576"},
        {"fetch.max.bytes", "16777216"},
        // A record larger than those sizes does not stall its partition: the
        // broker still returns a partition's first batch whole (KIP-74), so
        // only a response must be allowed to be that large (hostile records
        // are rejected after they are read, never left in the way).
        {"receive.message.max.bytes", "135266304"},
    };
    if (!o.group_id.empty())
      props["group.id"] = o.group_id;
    else
      props["group.id"] = "exportwatch-unused";
    for (const auto& [k, v] : o.config) props[k] = v;
    if (auto s = rdk::SetAll(conf, props); !s.ok()) {
      rd_kafka_conf_destroy(conf);
      return s;
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_offset_commit_cb(conf, &RdKafkaSource::CommitTrampoline);
    // Also without a listener: the callback is where a first assignment is
    // seen (see the destructor).
    if (o.assign.empty()) {
      rd_kafka_conf_set_rebalance_cb(conf, &RdKafkaSource::RebalanceTrampoline);
    }
    char errstr[512];
    rk_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (rk_ == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("kafka consumer: ", errstr));
    }
    rd_kafka_poll_set_consumer(rk_);
    queue_ = rd_kafka_queue_get_consumer(rk_);
    if (!o.assign.empty()) {
      rd_kafka_topic_partition_list_t* list =
          rd_kafka_topic_partition_list_new(static_cast<int>(o.assign.size()));
      for (const auto& po : o.assign) {
        auto* e = rd_kafka_topic_partition_list_add(list, po.tp.topic.c_str(), po.tp.partition);
        e->offset = po.offset < 0 ? RD_KAFKA_OFFSET_BEGINNING : po.offset;
      }
      rd_kafka_resp_err_t err = rd_kafka_assign(rk_, list);
      rd_kafka_topic_partition_list_destroy(list);
      return rdk::ToStatus(err, "assign");
    }
    rd_kafka_topic_partition_list_t* topics =
        rd_kafka_topic_partition_list_new(static_cast<int>(o.topics.size()));
    for (const auto& t : o.topics) {
      rd_kafka_topic_partition_list_add(topics, t.c_str(), RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk_, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    subscribed_ = err == RD_KAFKA_RESP_ERR_NO_ERROR;
    return rdk::ToStatus(err, "subscribe");
  }

  absl::StatusOr<std::vector<Record>> Poll(absl::Duration timeout) override {
    ReleaseMessages();
    if (!listener_error_.ok()) return listener_error_;
    // rd_kafka_consume_batch_queue() with a timeout waits until the batch is
    // full or the timeout has passed, so every record of a lightly loaded
    // stream would wait the whole timeout (100 ms per stage). Instead: wait
    // for the first record only, then take whatever else is already queued
    // without waiting. Under load the queue is full and batches stay large.
    ssize_t n = 0;
    if (rd_kafka_message_t* first =
            rd_kafka_consume_queue(queue_, static_cast<int>(absl::ToInt64Milliseconds(timeout)))) {
      msgs_[0] = first;
      n = 1;
      if (msgs_.size() > 1) {
        ssize_t more = rd_kafka_consume_batch_queue(queue_, 0, msgs_.data() + 1, msgs_.size() - 1);
        if (more > 0) n += more;
      }
    }
    if (!listener_error_.ok()) {
      held_ = n > 0 ? static_cast<size_t>(n) : 0;
      return listener_error_;
    }
    std::vector<Record> out;
    if (n <= 0) return out;
    held_ = static_cast<size_t>(n);
    out.reserve(held_);
    for (size_t i = 0; i < held_; ++i) {
      rd_kafka_message_t* m = msgs_[i];
      if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        if (m->err == RD_KAFKA_RESP_ERR__FATAL) {
          char buf[256];
          rd_kafka_fatal_error(rk_, buf, sizeof(buf));
          return absl::InternalError(absl::StrCat("fatal consumer error: ", buf));
        }
        if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET) {
          // Only with auto.offset.reset=error: the position is gone from the
          // log, and the caller asked to be told rather than skip silently.
          return absl::OutOfRangeError(
              absl::StrCat("offset out of range on ", m->rkt ? rd_kafka_topic_name(m->rkt) : "?",
                           "/", m->partition, ": ", rd_kafka_message_errstr(m)));
        }
        // Transient (broker down, rebalance in progress): librdkafka retries.
        continue;
      }
      Record r;
      r.topic = rd_kafka_topic_name(m->rkt);
      r.partition = m->partition;
      r.offset = m->offset;
      r.key = absl::string_view(static_cast<const char*>(m->key), m->key_len);
      r.value = absl::string_view(static_cast<const char*>(m->payload), m->len);
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const void* val = nullptr;
        size_t size = 0;
        if (rd_kafka_header_get_last(hdrs, "content-type", &val, &size) ==
                RD_KAFKA_RESP_ERR_NO_ERROR &&
            val != nullptr) {
          r.content_type = absl::string_view(static_cast<const char*>(val), size);
        }
        if (capture_headers_) {
          const char* name = nullptr;
          for (size_t i = 0;
               rd_kafka_header_get_all(hdrs, i, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
               ++i) {
            r.headers.emplace_back(
                name,
                val ? absl::string_view(static_cast<const char*>(val), size) : absl::string_view());
          }
        }
      }
      r.timestamp_ms = rd_kafka_message_timestamp(m, nullptr);
      out.push_back(r);
    }
    return out;
  }

  absl::Status Commit(const std::vector<PartitionOffset>& offsets) override {
    if (offsets.empty()) return absl::OkStatus();
    rd_kafka_topic_partition_list_t* list = ToList(offsets);
    rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list, /*async=*/0);
    rd_kafka_topic_partition_list_destroy(list);
    return rdk::ToStatus(err, "commit offsets");
  }

  void CommitAsync(const std::vector<PartitionOffset>& offsets) override {
    if (offsets.empty()) return;
    rd_kafka_topic_partition_list_t* list = ToList(offsets);
    // An error here (no group, closed) is also reported to the commit
    // callback, so it is not lost.
    rd_kafka_commit(rk_, list, /*async=*/1);
    rd_kafka_topic_partition_list_destroy(list);
  }

  absl::Status TakeAsyncCommitError() override {
    absl::Status s = std::move(async_commit_error_);
    async_commit_error_ = absl::OkStatus();
    return s;
  }

  void Close() override {
    if (closed_ || rk_ == nullptr) return;
    closed_ = true;
    ReleaseMessages();
    rd_kafka_consumer_close(rk_);
  }

  absl::Status Seek(const std::vector<PartitionOffset>& offsets) override {
    rd_kafka_topic_partition_list_t* list = ToList(offsets);
    for (int i = 0; i < list->cnt; ++i) {
      if (list->elems[i].offset < 0) list->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    rd_kafka_error_t* error = rd_kafka_seek_partitions(rk_, list, 10000);
    absl::Status s;
    if (error != nullptr) {
      s = absl::UnavailableError(absl::StrCat("seek: ", rd_kafka_error_string(error)));
      rd_kafka_error_destroy(error);
    }
    for (int i = 0; s.ok() && i < list->cnt; ++i) {
      if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        s = rdk::ToStatus(list->elems[i].err, absl::StrCat("seek ", list->elems[i].topic, "/",
                                                           list->elems[i].partition));
      }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return s;
  }

  std::vector<TopicPartition> Assignment() override {
    rd_kafka_topic_partition_list_t* list = nullptr;
    std::vector<TopicPartition> out;
    if (rd_kafka_assignment(rk_, &list) == RD_KAFKA_RESP_ERR_NO_ERROR && list) {
      out = ToVector(list);
      rd_kafka_topic_partition_list_destroy(list);
    }
    return out;
  }

 private:
  static rd_kafka_topic_partition_list_t* ToList(const std::vector<PartitionOffset>& offsets) {
    rd_kafka_topic_partition_list_t* list =
        rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size()));
    for (const auto& po : offsets) {
      rd_kafka_topic_partition_list_add(list, po.tp.topic.c_str(), po.tp.partition)->offset =
          po.offset;
    }
    return list;
  }

  // Served on the polling thread (the consumer queue), like the rebalance
  // callback, for every commit: an asynchronous one's outcome arrives only
  // here (a synchronous one's is also its return value).
  static void CommitTrampoline(rd_kafka_t*, rd_kafka_resp_err_t err,
                               rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    auto* self = static_cast<RdKafkaSource*>(opaque);
    // _NO_OFFSET: nothing was left to commit, not a failure.
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) {
      for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
        if (offsets->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
          err = offsets->elems[i].err;
          break;
        }
      }
    }
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR && err != RD_KAFKA_RESP_ERR__NO_OFFSET &&
        self->async_commit_error_.ok()) {
      self->async_commit_error_ = rdk::ToStatus(err, "commit offsets");
    }
  }

  static void RebalanceTrampoline(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                                  rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<RdKafkaSource*>(opaque)->OnRebalance(rk, err, parts);
  }

  void OnRebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err,
                   rd_kafka_topic_partition_list_t* parts) {
    bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      // Every completed sync calls back, with no partitions too.
      assigned_once_ = true;
      // No listener: every partition from the group's offsets.
      absl::StatusOr<std::vector<PartitionOffset>> offsets = std::vector<PartitionOffset>();
      if (listener_ != nullptr) offsets = listener_->OnAssigned(ToVector(parts));
      if (!offsets.ok()) {
        listener_error_ = offsets.status();
        // Take nothing: another member can have these partitions.
        if (cooperative) {
          if (rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts)) {
            rd_kafka_error_destroy(e);
          }
        } else {
          rd_kafka_assign(rk, nullptr);
        }
        return;
      }
      for (const auto& po : *offsets) {
        auto* e = rd_kafka_topic_partition_list_find(parts, po.tp.topic.c_str(), po.tp.partition);
        if (e != nullptr) e->offset = po.offset < 0 ? RD_KAFKA_OFFSET_STORED : po.offset;
      }
      rd_kafka_error_t* e = nullptr;
      if (cooperative) {
        e = rd_kafka_incremental_assign(rk, parts);
      } else {
        rd_kafka_assign(rk, parts);
      }
      if (e != nullptr) {
        listener_error_ =
            absl::InternalError(absl::StrCat("incremental assign: ", rd_kafka_error_string(e)));
        rd_kafka_error_destroy(e);
      }
    } else {
      if (listener_ != nullptr) listener_->OnRevoked(ToVector(parts));
      if (cooperative) {
        rd_kafka_error_t* e = rd_kafka_incremental_unassign(rk, parts);
        if (e != nullptr) rd_kafka_error_destroy(e);
      } else {
        rd_kafka_assign(rk, nullptr);
      }
    }
  }

  void ReleaseMessages() {
    for (size_t i = 0; i < held_; ++i) rd_kafka_message_destroy(msgs_[i]);
    held_ = 0;
  }

  RebalanceListener* listener_;
  int max_batch_;
  bool capture_headers_;
  rd_kafka_t* rk_ = nullptr;
  rd_kafka_queue_t* queue_ = nullptr;
  std::vector<rd_kafka_message_t*> msgs_;
  size_t held_ = 0;
  bool closed_ = false;
  bool subscribed_ = false;     // a group member (not assign())
  bool assigned_once_ = false;  // an assignment callback has run
  absl::Status listener_error_;
  absl::Status async_commit_error_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<KafkaSource>> KafkaSource::Create(const KafkaSourceOptions& options,
                                                                 RebalanceListener* listener) {
  if (options.brokers.empty()) return absl::InvalidArgumentError("no brokers given");
  if (options.assign.empty() && options.group_id.empty()) {
    return absl::InvalidArgumentError("a group id is required to subscribe");
  }
  if (options.max_batch <= 0) return absl::InvalidArgumentError("max_batch must be > 0");
  auto source =
      std::make_unique<RdKafkaSource>(listener, options.max_batch, options.capture_headers);
  RETURN_IF_ERROR(source->Init(options));
  return source;
}

}  // namespace exportwatch

// Small helpers shared by the librdkafka adapters (internal to connectors/).
#pragma once

#include <librdkafka/rdkafka.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "connectors/kafka_types.h"

namespace exportwatch::rdk {

// librdkafka error -> absl status, by what the caller should do: retriable
// errors are UNAVAILABLE, bad arguments INVALID_ARGUMENT, the rest INTERNAL.
inline absl::Status ToStatus(rd_kafka_resp_err_t err, absl::string_view what) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return absl::OkStatus();
  std::string msg = absl::StrCat(what, ": ", rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR__TIMED_OUT:
      return absl::DeadlineExceededError(msg);
    case RD_KAFKA_RESP_ERR__INVALID_ARG:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
      return absl::InvalidArgumentError(msg);
    case RD_KAFKA_RESP_ERR__TRANSPORT:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__QUEUE_FULL:
      return absl::UnavailableError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// Builds a conf from properties; the first bad property is the error.
inline absl::Status SetAll(rd_kafka_conf_t* conf, const KafkaConfig& props) {
  char errstr[512];
  for (const auto& [k, v] : props) {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("kafka config ", k, "=", v, ": ", errstr));
    }
  }
  return absl::OkStatus();
}

}  // namespace exportwatch::rdk

// AlertSubscriber: a resuming client of AlertService.Subscribe.
//
// Reconnects after any stream end (server restart, RESOURCE_EXHAUSTED cut-off)
// with the cursor of the last alert it delivered, so the caller sees every
// matching alert once, in order.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "exportwatch/v1/alert.pb.h"
#include "grpcpp/security/credentials.h"

namespace exportwatch {

struct AlertSubscriberOptions {
  // host:port of an alertd. Required.
  std::string target;
  // Filters and starting cursor (after_cursor; empty: live only).
  v1::SubscribeRequest request;
  // Channel credentials (TLS); null: plaintext.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // Sent as `authorization: Bearer <token>` when not empty.
  std::string bearer_token;
  // Wait between reconnects. Default 500 ms.
  absl::Duration reconnect_delay = absl::Milliseconds(500);
  // Give up after this many consecutive failed connects (0: never). Default 0.
  int max_failures = 0;
};

// Calls `on_alert` for each alert until `stop` is set (checked between
// messages and at least every 200 ms). Returns at once, with the server's
// status, on UNAUTHENTICATED, PERMISSION_DENIED or INVALID_ARGUMENT (a
// retry would fail the same way). `on_status` (optional) hears every
// stream end, for logging.
[[nodiscard]] absl::Status RunAlertSubscriber(
    const AlertSubscriberOptions& options, const std::atomic<bool>& stop,
    const std::function<void(const v1::Alert&)>& on_alert,
    const std::function<void(const absl::Status&)>& on_status = nullptr);

}  // namespace exportwatch

#include "processor/alert_subscriber.h"

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "exportwatch/v1/alert.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "state/alert_log.h"

namespace exportwatch {

absl::Status RunAlertSubscriber(const AlertSubscriberOptions& options,
                                const std::atomic<bool>& stop,
                                const std::function<void(const v1::Alert&)>& on_alert,
                                const std::function<void(const absl::Status&)>& on_status) {
  auto channel =
      grpc::CreateChannel(options.target, options.credentials ? options.credentials
                                                              : grpc::InsecureChannelCredentials());
  auto stub = v1::AlertService::NewStub(channel);
  v1::SubscribeRequest request = options.request;
  int failures = 0;
  while (!stop.load()) {
    grpc::ClientContext ctx;
    if (!options.bearer_token.empty()) {
      ctx.AddMetadata("authorization", "Bearer " + options.bearer_token);
    }
    absl::Mutex mu;
    bool done = false;
    // Cancels the blocking Read when asked to stop.
    std::thread watcher([&] {
      absl::MutexLock lock(&mu);
      while (!done && !stop.load()) {
        mu.AwaitWithTimeout(absl::Condition(&done), absl::Milliseconds(200));
      }
      if (!done) ctx.TryCancel();
    });
    auto reader = stub->Subscribe(&ctx, request);
    v1::Alert alert;
    bool got_any = false;
    while (!stop.load() && reader->Read(&alert)) {
      got_any = true;
      if (!alert.cursor().empty()) request.set_after_cursor(alert.cursor());
      on_alert(alert);
    }
    grpc::Status status = reader->Finish();
    {
      absl::MutexLock lock(&mu);
      done = true;
    }
    watcher.join();
    if (stop.load()) break;
    absl::Status s = status.ok() ? absl::OkStatus()
                                 : absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                                                status.error_message());
    if (on_status) on_status(s);
    // Retrying cannot fix these: the credentials or the request are wrong.
    if (absl::IsUnauthenticated(s) || absl::IsPermissionDenied(s) || absl::IsInvalidArgument(s)) {
      return s;
    }
    failures = got_any ? 0 : failures + 1;
    if (options.max_failures > 0 && failures >= options.max_failures) {
      return absl::UnavailableError(absl::StrCat("subscribe to ", options.target, " failed ",
                                                 failures, " times: ", s.message()));
    }
    // Without a cursor yet, resume from the start of what is stored rather
    // than lose alerts raised while reconnecting.
    if (request.after_cursor().empty()) request.set_after_cursor(FormatCursor(0));
    absl::SleepFor(options.reconnect_delay);
  }
  return absl::OkStatus();
}

}  // namespace exportwatch

// AlertService: the exportwatch.v1.AlertService gRPC service over an
// AlertLog, and AlertServer, the grpc::Server that serves it.
//
// Publish (called by the consumer of the `alerts` topic) appends to the log
// and fans the new alerts out to live subscribers. Subscribers are callback
// reactors: none holds a thread. Each live subscriber has a bounded queue;
// Publish only ever appends to it (never waits), and a subscriber whose
// queue would overflow is cut off with RESOURCE_EXHAUSTED and told the
// cursor to resume from. See README.md in this folder.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "exportwatch/v1/alert.grpc.pb.h"
#include "exportwatch/v1/alert.pb.h"
#include "grpcpp/grpcpp.h"
#include "processor/alertd/auth.h"
#include "state/alert_log.h"

namespace exportwatch {

struct AlertServiceOptions {
  // Alerts a live subscriber may have waiting (published, not yet handed to
  // its stream). A Publish that would exceed it cuts the subscriber off with
  // RESOURCE_EXHAUSTED. Default 1024.
  size_t subscriber_buffer = 1024;
  // Stored alerts read per catch-up step of Subscribe(after_cursor); capped
  // at subscriber_buffer. Default 256.
  size_t catchup_page_size = 256;
  // ListAlerts page size when the request has none. Default 100.
  int32_t default_page_size = 100;
  // Largest ListAlerts page_size accepted. Default 1000.
  int32_t max_page_size = 1000;
  // Most entries in a request's rule_ids or subject_ids. Default 1000.
  size_t max_filter_ids = 1000;
  // Longest alert_id, rule id, subject id or updated_by, in bytes.
  // Default 256.
  size_t max_id_bytes = 256;
  // Longest triage note, in bytes. Default 4096.
  size_t max_note_bytes = 4096;
  // Makes a triage update durable and visible to every replica before this
  // replica applies it (alertd: a record on the compacted triage topic that
  // every replica reads). An error fails the RPC with UNAVAILABLE and
  // changes nothing. Null: the update is local to this replica's log.
  std::function<absl::Status(const std::string& alert_id, const v1::Triage& triage)>
      replicate_triage;
  // Accepted bearer tokens; every RPC without one of them gets
  // UNAUTHENTICATED and nothing else. Null: no token needed.
  std::shared_ptr<const BearerTokens> tokens;
  // A cut-off subscriber's final status waits behind the alert being
  // written to it; when the client does not read that alert for this long,
  // the call is cancelled instead (checked on each Publish). Default 30 s.
  absl::Duration stalled_cancel_after = absl::Seconds(30);
  // Source of Triage.updated_at and of stall times. Default (empty):
  // absl::Now.
  std::function<absl::Time()> clock;
};

// Subscribe is a raw method: each alert is serialized once for all the
// streams it goes to (gRPC's typed API would serialize it per stream).
class AlertService final
    : public v1::AlertService::WithRawCallbackMethod_Subscribe<v1::AlertService::CallbackService> {
 public:
  struct Counters {
    // From the log: alerts stored, duplicates dropped.
    uint64_t appended = 0;
    uint64_t duplicates_dropped = 0;
    // Subscribers cut off for being too slow.
    uint64_t subscribers_cut_off = 0;
    // Alerts handed to subscriber streams (stored and live).
    uint64_t alerts_sent = 0;
    // Open Subscribe streams right now, and how many of them are live.
    uint64_t subscribers = 0;
    uint64_t live_subscribers = 0;
  };

  // `log` is not owned and must outlive this service. Every append to `log`
  // must go through Publish while the service exists (that is what makes
  // the catch-up-to-live switch gap-free). The service must outlive every
  // grpc::Server it is registered with (AlertServer sees to it).
  explicit AlertService(AlertLog* log, AlertServiceOptions options = {});
  ~AlertService() override;

  AlertService(const AlertService&) = delete;
  AlertService& operator=(const AlertService&) = delete;

  // Appends to the log (see AlertLog::Append) and queues the new alerts to
  // every live subscriber whose filter matches. Never waits for a
  // subscriber. Thread-safe; calls are serialized.
  [[nodiscard]] absl::StatusOr<AlertLog::AppendResult> Publish(std::vector<v1::Alert> alerts,
                                                               std::string source_position);

  // Ends every open subscription with UNAVAILABLE (telling the client its
  // resume cursor) and refuses new ones. Call before shutting the
  // grpc::Server down, which otherwise waits for the streams. Idempotent.
  void Shutdown();

  [[nodiscard]] Counters counters() const;

  // exportwatch.v1.AlertService. Subscribe takes a serialized
  // SubscribeRequest and writes serialized Alerts.
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* context,
                                                        const grpc::ByteBuffer* request) override;
  grpc::ServerUnaryReactor* ListAlerts(grpc::CallbackServerContext* context,
                                       const v1::ListAlertsRequest* request,
                                       v1::ListAlertsResponse* response) override;
  grpc::ServerUnaryReactor* GetAlert(grpc::CallbackServerContext* context,
                                     const v1::GetAlertRequest* request,
                                     v1::Alert* response) override;
  grpc::ServerUnaryReactor* UpdateAlertStatus(grpc::CallbackServerContext* context,
                                              const v1::UpdateAlertStatusRequest* request,
                                              v1::Alert* response) override;

 private:
  class Subscription;
  // An alert with its wire form, shared by every stream it is queued to.
  struct SharedAlert {
    v1::Alert alert;
    grpc::ByteBuffer wire;
  };
  static absl::StatusOr<std::shared_ptr<const SharedAlert>> Share(v1::Alert alert);
  grpc::ServerWriteReactor<grpc::ByteBuffer>* Subscribe(grpc::CallbackServerContext* context,
                                                        const v1::SubscribeRequest& request);

  // Adds `sub` to the open subscriptions, and to the live ones when `live`
  // (its resume position is then the head at that instant). UNAVAILABLE
  // after Shutdown.
  absl::Status Register(Subscription* sub, bool live);
  // Makes `sub` live if it has read the log up to the head. Atomic with
  // respect to Publish, so no alert falls between catch-up and live.
  bool TryGoLive(Subscription* sub, uint64_t scanned_seq);
  bool Authorized(const grpc::CallbackServerContext& context) const {
    return options_.tokens == nullptr || options_.tokens->Allows(context);
  }
  // Called from the stream's OnDone: nothing refers to `sub` afterwards.
  void Unregister(Subscription* sub);
  // Cancels cut-off streams whose client has not read for
  // stalled_cancel_after.
  void SweepStalledLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pub_mu_);

  absl::Time Now() const;
  absl::Status ValidateId(std::string_view field, std::string_view id) const;
  absl::StatusOr<AlertFilter> FilterFromRequest(
      int min_severity, const google::protobuf::RepeatedPtrField<std::string>& rule_ids,
      const google::protobuf::RepeatedPtrField<std::string>& subject_ids) const;

  AlertLog* const log_;
  const AlertServiceOptions options_;

  // Held across append + fan-out and by registration: the order of those is
  // the order of the log.
  mutable absl::Mutex pub_mu_;
  bool shutting_down_ ABSL_GUARDED_BY(pub_mu_) = false;
  absl::flat_hash_set<Subscription*> all_ ABSL_GUARDED_BY(pub_mu_);
  absl::flat_hash_set<Subscription*> live_ ABSL_GUARDED_BY(pub_mu_);
  // Cut off, final status waiting behind a write the client does not read.
  absl::flat_hash_set<Subscription*> stalled_ ABSL_GUARDED_BY(pub_mu_);

  std::atomic<uint64_t> cut_off_{0};
  std::atomic<uint64_t> alerts_sent_{0};
};

struct AlertServerOptions {
  // host:port to listen on; port 0 picks a free port (see port()).
  // Default "127.0.0.1:0".
  std::string address = "127.0.0.1:0";
  // Transport security. Default (null): plaintext
  // (grpc::InsecureServerCredentials); pass grpc::SslServerCredentials for
  // TLS or mutual TLS.
  std::shared_ptr<grpc::ServerCredentials> credentials;
  // More services on the same port (e.g. QueryService). Not owned; each
  // must outlive the server. Default none.
  std::vector<grpc::Service*> extra_services;
  // How long Shutdown lets unfinished calls run before cancelling them.
  // Default 5 s.
  absl::Duration shutdown_grace = absl::Seconds(5);
};

// A started grpc::Server with the AlertService, grpc.health.v1.Health and
// server reflection.
class AlertServer {
 public:
  // `service` is not owned and must outlive the server. UNAVAILABLE when the
  // address cannot be bound.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AlertServer>> Start(
      AlertService* service, AlertServerOptions options);

  // Shuts down (see Shutdown).
  ~AlertServer();

  AlertServer(const AlertServer&) = delete;
  AlertServer& operator=(const AlertServer&) = delete;

  // The bound port (the chosen one when the address had port 0).
  [[nodiscard]] int port() const { return port_; }

  // Ends the subscriptions (AlertService::Shutdown), stops accepting calls,
  // gives the others shutdown_grace to finish, cancels the rest, and returns
  // once every call is done. Idempotent.
  void Shutdown();

 private:
  AlertServer(AlertService* service, std::unique_ptr<grpc::Server> server, int port,
              absl::Duration grace)
      : service_(service), server_(std::move(server)), port_(port), grace_(grace) {}

  AlertService* const service_;
  std::unique_ptr<grpc::Server> server_;
  const int port_;
  const absl::Duration grace_;
  absl::Mutex mu_;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace exportwatch

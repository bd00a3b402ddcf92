#include "processor/alertd/alert_service.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"

namespace exportwatch {
namespace {

// absl and gRPC share the canonical code numbers.
grpc::Status ToGrpc(const absl::Status& s) {
  if (s.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(s.code()), std::string(s.message()));
}

// The range google/protobuf/timestamp.proto allows (years 1 to 9999).
bool ValidTimestamp(const google::protobuf::Timestamp& ts) {
  return ts.seconds() >= -62135596800 && ts.seconds() <= 253402300799 && ts.nanos() >= 0 &&
         ts.nanos() <= 999999999;
}

std::vector<std::string> ToVector(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  return {ids.begin(), ids.end()};
}

// Debian's Abseil has its own string_view, distinct from std's.
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

grpc::ServerUnaryReactor* FinishUnary(grpc::CallbackServerContext* context,
                                      const absl::Status& status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpc(status));
  return reactor;
}

absl::Status Unauthenticated() {
  return absl::UnauthenticatedError("missing or invalid bearer token (authorization: Bearer ...)");
}

// A Subscribe refused before it starts (bad request).
class RefusedSubscribe final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  explicit RefusedSubscribe(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

// One Subscribe stream.
//
// Catch-up (after_cursor given): pages of the log are read by whichever
// thread drives the stream at the time (the handler, then OnWriteDone), one
// page queued at a time; when a page ends at the head, TryGoLive registers
// the stream for Publish under the publisher mutex, so the next alert it
// can miss is one Publish hands it. Live: Publish queues matching alerts
// (Offer) and starts a write when none is in flight; OnWriteDone starts the
// next. Exactly one write is in flight at a time, and Finish (a final write
// in gRPC's eyes) waits for it.
//
// gRPC calls StartWrite and Finish made under mu_ safe: reactions are never
// run inline from them (they are dispatched to gRPC's executor).
// Lock order: AlertService::pub_mu_, then mu_.
class AlertService::Subscription final : public grpc::ServerWriteReactor<grpc::ByteBuffer> {
 public:
  struct Item {
    uint64_t seq = 0;
    std::shared_ptr<const SharedAlert> alert;
  };

  enum class Offered { kKept, kDropped, kCutOffStalled };

  Subscription(AlertService* service, grpc::CallbackServerContext* context, AlertFilter filter,
               std::optional<uint64_t> after_seq)
      : service_(service),
        context_(context),
        filter_(std::move(filter)),
        buffer_limit_(std::max<size_t>(1, service->options_.subscriber_buffer)),
        page_size_(std::clamp<size_t>(service->options_.catchup_page_size, 1, buffer_limit_)) {
    // Headers are sent when gRPC binds this reactor, after the handler
    // returns, so before any alert and, for a live stream, only once it is
    // registered: a client waiting for them knows it misses no later alert.
    StartSendInitialMetadata();
    {
      absl::MutexLock lock(&mu_);
      handed_seq_ = after_seq.value_or(0);
    }
    absl::Status registered = service_->Register(this, !after_seq.has_value());
    if (!registered.ok()) {
      absl::MutexLock lock(&mu_);
      FinishLocked(ToGrpc(registered));
      return;
    }
    if (after_seq.has_value()) {
      scan_seq_ = *after_seq;
      CatchUp();
    }
  }

  // Queues the items that match. Called by Publish with pub_mu_ held.
  Offered Offer(const std::vector<Item>& items) {
    absl::MutexLock lock(&mu_);
    if (finished_) return Offered::kDropped;
    size_t matching = 0;
    for (const Item& item : items) {
      if (filter_.Matches(item.alert->alert)) ++matching;
    }
    if (matching == 0) return Offered::kKept;
    if (queue_.size() + matching > buffer_limit_) {
      service_->cut_off_.fetch_add(1, std::memory_order_relaxed);
      FinishLocked(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("subscriber too slow: more than ", buffer_limit_, " alerts waiting; ",
                       ResumeAdviceLocked(), " to resume without a gap")));
      return writing_ ? Offered::kCutOffStalled : Offered::kDropped;
    }
    for (const Item& item : items) {
      if (filter_.Matches(item.alert->alert)) queue_.push_back(item);
    }
    WriteNextLocked();
    return Offered::kKept;
  }

  // Ends the stream with `status` (after the write in flight, if any).
  void Stop(grpc::Status status) {
    absl::MutexLock lock(&mu_);
    FinishLocked(std::move(status));
  }

  // Cancels the call: for a stream whose final status waits behind a write
  // the client does not read.
  void Cancel() { context_->TryCancel(); }

  void OnWriteDone(bool ok) override {
    bool catch_up = false;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      in_flight_.alert.reset();
      if (ok) service_->alerts_sent_.fetch_add(1, std::memory_order_relaxed);
      if (finished_) {
        if (pending_status_.has_value()) {
          grpc::Status status = std::move(*pending_status_);
          pending_status_.reset();
          Finish(std::move(status));
        }
        return;
      }
      if (!ok) {
        // The stream is broken (client gone); OnCancel may follow.
        FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "subscriber stream broken"));
        return;
      }
      if (!queue_.empty()) {
        WriteNextLocked();
        return;
      }
      catch_up = !live_;
    }
    if (catch_up) CatchUp();
  }

  void OnCancel() override {
    absl::MutexLock lock(&mu_);
    FinishLocked(grpc::Status(grpc::StatusCode::CANCELLED, "subscription cancelled"));
  }

  void OnDone() override {
    // After this no Publish or Shutdown can reach this stream.
    service_->Unregister(this);
    delete this;
  }

 private:
  friend class AlertService;

  // Reads the log from scan_seq_ until something is queued (then returns and
  // is called again by OnWriteDone) or the stream goes live. Only one thread
  // runs it at a time: the one that would otherwise start the next write.
  void CatchUp() {
    for (;;) {
      {
        absl::MutexLock lock(&mu_);
        if (finished_) return;
      }
      absl::StatusOr<std::vector<v1::Alert>> page =
          service_->log_->ReadAfter(scan_seq_, page_size_);
      if (!page.ok()) {
        Stop(ToGrpc(page.status()));
        return;
      }
      const bool at_head = page->size() < page_size_;
      std::vector<Item> matched;
      for (v1::Alert& alert : *page) {
        absl::StatusOr<uint64_t> seq = ParseCursor(alert.cursor());
        if (!seq.ok()) {
          Stop(grpc::Status(grpc::StatusCode::DATA_LOSS,
                            "alert log returned an alert without a cursor"));
          return;
        }
        scan_seq_ = *seq;
        if (filter_.Matches(alert)) {
          absl::StatusOr<std::shared_ptr<const SharedAlert>> shared = Share(std::move(alert));
          if (!shared.ok()) {
            Stop(ToGrpc(shared.status()));
            return;
          }
          matched.push_back({*seq, *std::move(shared)});
        }
      }
      bool queued = false;
      {
        absl::MutexLock lock(&mu_);
        if (finished_) return;
        for (Item& item : matched) queue_.push_back(std::move(item));
        queued = !queue_.empty();
      }
      // Only after queueing this page: once live, Publish queues newer ones.
      if ((at_head && service_->TryGoLive(this, scan_seq_)) || queued) {
        absl::MutexLock lock(&mu_);
        WriteNextLocked();
        return;
      }
    }
  }

  void WriteNextLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_ || writing_ || queue_.empty()) return;
    in_flight_ = std::move(queue_.front());
    queue_.pop_front();
    writing_ = true;
    handed_seq_ = in_flight_.seq;
    // While more alerts wait, gRPC may hold this one back and send several
    // in one socket write (one syscall, one wake-up of the client). The
    // next write follows from OnWriteDone, and the last one queued (or
    // Finish) flushes. Never the stream's first message (gRPC issues 12975,
    // 34231), and at most kMaxHintedBytes between flushes: a hinted write
    // completes at once only while the transport buffers under its 64 KiB.
    grpc::WriteOptions options;
    const size_t bytes = in_flight_.alert->wire.Length();
    if (wrote_any_ && !queue_.empty() && hinted_bytes_ + bytes <= kMaxHintedBytes) {
      options.set_buffer_hint();
      hinted_bytes_ += bytes;
    } else {
      hinted_bytes_ = 0;
    }
    wrote_any_ = true;
    StartWrite(&in_flight_.alert->wire, options);
  }

  // Where a client resumes from, for the message of a final status.
  std::string ResumeAdviceLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return absl::StrCat("subscribe again with after_cursor=\"", FormatCursor(handed_seq_),
                        "\" (the cursor of the last alert received)");
  }

  void FinishLocked(grpc::Status status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (finished_) return;
    finished_ = true;
    queue_.clear();
    if (writing_) {
      pending_status_ = std::move(status);
    } else {
      Finish(std::move(status));
    }
  }

  AlertService* const service_;
  grpc::CallbackServerContext* const context_;
  const AlertFilter filter_;
  const size_t buffer_limit_;
  const size_t page_size_;
  // Catch-up position: the last log entry examined. Only CatchUp uses it.
  uint64_t scan_seq_ = 0;

  absl::Mutex mu_;
  std::deque<Item> queue_ ABSL_GUARDED_BY(mu_);
  // The alert being written: gRPC reads it until OnWriteDone.
  Item in_flight_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  // Buffer hints (WriteNextLocked): bytes hinted since the last flush.
  static constexpr size_t kMaxHintedBytes = 16 << 10;
  bool wrote_any_ ABSL_GUARDED_BY(mu_) = false;
  size_t hinted_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  // Finish was decided; it is called once no write is in flight.
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> pending_status_ ABSL_GUARDED_BY(mu_);
  bool live_ ABSL_GUARDED_BY(mu_) = false;
  // Sequence number of the last alert handed to the stream, or the start
  // position: where the client resumes from.
  uint64_t handed_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // When the final status started waiting behind an unread write.
  absl::Time stalled_since_ ABSL_GUARDED_BY(mu_);
};

AlertService::AlertService(AlertLog* log, AlertServiceOptions options)
    : log_(log), options_(std::move(options)) {}

AlertService::~AlertService() {
  // Every stream is done by now: the grpc::Server using this service is
  // shut down (and waits for OnDone) before the service goes away.
}

absl::Time AlertService::Now() const { return options_.clock ? options_.clock() : absl::Now(); }

absl::Status AlertService::Register(Subscription* sub, bool live) {
  absl::MutexLock lock(&pub_mu_);
  if (shutting_down_) {
    return absl::UnavailableError("alert service is shutting down");
  }
  all_.insert(sub);
  if (live) {
    absl::MutexLock sub_lock(&sub->mu_);
    sub->live_ = true;
    sub->handed_seq_ = log_->HeadSeq();
    live_.insert(sub);
  }
  return absl::OkStatus();
}

bool AlertService::TryGoLive(Subscription* sub, uint64_t scanned_seq) {
  absl::MutexLock lock(&pub_mu_);
  // Appends happen under pub_mu_, so the head cannot move past scanned_seq
  // between this check and the insertion.
  if (shutting_down_ || scanned_seq < log_->HeadSeq()) return false;
  absl::MutexLock sub_lock(&sub->mu_);
  if (sub->finished_) return false;
  sub->live_ = true;
  live_.insert(sub);
  return true;
}

void AlertService::Unregister(Subscription* sub) {
  absl::MutexLock lock(&pub_mu_);
  all_.erase(sub);
  live_.erase(sub);
  stalled_.erase(sub);
}

absl::StatusOr<AlertLog::AppendResult> AlertService::Publish(std::vector<v1::Alert> alerts,
                                                             std::string source_position) {
  absl::MutexLock lock(&pub_mu_);
  absl::StatusOr<AlertLog::AppendResult> result =
      log_->Append(std::move(alerts), std::move(source_position));
  if (!result.ok()) return result;

  if (!live_.empty() && !result->appended.empty()) {
    // Shared, so that fan-out copies pointers, not alerts, and each alert
    // is serialized once however many streams it goes to.
    std::vector<Subscription::Item> items;
    items.reserve(result->appended.size());
    absl::Status prepared;
    for (const v1::Alert& alert : result->appended) {
      absl::StatusOr<uint64_t> seq = ParseCursor(alert.cursor());
      if (!seq.ok()) {
        prepared = seq.status();
        break;
      }
      absl::StatusOr<std::shared_ptr<const SharedAlert>> shared = Share(alert);
      if (!shared.ok()) {
        prepared = shared.status();
        break;
      }
      items.push_back({*seq, *std::move(shared)});
    }
    const absl::Time now = Now();
    if (!prepared.ok()) {
      // The alerts are stored but cannot be handed to the live streams,
      // which would miss them: each ends with its resume cursor, from which
      // the log gives them. The append itself succeeded.
      std::cerr << "alertd: ending live subscriptions: " << prepared << "\n";
      for (Subscription* sub : live_) {
        absl::MutexLock sub_lock(&sub->mu_);
        if (sub->finished_) continue;  // ended already (cancelled): nothing to stall
        sub->FinishLocked(grpc::Status(grpc::StatusCode::INTERNAL,
                                       absl::StrCat("cannot send new alerts (", prepared.message(),
                                                    "); ", sub->ResumeAdviceLocked())));
        if (sub->writing_) {
          sub->stalled_since_ = now;
          stalled_.insert(sub);
        }
      }
      live_.clear();
      items.clear();
    }
    for (auto it = live_.begin(); it != live_.end();) {
      Subscription* sub = *it;
      switch (sub->Offer(items)) {
        case Subscription::Offered::kKept:
          ++it;
          break;
        case Subscription::Offered::kCutOffStalled: {
          absl::MutexLock sub_lock(&sub->mu_);
          sub->stalled_since_ = now;
          stalled_.insert(sub);
          live_.erase(it++);
          break;
        }
        case Subscription::Offered::kDropped:
          live_.erase(it++);
          break;
      }
    }
  }
  SweepStalledLocked();
  return result;
}

void AlertService::SweepStalledLocked() {
  if (stalled_.empty()) return;
  const absl::Time now = Now();
  for (auto it = stalled_.begin(); it != stalled_.end();) {
    Subscription* sub = *it;
    bool expired;
    {
      absl::MutexLock sub_lock(&sub->mu_);
      expired = now - sub->stalled_since_ >= options_.stalled_cancel_after;
    }
    if (expired) {
      sub->Cancel();
      stalled_.erase(it++);
    } else {
      ++it;
    }
  }
}

void AlertService::Shutdown() {
  absl::MutexLock lock(&pub_mu_);
  if (shutting_down_) return;
  shutting_down_ = true;
  for (Subscription* sub : all_) {
    absl::MutexLock sub_lock(&sub->mu_);
    sub->FinishLocked(
        grpc::Status(grpc::StatusCode::UNAVAILABLE,
                     absl::StrCat("alert service shutting down; ", sub->ResumeAdviceLocked())));
  }
  live_.clear();
}

AlertService::Counters AlertService::counters() const {
  Counters c;
  AlertLog::Counters log = log_->counters();
  c.appended = log.appended;
  c.duplicates_dropped = log.duplicates_dropped;
  c.subscribers_cut_off = cut_off_.load(std::memory_order_relaxed);
  c.alerts_sent = alerts_sent_.load(std::memory_order_relaxed);
  absl::MutexLock lock(&pub_mu_);
  c.subscribers = all_.size();
  c.live_subscribers = live_.size();
  return c;
}

absl::Status AlertService::ValidateId(std::string_view field, std::string_view id) const {
  if (id.empty()) return absl::InvalidArgumentError(absl::StrCat(Sv(field), " is empty"));
  if (id.size() > options_.max_id_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        Sv(field), " is ", id.size(), " bytes, more than the ", options_.max_id_bytes, " allowed"));
  }
  return absl::OkStatus();
}

absl::StatusOr<AlertFilter> AlertService::FilterFromRequest(
    int min_severity, const google::protobuf::RepeatedPtrField<std::string>& rule_ids,
    const google::protobuf::RepeatedPtrField<std::string>& subject_ids) const {
  if (!v1::Severity_IsValid(min_severity)) {
    return absl::InvalidArgumentError(
        absl::StrCat("min_severity ", min_severity, " is not a Severity"));
  }
  for (const auto& [name, ids] : {std::pair{std::string_view("rule_ids"), &rule_ids},
                                  std::pair{std::string_view("subject_ids"), &subject_ids}}) {
    if (static_cast<size_t>(ids->size()) > options_.max_filter_ids) {
      return absl::InvalidArgumentError(absl::StrCat(Sv(name), " has ", ids->size(),
                                                     " entries, more than the ",
                                                     options_.max_filter_ids, " allowed"));
    }
    for (int i = 0; i < ids->size(); ++i) {
      absl::Status valid = ValidateId(absl::StrCat(Sv(name), "[", i, "]"), ids->Get(i));
      if (!valid.ok()) return valid;
    }
  }
  AlertFilter filter;
  filter.set_min_severity(static_cast<v1::Severity>(min_severity))
      .set_rule_ids(ToVector(rule_ids))
      .set_subject_ids(ToVector(subject_ids));
  return filter;
}

absl::StatusOr<std::shared_ptr<const AlertService::SharedAlert>> AlertService::Share(
    v1::Alert alert) {
  auto shared = std::make_shared<SharedAlert>();
  shared->alert = std::move(alert);
  bool own_buffer = false;
  grpc::Status s =
      grpc::SerializationTraits<v1::Alert>::Serialize(shared->alert, &shared->wire, &own_buffer);
  if (!s.ok()) {
    return absl::InternalError(
        absl::StrCat("cannot serialize alert ", shared->alert.alert_id(), ": ", s.error_message()));
  }
  return shared;
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* AlertService::Subscribe(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request) {
  if (!Authorized(*context)) return new RefusedSubscribe(ToGrpc(Unauthenticated()));
  // Deserialize consumes its buffer: parse a copy (it shares the slices).
  grpc::ByteBuffer bytes(*request);
  v1::SubscribeRequest parsed;
  if (!grpc::SerializationTraits<v1::SubscribeRequest>::Deserialize(&bytes, &parsed).ok()) {
    return new RefusedSubscribe(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                             "request is not a valid SubscribeRequest"));
  }
  return Subscribe(context, parsed);
}

grpc::ServerWriteReactor<grpc::ByteBuffer>* AlertService::Subscribe(
    grpc::CallbackServerContext* context, const v1::SubscribeRequest& request) {
  absl::StatusOr<AlertFilter> filter =
      FilterFromRequest(request.min_severity(), request.rule_ids(), request.subject_ids());
  if (!filter.ok()) return new RefusedSubscribe(ToGrpc(filter.status()));
  std::optional<uint64_t> after_seq;
  if (!request.after_cursor().empty()) {
    absl::StatusOr<uint64_t> seq = ParseCursor(request.after_cursor());
    if (!seq.ok()) {
      return new RefusedSubscribe(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat("after_cursor: ", seq.status().message())));
    }
    // A cursor this log has not reached: the client talked to another log
    // (or this one is still catching up on the topic); retrying may help.
    uint64_t head = log_->HeadSeq();
    if (*seq > head) {
      return new RefusedSubscribe(
          grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                       absl::StrCat("after_cursor ", request.after_cursor(),
                                    " is past the newest stored alert ", FormatCursor(head))));
    }
    after_seq = *seq;
  }
  return new Subscription(this, context, *std::move(filter), after_seq);
}

grpc::ServerUnaryReactor* AlertService::ListAlerts(grpc::CallbackServerContext* context,
                                                   const v1::ListAlertsRequest* request,
                                                   v1::ListAlertsResponse* response) {
  if (!Authorized(*context)) return FinishUnary(context, Unauthenticated());
  absl::StatusOr<AlertFilter> filter =
      FilterFromRequest(request->min_severity(), request->rule_ids(), request->subject_ids());
  if (!filter.ok()) return FinishUnary(context, filter.status());
  std::optional<absl::Time> start, end;
  if (request->has_start_time()) {
    if (!ValidTimestamp(request->start_time())) {
      return FinishUnary(context,
                         absl::InvalidArgumentError("start_time is not a valid timestamp"));
    }
    start = ToAbslTime(request->start_time());
  }
  if (request->has_end_time()) {
    if (!ValidTimestamp(request->end_time())) {
      return FinishUnary(context, absl::InvalidArgumentError("end_time is not a valid timestamp"));
    }
    end = ToAbslTime(request->end_time());
  }
  if (start && end && *start >= *end) {
    return FinishUnary(context, absl::InvalidArgumentError("start_time must be before end_time"));
  }
  filter->set_event_time_range(start, end);
  int32_t page_size = request->page_size();
  if (page_size < 0 || page_size > options_.max_page_size) {
    return FinishUnary(context,
                       absl::InvalidArgumentError(absl::StrCat(
                           "page_size ", page_size, " is outside [0, ", options_.max_page_size,
                           "] (0: default ", options_.default_page_size, ")")));
  }
  if (page_size == 0) page_size = std::max(1, options_.default_page_size);
  // The log checks the token too; checked here for a clear message.
  if (!request->page_token().empty()) {
    absl::StatusOr<uint64_t> token = ParseCursor(request->page_token());
    if (!token.ok()) {
      return FinishUnary(context, absl::InvalidArgumentError(
                                      absl::StrCat("page_token: ", token.status().message())));
    }
  }
  absl::StatusOr<AlertLog::ListPage> page =
      log_->List(*filter, request->page_token(), static_cast<size_t>(page_size));
  if (!page.ok()) return FinishUnary(context, page.status());
  response->mutable_alerts()->Reserve(static_cast<int>(page->alerts.size()));
  for (v1::Alert& alert : page->alerts) {
    *response->add_alerts() = std::move(alert);
  }
  response->set_next_page_token(std::move(page->next_page_token));
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* AlertService::GetAlert(grpc::CallbackServerContext* context,
                                                 const v1::GetAlertRequest* request,
                                                 v1::Alert* response) {
  if (!Authorized(*context)) return FinishUnary(context, Unauthenticated());
  absl::Status valid = ValidateId("alert_id", request->alert_id());
  if (!valid.ok()) return FinishUnary(context, valid);
  absl::StatusOr<v1::Alert> alert = log_->Get(request->alert_id());
  if (!alert.ok()) return FinishUnary(context, alert.status());
  *response = *std::move(alert);
  return FinishUnary(context, absl::OkStatus());
}

grpc::ServerUnaryReactor* AlertService::UpdateAlertStatus(
    grpc::CallbackServerContext* context, const v1::UpdateAlertStatusRequest* request,
    v1::Alert* response) {
  if (!Authorized(*context)) return FinishUnary(context, Unauthenticated());
  absl::Status valid = ValidateId("alert_id", request->alert_id());
  if (valid.ok() && !v1::AlertStatus_IsValid(request->status())) {
    valid = absl::InvalidArgumentError(
        absl::StrCat("status ", static_cast<int>(request->status()), " is not an AlertStatus"));
  }
  if (valid.ok()) valid = ValidateId("updated_by", request->updated_by());
  if (valid.ok() && request->note().size() > options_.max_note_bytes) {
    valid = absl::InvalidArgumentError(absl::StrCat("note is ", request->note().size(),
                                                    " bytes, more than the ",
                                                    options_.max_note_bytes, " allowed"));
  }
  if (!valid.ok()) return FinishUnary(context, valid);
  v1::Triage triage;
  triage.set_status(request->status());
  triage.set_updated_by(request->updated_by());
  triage.set_note(request->note());
  *triage.mutable_updated_at() = ToProtoTimestamp(Now());
  if (options_.replicate_triage) {
    // Unknown ids fail here, before anything is replicated.
    if (auto known = log_->Get(request->alert_id()); !known.ok()) {
      return FinishUnary(context, known.status());
    }
    if (absl::Status r = options_.replicate_triage(request->alert_id(), triage); !r.ok()) {
      return FinishUnary(
          context, absl::UnavailableError(absl::StrCat("triage not replicated: ", r.message())));
    }
  }
  absl::StatusOr<v1::Alert> alert = log_->UpdateStatus(request->alert_id(), triage);
  if (!alert.ok()) return FinishUnary(context, alert.status());
  *response = *std::move(alert);
  return FinishUnary(context, absl::OkStatus());
}

absl::StatusOr<std::unique_ptr<AlertServer>> AlertServer::Start(AlertService* service,
                                                                AlertServerOptions options) {
  if (service == nullptr) {
    return absl::InvalidArgumentError("AlertServer needs a service");
  }
  // Both are process-wide switches read when a ServerBuilder is made.
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(
      options.address,
      options.credentials ? options.credentials : grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  for (grpc::Service* extra : options.extra_services) {
    builder.RegisterService(extra);
  }
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    if (server != nullptr) server->Shutdown();
    return absl::UnavailableError(absl::StrCat("alert server cannot listen on ", options.address));
  }
  return std::unique_ptr<AlertServer>(
      new AlertServer(service, std::move(server), port, options.shutdown_grace));
}

AlertServer::~AlertServer() { Shutdown(); }

void AlertServer::Shutdown() {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  shut_down_ = true;
  // Streams first: the server waits for every call to end.
  service_->Shutdown();
  server_->Shutdown(absl::ToChronoTime(absl::Now() + grace_));
  server_->Wait();
}

}  // namespace exportwatch

#include "processor/alertd/alert_service.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "exportwatch/v1/alert.grpc.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/wrappers.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "state/memory_alert_log.h"

namespace exportwatch {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;

constexpr absl::Duration kTimeout = absl::Seconds(60);

v1::Alert MakeAlert(int i, v1::Severity severity = v1::MEDIUM, std::string rule = "R1",
                    std::string subject = "S1", size_t title_bytes = 0) {
  v1::Alert alert;
  alert.set_alert_id(absl::StrFormat("id-%05d", i));
  alert.set_rule_id(std::move(rule));
  alert.set_severity(severity);
  alert.mutable_subject()->set_kind(v1::ENTITY);
  alert.mutable_subject()->set_id(std::move(subject));
  alert.set_title(title_bytes > 0 ? std::string(title_bytes, 't') : absl::StrCat("alert ", i));
  alert.mutable_event_time()->set_seconds(1'700'000'000 + i);
  return alert;
}

std::vector<std::string> Ids(const std::vector<v1::Alert>& alerts) {
  std::vector<std::string> ids;
  for (const v1::Alert& a : alerts) ids.push_back(a.alert_id());
  return ids;
}

// Polls `done` until it holds or `timeout` passes. For state that has no
// notification of its own (service counters); never used for ordering.
template <typename F>
bool Eventually(F done, absl::Duration timeout = kTimeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(1));
  }
  return true;
}

// A Subscribe client on its own connection, read by its own thread. When
// made `paused`, it reads nothing until Resume(): a client that stops
// reading.
class TestSubscriber {
 public:
  TestSubscriber(const std::string& target, const v1::SubscribeRequest& request,
                 bool paused = false) {
    grpc::ChannelArguments args;
    // Own TCP connection: a stalled stream must not share flow control
    // with the others.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    if (paused) {
      // A fixed 64 KiB receive window (no BDP growth): once it is full, a
      // write to this client stays stuck until it reads.
      args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
      args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 * 1024);
    }
    channel_ = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
    stub_ = v1::AlertService::NewStub(channel_);
    reader_ = stub_->Subscribe(&context_, request);
    // The server sends headers once the stream is registered.
    reader_->WaitForInitialMetadata();
    if (!paused) resume_.Notify();
    thread_ = std::thread([this] { Run(); });
  }

  ~TestSubscriber() {
    context_.TryCancel();
    Resume();
    thread_.join();
  }

  void Resume() {
    if (!resume_.HasBeenNotified()) resume_.Notify();
  }
  void Cancel() { context_.TryCancel(); }

  // True once `n` alerts have arrived (false if the stream ended first).
  bool WaitForCount(size_t n, absl::Duration timeout = kTimeout) {
    absl::MutexLock lock(&mu_);
    auto arrived = [this, n]()
                       ABSL_SHARED_LOCKS_REQUIRED(mu_) { return alerts_.size() >= n || done_; };
    mu_.AwaitWithTimeout(absl::Condition(&arrived), timeout);
    return alerts_.size() >= n;
  }

  bool WaitForDone(absl::Duration timeout = kTimeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&done_), timeout);
  }

  std::vector<v1::Alert> alerts() const {
    absl::MutexLock lock(&mu_);
    return alerts_;
  }
  size_t count() const {
    absl::MutexLock lock(&mu_);
    return alerts_.size();
  }
  grpc::Status status() const {
    absl::MutexLock lock(&mu_);
    return status_;
  }

 private:
  void Run() {
    resume_.WaitForNotification();
    v1::Alert alert;
    while (reader_->Read(&alert)) {
      absl::MutexLock lock(&mu_);
      alerts_.push_back(alert);
    }
    grpc::Status status = reader_->Finish();
    absl::MutexLock lock(&mu_);
    status_ = status;
    done_ = true;
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AlertService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::Alert>> reader_;
  absl::Notification resume_;
  std::thread thread_;
  mutable absl::Mutex mu_;
  std::vector<v1::Alert> alerts_ ABSL_GUARDED_BY(mu_);
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
  bool done_ ABSL_GUARDED_BY(mu_) = false;
};

// An AlertLog that, once `drop_cursors` is set, hands back appended alerts
// without their cursors: new alerts the service cannot hand to its live
// streams.
class CursorDroppingLog final : public AlertLog {
 public:
  explicit CursorDroppingLog(std::unique_ptr<AlertLog> log) : log_(std::move(log)) {}
  std::atomic<bool> drop_cursors{false};

  absl::StatusOr<AppendResult> Append(std::vector<v1::Alert> alerts,
                                      std::string source_position) override {
    absl::StatusOr<AppendResult> result = log_->Append(std::move(alerts), source_position);
    if (result.ok() && drop_cursors) {
      for (v1::Alert& a : result->appended) a.clear_cursor();
    }
    return result;
  }
  absl::StatusOr<std::optional<std::string>> LastSourcePosition() override {
    return log_->LastSourcePosition();
  }
  absl::StatusOr<v1::Alert> Get(std::string_view alert_id) override { return log_->Get(alert_id); }
  absl::StatusOr<std::vector<v1::Alert>> ReadAfter(uint64_t after_seq, size_t limit) override {
    return log_->ReadAfter(after_seq, limit);
  }
  uint64_t HeadSeq() const override { return log_->HeadSeq(); }
  absl::StatusOr<v1::Alert> UpdateStatus(std::string_view alert_id,
                                         const v1::Triage& triage) override {
    return log_->UpdateStatus(alert_id, triage);
  }
  absl::StatusOr<ListPage> List(const AlertFilter& filter, std::string_view page_token,
                                size_t page_size) override {
    return log_->List(filter, page_token, page_size);
  }
  Counters counters() const override { return log_->counters(); }

 private:
  std::unique_ptr<AlertLog> log_;
};

class AlertServiceTest : public ::testing::Test {
 protected:
  void Start(AlertServiceOptions options = {}) {
    absl::StatusOr<std::unique_ptr<AlertLog>> log = NewMemoryAlertLog();
    ASSERT_TRUE(log.ok()) << log.status();
    auto wrapped = std::make_unique<CursorDroppingLog>(*std::move(log));
    cursor_dropping_log_ = wrapped.get();
    log_ = std::move(wrapped);
    if (!options.clock) {
      options.clock = [] { return absl::FromUnixSeconds(1'900'000'000); };
    }
    service_ = std::make_unique<AlertService>(log_.get(), std::move(options));
    absl::StatusOr<std::unique_ptr<AlertServer>> server =
        AlertServer::Start(service_.get(), AlertServerOptions());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_GT(server_->port(), 0);
    target_ = absl::StrCat("127.0.0.1:", server_->port());
    channel_ = grpc::CreateChannel(target_, grpc::InsecureChannelCredentials());
    stub_ = v1::AlertService::NewStub(channel_);
  }

  void TearDown() override {
    stub_.reset();
    channel_.reset();
    server_.reset();  // shuts down; streams end first
    service_.reset();
    log_.reset();
  }

  // Publishes alerts i in [begin, end) made by `make`.
  template <typename Make>
  void PublishRange(int begin, int end, Make make, int batch = 10) {
    for (int i = begin; i < end; i += batch) {
      std::vector<v1::Alert> alerts;
      for (int j = i; j < std::min(end, i + batch); ++j) alerts.push_back(make(j));
      absl::StatusOr<AlertLog::AppendResult> result =
          service_->Publish(std::move(alerts), absl::StrCat("alerts/0@", i));
      ASSERT_TRUE(result.ok()) << result.status();
    }
  }

  std::unique_ptr<AlertLog> log_;
  CursorDroppingLog* cursor_dropping_log_ = nullptr;  // log_
  std::unique_ptr<AlertService> service_;
  std::unique_ptr<AlertServer> server_;
  std::string target_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AlertService::Stub> stub_;
};

TEST_F(AlertServiceTest, LiveSubscribersGetPublishedAlertsThroughTheirFilters) {
  Start();
  v1::SubscribeRequest all;
  v1::SubscribeRequest high;
  high.set_min_severity(v1::HIGH);
  v1::SubscribeRequest rule;
  rule.add_rule_ids("R2");
  rule.add_rule_ids("R3");
  v1::SubscribeRequest subject;
  subject.add_subject_ids("S1");
  TestSubscriber sub_all(target_, all);
  TestSubscriber sub_high(target_, high);
  TestSubscriber sub_rule(target_, rule);
  TestSubscriber sub_subject(target_, subject);

  const v1::Severity severities[] = {v1::INFO, v1::LOW, v1::MEDIUM, v1::HIGH, v1::CRITICAL};
  auto make = [&](int i) {
    return MakeAlert(i, severities[i % 5], absl::StrCat("R", i % 4), absl::StrCat("S", i % 3));
  };
  std::vector<std::string> want_all, want_high, want_rule, want_subject;
  for (int i = 0; i < 60; ++i) {
    v1::Alert a = make(i);
    want_all.push_back(a.alert_id());
    if (a.severity() >= v1::HIGH) want_high.push_back(a.alert_id());
    if (a.rule_id() == "R2" || a.rule_id() == "R3") {
      want_rule.push_back(a.alert_id());
    }
    if (a.subject().id() == "S1") want_subject.push_back(a.alert_id());
  }
  PublishRange(0, 60, make, 7);
  // Re-delivered alerts are not sent again.
  PublishRange(10, 20, make, 5);
  // A last alert every filter lets through: once it arrives, everything
  // before it has (streams are ordered).
  v1::Alert last = MakeAlert(1000, v1::CRITICAL, "R2", "S1");
  ASSERT_TRUE(service_->Publish({last}, "").ok());
  for (auto* want : {&want_all, &want_high, &want_rule, &want_subject}) {
    want->push_back(last.alert_id());
  }

  ASSERT_TRUE(sub_all.WaitForCount(want_all.size()));
  ASSERT_TRUE(sub_high.WaitForCount(want_high.size()));
  ASSERT_TRUE(sub_rule.WaitForCount(want_rule.size()));
  ASSERT_TRUE(sub_subject.WaitForCount(want_subject.size()));
  EXPECT_THAT(Ids(sub_all.alerts()), ElementsAreArray(want_all));
  EXPECT_THAT(Ids(sub_high.alerts()), ElementsAreArray(want_high));
  EXPECT_THAT(Ids(sub_rule.alerts()), ElementsAreArray(want_rule));
  EXPECT_THAT(Ids(sub_subject.alerts()), ElementsAreArray(want_subject));
  // Cursors are set and increasing.
  std::vector<v1::Alert> got = sub_all.alerts();
  for (size_t i = 1; i < got.size(); ++i) {
    EXPECT_LT(got[i - 1].cursor(), got[i].cursor());
  }
  AlertService::Counters counters = service_->counters();
  EXPECT_EQ(counters.appended, 61u);
  EXPECT_EQ(counters.duplicates_dropped, 10u);
  EXPECT_EQ(counters.live_subscribers, 4u);
}

TEST_F(AlertServiceTest, ResumeFromCursorHasNoGapAndNoDuplicate) {
  AlertServiceOptions options;
  // Large enough that no subscriber here is cut off; small pages so that
  // catch-up races the publisher many times.
  options.subscriber_buffer = 100000;
  options.catchup_page_size = 7;
  Start(std::move(options));
  constexpr int kTotal = 2000;
  auto make = [](int i) { return MakeAlert(i); };
  PublishRange(0, 500, make);

  v1::SubscribeRequest from_start;
  from_start.set_after_cursor(FormatCursor(0));
  auto first = std::make_unique<TestSubscriber>(target_, from_start);

  std::thread publisher([&] {
    PublishRange(500, kTotal, make, 10);
    // Re-deliveries while streams are open must not reach them.
    PublishRange(0, kTotal, make, 100);
  });

  // Disconnect midway through, while the publisher runs.
  ASSERT_TRUE(first->WaitForCount(1000));
  first->Cancel();
  ASSERT_TRUE(first->WaitForDone());
  std::vector<v1::Alert> got = first->alerts();
  first.reset();
  ASSERT_GE(got.size(), 1000u);

  v1::SubscribeRequest resume;
  resume.set_after_cursor(got.back().cursor());
  TestSubscriber second(target_, resume);
  // A third one joins from an older cursor while the publisher may still
  // be running.
  v1::SubscribeRequest from_middle;
  from_middle.set_after_cursor(FormatCursor(800));
  TestSubscriber third(target_, from_middle);

  publisher.join();
  const size_t second_count = kTotal - got.size();
  ASSERT_TRUE(second.WaitForCount(second_count))
      << second.count() << " " << second.status().error_message();
  ASSERT_TRUE(third.WaitForCount(kTotal - 800))
      << third.count() << " " << third.status().error_message();

  for (const v1::Alert& a : second.alerts()) got.push_back(a);
  std::vector<std::string> want;
  for (int i = 0; i < kTotal; ++i) want.push_back(MakeAlert(i).alert_id());
  // Exactly every id once, in order: no gap, no duplicate.
  EXPECT_THAT(Ids(got), ElementsAreArray(want));
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].cursor(), FormatCursor(i + 1));
  }
  std::vector<std::string> want_third(want.begin() + 800, want.end());
  EXPECT_THAT(Ids(third.alerts()), ElementsAreArray(want_third));

  // Nothing more arrives after a final alert.
  ASSERT_TRUE(service_->Publish({MakeAlert(kTotal)}, "").ok());
  ASSERT_TRUE(second.WaitForCount(second_count + 1));
  EXPECT_EQ(second.alerts().back().alert_id(), MakeAlert(kTotal).alert_id());
  EXPECT_EQ(service_->counters().subscribers_cut_off, 0u);
}

TEST_F(AlertServiceTest, SlowSubscriberIsCutOffWhileFastOneGetsEverything) {
  AlertServiceOptions options;
  options.subscriber_buffer = 16;
  Start(std::move(options));
  TestSubscriber fast(target_, v1::SubscribeRequest());
  TestSubscriber slow(target_, v1::SubscribeRequest(), /*paused=*/true);

  // Big alerts fill the slow client's transport window sooner. The
  // publisher waits for the fast subscriber after each batch (smaller than
  // its buffer), so only the slow one can overflow.
  auto make = [](int i) { return MakeAlert(i, v1::HIGH, "R1", "S1", 4096); };
  int published = 0;
  constexpr int kBatch = 8;
  const absl::Time deadline = absl::Now() + kTimeout;
  while (service_->counters().subscribers_cut_off == 0) {
    ASSERT_LT(absl::Now(), deadline) << "never cut off";
    ASSERT_LT(published, 200000);
    PublishRange(published, published + kBatch, make, kBatch);
    published += kBatch;
    ASSERT_TRUE(fast.WaitForCount(published))
        << fast.count() << " " << fast.status().error_message();
  }
  EXPECT_EQ(service_->counters().subscribers_cut_off, 1u);
  // Publishing goes on; the fast subscriber still gets every alert.
  for (int round = 0; round < 10; ++round) {
    PublishRange(published, published + kBatch, make, kBatch);
    published += kBatch;
    ASSERT_TRUE(fast.WaitForCount(published));
  }
  std::vector<std::string> want;
  for (int i = 0; i < published; ++i) want.push_back(MakeAlert(i).alert_id());
  EXPECT_THAT(Ids(fast.alerts()), ElementsAreArray(want));
  EXPECT_TRUE(Eventually([&] { return service_->counters().live_subscribers == 1; }));

  // The slow client reads what was already on its way, then the status.
  slow.Resume();
  ASSERT_TRUE(slow.WaitForDone());
  EXPECT_EQ(slow.status().error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  std::vector<v1::Alert> got = slow.alerts();
  ASSERT_LT(got.size(), static_cast<size_t>(published));
  std::vector<std::string> prefix(want.begin(), want.begin() + got.size());
  EXPECT_THAT(Ids(got), ElementsAreArray(prefix));
  const std::string resume_from = got.empty() ? FormatCursor(0) : got.back().cursor();
  EXPECT_THAT(slow.status().error_message(),
              HasSubstr(absl::StrCat("after_cursor=\"", resume_from, "\"")));

  // Resuming from the cursor in the status gets the rest.
  v1::SubscribeRequest resume;
  resume.set_after_cursor(resume_from);
  TestSubscriber again(target_, resume);
  ASSERT_TRUE(again.WaitForCount(published - got.size()));
  for (const v1::Alert& a : again.alerts()) got.push_back(a);
  EXPECT_THAT(Ids(got), ElementsAreArray(want));
}

TEST_F(AlertServiceTest, CutOffSubscriberThatNeverReadsIsCancelled) {
  // A fake clock: the stall timeout passes when the test says so.
  auto now = std::make_shared<std::atomic<int64_t>>(1'900'000'000);
  AlertServiceOptions options;
  options.subscriber_buffer = 16;
  options.stalled_cancel_after = absl::Seconds(10);
  options.clock = [now] { return absl::FromUnixSeconds(now->load()); };
  Start(std::move(options));
  TestSubscriber fast(target_, v1::SubscribeRequest());
  TestSubscriber slow(target_, v1::SubscribeRequest(), /*paused=*/true);
  auto make = [](int i) { return MakeAlert(i, v1::HIGH, "R1", "S1", 4096); };
  int published = 0;
  // Paced by the fast subscriber (see above): the slow one overflows only
  // once its transport is full, so a write to it is stuck.
  auto publish_batch = [&] {
    PublishRange(published, published + 8, make, 8);
    published += 8;
    return fast.WaitForCount(published);
  };
  const absl::Time deadline = absl::Now() + kTimeout;
  while (service_->counters().subscribers_cut_off == 0) {
    ASSERT_LT(absl::Now(), deadline) << "never cut off";
    ASSERT_TRUE(publish_batch());
  }
  // Its final status waits behind the write the client does not read.
  ASSERT_TRUE(publish_batch());
  EXPECT_EQ(service_->counters().subscribers, 2u);
  EXPECT_EQ(service_->counters().live_subscribers, 1u);
  // Once the timeout has passed, the next Publish cancels the call.
  now->fetch_add(11);
  ASSERT_TRUE(publish_batch());
  ASSERT_TRUE(Eventually([&] { return service_->counters().subscribers == 1; }));
  slow.Resume();
  ASSERT_TRUE(slow.WaitForDone());
  EXPECT_EQ(slow.status().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(AlertServiceTest, CancelledSubscriberIsRemoved) {
  Start();
  {
    TestSubscriber sub(target_, v1::SubscribeRequest());
    ASSERT_TRUE(Eventually([&] { return service_->counters().subscribers == 1; }));
    sub.Cancel();
    ASSERT_TRUE(sub.WaitForDone());
    EXPECT_EQ(sub.status().error_code(), grpc::StatusCode::CANCELLED);
  }
  ASSERT_TRUE(Eventually([&] { return service_->counters().subscribers == 0; }));
  EXPECT_EQ(service_->counters().live_subscribers, 0u);
  ASSERT_TRUE(service_->Publish({MakeAlert(1)}, "").ok());
}

TEST_F(AlertServiceTest, ShutdownEndsStreamsWithResumeCursor) {
  Start();
  TestSubscriber sub(target_, v1::SubscribeRequest());
  ASSERT_TRUE(service_->Publish({MakeAlert(1), MakeAlert(2)}, "").ok());
  ASSERT_TRUE(sub.WaitForCount(2));
  server_->Shutdown();
  ASSERT_TRUE(sub.WaitForDone());
  EXPECT_EQ(sub.status().error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_THAT(sub.status().error_message(),
              HasSubstr(absl::StrCat("after_cursor=\"", FormatCursor(2))));
  EXPECT_EQ(service_->counters().subscribers, 0u);
  // Publishing after shutdown still stores.
  ASSERT_TRUE(service_->Publish({MakeAlert(3)}, "").ok());
  EXPECT_EQ(log_->HeadSeq(), 3u);
}

TEST_F(AlertServiceTest, ShutdownWithWritesQueuedEndsAfterEveryAlertHandedOut) {
  // Many alerts queued at once: the stream writes them with gRPC's buffer
  // hint (several per flush). Whenever Shutdown lands, the client must get
  // every alert up to the cursor its status names, and nothing after.
  Start();
  TestSubscriber sub(target_, v1::SubscribeRequest());
  auto make = [](int i) { return MakeAlert(i, v1::HIGH, "R1", "S1", 2048); };
  std::vector<v1::Alert> batch;
  for (int i = 0; i < 300; ++i) batch.push_back(make(i));
  ASSERT_TRUE(service_->Publish(std::move(batch), "").ok());
  ASSERT_TRUE(sub.WaitForCount(5));
  server_->Shutdown();
  ASSERT_TRUE(sub.WaitForDone());
  EXPECT_EQ(sub.status().error_code(), grpc::StatusCode::UNAVAILABLE);
  const std::vector<v1::Alert> got = sub.alerts();
  ASSERT_GE(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(got[i].alert_id(), make(static_cast<int>(i)).alert_id()) << i;
  }
  EXPECT_THAT(sub.status().error_message(),
              HasSubstr(absl::StrCat("after_cursor=\"", got.back().cursor(), "\"")));
}

TEST_F(AlertServiceTest, SubscribeRejectsBadRequests) {
  Start();
  ASSERT_TRUE(service_->Publish({MakeAlert(1)}, "").ok());
  struct Case {
    std::string name;
    v1::SubscribeRequest request;
    grpc::StatusCode code;
  };
  std::vector<Case> cases;
  {
    Case c{"malformed cursor", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_after_cursor("12");
    cases.push_back(c);
  }
  {
    Case c{"cursor past head", {}, grpc::StatusCode::OUT_OF_RANGE};
    c.request.set_after_cursor(FormatCursor(2));
    cases.push_back(c);
  }
  {
    Case c{"unknown severity", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.set_min_severity(static_cast<v1::Severity>(42));
    cases.push_back(c);
  }
  {
    Case c{"empty rule id", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.add_rule_ids("");
    cases.push_back(c);
  }
  {
    Case c{"too many subject ids", {}, grpc::StatusCode::INVALID_ARGUMENT};
    for (int i = 0; i < 1001; ++i) c.request.add_subject_ids(absl::StrCat(i));
    cases.push_back(c);
  }
  {
    Case c{"id too long", {}, grpc::StatusCode::INVALID_ARGUMENT};
    c.request.add_subject_ids(std::string(257, 'x'));
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::Alert>> reader = stub_->Subscribe(&context, c.request);
    v1::Alert alert;
    EXPECT_FALSE(reader->Read(&alert)) << c.name;
    grpc::Status status = reader->Finish();
    EXPECT_EQ(status.error_code(), c.code) << c.name << ": " << status.error_message();
  }
  // Subscribe parses its own request (it is a raw method): bytes that are
  // no SubscribeRequest (a field 1 announcing 10 bytes, then 2) are refused.
  const char garbage[] = {'\x0a', '\x0a', 'x', 'y'};
  grpc::Slice slice(garbage, sizeof(garbage));
  grpc::ByteBuffer bytes(&slice, 1);
  grpc::ClientContext context;
  const grpc::internal::RpcMethod method("/exportwatch.v1.AlertService/Subscribe",
                                         grpc::internal::RpcMethod::SERVER_STREAMING);
  std::unique_ptr<grpc::ClientReader<v1::Alert>> reader(
      grpc::internal::ClientReaderFactory<v1::Alert>::Create(channel_.get(), method, &context,
                                                             bytes));
  v1::Alert alert;
  EXPECT_FALSE(reader->Read(&alert));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_THAT(status.error_message(), ::testing::HasSubstr("SubscribeRequest"));
}

TEST_F(AlertServiceTest, AlertsThatCannotBeHandedOutEndLiveStreamsWithTheirResumeCursor) {
  Start();
  TestSubscriber sub(target_, v1::SubscribeRequest());
  PublishRange(0, 3, [](int i) { return MakeAlert(i); });
  ASSERT_TRUE(sub.WaitForCount(3));
  // Stored, but without cursors the service cannot queue them: the stream
  // must end (not silently miss them), naming where to resume.
  cursor_dropping_log_->drop_cursors = true;
  PublishRange(3, 5, [](int i) { return MakeAlert(i); });
  ASSERT_TRUE(sub.WaitForDone());
  EXPECT_EQ(sub.status().error_code(), grpc::StatusCode::INTERNAL);
  const std::vector<v1::Alert> got = sub.alerts();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_THAT(sub.status().error_message(),
              HasSubstr(absl::StrCat("after_cursor=\"", got.back().cursor(), "\"")));
  EXPECT_EQ(log_->HeadSeq(), 5u) << "the append itself succeeded";
  EXPECT_TRUE(Eventually([&] { return service_->counters().subscribers == 0; }));
  // Resuming from that cursor gives the two it missed.
  v1::SubscribeRequest resume;
  resume.set_after_cursor(got.back().cursor());
  TestSubscriber again(target_, resume);
  ASSERT_TRUE(again.WaitForCount(2));
  EXPECT_THAT(Ids(again.alerts()), ElementsAre(MakeAlert(3).alert_id(), MakeAlert(4).alert_id()));
}

TEST_F(AlertServiceTest, GetAlert) {
  Start();
  ASSERT_TRUE(service_->Publish({MakeAlert(1), MakeAlert(2)}, "").ok());
  {
    grpc::ClientContext context;
    v1::GetAlertRequest request;
    request.set_alert_id(MakeAlert(2).alert_id());
    v1::Alert alert;
    grpc::Status status = stub_->GetAlert(&context, request, &alert);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(alert.alert_id(), MakeAlert(2).alert_id());
    EXPECT_EQ(alert.cursor(), FormatCursor(2));
  }
  for (const auto& [id, code] : std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"nope", grpc::StatusCode::NOT_FOUND},
           {"", grpc::StatusCode::INVALID_ARGUMENT},
           {std::string(300, 'a'), grpc::StatusCode::INVALID_ARGUMENT}}) {
    grpc::ClientContext context;
    v1::GetAlertRequest request;
    request.set_alert_id(id);
    v1::Alert alert;
    EXPECT_EQ(stub_->GetAlert(&context, request, &alert).error_code(), code) << id;
  }
}

TEST_F(AlertServiceTest, ListAlertsFiltersAndPaginates) {
  Start();
  auto make = [](int i) {
    return MakeAlert(i, i % 2 == 0 ? v1::CRITICAL : v1::LOW, i % 3 == 0 ? "R3" : "R1", "S1");
  };
  PublishRange(0, 250, make, 50);

  // Default page size 100; three pages cover everything.
  {
    std::vector<std::string> got;
    std::string token;
    int pages = 0;
    do {
      grpc::ClientContext context;
      v1::ListAlertsRequest request;
      request.set_page_token(token);
      v1::ListAlertsResponse response;
      grpc::Status status = stub_->ListAlerts(&context, request, &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      EXPECT_LE(response.alerts_size(), 100);
      for (const v1::Alert& a : response.alerts()) got.push_back(a.alert_id());
      token = response.next_page_token();
      ++pages;
    } while (!token.empty());
    EXPECT_EQ(pages, 3);
    EXPECT_EQ(got.size(), 250u);
  }

  // Filters and an event-time range, small pages.
  std::vector<std::string> want;
  for (int i = 0; i < 250; ++i) {
    v1::Alert a = make(i);
    if (a.severity() >= v1::HIGH && a.rule_id() == "R3" && i >= 30 && i < 200) {
      want.push_back(a.alert_id());
    }
  }
  std::vector<std::string> got;
  std::string token;
  do {
    grpc::ClientContext context;
    v1::ListAlertsRequest request;
    request.set_min_severity(v1::HIGH);
    request.add_rule_ids("R3");
    request.mutable_start_time()->set_seconds(1'700'000'000 + 30);
    request.mutable_end_time()->set_seconds(1'700'000'000 + 200);
    request.set_page_size(4);
    request.set_page_token(token);
    v1::ListAlertsResponse response;
    grpc::Status status = stub_->ListAlerts(&context, request, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_LE(response.alerts_size(), 4);
    for (const v1::Alert& a : response.alerts()) got.push_back(a.alert_id());
    token = response.next_page_token();
    ASSERT_LT(got.size(), 1000u);
  } while (!token.empty());
  EXPECT_THAT(got, ElementsAreArray(want));
}

TEST_F(AlertServiceTest, ListAlertsRejectsBadRequests) {
  Start();
  auto with = [](auto edit) {
    v1::ListAlertsRequest request;
    edit(request);
    return request;
  };
  const std::vector<std::pair<std::string, v1::ListAlertsRequest>> cases = {
      {"page_size too big", with([](auto& r) { r.set_page_size(1001); })},
      {"negative page_size", with([](auto& r) { r.set_page_size(-1); })},
      {"bad page_token", with([](auto& r) { r.set_page_token("xyz"); })},
      {"uppercase page_token", with([](auto& r) { r.set_page_token("000000000000000A"); })},
      {"start after end", with([](auto& r) {
         r.mutable_start_time()->set_seconds(20);
         r.mutable_end_time()->set_seconds(10);
       })},
      {"bad nanos", with([](auto& r) { r.mutable_start_time()->set_nanos(-1); })},
      {"unknown severity", with([](auto& r) { r.set_min_severity(static_cast<v1::Severity>(9)); })},
      {"empty subject id", with([](auto& r) { r.add_subject_ids(""); })},
  };
  for (const auto& [name, request] : cases) {
    grpc::ClientContext context;
    v1::ListAlertsResponse response;
    grpc::Status status = stub_->ListAlerts(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << name;
    EXPECT_FALSE(status.error_message().empty()) << name;
  }
  // The largest allowed page size is fine.
  grpc::ClientContext context;
  v1::ListAlertsResponse response;
  EXPECT_TRUE(
      stub_->ListAlerts(&context, with([](auto& r) { r.set_page_size(1000); }), &response).ok());
}

TEST_F(AlertServiceTest, UpdateAlertStatusIsStoredAndReturned) {
  Start();
  ASSERT_TRUE(service_->Publish({MakeAlert(1)}, "").ok());
  const std::string id = MakeAlert(1).alert_id();
  {
    grpc::ClientContext context;
    v1::UpdateAlertStatusRequest request;
    request.set_alert_id(id);
    request.set_status(v1::FALSE_POSITIVE);
    request.set_updated_by("analyst-3");
    request.set_note("known licensed route");
    v1::Alert alert;
    grpc::Status status = stub_->UpdateAlertStatus(&context, request, &alert);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_EQ(alert.alert_id(), id);
    EXPECT_EQ(alert.triage().status(), v1::FALSE_POSITIVE);
    EXPECT_EQ(alert.triage().updated_by(), "analyst-3");
    EXPECT_EQ(alert.triage().note(), "known licensed route");
    EXPECT_EQ(alert.triage().updated_at().seconds(), 1'900'000'000);
  }
  {
    grpc::ClientContext context;
    v1::GetAlertRequest request;
    request.set_alert_id(id);
    v1::Alert alert;
    ASSERT_TRUE(stub_->GetAlert(&context, request, &alert).ok());
    EXPECT_EQ(alert.triage().status(), v1::FALSE_POSITIVE);
  }
  auto update = [&](auto edit) {
    v1::UpdateAlertStatusRequest request;
    request.set_alert_id(id);
    request.set_status(v1::RESOLVED);
    request.set_updated_by("analyst-3");
    edit(request);
    grpc::ClientContext context;
    v1::Alert alert;
    return stub_->UpdateAlertStatus(&context, request, &alert).error_code();
  };
  EXPECT_EQ(update([](auto& r) { r.set_alert_id("nope"); }), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(update([](auto& r) { r.set_alert_id(""); }), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update([](auto& r) { r.set_status(static_cast<v1::AlertStatus>(17)); }),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update([](auto& r) { r.set_updated_by(""); }), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update([](auto& r) { r.set_note(std::string(4097, 'n')); }),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(update([](auto&) {}), grpc::StatusCode::OK);
}

TEST_F(AlertServiceTest, HealthCheckIsServing) {
  Start();
  // StringValue and Int32Value have the wire format of
  // grpc.health.v1.HealthCheckRequest {string service = 1} and
  // HealthCheckResponse {ServingStatus status = 1}; Debian ships no
  // generated health stubs.
  grpc::TemplatedGenericStub<google::protobuf::StringValue, google::protobuf::Int32Value> health(
      channel_);
  google::protobuf::StringValue request;
  google::protobuf::Int32Value response;
  grpc::ClientContext context;
  absl::Notification done;
  grpc::Status status;
  health.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request,
                   &response, [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(kTimeout));
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.value(), 1);  // SERVING
}

TEST(AlertServerTest, UnusableAddressIsUnavailable) {
  absl::StatusOr<std::unique_ptr<AlertLog>> log = NewMemoryAlertLog();
  ASSERT_TRUE(log.ok());
  AlertService service(log->get());
  AlertServerOptions options;
  options.address = "256.1.1.1:0";
  absl::StatusOr<std::unique_ptr<AlertServer>> server = AlertServer::Start(&service, options);
  EXPECT_EQ(server.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace exportwatch

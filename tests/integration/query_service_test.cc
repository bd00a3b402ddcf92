// QueryService.GetQuotaUsage over the real processes: the processor's quota
// state, published to the quota-usage topic, answered by alertd for any
// subject.
#include <grpcpp/grpcpp.h>

#include "exportwatch/v1/alert.grpc.pb.h"
#include "tests/common/contract_events.h"
#include "tests/integration/cluster.h"

namespace exportwatch::testing {
namespace {

constexpr double kShipmentTpp = 256 * 15832.0;  // the contract trade

grpc::Status Query(const std::string& target, const std::string& rule, const std::string& subject,
                   std::optional<int64_t> at, v1::QuotaUsage* out) {
  auto stub =
      v1::QueryService::NewStub(grpc::CreateChannel(target, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  v1::GetQuotaUsageRequest req;
  req.set_rule_id(rule);
  req.set_subject_id(subject);
  if (at) req.mutable_at()->set_seconds(*at);
  return stub->GetQuotaUsage(&ctx, req, out);
}

TEST(QueryServiceTest, QuotaUsageOfAnySubjectFromAlertd) {
  Cluster cluster("aidr-2025");
  auto processor = cluster.StartProcessor("q");
  v1::Event e = ContractEvent(Stream::kTrade);
  e.mutable_trade()->mutable_payment()->set_payer_country("MY");
  for (int i = 0; i < 3; ++i) {
    e.mutable_trade()->set_event_id("q" + std::to_string(i));
    e.mutable_trade()->set_shipment_id("SHP-q" + std::to_string(i));
    cluster.ProduceJson("trade-events", RecordKeyFor(e), EventJson(e));
  }
  // A redelivery counts once.
  cluster.ProduceJson("trade-events", RecordKeyFor(e), EventJson(e));
  cluster.Flush();
  const std::string consignee = e.trade().ultimate_consignee().entity_id();
  v1::QuotaUsage usage;
  grpc::Status s;
  for (int i = 0; i < 300; ++i) {
    s = Query(cluster.alertd_target(), "CONSIGNEE_LPP_QUOTA", consignee, std::nullopt, &usage);
    if (s.ok() && usage.used() >= 3 * kShipmentTpp) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_DOUBLE_EQ(usage.used(), 3 * kShipmentTpp);
  EXPECT_DOUBLE_EQ(usage.limit(), 26'900'000);
  EXPECT_EQ(usage.subject().id(), consignee);
  EXPECT_EQ(usage.quota_id(), "CONSIGNEE_LPP_QUOTA");
  EXPECT_EQ(usage.policy().name(), "aidr-2025");
  EXPECT_EQ(usage.event_ids_size(), 3);
  const int64_t t = e.trade().event_time().seconds();
  EXPECT_LE(usage.window_start().seconds(), t);
  EXPECT_GT(usage.window_end().seconds(), t);
  // Inside the window: the same; a year later: nothing yet.
  v1::QuotaUsage same;
  EXPECT_TRUE(Query(cluster.alertd_target(), "CONSIGNEE_LPP_QUOTA", consignee, t, &same).ok());
  EXPECT_DOUBLE_EQ(same.used(), usage.used());
  EXPECT_EQ(Query(cluster.alertd_target(), "CONSIGNEE_LPP_QUOTA", consignee, t + 400 * 86400, &same)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Query(cluster.alertd_target(), "CONSIGNEE_LPP_QUOTA", "nobody", std::nullopt, &same)
                .error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Query(cluster.alertd_target(), "", consignee, std::nullopt, &same).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace exportwatch::testing

// Issue 4's alertd replicas: two alertd processes read one `alerts` topic;
// a triage update taken by either is durable and seen by both, and a
// replica started on an empty disk gets every alert and every status back.
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include "exportwatch/v1/alert.grpc.pb.h"
#include "tests/integration/cluster.h"

namespace exportwatch::testing {
namespace {

std::unique_ptr<Subprocess> StartAlertd(Cluster& c, const std::string& name, std::string* target) {
  auto p = std::make_unique<Subprocess>(
      std::vector<std::string>{EW_BINARY, "alertd", "--brokers", c.brokers(), "--state-dir",
                               c.dir().File("alertd-" + name), "--listen", "127.0.0.1:0"},
      c.dir().File("alertd-" + name + ".log"));
  const std::string port = p->WaitForLine("alertd listening on port ", 20s);
  EXPECT_FALSE(port.empty()) << "alertd " << name << " did not start";
  *target = "127.0.0.1:" + port;
  return p;
}

class Replica {
 public:
  explicit Replica(const std::string& target)
      : stub_(v1::AlertService::NewStub(
            grpc::CreateChannel(target, grpc::InsecureChannelCredentials()))) {}

  grpc::Status Get(const std::string& id, v1::Alert* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 5s);
    v1::GetAlertRequest req;
    req.set_alert_id(id);
    return stub_->GetAlert(&ctx, req, out);
  }
  grpc::Status Update(const std::string& id, v1::AlertStatus status, const std::string& who,
                      v1::Alert* out) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 15s);
    v1::UpdateAlertStatusRequest req;
    req.set_alert_id(id);
    req.set_status(status);
    req.set_updated_by(who);
    req.set_note("checked by " + who);
    return stub_->UpdateAlertStatus(&ctx, req, out);
  }
  // Polls until the alert has `status` (by `who`), or 30 s.
  bool WaitForStatus(const std::string& id, v1::AlertStatus status, const std::string& who) {
    for (int i = 0; i < 300; ++i) {
      v1::Alert a;
      if (Get(id, &a).ok() && a.triage().status() == status && a.triage().updated_by() == who) {
        return true;
      }
      std::this_thread::sleep_for(100ms);
    }
    return false;
  }

 private:
  std::unique_ptr<v1::AlertService::Stub> stub_;
};

v1::Alert MakeAlert(const std::string& id) {
  v1::Alert a;
  a.set_alert_id(id);
  a.set_rule_id("EMBARGOED_DESTINATION");
  a.set_severity(v1::CRITICAL);
  a.mutable_subject()->set_kind(v1::SHIPMENT);
  a.mutable_subject()->set_id("SHP-" + id);
  a.set_title("test alert " + id);
  return a;
}

TEST(AlertdReplicasTest, TriageIsDurableAndSeenByEveryReplica) {
  Cluster cluster("current");
  std::string b_target;
  auto b = StartAlertd(cluster, "b", &b_target);
  Replica a_rpc(cluster.alertd_target()), b_rpc(b_target);
  for (const char* id : {"alert-1", "alert-2"}) {
    cluster.ProduceJson("alerts", id, ToJson(MakeAlert(id)), 0);
  }
  cluster.Flush();
  ASSERT_EQ(cluster.Collect(2, 30s).size(), 2u);

  // An update through A is seen on B; one through B is seen on A.
  v1::Alert updated;
  ASSERT_TRUE(a_rpc.WaitForStatus("alert-1", v1::NEW, ""));
  ASSERT_TRUE(b_rpc.WaitForStatus("alert-2", v1::NEW, ""));
  grpc::Status s = a_rpc.Update("alert-1", v1::ACKNOWLEDGED, "analyst-a", &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(updated.triage().status(), v1::ACKNOWLEDGED);
  EXPECT_TRUE(b_rpc.WaitForStatus("alert-1", v1::ACKNOWLEDGED, "analyst-a"));
  s = b_rpc.Update("alert-2", v1::FALSE_POSITIVE, "analyst-b", &updated);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(a_rpc.WaitForStatus("alert-2", v1::FALSE_POSITIVE, "analyst-b"));
  // The later of two updates of one alert wins on both replicas.
  ASSERT_TRUE(b_rpc.Update("alert-1", v1::RESOLVED, "analyst-b", &updated).ok());
  EXPECT_TRUE(a_rpc.WaitForStatus("alert-1", v1::RESOLVED, "analyst-b"));
  EXPECT_TRUE(b_rpc.WaitForStatus("alert-1", v1::RESOLVED, "analyst-b"));
  // An unknown alert is NOT_FOUND and replicates nothing.
  EXPECT_EQ(a_rpc.Update("no-such-alert", v1::RESOLVED, "analyst-a", &updated).error_code(),
            grpc::StatusCode::NOT_FOUND);

  // B loses its disk: a new replica on an empty directory gets both alerts
  // and both statuses back.
  b->Kill(SIGKILL);
  b.reset();
  std::string c_target;
  auto c = StartAlertd(cluster, "c", &c_target);
  Replica c_rpc(c_target);
  EXPECT_TRUE(c_rpc.WaitForStatus("alert-1", v1::RESOLVED, "analyst-b"));
  EXPECT_TRUE(c_rpc.WaitForStatus("alert-2", v1::FALSE_POSITIVE, "analyst-b"));
  const int status = c->Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

}  // namespace
}  // namespace exportwatch::testing

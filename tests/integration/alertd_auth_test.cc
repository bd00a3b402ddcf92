// ALERTS.md: "TLS and mutual TLS are configurable; a client without valid
// credentials gets UNAUTHENTICATED and nothing else." alertd with a server
// certificate and bearer tokens, then with mutual TLS; certificates made
// here with the openssl command line.
#include <grpcpp/grpcpp.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>

#include "exportwatch/v1/alert.grpc.pb.h"
#include "processor/alertd/auth.h"
#include "tests/integration/cluster.h"

namespace exportwatch::testing {
namespace {

constexpr char kToken[] = "s0c-analyst-token-0123456789";

// A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`.
void MakeCertificates(const std::string& dir) {
  const std::string q = "cd '" + dir + "' && ";
  auto run = [&](const std::string& cmd) {
    ASSERT_EQ(std::system((q + cmd + " >>openssl.log 2>&1").c_str()), 0) << cmd;
  };
  run("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=test-ca -keyout ca.key "
      "-out ca.pem");
  for (const char* who : {"server", "client"}) {
    const std::string w = who;
    run("openssl req -newkey rsa:2048 -nodes -subj /CN=" + w + " -keyout " + w + ".key -out " + w +
        ".csr");
    std::ofstream(dir + "/" + w + ".ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    run("openssl x509 -req -in " + w +
        ".csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile " +
        w + ".ext -out " + w + ".pem");
  }
}

std::unique_ptr<Subprocess> StartAlertd(Cluster& c, const std::string& name,
                                        std::vector<std::string> extra, std::string* target) {
  std::vector<std::string> args = {EW_BINARY,   "alertd",      "--brokers",
                                   c.brokers(), "--state-dir", c.dir().File("alertd-" + name),
                                   "--listen",  "127.0.0.1:0", "--triage-topic",
                                   ""};
  args.insert(args.end(), extra.begin(), extra.end());
  auto p = std::make_unique<Subprocess>(args, c.dir().File("alertd-" + name + ".log"));
  const std::string port = p->WaitForLine("alertd listening on port ", 20s);
  EXPECT_FALSE(port.empty()) << "alertd " << name << " did not start";
  *target = "127.0.0.1:" + port;
  return p;
}

grpc::Status GetAlert(const std::string& target, std::shared_ptr<grpc::ChannelCredentials> creds,
                      const std::string& token, const std::string& id, v1::Alert* out) {
  grpc::ChannelArguments args;
  args.SetSslTargetNameOverride("localhost");
  auto stub = v1::AlertService::NewStub(grpc::CreateCustomChannel(target, creds, args));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  if (!token.empty()) ctx.AddMetadata("authorization", "Bearer " + token);
  v1::GetAlertRequest req;
  req.set_alert_id(id);
  return stub->GetAlert(&ctx, req, out);
}

std::shared_ptr<grpc::ChannelCredentials> Tls(const std::string& dir, bool client_cert) {
  ClientTlsFiles f;
  f.ca = dir + "/ca.pem";
  if (client_cert) {
    f.cert = dir + "/client.pem";
    f.key = dir + "/client.key";
  }
  auto c = MakeChannelCredentials(f);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *c : nullptr;
}

TEST(AlertdAuthTest, TlsAndTokensLetInOnlyValidCredentials) {
  Cluster cluster("current");
  const std::string certs = cluster.dir().File("certs");
  std::filesystem::create_directories(certs);
  MakeCertificates(certs);
  if (HasFatalFailure()) return;
  std::ofstream(cluster.dir().File("tokens")) << "# analysts\n" << kToken << "\n";
  std::string target;
  auto alertd = StartAlertd(cluster, "tls",
                            {"--tls-cert", certs + "/server.pem", "--tls-key",
                             certs + "/server.key", "--auth-tokens", cluster.dir().File("tokens")},
                            &target);
  v1::Alert a;
  a.set_alert_id("auth-1");
  a.set_rule_id("EMBARGOED_DESTINATION");
  a.set_severity(v1::CRITICAL);
  cluster.ProduceJson("alerts", "auth-1", ToJson(a), 0);
  cluster.Flush();

  // TLS and a valid token: the alert, once alertd has read it.
  v1::Alert got;
  grpc::Status s;
  for (int i = 0; i < 100; ++i) {
    s = GetAlert(target, Tls(certs, false), kToken, "auth-1", &got);
    if (s.ok()) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(got.rule_id(), "EMBARGOED_DESTINATION");
  // No token, a wrong token: UNAUTHENTICATED and no alert.
  got.Clear();
  EXPECT_EQ(GetAlert(target, Tls(certs, false), "", "auth-1", &got).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      GetAlert(target, Tls(certs, false), "not-the-token-0123456789", "auth-1", &got).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(got.alert_id().empty());
  // Plaintext to a TLS port: no call at all.
  EXPECT_EQ(
      GetAlert(target, grpc::InsecureChannelCredentials(), kToken, "auth-1", &got).error_code(),
      grpc::StatusCode::UNAVAILABLE);
  // The streaming call too: a subscriber without the token stops at once.
  AlertSubscriberOptions so;
  so.target = "localhost:" + target.substr(target.find(':') + 1);
  so.credentials = Tls(certs, false);
  so.request.set_after_cursor(FormatCursor(0));
  std::atomic<bool> stop{false};
  int seen = 0;
  absl::Status sub = RunAlertSubscriber(so, stop, [&](const v1::Alert&) { ++seen; });
  EXPECT_TRUE(absl::IsUnauthenticated(sub)) << sub;
  EXPECT_EQ(seen, 0);

  // `tail` with the token file prints the alert.
  std::ofstream(cluster.dir().File("my-token")) << kToken << "\n";
  Subprocess tail(
      {EW_BINARY, "tail", "--target", so.target, "--tls-ca", certs + "/ca.pem", "--auth-token-file",
       cluster.dir().File("my-token"), "--from-start", "--json", "--count", "1"},
      cluster.dir().File("tail.log"));
  EXPECT_NE(tail.WaitForLine("{", 20s).find("auth-1"), std::string::npos);

  // Mutual TLS: a client without a certificate is refused at the handshake.
  std::string mtls_target;
  auto mtls = StartAlertd(cluster, "mtls",
                          {"--tls-cert", certs + "/server.pem", "--tls-key", certs + "/server.key",
                           "--tls-client-ca", certs + "/ca.pem"},
                          &mtls_target);
  for (int i = 0; i < 100; ++i) {
    s = GetAlert(mtls_target, Tls(certs, true), "", "auth-1", &got);
    if (s.ok()) break;
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  EXPECT_EQ(GetAlert(mtls_target, Tls(certs, false), "", "auth-1", &got).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(AlertdAuthTest, BadCredentialFilesAreRejectedAtStart) {
  TempDir dir;
  std::ofstream(dir.File("short")) << "abc\n";
  for (const std::vector<std::string>& extra :
       {std::vector<std::string>{"--tls-cert", dir.File("missing.pem"), "--tls-key",
                                 dir.File("missing.key")},
        std::vector<std::string>{"--tls-key", dir.File("x.key")},
        std::vector<std::string>{"--auth-tokens", dir.File("short")}}) {
    std::vector<std::string> args = {EW_BINARY,     "alertd",      "--brokers", "127.0.0.1:1",
                                     "--state-dir", dir.File("s"), "--check"};
    args.insert(args.end(), extra.begin(), extra.end());
    Subprocess p(args, dir.File("check.log"));
    std::string out;
    const int status = p.Wait(&out, nullptr);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2) << extra[0] << " " << status;
  }
}

}  // namespace
}  // namespace exportwatch::testing

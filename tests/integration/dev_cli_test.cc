// Acceptance 1 of the foundation, as a test: `exportwatch dev` prints alerts
// within 10 seconds, serves them to `exportwatch tail`, and stops cleanly.
#include <signal.h>

#include <chrono>
#include <regex>

#include "gtest/gtest.h"
#include "tests/common/subprocess.h"
#include "tests/common/test_util.h"

namespace exportwatch::testing {
namespace {

using namespace std::chrono_literals;

TEST(DevCliTest, PrintsAlertsWithinTenSecondsAndServesTail) {
  TempDir dir;
  Subprocess dev({EW_BINARY, "dev", "--listen", "127.0.0.1:0", "--data-dir", EW_SHARED_DIR "/data",
                  "--seconds", "60"},
                 dir.File("dev.log"));
  std::string banner = dev.WaitForLine("exportwatch dev: broker ", 20s);
  ASSERT_FALSE(banner.empty()) << ReadFile(dir.File("dev.log"));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(banner, m, std::regex("alert service on 127\\.0\\.0\\.1:(\\d+)")));
  const std::string port = m[1];

  // The first alert line, within 10 s of start-up.
  auto start = std::chrono::steady_clock::now();
  std::string alert;
  while (alert.empty() && std::chrono::steady_clock::now() - start < 10s) {
    std::string line = dev.ReadLine(1s);
    if (line.find("[policy current") != std::string::npos) alert = line;
  }
  ASSERT_FALSE(alert.empty()) << "no alert printed within 10 s\n" << ReadFile(dir.File("dev.log"));
  EXPECT_TRUE(std::regex_search(alert, std::regex("(CRITICAL|HIGH|MEDIUM) +[A-Z_]+ ")));

  // tail, a separate process, replays stored alerts as JSON.
  Subprocess tail({EW_BINARY, "tail", "--target", "127.0.0.1:" + port, "--from-start", "--count",
                   "2", "--json"},
                  dir.File("tail.log"));
  std::string first = tail.ReadLine(10s);
  std::string second = tail.ReadLine(10s);
  EXPECT_NE(first.find("\"alert_id\""), std::string::npos) << first;
  EXPECT_NE(second.find("\"cursor\""), std::string::npos) << second;

  // Ctrl-C: a clean stop with a summary.
  int status = dev.Kill(SIGINT);
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadFile(dir.File("dev.log"));
  EXPECT_NE(ReadFile(dir.File("dev.log")).find("dev: stopped after"), std::string::npos);
}

TEST(DevCliTest, EveryCommandHasHelp) {
  for (const char* cmd : {"dev", "processor", "alertd", "replay", "gen", "tail", "mock-broker"}) {
    std::string c = std::string(EW_BINARY) + " " + cmd + " --help > /dev/null";
    EXPECT_EQ(std::system(c.c_str()), 0) << cmd;
  }
  EXPECT_NE(std::system((std::string(EW_BINARY) + " nope 2>/dev/null").c_str()), 0);
}

}  // namespace
}  // namespace exportwatch::testing

// Issue 4: every flag, file and port the k8s/ manifests use exists in the
// binary. Each container's args are run through the real binary in --check
// mode (flags parsed and validated, the policy loaded, nothing started), and
// every probe targets a declared container port that the args listen on.
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <set>

#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "gtest/gtest.h"
#include "tests/common/test_util.h"

namespace exportwatch::testing {
namespace {

struct Container {
  std::string command;  // processor | alertd
  std::vector<std::string> args;
  std::set<std::string> ports, probe_ports;
};

// A small reader for the shape our manifests are written in (not general YAML).
std::vector<Container> ReadContainers(const std::string& path) {
  std::vector<Container> out;
  std::ifstream in(path);
  std::regex command(R"re(command: \["exportwatch", "([a-z]+)"\])re");
  std::regex arg(R"(^\s+- (--\S+)$)");
  std::regex port(R"(containerPort: (\d+))");
  std::regex probe(R"(grpc: \{port: (\d+)\})");
  bool in_args = false;
  for (std::string line; std::getline(in, line);) {
    std::smatch m;
    if (std::regex_search(line, m, command)) {
      out.push_back({m[1], {}, {}, {}});
      continue;
    }
    if (out.empty()) continue;
    if (line.find("args:") != std::string::npos) {
      in_args = true;
      continue;
    }
    if (in_args && std::regex_search(line, m, arg)) {
      out.back().args.push_back(m[1]);
      continue;
    }
    in_args = false;
    if (std::regex_search(line, m, port)) out.back().ports.insert(m[1]);
    if (std::regex_search(line, m, probe)) out.back().probe_ports.insert(m[1]);
  }
  return out;
}

TEST(K8sManifestsTest, EveryContainerCommandLineIsValidAndProbesHitItsPorts) {
  TempDir dir;
  int containers = 0;
  for (const char* file : {"processor.yaml", "alertd.yaml"}) {
    SCOPED_TRACE(file);
    for (const auto& c : ReadContainers(std::string(EW_SOURCE_DIR) + "/k8s/" + file)) {
      ++containers;
      ASSERT_FALSE(c.args.empty());
      std::vector<std::string> args;
      for (std::string a : c.args) {
        // Paths that exist in the pod, mapped to this checkout.
        a = absl::StrReplaceAll(
            a, {{"/etc/exportwatch/policy.json", std::string(EW_SOURCE_DIR) + "/k8s/policy.json"},
                {"/var/lib/", dir.File("")}});
        args.push_back("'" + a + "'");
      }
      std::string cmd = std::string(EW_BINARY) + " " + c.command + " --check " +
                        absl::StrJoin(args, " ") + " > /dev/null";
      int status = std::system(cmd.c_str());
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << cmd;
      EXPECT_FALSE(c.ports.empty());
      for (const auto& p : c.probe_ports) EXPECT_TRUE(c.ports.contains(p)) << "probe port " << p;
      for (const auto& p : c.ports) {
        bool listened = false;
        for (const auto& a : c.args) listened = listened || a.ends_with(":" + p);
        EXPECT_TRUE(listened) << "container port " << p << " is not what the args listen on";
      }
    }
  }
  EXPECT_EQ(containers, 2);
}

TEST(K8sManifestsTest, CheckModeRejectsWhatIsWrong) {
  std::string bin = EW_BINARY;
  auto run = [&](const std::string& args) {
    return std::system((bin + " " + args + " >/dev/null 2>&1").c_str());
  };
  EXPECT_NE(run("processor --check --brokers b:1 --state-dir /tmp/x --no-such-flag"), 0);
  EXPECT_NE(run("processor --check --brokers b:1 --state-dir /tmp/x --policy /nonexistent"), 0);
  EXPECT_NE(run("processor --check --state-dir /tmp/x"), 0);
  EXPECT_NE(run("alertd --check --brokers b:1"), 0);
  EXPECT_EQ(run("alertd --check --brokers b:1 --state-dir /tmp/x --listen 0.0.0.0:1"), 0);
}

}  // namespace
}  // namespace exportwatch::testing

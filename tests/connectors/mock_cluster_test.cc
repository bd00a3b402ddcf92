// The mock cluster's connections behave like a real broker's: no Nagle.
#include "connectors/mock_cluster.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace exportwatch {
namespace {

int LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.sin_family != AF_INET) return -1;
  return ntohs(addr.sin_port);
}

bool NoDelay(int fd) {
  int v = 0;
  socklen_t len = sizeof(v);
  return getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len) == 0 && v != 0;
}

bool Listening(int fd) {
  int v = 0;
  socklen_t len = sizeof(v);
  return getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) == 0 && v != 0;
}

// This process's TCP sockets whose local port is `port` (listener and the
// broker's side of accepted connections).
std::vector<int> SocketsOnPort(int port) {
  std::vector<int> out;
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    int fd = 0;
    if (!absl::SimpleAtoi(e->d_name, &fd) || fd == dirfd(dir)) continue;
    if (LocalPort(fd) == port) out.push_back(fd);
  }
  closedir(dir);
  return out;
}

TEST(MockClusterTest, BrokerConnectionsHaveNagleOff) {
  auto cluster = MockKafkaCluster::Create(2);
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  std::vector<int> ports;
  for (absl::string_view hp : absl::StrSplit((*cluster)->bootstraps(), ',')) {
    int port = 0;
    ASSERT_TRUE(absl::SimpleAtoi(hp.substr(hp.rfind(':') + 1), &port)) << hp;
    ports.push_back(port);
  }
  ASSERT_EQ(ports.size(), 2u);
  for (int port : ports) {
    int client = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(client, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    // The client's own socket keeps the default: the check can tell.
    EXPECT_FALSE(NoDelay(client));
    // The broker accepts on its own thread: wait for its side to appear.
    int listeners = 0, accepted = 0;
    for (int i = 0; i < 500 && accepted == 0; ++i) {
      listeners = accepted = 0;
      for (int fd : SocketsOnPort(port)) {
        if (fd == client) continue;
        bool listening = Listening(fd);
        (listening ? listeners : accepted) += 1;
        EXPECT_TRUE(NoDelay(fd)) << "port " << port << (listening ? " listener" : " connection");
      }
      if (accepted == 0) absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(listeners, 1) << "port " << port;
    EXPECT_EQ(accepted, 1) << "port " << port;
    close(client);
  }
}

}  // namespace
}  // namespace exportwatch

#include "processor/cli/signals.h"

#include <csignal>

namespace exportwatch::cli {
namespace {

std::atomic<bool> g_stop{false};

extern "C" void OnStopSignal(int) { g_stop.store(true); }

}  // namespace

void InstallStopSignals() {
  struct sigaction sa = {};
  sa.sa_handler = OnStopSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
}

bool StopRequested() { return g_stop.load(); }
const std::atomic<bool>& StopFlag() { return g_stop; }
void RequestStop() { g_stop.store(true); }

}  // namespace exportwatch::cli

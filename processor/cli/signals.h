// SIGINT / SIGTERM -> a stop flag every long-running command polls.
#pragma once

#include <atomic>

namespace exportwatch::cli {

void InstallStopSignals();
bool StopRequested();
// The flag itself, for components that take a const std::atomic<bool>&.
const std::atomic<bool>& StopFlag();
void RequestStop();

}  // namespace exportwatch::cli

// Child processes for multi-process tests: the real binary over real TCP.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace exportwatch::testing {

class Subprocess {
 public:
  // Starts `args` (args[0] is the program) with stdout piped to us and
  // stderr to `stderr_path` (appended) when given.
  explicit Subprocess(std::vector<std::string> args, const std::string& stderr_path = "") {
    int fds[2];
    if (pipe(fds) != 0) return;
    pid_ = fork();
    if (pid_ == 0) {
      // Never outlive the test: a test that aborts leaves no orphans.
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      dup2(fds[1], 1);
      if (!stderr_path.empty()) {
        int e = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (e >= 0) dup2(e, 2);
      }
      close(fds[0]);
      close(fds[1]);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(fds[1]);
    out_ = fds[0];
  }
  ~Subprocess() {
    Kill(SIGKILL);
    if (out_ >= 0) close(out_);
  }

  // Reads one line of stdout, waiting up to `timeout`; empty on timeout/EOF.
  std::string ReadLine(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::string line;
    while (std::chrono::steady_clock::now() < deadline) {
      auto nl = buffer_.find('\n');
      if (nl != std::string::npos) {
        line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      pollfd p{out_, POLLIN, 0};
      int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      deadline - std::chrono::steady_clock::now())
                                      .count());
      if (poll(&p, 1, std::max(left, 0)) <= 0) break;
      char buf[4096];
      ssize_t n = read(out_, buf, sizeof(buf));
      if (n <= 0) break;
      buffer_.append(buf, static_cast<size_t>(n));
    }
    return "";
  }

  // Waits for a line starting with `prefix`; returns the rest.
  std::string WaitForLine(const std::string& prefix, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      std::string line = ReadLine(std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now()));
      if (line.rfind(prefix, 0) == 0) return line.substr(prefix.size());
    }
    return "";
  }

  bool Alive() {
    if (pid_ <= 0) return false;
    int status;
    return waitpid(pid_, &status, WNOHANG) == 0;
  }

  // Sends `sig` and reaps the child; returns its wait status (-1 if gone).
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = -1;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return status;
  }

  // Reads stdout to its end, waits for the exit and returns the wait status;
  // `usage` (optional) receives the child's resource use (CPU time).
  int Wait(std::string* out, struct rusage* usage) {
    char buf[4096];
    ssize_t n;
    out->append(buffer_);
    buffer_.clear();
    while ((n = read(out_, buf, sizeof(buf))) > 0) out->append(buf, static_cast<size_t>(n));
    int status = -1;
    struct rusage ru = {};
    wait4(pid_, &status, 0, &ru);
    if (usage) *usage = ru;
    pid_ = -1;
    return status;
  }

  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  std::string buffer_;
};

}  // namespace exportwatch::testing

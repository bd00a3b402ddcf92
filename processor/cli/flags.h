// A small flag parser for subcommands: --name=value or --name value,
// --help, and an error that names the bad flag. (absl::flags is global and
// cannot give each subcommand its own set.)
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace exportwatch::cli {

class FlagSet {
 public:
  FlagSet(std::string command, std::string summary)
      : command_(std::move(command)), summary_(std::move(summary)) {}

  void String(const std::string& name, std::string* target, const std::string& help);
  void Int(const std::string& name, int64_t* target, const std::string& help);
  void Double(const std::string& name, double* target, const std::string& help);
  void Bool(const std::string& name, bool* target, const std::string& help);
  // Repeatable: each occurrence appends.
  void Repeated(const std::string& name, std::vector<std::string>* target, const std::string& help);

  // Parses argv[first..]. Returns NOT_FOUND-free errors for unknown flags or
  // bad values; sets help_requested() on --help / -h.
  [[nodiscard]] absl::Status Parse(int argc, char** argv, int first);
  bool help_requested() const { return help_; }
  std::string Usage() const;

 private:
  struct Flag {
    std::string name;
    std::string help;
    std::string default_text;
    bool is_bool = false;
    std::function<absl::Status(const std::string&)> set;
  };
  std::string command_;
  std::string summary_;
  std::vector<Flag> flags_;
  bool help_ = false;
};

// Runs `parse`, prints usage on --help (exit 0) or the error plus a hint
// (exit 2). Returns -1 when the command should go on.
int HandleParse(FlagSet& flags, int argc, char** argv, int first);

}  // namespace exportwatch::cli

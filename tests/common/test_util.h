// Helpers shared by tests: fixture files, temp dirs, running the binary.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

namespace exportwatch::testing {

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

inline std::string Fixture(const std::string& name) {
  return ReadFile(std::string(EW_SOURCE_DIR) + "/tests/fixtures/" + name);
}

// A fresh directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "ewtest-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  // EW_KEEP_TEST_DIRS=1 keeps the directory (logs, state) for a post-mortem.
  ~TempDir() {
    if (std::getenv("EW_KEEP_TEST_DIRS") != nullptr) {
      std::cerr << "kept " << path_ << "\n";
      return;
    }
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace exportwatch::testing

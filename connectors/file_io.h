// File source and sink for `exportwatch replay`: JSON lines in, JSON lines out.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace exportwatch {

// Reads lines of at most `max_line_bytes`; a longer line is skipped whole
// (its bytes are never buffered) and reported as an error for that line only.
class LineReader {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LineReader>> Open(const std::string& path,
                                                                        size_t max_line_bytes);
  ~LineReader();
  // false at end of file. `line_status` is the per-line outcome.
  bool Next(std::string* line, absl::Status* line_status);
  int64_t line_number() const { return line_number_; }

 private:
  LineReader(std::FILE* f, size_t max) : f_(f), max_(max) {}
  std::FILE* f_;
  size_t max_;
  int64_t line_number_ = 0;
};

class LineWriter {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<LineWriter>> Open(const std::string& path);
  ~LineWriter();
  [[nodiscard]] absl::Status Write(absl::string_view line);
  [[nodiscard]] absl::Status Close();

 private:
  explicit LineWriter(std::FILE* f) : f_(f) {}
  std::FILE* f_;
};

}  // namespace exportwatch

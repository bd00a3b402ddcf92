// File source and sink for `exportwatch replay`: JSON lines in, JSON lines out.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

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
  LineReader(std::FILE* f, size_t max) : f_(f), max_(max), buffer_(kBufferBytes) {}
  // Refills buffer_ from f_; false at end of file (or on a read error).
  bool Fill();
  static constexpr size_t kBufferBytes = 64 << 10;
  std::FILE* f_;
  size_t max_;
  int64_t line_number_ = 0;
  // Bytes read ahead of the caller: buffer_[pos_, end_) is unread. Lines are
  // found with memchr over this buffer, not a locked fgetc per byte.
  std::vector<char> buffer_;
  size_t pos_ = 0, end_ = 0;
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

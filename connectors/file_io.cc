#include "connectors/file_io.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace exportwatch {

absl::StatusOr<std::unique_ptr<LineReader>> LineReader::Open(const std::string& path,
                                                             size_t max_line_bytes) {
  std::FILE* f = path == "-" ? stdin : std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<LineReader>(new LineReader(f, max_line_bytes));
}

LineReader::~LineReader() {
  if (f_ && f_ != stdin) std::fclose(f_);
}

bool LineReader::Fill() {
  pos_ = 0;
  end_ = std::fread(buffer_.data(), 1, buffer_.size(), f_);
  return end_ > 0;
}

bool LineReader::Next(std::string* line, absl::Status* line_status) {
  line->clear();
  *line_status = absl::OkStatus();
  bool too_long = false;
  size_t length = 0;
  bool any = false;
  while (pos_ < end_ || Fill()) {
    any = true;
    const char* start = buffer_.data() + pos_;
    const size_t avail = end_ - pos_;
    const char* nl = static_cast<const char*>(std::memchr(start, '\n', avail));
    const size_t n = nl != nullptr ? static_cast<size_t>(nl - start) : avail;
    length += n;
    if (!too_long) {
      if (length > max_) {
        // Skipped whole: nothing more of this line is buffered.
        too_long = true;
        line->clear();
      } else {
        line->append(start, n);
      }
    }
    pos_ += n;
    if (nl != nullptr) {
      ++pos_;
      break;
    }
  }
  if (!any) return false;
  ++line_number_;
  if (!line->empty() && line->back() == '\r') line->pop_back();
  if (too_long) {
    *line_status = absl::InvalidArgumentError(
        absl::StrCat("line of ", length, " bytes exceeds the limit of ", max_));
  }
  return true;
}

absl::StatusOr<std::unique_ptr<LineWriter>> LineWriter::Open(const std::string& path) {
  std::FILE* f = path == "-" ? stdout : std::fopen(path.c_str(), "wb");
  if (f == nullptr) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<LineWriter>(new LineWriter(f));
}

LineWriter::~LineWriter() { (void)Close(); }

absl::Status LineWriter::Write(absl::string_view line) {
  if (f_ == nullptr) return absl::FailedPreconditionError("writer closed");
  if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() || std::fputc('\n', f_) == EOF) {
    return absl::DataLossError(absl::StrCat("write failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status LineWriter::Close() {
  if (f_ == nullptr) return absl::OkStatus();
  int rc = f_ == stdout ? std::fflush(f_) : std::fclose(f_);
  f_ = nullptr;
  return rc == 0 ? absl::OkStatus() : absl::DataLossError("close failed");
}

}  // namespace exportwatch

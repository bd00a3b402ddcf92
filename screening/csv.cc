#include "screening/csv.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace exportwatch::screening {

CsvReader::CsvReader(absl::string_view data, char delimiter)
    : CsvReader(data, delimiter, Limits()) {}

CsvReader::CsvReader(absl::string_view data, char delimiter, Limits limits)
    : data_(data), delimiter_(delimiter), limits_(limits) {}

CsvReader::Result CsvReader::Fail(size_t record_start, size_t field, std::string message,
                                  std::string* error) {
  *error = std::move(message);
  error_field_ = field;
  // Resume after the first line of the bad record.
  size_t nl = data_.find('\n', record_start);
  pos_ = nl == absl::string_view::npos ? data_.size() : nl + 1;
  line_ = record_line_ + 1;
  return Result::kMalformed;
}

CsvReader::Result CsvReader::Next(std::vector<std::string>* fields, std::string* error) {
  fields->clear();
  // Skip blank lines and the DOS end-of-file marker.
  while (pos_ < data_.size()) {
    char c = data_[pos_];
    if (c == '\n') {
      ++pos_;
      ++line_;
    } else if (c == '\r' && pos_ + 1 < data_.size() && data_[pos_ + 1] == '\n') {
      pos_ += 2;
      ++line_;
    } else if (c == '\x1A' &&
               data_.find_first_not_of("\x1A\r\n", pos_) == absl::string_view::npos) {
      pos_ = data_.size();
    } else {
      break;
    }
  }
  if (pos_ >= data_.size()) return Result::kEnd;
  const size_t start = pos_;
  record_line_ = line_;
  error_field_ = 0;
  const size_t n = data_.size();
  std::string field;
  while (true) {
    field.clear();
    if (fields->size() >= limits_.max_fields) {
      return Fail(start, 0, absl::StrCat("more than ", limits_.max_fields, " fields"), error);
    }
    if (pos_ < n && data_[pos_] == '"') {
      ++pos_;
      bool closed = false;
      while (pos_ < n) {
        char c = data_[pos_];
        if (c == '"') {
          if (pos_ + 1 < n && data_[pos_ + 1] == '"') {
            field.push_back('"');
            pos_ += 2;
            continue;
          }
          ++pos_;
          closed = true;
          break;
        }
        if (c == '\n') ++line_;
        field.push_back(c);
        ++pos_;
        if (field.size() > limits_.max_field_bytes) {
          return Fail(start, fields->size() + 1,
                      absl::StrCat("longer than ", limits_.max_field_bytes, " bytes"), error);
        }
      }
      if (!closed) {
        return Fail(start, fields->size() + 1, "quote never closed", error);
      }
      while (pos_ < n && data_[pos_] == ' ') ++pos_;
      const bool crlf = pos_ + 1 < n && data_[pos_] == '\r' && data_[pos_ + 1] == '\n';
      if (pos_ < n && data_[pos_] != delimiter_ && data_[pos_] != '\n' && !crlf) {
        return Fail(start, fields->size() + 1, "text after closing quote", error);
      }
    } else {
      size_t end = pos_;
      while (end < n && data_[end] != delimiter_ && data_[end] != '\n' &&
             !(data_[end] == '\r' && end + 1 < n && data_[end + 1] == '\n')) {
        ++end;
      }
      if (end - pos_ > limits_.max_field_bytes) {
        return Fail(start, fields->size() + 1,
                    absl::StrCat("longer than ", limits_.max_field_bytes, " bytes"), error);
      }
      field.assign(data_.data() + pos_, end - pos_);
      pos_ = end;
    }
    fields->push_back(field);
    if (pos_ >= n) return Result::kRecord;
    if (data_[pos_] == delimiter_) {
      ++pos_;
      continue;
    }
    // End of line: LF or CRLF.
    pos_ += data_[pos_] == '\r' ? 2 : 1;
    ++line_;
    return Result::kRecord;
  }
}

}  // namespace exportwatch::screening

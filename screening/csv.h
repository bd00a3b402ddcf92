// CsvReader: RFC 4180 records from an in-memory buffer, for the list loaders.
//
// Fields are separated by `delimiter`; a field that starts with '"' is
// quoted: it may hold delimiters, line breaks and doubled quotes (""), and
// may be followed by spaces before the next delimiter. Unquoted fields are
// taken as they are (a stray '"' inside one is kept). Records end at LF or
// CRLF. Blank lines and a final DOS end-of-file byte (0x1A, as in OFAC's
// files) are skipped.
//
// A malformed record (text after a closing quote, a quote never closed, a
// field or record over the limits) is reported once with its line and the
// reader resumes at the next line after the record's first line, so one bad
// row costs one row.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace exportwatch::screening {

class CsvReader {
 public:
  struct Limits {
    // Longest field, in bytes. Default: 65536.
    size_t max_field_bytes = 65536;
    // Most fields in a record. Default: 1024.
    size_t max_fields = 1024;
  };
  enum class Result { kRecord, kMalformed, kEnd };

  explicit CsvReader(absl::string_view data, char delimiter = ',');
  CsvReader(absl::string_view data, char delimiter, Limits limits);

  // kRecord: `*fields` holds the next record. kMalformed: `*error` says
  // what is wrong with the record that starts at line() (in error_field());
  // the reader has moved past it. kEnd: no more input.
  Result Next(std::vector<std::string>* fields, std::string* error);

  // 1-based line where the record last returned by Next() starts.
  size_t line() const { return record_line_; }
  // After kMalformed: the 1-based field the problem is in, or 0 when it is
  // about the record as a whole.
  size_t error_field() const { return error_field_; }

 private:
  Result Fail(size_t record_start, size_t field, std::string message, std::string* error);

  absl::string_view data_;
  char delimiter_;
  Limits limits_;
  size_t pos_ = 0;
  size_t line_ = 1;  // line of pos_
  size_t record_line_ = 0;
  size_t error_field_ = 0;
};

}  // namespace exportwatch::screening

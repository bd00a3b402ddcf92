#include "processor/policy/json_locator.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace exportwatch {
namespace {

constexpr int kMaxDepth = 64;

std::string NormalizeKey(absl::string_view key) {
  std::string out;
  for (char c : key) {
    if (c != '_') out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

// "a.b[2].c" with each key normalized.
std::string NormalizePath(absl::string_view path) {
  std::string out, key;
  auto flush = [&] {
    absl::StrAppend(&out, NormalizeKey(key));
    key.clear();
  };
  for (char c : path) {
    if (c == '.' || c == '[' || c == ']') {
      flush();
      out.push_back(c);
    } else {
      key.push_back(c);
    }
  }
  flush();
  return out;
}

// A recursive-descent walk that records the first error and, optionally,
// the position of one path.
class Scanner {
 public:
  Scanner(absl::string_view s, std::string target) : s_(s), target_(std::move(target)) {}

  bool Run() {
    SkipSpace();
    if (!Value(0)) return false;
    SkipSpace();
    if (i_ != s_.size()) return Fail();
    return true;
  }
  JsonLocation error() const { return Where(error_at_); }
  std::optional<JsonLocation> found() const { return found_; }

 private:
  JsonLocation Where(size_t pos) const {
    JsonLocation l{1, 1};
    for (size_t k = 0; k < pos && k < s_.size(); ++k) {
      if (s_[k] == '\n') {
        ++l.line;
        l.column = 1;
      } else {
        ++l.column;
      }
    }
    return l;
  }
  bool Fail() {
    error_at_ = i_;
    return false;
  }
  void SkipSpace() {
    while (i_ < s_.size() &&
           (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) {
      ++i_;
    }
  }
  void Mark(size_t pos) {
    if (!found_ && !target_.empty() && path_ == target_) found_ = Where(pos);
  }
  bool String(std::string* out) {
    if (i_ >= s_.size() || s_[i_] != '"') return Fail();
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      if (static_cast<unsigned char>(s_[i_]) < 0x20) return Fail();
      if (s_[i_] == '\\') {
        if (++i_ >= s_.size()) return Fail();
      }
      if (out != nullptr) out->push_back(s_[i_]);
      ++i_;
    }
    if (i_ >= s_.size()) return Fail();
    ++i_;
    return true;
  }
  bool Literal(absl::string_view word) {
    if (s_.substr(i_, word.size()) != word) return Fail();
    i_ += word.size();
    return true;
  }
  bool Number() {
    const size_t start = i_;
    while (i_ < s_.size() &&
           absl::string_view("+-0123456789.eE").find(s_[i_]) != absl::string_view::npos) {
      ++i_;
    }
    return i_ > start ? true : Fail();
  }
  bool Value(int depth) {
    if (depth > kMaxDepth) return Fail();
    if (i_ >= s_.size()) return Fail();
    switch (s_[i_]) {
      case '{':
        return Object(depth);
      case '[':
        return Array(depth);
      case '"':
        return String(nullptr);
      case 't':
        return Literal("true");
      case 'f':
        return Literal("false");
      case 'n':
        return Literal("null");
      default:
        return Number();
    }
  }
  bool Object(int depth) {
    ++i_;
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == '}') {
      ++i_;
      return true;
    }
    while (true) {
      SkipSpace();
      const size_t key_at = i_;
      std::string key;
      if (!String(&key)) return false;
      SkipSpace();
      if (i_ >= s_.size() || s_[i_] != ':') return Fail();
      ++i_;
      SkipSpace();
      const size_t saved = path_.size();
      absl::StrAppend(&path_, path_.empty() ? "" : ".", NormalizeKey(key));
      Mark(key_at);
      const bool ok = Value(depth + 1);
      path_.resize(saved);
      if (!ok) return false;
      SkipSpace();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == '}') {
        ++i_;
        return true;
      }
      return Fail();
    }
  }
  bool Array(int depth) {
    ++i_;
    SkipSpace();
    if (i_ < s_.size() && s_[i_] == ']') {
      ++i_;
      return true;
    }
    for (int index = 0;; ++index) {
      SkipSpace();
      const size_t saved = path_.size();
      absl::StrAppend(&path_, "[", index, "]");
      Mark(i_);
      const bool ok = Value(depth + 1);
      path_.resize(saved);
      if (!ok) return false;
      SkipSpace();
      if (i_ < s_.size() && s_[i_] == ',') {
        ++i_;
        continue;
      }
      if (i_ < s_.size() && s_[i_] == ']') {
        ++i_;
        return true;
      }
      return Fail();
    }
  }

  absl::string_view s_;
  size_t i_ = 0;
  size_t error_at_ = 0;
  std::string path_;
  std::string target_;
  std::optional<JsonLocation> found_;
};

bool IsPathChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '[' ||
         c == ']';
}

}  // namespace

std::optional<JsonLocation> FindJsonSyntaxError(absl::string_view json) {
  Scanner s(json, "");
  if (s.Run()) return std::nullopt;
  return s.error();
}

std::optional<JsonLocation> LocateJsonPath(absl::string_view json, absl::string_view path) {
  if (path.empty()) return std::nullopt;
  Scanner s(json, NormalizePath(path));
  s.Run();  // a later syntax error does not hide an earlier key
  return s.found();
}

std::string ErrorFieldPath(absl::string_view m) {
  if (absl::StartsWith(m, "(")) {
    // "(parent.path) field: ..." or "(parent.path): ...".
    const size_t close = m.find(')');
    if (close == absl::string_view::npos) return "";
    std::string path(m.substr(1, close - 1));
    absl::string_view rest = m.substr(close + 1);
    if (absl::StartsWith(rest, " ")) {
      rest.remove_prefix(1);
      size_t n = 0;
      while (n < rest.size() && IsPathChar(rest[n])) ++n;
      if (n > 0 && n < rest.size() && rest[n] == ':') {
        absl::StrAppend(&path, path.empty() ? "" : ".", rest.substr(0, n));
      }
    }
    return path;
  }
  size_t n = 0;
  while (n < m.size() && IsPathChar(m[n])) ++n;
  if (n == 0 || n >= m.size() || m[n] != ':') return "";
  return std::string(m.substr(0, n));
}

}  // namespace exportwatch

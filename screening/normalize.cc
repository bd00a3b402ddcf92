#include "screening/normalize.h"

#include <unicode/translit.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <algorithm>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"

namespace exportwatch::screening {

// A pool of transliterator clones: an icu::Transliterator must not be used
// by two threads at once.
struct Normalizer::Icu {
  std::unique_ptr<icu::Transliterator> prototype;
  absl::Mutex mu;
  std::vector<std::unique_ptr<icu::Transliterator>> pool ABSL_GUARDED_BY(mu);

  std::unique_ptr<icu::Transliterator> Borrow() {
    absl::MutexLock lock(&mu);
    if (!pool.empty()) {
      auto t = std::move(pool.back());
      pool.pop_back();
      return t;
    }
    return std::unique_ptr<icu::Transliterator>(prototype->clone());
  }
  void Return(std::unique_ptr<icu::Transliterator> t) {
    absl::MutexLock lock(&mu);
    pool.push_back(std::move(t));
  }
};

namespace {

using Phrase = std::vector<std::string>;

std::vector<Phrase> ToPhrases(const std::vector<std::string>& forms) {
  std::vector<Phrase> out;
  for (const auto& f : forms) out.push_back(absl::StrSplit(f, ' '));
  // Longest first, so that "private limited" wins over "limited".
  std::stable_sort(out.begin(), out.end(),
                   [](const Phrase& a, const Phrase& b) { return a.size() > b.size(); });
  return out;
}

const std::vector<Phrase>& TrailingPhrases() {
  static const auto* p = new std::vector<Phrase>(ToPhrases(Normalizer::LegalForms()));
  return *p;
}
const std::vector<Phrase>& LeadingPhrases() {
  static const auto* p = new std::vector<Phrase>(ToPhrases(Normalizer::LeadingLegalForms()));
  return *p;
}

bool EndsWith(const std::vector<std::string>& t, size_t begin, size_t end, const Phrase& p) {
  if (end - begin < p.size()) return false;
  return std::equal(p.begin(), p.end(), t.begin() + (end - p.size()));
}
bool StartsWith(const std::vector<std::string>& t, size_t begin, size_t end, const Phrase& p) {
  if (end - begin < p.size()) return false;
  return std::equal(p.begin(), p.end(), t.begin() + begin);
}

// Drops legal forms from both ends; never drops the last remaining token.
void DropLegalForms(std::vector<std::string>* tokens) {
  size_t begin = 0, end = tokens->size();
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& p : TrailingPhrases()) {
      if (end - begin > p.size() && EndsWith(*tokens, begin, end, p)) {
        end -= p.size();
        changed = true;
        break;
      }
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& p : LeadingPhrases()) {
      if (end - begin > p.size() && StartsWith(*tokens, begin, end, p)) {
        begin += p.size();
        changed = true;
        break;
      }
    }
  }
  if (begin == 0 && end == tokens->size()) return;
  std::vector<std::string> kept(std::make_move_iterator(tokens->begin() + begin),
                                std::make_move_iterator(tokens->begin() + end));
  *tokens = std::move(kept);
}

bool IsAscii(absl::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

// Length of the UTF-8 sequence that starts with `c` (1 for invalid bytes).
size_t Utf8Length(unsigned char c) {
  if (c >= 0xF0 && c < 0xF8) return 4;
  if (c >= 0xE0) return 3;
  if (c >= 0xC0) return 2;
  return 1;
}

// Code points that transliteration leaves for the Arabic ayn/hamza and
// typographic apostrophes: removed like '.
bool IsApostropheSequence(absl::string_view seq) {
  static constexpr absl::string_view kApostrophes[] = {
      "\xCA\xBE",      // U+02BE modifier letter right half ring (hamza)
      "\xCA\xBF",      // U+02BF modifier letter left half ring (ayn)
      "\xCA\xBB",      // U+02BB modifier letter turned comma
      "\xCA\xBC",      // U+02BC modifier letter apostrophe
      "\xE2\x80\x98",  // U+2018
      "\xE2\x80\x99",  // U+2019
      "\xC2\xB4",      // U+00B4 acute accent
  };
  for (auto a : kApostrophes) {
    if (seq == a) return true;
  }
  return false;
}

struct RawToken {
  std::string text;
  bool dotted = false;         // a single letter directly followed by '.'
  bool after_initial = false;  // starts right after a dotted single letter
};

std::vector<RawToken> Tokenize(absl::string_view s) {
  std::vector<RawToken> out;
  RawToken cur;
  bool prev_was_initial_dot = false;  // the previous byte ended a dotted initial
  auto flush = [&](bool dotted) {
    if (!cur.text.empty()) {
      cur.dotted = dotted && cur.text.size() == 1 && absl::ascii_isalpha(cur.text[0]);
      out.push_back(std::move(cur));
    }
    cur = RawToken();
  };
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (absl::ascii_isalnum(c)) {
        if (cur.text.empty()) cur.after_initial = prev_was_initial_dot;
        cur.text.push_back(absl::ascii_tolower(c));
        prev_was_initial_dot = false;
      } else if (c == '\'' || c == '`') {
        // Removed: O'Brien -> obrien.
      } else if (c == '.') {
        bool initial = cur.text.size() == 1 && absl::ascii_isalpha(cur.text[0]);
        flush(true);
        prev_was_initial_dot = initial;
      } else {
        flush(false);
        prev_was_initial_dot = false;
      }
      ++i;
      continue;
    }
    size_t n = std::min(Utf8Length(c), s.size() - i);
    if (!IsApostropheSequence(s.substr(i, n))) {
      flush(false);
      prev_was_initial_dot = false;
    }
    i += n;
  }
  flush(false);
  return out;
}

// "j" "p" "morgan" with j and p dotted initials -> "jp" "morgan".
std::vector<std::string> JoinInitials(std::vector<RawToken> raw) {
  std::vector<std::string> out;
  out.reserve(raw.size());
  for (size_t i = 0; i < raw.size(); ++i) {
    if (raw[i].dotted && i + 1 < raw.size() && raw[i + 1].after_initial &&
        raw[i + 1].text.size() == 1) {
      std::string joined = raw[i].text;
      size_t j = i + 1;
      while (j < raw.size() && raw[j].after_initial && raw[j].text.size() == 1 &&
             raw[j - 1].dotted) {
        joined += raw[j].text;
        ++j;
      }
      out.push_back(std::move(joined));
      i = j - 1;
      continue;
    }
    out.push_back(std::move(raw[i].text));
  }
  return out;
}

}  // namespace

std::string NormalizedName::Joined() const { return absl::StrJoin(tokens, " "); }

const std::vector<std::string>& Normalizer::LegalForms() {
  static const auto* forms = new std::vector<std::string>{
      // English and common abbreviations.
      "ltd", "limited", "inc", "incorporated", "co", "company", "corp", "corporation", "llc", "llp",
      "lp", "plc", "pllc", "co ltd", "company limited", "public limited", "private limited",
      "limited liability", "limited liability partnership", "pte", "pte ltd", "pvt", "pvt ltd",
      "pty", "pty ltd",
      // German, Dutch, Nordic, French, Iberian, Italian.
      "gmbh", "mbh", "ag", "kg", "kgaa", "se", "bv", "nv", "oy", "oyj", "ab", "as", "asa", "aps",
      "sa", "sas", "sarl", "srl", "spa", "sl", "slu", "sau", "lda", "ltda", "sa de cv", "s de rl",
      "s de rl de cv",
      // Central and Eastern Europe, Russia and the CIS.
      "sro", "kft", "zrt", "doo", "ad", "eood", "ood", "sp z oo", "sp z o o", "jsc", "ojsc", "pjsc",
      "cjsc", "ooo", "zao", "oao", "pao", "ao", "tov", "too", "joint stock", "open joint stock",
      "closed joint stock", "public joint stock",
      // Asia and the Gulf.
      "kk", "sdn", "bhd", "sdn bhd", "tbk", "fzc", "fze", "fzco", "fz llc", "wll"};
  return *forms;
}

const std::vector<std::string>& Normalizer::LeadingLegalForms() {
  static const auto* forms = new std::vector<std::string>{"ooo",
                                                          "zao",
                                                          "oao",
                                                          "pao",
                                                          "ao",
                                                          "jsc",
                                                          "ojsc",
                                                          "pjsc",
                                                          "cjsc",
                                                          "llc",
                                                          "pt",
                                                          "too",
                                                          "tov",
                                                          "fgup",
                                                          "joint stock company",
                                                          "open joint stock company",
                                                          "closed joint stock company",
                                                          "public joint stock company",
                                                          "limited liability company"};
  return *forms;
}

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::Create(NormalizerOptions options) {
  UErrorCode status = U_ZERO_ERROR;
  icu::UnicodeString id = icu::UnicodeString::fromUTF8(icu::StringPiece(
      options.transliteration.data(), static_cast<int32_t>(options.transliteration.size())));
  std::unique_ptr<icu::Transliterator> t(
      icu::Transliterator::createInstance(id, UTRANS_FORWARD, status));
  if (U_FAILURE(status) || t == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("ICU transliterator '", options.transliteration, "': ", u_errorName(status)));
  }
  auto icu = std::make_unique<Icu>();
  icu->prototype = std::move(t);
  return std::unique_ptr<Normalizer>(new Normalizer(std::move(options), std::move(icu)));
}

Normalizer::Normalizer(NormalizerOptions options, std::unique_ptr<Icu> icu)
    : options_(std::move(options)), icu_(std::move(icu)) {}

Normalizer::~Normalizer() = default;

absl::StatusOr<NormalizedName> Normalizer::Normalize(absl::string_view name) const {
  if (name.size() > options_.max_name_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "name of ", name.size(), " bytes is longer than the limit of ", options_.max_name_bytes));
  }
  std::string latin;
  if (!IsAscii(name)) {
    icu::UnicodeString u = icu::UnicodeString::fromUTF8(
        icu::StringPiece(name.data(), static_cast<int32_t>(name.size())));
    auto t = icu_->Borrow();
    if (t == nullptr) return absl::InternalError("ICU transliterator clone failed");
    t->transliterate(u);
    icu_->Return(std::move(t));
    u.toUTF8String(latin);
    name = latin;
  }
  NormalizedName out;
  out.tokens = JoinInitials(Tokenize(name));
  if (options_.drop_legal_forms && out.tokens.size() > 1) DropLegalForms(&out.tokens);
  return out;
}

}  // namespace exportwatch::screening

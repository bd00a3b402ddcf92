// Name normalization for screening: the only code that includes ICU.
//
// Normalize() turns a party or list name into comparable tokens:
//   1. input longer than `max_name_bytes` is rejected (kInvalidArgument);
//   2. non-ASCII input is transliterated with ICU (`Any-Latin; Latin-ASCII`:
//      Cyrillic, Greek, Arabic, Hebrew, Han, Hangul, Devanagari, ... to Latin,
//      then accents and ligatures to ASCII); ASCII input skips ICU entirely;
//      invalid UTF-8 bytes become U+FFFD and then separators;
//   3. ASCII letters are lower-cased; apostrophes (' ` and their typographic
//      forms, after transliteration) are removed so that O'Brien == OBrien;
//      every other non-alphanumeric byte separates tokens;
//   4. dotted initials are joined: "J.P." -> "jp", "L.L.C." -> "llc",
//      "S.A." -> "sa" (a single letter directly followed by '.' and another
//      such letter);
//   5. legal-form tokens are dropped from the end of the name, and the forms
//      that are written first in some countries (OOO, ZAO, OAO, PAO, AO, JSC,
//      OJSC, PJSC, CJSC, LLC, PT, TOO, TOV, "joint stock company", ...) also
//      from the start; a name made only of legal forms keeps them. The list is
//      LegalForms() / LeadingLegalForms() below;
//   6. tokens are kept in input order; scoring compares them as a bag, so
//      word order does not matter.
//
// Threads: a Normalizer is safe for concurrent use. An icu::Transliterator
// is not (Any-Latin caches per-script transliterators inside), so each
// Normalize() call that needs ICU borrows a private clone from a small pool
// (a mutex held only to pop or push a pointer); the pool grows to the
// number of threads that transliterate at the same time and never shrinks.
// Creating the first transliterator costs ~40 ms, and each clone loads the
// rules of a script the first time it meets it (up to ~100 ms for Han):
// create one Normalizer per process and share it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace exportwatch::screening {

struct NormalizerOptions {
  // ICU transform applied to input that is not pure ASCII.
  // Default: "Any-Latin; Latin-ASCII".
  std::string transliteration = "Any-Latin; Latin-ASCII";
  // Longest name accepted, in bytes of UTF-8 input. Default: 4096.
  size_t max_name_bytes = 4096;
  // Drop legal-form tokens (see above). Default: true.
  bool drop_legal_forms = true;
};

// The comparable form of a name.
struct NormalizedName {
  // Lower-case ASCII tokens [a-z0-9]+, in input order.
  std::vector<std::string> tokens;

  // The tokens joined by single spaces ("huawei technologies").
  std::string Joined() const;
  bool empty() const { return tokens.empty(); }
};

class Normalizer {
 public:
  // Builds the transliterator. kInvalidArgument when ICU rejects
  // `options.transliteration`.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Normalizer>> Create(
      NormalizerOptions options = {});
  ~Normalizer();
  Normalizer(const Normalizer&) = delete;
  Normalizer& operator=(const Normalizer&) = delete;

  // kInvalidArgument when `name` is longer than max_name_bytes; kInternal
  // when ICU fails. An input with no letters or digits gives no tokens.
  [[nodiscard]] absl::StatusOr<NormalizedName> Normalize(absl::string_view name) const;

  const NormalizerOptions& options() const { return options_; }

  // Legal forms dropped from the end of a name, each a token sequence
  // written as normalized tokens joined by spaces ("sdn bhd", "co ltd").
  static const std::vector<std::string>& LegalForms();
  // Legal forms also dropped from the start of a name ("ooo", "pjsc").
  static const std::vector<std::string>& LeadingLegalForms();

 private:
  struct Icu;
  Normalizer(NormalizerOptions options, std::unique_ptr<Icu> icu);

  NormalizerOptions options_;
  std::unique_ptr<Icu> icu_;
};

}  // namespace exportwatch::screening

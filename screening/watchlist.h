// Watchlist: an immutable, indexed screening list (names and aliases of
// the entries of one or more published lists) and the SCREENING_MATCH
// matcher over it.
//
//   auto list = Watchlist::Build(std::move(entries));
//   auto matches = (*list)->Screen("Huawei Technologies Co., Ltd.");
//
// Screen() never scans the list. Candidate generation: every distinct token
// of every list name (and every concatenation of 2 or 3 adjacent tokens) is
// a vocabulary term; terms are found by hashed keys: the token itself and,
// for tokens of 4+ letters, each single-letter deletion of it (the
// symmetric-delete trick: two tokens within one edit, or one adjacent
// transposition, share a key); the query's own joins are looked up exactly.
// A query token of 5+ letters whose keys find no term with Jaro-Winkler
// >= 0.9 also looks terms up by shared trigrams (a third of its trigrams at
// least; the 64 best are verified), for two or more typos. Terms with Jaro-Winkler >=
// min_token_similarity add evidence to the names that contain them (posting lists). Each name gets
// an estimate of its score from that evidence; only names whose estimate is within
// `candidate_margin` of the threshold are scored in full, at most `max_candidates` of them, best
// estimates first. Recall therefore depends on the index finding enough of the query's tokens;
// screening/README.md gives the measured recall and the share of exhaustive-scan matches the index
// finds.
//
// Threads: a Watchlist is immutable after Build() and safe for any number of
// concurrent Screen() calls (each call uses its own thread-local scratch).
// To swap a list at run time, build the new one aside, publish it through a
// std::shared_ptr<const Watchlist>, and re-screen the ids in Diff().
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "screening/normalize.h"
#include "screening/score.h"

namespace exportwatch::screening {

// One entry of a published list (an OFAC ent_num, a CSL row).
struct WatchlistEntry {
  // Unique within the watchlist: OFAC ent_num, the CSL `_id` or
  // entity_number, or a stable hash (see list_loader.h).
  std::string id;
  // The name as published.
  std::string name;
  // Aliases as published (a.k.a., f.k.a., n.k.a.).
  std::vector<std::string> alt_names;
  // The list's name, as the CSL spells it: "Entity List (EL) - Bureau of
  // Industry and Security", "Specially Designated Nationals (SDN) - Treasury
  // Department", ...
  std::string source;
  // "Individual", "Entity", "Vessel", "Aircraft", or empty when unknown.
  std::string type;
  // Sanctions programs ("SDGT", "IRAN", "RUSSIA-EO14024", ...).
  std::vector<std::string> programs;
  // Addresses, each one line as published.
  std::vector<std::string> addresses;
  // Countries of the addresses, citizenships and nationalities, as published
  // (ISO 3166-1 alpha-2 codes in the CSL, country names in OFAC add.csv).
  std::vector<std::string> countries;
};

// One entry that matched a screened name.
struct Match {
  // Index into Watchlist::entries().
  size_t entry_index = 0;
  // The entry's name or alias that scored best, as published.
  std::string matched_name;
  // True when `matched_name` is an alias.
  bool alias = false;
  // NameScore() of the screened name and `matched_name`, in [0, 1].
  double score = 0.0;
};

struct WatchlistOptions {
  // Shared normalizer (it is costly to create). Default: null, Build()
  // creates one with default NormalizerOptions.
  std::shared_ptr<const Normalizer> normalizer;
  // Build() fails with kResourceExhausted beyond this many entries.
  // Default: 2,000,000.
  size_t max_entries = 2'000'000;
  // Names (primary + aliases) indexed per entry; further aliases are
  // counted in Stats::skipped_names and not indexed. Default: 512.
  size_t max_names_per_entry = 512;
};

struct ScreenOptions {
  // Lowest score reported. Default: 0.88 (SCREENING_MATCH in RULES.md).
  double threshold = 0.88;
  // Most matches returned (best first, one per entry). Default: 10.
  size_t max_results = 10;
  // Most list names scored in full per query, best estimates first.
  // Default: 32.
  size_t max_candidates = 32;
  // A name is scored in full when its estimate (the length share of its
  // tokens and of the query's that found each other through the index) is
  // at least threshold - candidate_margin. A token with two or more typos
  // that the index does not find counts 0 in the estimate although it may
  // score ~0.85 in full, hence the wide margin. Default: 0.45.
  double candidate_margin = 0.45;
  // A vocabulary term counts as evidence for a query token when their
  // Jaro-Winkler similarity is at least this. Default: 0.8.
  double min_token_similarity = 0.8;
  // Query tokens (and joins) used for candidate generation, longest first;
  // every token still counts in the score. Default: 32.
  size_t max_query_terms = 32;
};

class Watchlist {
 public:
  struct Stats {
    size_t entries = 0;
    size_t names = 0;          // names and aliases indexed
    size_t skipped_names = 0;  // too long, no tokens, or beyond max_names_per_entry
    size_t terms = 0;          // distinct vocabulary terms
    size_t keys = 0;           // distinct lookup keys
  };

  // Indexes `entries`. kInvalidArgument for an empty or duplicate id;
  // kResourceExhausted beyond max_entries. Names that do not normalize
  // (too long) are skipped and counted, not fatal.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Watchlist>> Build(
      std::vector<WatchlistEntry> entries, WatchlistOptions options = {});

  // Entries whose name or an alias scores >= options.threshold against
  // `name`, best first. kInvalidArgument when `name` is longer than the
  // normalizer's max_name_bytes. An empty name matches nothing.
  [[nodiscard]] absl::StatusOr<std::vector<Match>> Screen(absl::string_view name,
                                                          const ScreenOptions& options = {}) const;
  // The same for an already normalized name.
  [[nodiscard]] std::vector<Match> ScreenNormalized(const NormalizedName& name,
                                                    const ScreenOptions& options = {}) const;

  const std::vector<WatchlistEntry>& entries() const { return entries_; }
  const WatchlistEntry& entry(size_t index) const { return entries_[index]; }
  // Index of the entry with this id.
  std::optional<size_t> Find(absl::string_view id) const;
  const Normalizer& normalizer() const { return *normalizer_; }
  const Stats& stats() const { return stats_; }

 private:
  struct Name {
    uint32_t entry;
    uint32_t alias;  // 0: the primary name, k: alt_names[k - 1]
    ScoringName scoring;
  };
  struct Term {
    std::string text;
    // 0 for a token; for a join, the length of its longest part.
    uint32_t max_part = 0;
    uint32_t postings_begin = 0, postings_end = 0;  // into postings_
  };
  struct KeyRange {
    uint32_t begin = 0, end = 0;  // into key_terms_ or trigram_terms_
  };
  // A query token or join, for candidate generation.
  struct QueryTerm {
    absl::string_view text;
    size_t max_part = 0;  // 0: a token; a join: the length of its longest part
  };

 public:
  struct Scratch;  // per-thread accumulators (watchlist.cc)

 private:
  Watchlist() = default;
  // Adds the evidence of one vocabulary term for one query term; returns
  // their Jaro-Winkler similarity (0 when they may not be compared).
  double AddEvidence(const QueryTerm& q, uint32_t term_index, const ScreenOptions& options,
                     Scratch* s) const;
  // Finds terms for `q` by shared trigrams and adds their evidence.
  void FallbackEvidence(const QueryTerm& q, const ScreenOptions& options, Scratch* s) const;

  std::shared_ptr<const Normalizer> normalizer_;
  std::vector<WatchlistEntry> entries_;
  absl::flat_hash_map<std::string, size_t> by_id_;
  std::vector<Name> names_;
  std::vector<Term> terms_;
  std::vector<uint32_t> postings_;  // name indexes, grouped by term
  absl::flat_hash_map<uint64_t, KeyRange> keys_;
  std::vector<uint32_t> key_terms_;  // term indexes, grouped by key
  absl::flat_hash_map<uint32_t, KeyRange> trigrams_;
  std::vector<uint32_t> trigram_terms_;  // token term indexes, grouped by trigram
  Stats stats_;
};

// What changed between two versions of a list, by entry id: the entries to
// re-screen known parties against after a swap.
struct WatchlistDiff {
  std::vector<std::string> added;    // ids only in `newer`, sorted
  std::vector<std::string> removed;  // ids only in `older`, sorted
  std::vector<std::string> changed;  // ids in both whose names or aliases differ, sorted
};
[[nodiscard]] WatchlistDiff Diff(const std::vector<WatchlistEntry>& older,
                                 const std::vector<WatchlistEntry>& newer);
[[nodiscard]] WatchlistDiff Diff(const Watchlist& older, const Watchlist& newer);

}  // namespace exportwatch::screening

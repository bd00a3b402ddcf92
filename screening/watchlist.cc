#include "screening/watchlist.h"

#include <algorithm>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace exportwatch::screening {
namespace {

// Tokens shorter than this are looked up exactly (no deletion keys): a
// deletion of "ali" is "al", which would pull in half of any list.
constexpr size_t kMinDeleteLength = 4;
// Tokens longer than this get no deletion keys and no trigram lookup (no
// real name part is this long; it bounds the work on hostile input).
constexpr size_t kMaxFuzzyLength = 32;
// Joins longer than this are not indexed.
constexpr size_t kMaxJoinLength = 24;
// Tokens of at least this many letters are also indexed by their trigrams,
// for the fallback lookup of query tokens with two or more typos.
constexpr size_t kMinTrigramLength = 5;
// The fallback runs for a query token whose best term found by the
// deletion keys is below this Jaro-Winkler similarity.
constexpr double kFallbackBelow = 0.9;
// Trigrams shared by more terms than this are not counted (too common to
// tell terms apart); at most this many fallback terms are verified.
constexpr size_t kMaxTrigramPostings = 4000;
constexpr size_t kMaxFallbackTerms = 64;

uint32_t Trigram(absl::string_view s, size_t i) {
  return (static_cast<uint32_t>(static_cast<unsigned char>(s[i])) << 16) |
         (static_cast<uint32_t>(static_cast<unsigned char>(s[i + 1])) << 8) |
         static_cast<uint32_t>(static_cast<unsigned char>(s[i + 2]));
}

void Trigrams(absl::string_view s, std::vector<uint32_t>* out) {
  out->clear();
  for (size_t i = 0; i + 3 <= s.size(); ++i) out->push_back(Trigram(s, i));
  std::sort(out->begin(), out->end());
  out->erase(std::unique(out->begin(), out->end()), out->end());
}

uint64_t KeyHash(absl::string_view s) { return absl::Hash<absl::string_view>{}(s); }

// The lookup keys of a term: itself and, from kMinDeleteLength letters, each
// single deletion.
void TermKeys(absl::string_view term, std::vector<uint64_t>* keys) {
  keys->push_back(KeyHash(term));
  if (term.size() < kMinDeleteLength || term.size() > kMaxFuzzyLength) return;
  std::string del;
  for (size_t i = 0; i < term.size(); ++i) {
    if (i > 0 && term[i] == term[i - 1]) continue;  // same deletion as i - 1
    del.assign(term.data(), i);
    del.append(term.data() + i + 1, term.size() - i - 1);
    keys->push_back(KeyHash(del));
  }
}

}  // namespace

// Per-thread accumulators for Screen(), one slot per list name.
struct Watchlist::Scratch {
  std::vector<float> a;  // evidence weighted by query token length
  std::vector<float> b;  // evidence weighted by list token length
  std::vector<uint32_t> touched;
  std::vector<uint8_t> trigram_count;  // per term, for the fallback
  std::vector<uint32_t> trigram_touched;
  std::vector<uint64_t> keys;
  std::vector<uint32_t> trigrams;
  std::vector<uint32_t> visited;

  void Fit(size_t names, size_t terms) {
    if (a.size() < names) {
      a.resize(names, 0.0f);
      b.resize(names, 0.0f);
    }
    if (trigram_count.size() < terms) trigram_count.resize(terms, 0);
    touched.clear();
  }
};

namespace {

Watchlist::Scratch& ThreadScratch() {
  thread_local Watchlist::Scratch scratch;
  return scratch;
}

std::vector<std::string> SortedAliases(const WatchlistEntry& e) {
  std::vector<std::string> v = e.alt_names;
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

absl::StatusOr<std::unique_ptr<Watchlist>> Watchlist::Build(std::vector<WatchlistEntry> entries,
                                                            WatchlistOptions options) {
  if (entries.size() > options.max_entries) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "watchlist of ", entries.size(), " entries exceeds max_entries ", options.max_entries));
  }
  std::unique_ptr<Watchlist> wl(new Watchlist());
  if (options.normalizer == nullptr) {
    ASSIGN_OR_RETURN(std::unique_ptr<Normalizer> n, Normalizer::Create());
    wl->normalizer_ = std::move(n);
  } else {
    wl->normalizer_ = options.normalizer;
  }
  wl->entries_ = std::move(entries);
  wl->by_id_.reserve(wl->entries_.size());
  for (size_t i = 0; i < wl->entries_.size(); ++i) {
    const std::string& id = wl->entries_[i].id;
    if (id.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("watchlist entry ", i, " (", wl->entries_[i].name, ") has no id"));
    }
    auto [it, inserted] = wl->by_id_.emplace(id, i);
    if (!inserted) {
      return absl::InvalidArgumentError(
          absl::StrCat("watchlist entries ", it->second, " and ", i, " share the id '", id, "'"));
    }
  }

  // Names, and (term, name) pairs.
  absl::flat_hash_map<std::string, uint32_t> token_terms, join_terms;
  std::vector<std::pair<uint32_t, uint32_t>> term_names;
  auto intern = [&](const std::string& text, uint32_t max_part) -> uint32_t {
    auto& map = max_part == 0 ? token_terms : join_terms;
    auto [it, inserted] = map.emplace(text, static_cast<uint32_t>(wl->terms_.size()));
    if (inserted) {
      wl->terms_.push_back(Term{text, max_part, 0, 0});
    } else if (max_part != 0) {
      Term& t = wl->terms_[it->second];
      t.max_part = std::min(t.max_part, max_part);
    }
    return it->second;
  };
  Stats& stats = wl->stats_;
  stats.entries = wl->entries_.size();
  for (size_t i = 0; i < wl->entries_.size(); ++i) {
    const WatchlistEntry& e = wl->entries_[i];
    const size_t count = 1 + e.alt_names.size();
    for (size_t k = 0; k < count; ++k) {
      if (k >= options.max_names_per_entry) {
        stats.skipped_names += count - k;
        break;
      }
      const std::string& raw = k == 0 ? e.name : e.alt_names[k - 1];
      auto normalized = wl->normalizer_->Normalize(raw);
      if (!normalized.ok() || normalized->empty()) {
        ++stats.skipped_names;
        continue;
      }
      const auto name_index = static_cast<uint32_t>(wl->names_.size());
      wl->names_.push_back(Name{static_cast<uint32_t>(i), static_cast<uint32_t>(k),
                                ScoringName(std::move(normalized->tokens))});
      const ScoringName& s = wl->names_.back().scoring;
      for (const auto& t : s.tokens()) term_names.emplace_back(intern(t, 0), name_index);
      for (size_t j = 0; j < s.joins().size(); ++j) {
        if (s.joins()[j].size() > kMaxJoinLength) continue;
        term_names.emplace_back(intern(s.joins()[j], static_cast<uint32_t>(s.join_max_part()[j])),
                                name_index);
      }
    }
  }
  stats.names = wl->names_.size();
  stats.terms = wl->terms_.size();

  // Postings, grouped by term.
  std::sort(term_names.begin(), term_names.end());
  term_names.erase(std::unique(term_names.begin(), term_names.end()), term_names.end());
  wl->postings_.reserve(term_names.size());
  for (size_t i = 0; i < term_names.size();) {
    Term& t = wl->terms_[term_names[i].first];
    t.postings_begin = static_cast<uint32_t>(wl->postings_.size());
    const uint32_t term = term_names[i].first;
    for (; i < term_names.size() && term_names[i].first == term; ++i) {
      wl->postings_.push_back(term_names[i].second);
    }
    t.postings_end = static_cast<uint32_t>(wl->postings_.size());
  }
  term_names.clear();
  term_names.shrink_to_fit();

  // Keys: tokens by themselves and their deletions; joins by themselves.
  std::vector<std::pair<uint64_t, uint32_t>> key_terms;
  std::vector<uint64_t> keys;
  for (uint32_t i = 0; i < wl->terms_.size(); ++i) {
    keys.clear();
    if (wl->terms_[i].max_part == 0) {
      TermKeys(wl->terms_[i].text, &keys);
    } else {
      keys.push_back(KeyHash(wl->terms_[i].text));
    }
    for (uint64_t k : keys) key_terms.emplace_back(k, i);
  }
  std::sort(key_terms.begin(), key_terms.end());
  key_terms.erase(std::unique(key_terms.begin(), key_terms.end()), key_terms.end());
  wl->key_terms_.reserve(key_terms.size());
  for (size_t i = 0; i < key_terms.size();) {
    const uint64_t key = key_terms[i].first;
    KeyRange range;
    range.begin = static_cast<uint32_t>(wl->key_terms_.size());
    for (; i < key_terms.size() && key_terms[i].first == key; ++i) {
      wl->key_terms_.push_back(key_terms[i].second);
    }
    range.end = static_cast<uint32_t>(wl->key_terms_.size());
    wl->keys_.emplace(key, range);
  }
  stats.keys = wl->keys_.size();

  // Trigrams of tokens, for the fallback lookup.
  std::vector<std::pair<uint32_t, uint32_t>> trigram_terms;
  std::vector<uint32_t> trigrams;
  for (uint32_t i = 0; i < wl->terms_.size(); ++i) {
    const Term& t = wl->terms_[i];
    if (t.max_part != 0 || t.text.size() < kMinTrigramLength) continue;
    Trigrams(t.text, &trigrams);
    for (uint32_t g : trigrams) trigram_terms.emplace_back(g, i);
  }
  std::sort(trigram_terms.begin(), trigram_terms.end());
  wl->trigram_terms_.reserve(trigram_terms.size());
  for (size_t i = 0; i < trigram_terms.size();) {
    const uint32_t g = trigram_terms[i].first;
    KeyRange range;
    range.begin = static_cast<uint32_t>(wl->trigram_terms_.size());
    for (; i < trigram_terms.size() && trigram_terms[i].first == g; ++i) {
      wl->trigram_terms_.push_back(trigram_terms[i].second);
    }
    range.end = static_cast<uint32_t>(wl->trigram_terms_.size());
    wl->trigrams_.emplace(g, range);
  }
  return wl;
}

double Watchlist::AddEvidence(const QueryTerm& q, uint32_t term_index, const ScreenOptions& options,
                              Scratch* s) const {
  const Term& term = terms_[term_index];
  // A join only matches a token longer than each of its parts.
  if (q.max_part != 0 && term.max_part != 0) return 0.0;
  if (q.max_part != 0 && q.max_part >= term.text.size()) return 0.0;
  if (term.max_part != 0 && term.max_part >= q.text.size()) return 0.0;
  const double sim = JaroWinkler(q.text, term.text);
  if (sim < options.min_token_similarity) return sim;
  const auto wa = static_cast<float>(sim * static_cast<double>(q.text.size()));
  const auto wb = static_cast<float>(sim * static_cast<double>(term.text.size()));
  for (uint32_t p = term.postings_begin; p < term.postings_end; ++p) {
    const uint32_t n = postings_[p];
    if (s->a[n] == 0.0f) s->touched.push_back(n);
    s->a[n] += wa;
    s->b[n] += wb;
  }
  return sim;
}

// Terms sharing at least a third of the query token's trigrams (and 2),
// the most shared first, verified by Jaro-Winkler.
void Watchlist::FallbackEvidence(const QueryTerm& q, const ScreenOptions& options,
                                 Scratch* s) const {
  Trigrams(q.text, &s->trigrams);
  s->trigram_touched.clear();
  for (uint32_t g : s->trigrams) {
    auto it = trigrams_.find(g);
    if (it == trigrams_.end() || it->second.end - it->second.begin > kMaxTrigramPostings) continue;
    for (uint32_t k = it->second.begin; k < it->second.end; ++k) {
      const uint32_t term = trigram_terms_[k];
      uint8_t& count = s->trigram_count[term];
      if (count == 0) s->trigram_touched.push_back(term);
      if (count < 255) ++count;
    }
  }
  const size_t need = std::max<size_t>(2, (s->trigrams.size() + 2) / 3);
  std::vector<std::pair<uint8_t, uint32_t>> found;
  for (uint32_t term : s->trigram_touched) {
    if (s->trigram_count[term] >= need &&
        std::find(s->visited.begin(), s->visited.end(), term) == s->visited.end()) {
      found.emplace_back(s->trigram_count[term], term);
    }
    s->trigram_count[term] = 0;
  }
  if (found.size() > kMaxFallbackTerms) {
    std::partial_sort(found.begin(), found.begin() + kMaxFallbackTerms, found.end(),
                      [](const auto& x, const auto& y) {
                        return x.first > y.first || (x.first == y.first && x.second < y.second);
                      });
    found.resize(kMaxFallbackTerms);
  }
  for (const auto& [count, term] : found) AddEvidence(q, term, options, s);
}

absl::StatusOr<std::vector<Match>> Watchlist::Screen(absl::string_view name,
                                                     const ScreenOptions& options) const {
  ASSIGN_OR_RETURN(NormalizedName normalized, normalizer_->Normalize(name));
  return ScreenNormalized(normalized, options);
}

std::vector<Match> Watchlist::ScreenNormalized(const NormalizedName& name,
                                               const ScreenOptions& options) const {
  std::vector<Match> out;
  if (name.empty() || names_.empty()) return out;
  const ScoringName query(name.tokens);

  // Query terms: distinct tokens of 2+ letters and short joins, longest first.
  std::vector<QueryTerm> qterms;
  {
    absl::flat_hash_set<absl::string_view> seen;
    for (const auto& t : query.tokens()) {
      if (t.size() >= 2 && seen.insert(t).second) qterms.push_back({t, 0});
    }
    for (size_t j = 0; j < query.joins().size(); ++j) {
      const auto& t = query.joins()[j];
      if (t.size() <= kMaxJoinLength && seen.insert(t).second) {
        qterms.push_back({t, query.join_max_part()[j]});
      }
    }
    std::stable_sort(qterms.begin(), qterms.end(), [](const QueryTerm& x, const QueryTerm& y) {
      return x.text.size() > y.text.size();
    });
    if (qterms.size() > options.max_query_terms) qterms.resize(options.max_query_terms);
  }

  // Evidence per list name.
  Scratch& s = ThreadScratch();
  s.Fit(names_.size(), terms_.size());
  for (const QueryTerm& q : qterms) {
    s.keys.clear();
    if (q.max_part == 0) {
      TermKeys(q.text, &s.keys);
    } else {
      s.keys.push_back(KeyHash(q.text));  // joins are looked up as they are
    }
    s.visited.clear();
    double best = 0.0;
    for (uint64_t key : s.keys) {
      auto it = keys_.find(key);
      if (it == keys_.end()) continue;
      for (uint32_t k = it->second.begin; k < it->second.end; ++k) {
        const uint32_t term_index = key_terms_[k];
        if (std::find(s.visited.begin(), s.visited.end(), term_index) != s.visited.end()) {
          continue;
        }
        s.visited.push_back(term_index);
        best = std::max(best, AddEvidence(q, term_index, options, &s));
      }
    }
    if (q.max_part == 0 && q.text.size() >= kMinTrigramLength && q.text.size() <= kMaxFuzzyLength &&
        best < kFallbackBelow) {
      FallbackEvidence(q, options, &s);
    }
  }

  // Estimates: the token score if every piece of evidence were a best match.
  const double min_estimate = options.threshold - options.candidate_margin;
  const auto query_weight = static_cast<float>(query.distinct_weight());
  std::vector<std::pair<float, uint32_t>> candidates;
  for (uint32_t n : s.touched) {
    const auto name_weight = static_cast<float>(names_[n].scoring.distinct_weight());
    const float estimate =
        0.5f * (std::min(s.a[n] / query_weight, 1.0f) + std::min(s.b[n] / name_weight, 1.0f));
    s.a[n] = 0.0f;
    s.b[n] = 0.0f;
    if (estimate >= min_estimate) candidates.emplace_back(estimate, n);
  }
  s.touched.clear();
  if (candidates.size() > options.max_candidates) {
    std::partial_sort(candidates.begin(), candidates.begin() + options.max_candidates,
                      candidates.end(), [](const auto& x, const auto& y) {
                        return x.first > y.first || (x.first == y.first && x.second < y.second);
                      });
    candidates.resize(options.max_candidates);
  }

  // Full scores, best name per entry.
  absl::flat_hash_map<uint32_t, size_t> by_entry;
  for (const auto& [estimate, n] : candidates) {
    const Name& name_rec = names_[n];
    const double score = NameScoreAtLeast(query, name_rec.scoring, options.threshold);
    if (score < options.threshold) continue;
    auto [it, inserted] = by_entry.emplace(name_rec.entry, out.size());
    if (!inserted && out[it->second].score >= score) continue;
    const WatchlistEntry& e = entries_[name_rec.entry];
    Match m;
    m.entry_index = name_rec.entry;
    m.alias = name_rec.alias != 0;
    m.matched_name = m.alias ? e.alt_names[name_rec.alias - 1] : e.name;
    m.score = score;
    if (inserted) {
      out.push_back(std::move(m));
    } else {
      out[it->second] = std::move(m);
    }
  }
  std::sort(out.begin(), out.end(), [](const Match& x, const Match& y) {
    return x.score > y.score || (x.score == y.score && x.entry_index < y.entry_index);
  });
  if (out.size() > options.max_results) out.resize(options.max_results);
  return out;
}

std::optional<size_t> Watchlist::Find(absl::string_view id) const {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return std::nullopt;
  return it->second;
}

WatchlistDiff Diff(const std::vector<WatchlistEntry>& older,
                   const std::vector<WatchlistEntry>& newer) {
  absl::flat_hash_map<absl::string_view, const WatchlistEntry*> old_by_id, new_by_id;
  for (const auto& e : older) old_by_id.emplace(e.id, &e);
  for (const auto& e : newer) new_by_id.emplace(e.id, &e);
  WatchlistDiff d;
  for (const auto& [id, e] : new_by_id) {
    auto it = old_by_id.find(id);
    if (it == old_by_id.end()) {
      d.added.emplace_back(id);
    } else if (it->second->name != e->name || SortedAliases(*it->second) != SortedAliases(*e)) {
      d.changed.emplace_back(id);
    }
  }
  for (const auto& [id, e] : old_by_id) {
    if (!new_by_id.contains(id)) d.removed.emplace_back(id);
  }
  std::sort(d.added.begin(), d.added.end());
  std::sort(d.removed.begin(), d.removed.end());
  std::sort(d.changed.begin(), d.changed.end());
  return d;
}

WatchlistDiff Diff(const Watchlist& older, const Watchlist& newer) {
  return Diff(older.entries(), newer.entries());
}

}  // namespace exportwatch::screening

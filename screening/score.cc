#include "screening/score.h"

#include <algorithm>
#include <array>
#include <memory>
#include <utility>
#include <vector>

namespace exportwatch::screening {
namespace {

// Strings up to this length are compared with stack buffers only.
constexpr size_t kStackLength = 64;

double Jaro(absl::string_view a, absl::string_view b) {
  const size_t la = a.size(), lb = b.size();
  if (la == 0 && lb == 0) return 1.0;
  if (la == 0 || lb == 0) return 0.0;
  const size_t longest = std::max(la, lb);
  const size_t window = longest / 2 > 0 ? longest / 2 - 1 : 0;
  std::array<bool, kStackLength> a_stack{}, b_stack{};
  bool* af = a_stack.data();
  bool* bf = b_stack.data();
  std::unique_ptr<bool[]> heap;
  if (longest > kStackLength) {
    heap.reset(new bool[la + lb]());
    af = heap.get();
    bf = heap.get() + la;
  }
  size_t matches = 0;
  for (size_t i = 0; i < la; ++i) {
    const size_t lo = i > window ? i - window : 0;
    const size_t hi = std::min(lb, i + window + 1);
    for (size_t j = lo; j < hi; ++j) {
      if (!bf[j] && a[i] == b[j]) {
        af[i] = bf[j] = true;
        ++matches;
        break;
      }
    }
  }
  if (matches == 0) return 0.0;
  size_t half_transpositions = 0;
  for (size_t i = 0, k = 0; i < la; ++i) {
    if (!af[i]) continue;
    while (!bf[k]) ++k;
    if (a[i] != b[k]) ++half_transpositions;
    ++k;
  }
  const double m = static_cast<double>(matches);
  const double t = static_cast<double>(half_transpositions / 2);
  return (m / static_cast<double>(la) + m / static_cast<double>(lb) + (m - t) / m) / 3.0;
}

// Optimal string alignment distance with three rolling rows.
size_t Osa(absl::string_view a, absl::string_view b) {
  if (a.size() < b.size()) std::swap(a, b);
  const size_t m = b.size();
  if (m == 0) return a.size();
  std::array<size_t, 3 * (kStackLength + 1)> stack;
  std::vector<size_t> heap;
  size_t* buf = stack.data();
  if (m > kStackLength) {
    heap.resize(3 * (m + 1));
    buf = heap.data();
  }
  size_t* prev2 = buf;              // row i - 2
  size_t* prev = buf + (m + 1);     // row i - 1
  size_t* cur = buf + 2 * (m + 1);  // row i
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= m; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t d = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d = std::min(d, prev2[j - 2] + 1);
      }
      cur[j] = d;
    }
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return prev[m];
}

// Optimal string alignment distance if it is at most `k`, else k + 1, in
// O(|a| * k): cells more than k off the diagonal cannot be on a path of
// cost <= k.
size_t OsaBounded(absl::string_view a, absl::string_view b, size_t k) {
  if (a.size() < b.size()) std::swap(a, b);
  const size_t n = a.size(), m = b.size();
  if (n - m > k) return k + 1;
  if (k >= n) return std::min(Osa(a, b), k + 1);
  const size_t inf = k + 1;
  std::array<size_t, 3 * (kStackLength + 1)> stack;
  std::vector<size_t> heap;
  size_t* buf = stack.data();
  if (m > kStackLength) {
    heap.resize(3 * (m + 1));
    buf = heap.data();
  }
  size_t* prev2 = buf;
  size_t* prev = buf + (m + 1);
  size_t* cur = buf + 2 * (m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j <= k ? j : inf;
  for (size_t i = 1; i <= n; ++i) {
    const size_t lo = i > k ? i - k : 1;
    const size_t hi = std::min(m, i + k);
    cur[0] = i <= k ? i : inf;
    if (lo > 1) cur[lo - 1] = inf;
    size_t row_min = cur[0];
    for (size_t j = lo; j <= hi; ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      size_t d = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d = std::min(d, prev2[j - 2] + 1);
      }
      cur[j] = std::min(d, inf);
      row_min = std::min(row_min, cur[j]);
    }
    if (hi < m) cur[hi + 1] = inf;
    if (row_min > k) return inf;
    std::swap(prev2, prev);
    std::swap(prev, cur);
  }
  return std::min(prev[m], inf);
}

// An upper bound of TokenSimilarity from the lengths alone.
double TokenSimilarityBound(size_t la, size_t lb) {
  const double ratio =
      static_cast<double>(std::min(la, lb)) / static_cast<double>(std::max(la, lb));
  const double jaro = (2.0 + ratio) / 3.0;
  return 0.5 * ((jaro + 0.4 * (1.0 - jaro)) + ratio);
}

// TokenSimilarity(a, b) when it exceeds `floor`, else a value <= `floor`:
// the edit distance is only computed as far as it can still matter.
double TokenSimilarityAbove(absl::string_view a, absl::string_view b, double floor) {
  if (a == b) return 1.0;
  const double jw = JaroWinkler(a, b);
  const size_t longest = std::max(a.size(), b.size());
  const double ratio =
      static_cast<double>(std::min(a.size(), b.size())) / static_cast<double>(longest);
  if (0.5 * (jw + ratio) <= floor) return std::min(0.5 * (jw + ratio), floor);
  // Need 0.5 * (jw + 1 - d / longest) > floor.
  const double max_d = (1.0 - (2.0 * floor - jw)) * static_cast<double>(longest);
  const size_t k = max_d <= 0 ? 0 : static_cast<size_t>(max_d);
  const size_t d = OsaBounded(a, b, k);
  if (d > k) return floor;
  return 0.5 * (jw + 1.0 - static_cast<double>(d) / static_cast<double>(longest));
}

// Best similarity of token `t` to a join of `other` whose every part is
// shorter than `t` and that shares its first or last letter, if above `best`.
template <typename Sim>
double BestJoin(absl::string_view t, const ScoringName& other, double best, const Sim& sim) {
  const auto& joins = other.joins();
  for (size_t i = 0; i < joins.size() && best < 1.0; ++i) {
    if (other.join_max_part()[i] >= t.size()) continue;
    // A split word keeps its first or its last letter.
    if (t.front() != joins[i].front() && t.back() != joins[i].back()) continue;
    if (TokenSimilarityBound(t.size(), joins[i].size()) <= best) continue;
    best = std::max(best, sim(t, joins[i], best));
  }
  return best;
}

// The token score: both directions from one matrix of token similarities.
// `sim(x, y, floor)` is TokenSimilarityAbove or an upper bound of it.
template <typename Sim>
double TokenScore(const ScoringName& a, const ScoringName& b, const Sim& similarity) {
  const size_t na = a.tokens().size(), nb = b.tokens().size();
  std::array<double, 64> stack_a{}, stack_b{};
  std::vector<double> heap_a, heap_b;
  double* best_a = stack_a.data();
  double* best_b = stack_b.data();
  if (na > stack_a.size() || nb > stack_b.size()) {
    heap_a.assign(na, 0.0);
    heap_b.assign(nb, 0.0);
    best_a = heap_a.data();
    best_b = heap_b.data();
  }
  for (size_t i = 0; i < na; ++i) {
    const std::string& x = a.tokens()[i];
    for (size_t j = 0; j < nb; ++j) {
      const std::string& y = b.tokens()[j];
      if (std::min(best_a[i], best_b[j]) >= 1.0) continue;
      double sim;
      if (x == y) {
        sim = 1.0;
      } else {
        const double floor = std::min(best_a[i], best_b[j]);
        if (TokenSimilarityBound(x.size(), y.size()) <= floor) continue;
        sim = similarity(x, y, floor);
      }
      best_a[i] = std::max(best_a[i], sim);
      best_b[j] = std::max(best_b[j], sim);
    }
  }
  double sum_a = 0.0, sum_b = 0.0;
  for (size_t i = 0; i < na; ++i) {
    const std::string& x = a.tokens()[i];
    sum_a += static_cast<double>(x.size()) * BestJoin(x, b, best_a[i], similarity);
  }
  for (size_t j = 0; j < nb; ++j) {
    const std::string& y = b.tokens()[j];
    sum_b += static_cast<double>(y.size()) * BestJoin(y, a, best_b[j], similarity);
  }
  return 0.5 * (sum_a / static_cast<double>(a.weight()) + sum_b / static_cast<double>(b.weight()));
}

}  // namespace

double JaroWinkler(absl::string_view a, absl::string_view b) {
  if (a == b) return 1.0;
  const double j = Jaro(a, b);
  if (j <= 0.7) return j;
  size_t prefix = 0;
  const size_t max_prefix = std::min<size_t>({4, a.size(), b.size()});
  while (prefix < max_prefix && a[prefix] == b[prefix]) ++prefix;
  return j + 0.1 * static_cast<double>(prefix) * (1.0 - j);
}

double EditSimilarity(absl::string_view a, absl::string_view b) {
  if (a == b) return 1.0;
  const size_t longest = std::max(a.size(), b.size());
  return 1.0 - static_cast<double>(Osa(a, b)) / static_cast<double>(longest);
}

double TokenSimilarity(absl::string_view a, absl::string_view b) {
  if (a == b) return 1.0;
  return 0.5 * (JaroWinkler(a, b) + EditSimilarity(a, b));
}

ScoringName::ScoringName(std::vector<std::string> tokens) : tokens_(std::move(tokens)) {
  for (size_t i = 0; i < tokens_.size(); ++i) {
    const auto& t = tokens_[i];
    weight_ += t.size();
    compact_ += t;
    if (std::find(tokens_.begin(), tokens_.begin() + static_cast<std::ptrdiff_t>(i), t) ==
        tokens_.begin() + static_cast<std::ptrdiff_t>(i)) {
      distinct_weight_ += t.size();
    }
  }
  for (size_t n = 2; n <= 3; ++n) {
    for (size_t i = 0; i + n <= tokens_.size(); ++i) {
      std::string join;
      size_t max_part = 0;
      for (size_t k = i; k < i + n; ++k) {
        join += tokens_[k];
        max_part = std::max(max_part, tokens_[k].size());
      }
      joins_.push_back(std::move(join));
      join_max_part_.push_back(max_part);
    }
  }
}

double NameScoreAtLeast(const ScoringName& a, const ScoringName& b, double floor) {
  if (a.empty() || b.empty()) return 0.0;
  const std::string& ca = a.compact();
  const std::string& cb = b.compact();
  const bool compare_compact =
      ca.size() <= ScoringName::kMaxCompactLength && cb.size() <= ScoringName::kMaxCompactLength;
  if (floor > 0.0) {
    // First an upper bound without edit distances: EditSimilarity is at
    // most the ratio of the lengths.
    const double tokens_bound =
        TokenScore(a, b, [](absl::string_view x, absl::string_view y, double) {
          if (x == y) return 1.0;
          const double ratio = static_cast<double>(std::min(x.size(), y.size())) /
                               static_cast<double>(std::max(x.size(), y.size()));
          return 0.5 * (JaroWinkler(x, y) + ratio);
        });
    const double compact_bound = compare_compact
                                     ? static_cast<double>(std::min(ca.size(), cb.size())) /
                                           static_cast<double>(std::max(ca.size(), cb.size()))
                                     : 0.0;
    const double bound = std::max(tokens_bound, compact_bound);
    if (bound < floor) return bound;
  }
  const double tokens = TokenScore(a, b, TokenSimilarityAbove);
  if (tokens >= 1.0) return 1.0;
  if (!compare_compact) return tokens;
  // The compact score matters only above both the token score and `floor`:
  // its distance may then be at most k.
  const double need = std::max(tokens, floor);
  const size_t longest = std::max(ca.size(), cb.size());
  const auto k = static_cast<size_t>((1.0 - need) * static_cast<double>(longest) + 1e-9);
  const size_t d = OsaBounded(ca, cb, k);
  if (d > k) return tokens;
  return std::max(tokens, 1.0 - static_cast<double>(d) / static_cast<double>(longest));
}

double NameScore(const ScoringName& a, const ScoringName& b) { return NameScoreAtLeast(a, b, 0.0); }

double NameScore(const NormalizedName& a, const NormalizedName& b) {
  return NameScore(ScoringName(a.tokens), ScoringName(b.tokens));
}

}  // namespace exportwatch::screening

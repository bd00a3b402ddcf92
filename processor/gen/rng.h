// A small deterministic random source for the generator.
//
// absl::BitGen is salted per process and the std:: distributions differ
// between standard libraries, so neither gives "same seed, same events" across
// machines. xoshiro256** (seeded through SplitMix64) plus our own
// distributions does.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace exportwatch::gen {

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    uint64_t x = seed;
    for (uint64_t& word : s_) word = SplitMix64(&x);
  }

  uint64_t NextU64() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 53 random bits.
  double Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

  // Uniform in [lo, hi).
  double Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

  // Uniform integer in [0, n); n > 0. The modulo bias is < n / 2^64.
  uint64_t Below(uint64_t n) { return NextU64() % n; }

  // Uniform integer in [lo, hi].
  int64_t Between(int64_t lo, int64_t hi) {
    return lo + static_cast<int64_t>(Below(static_cast<uint64_t>(hi - lo) + 1));
  }

  bool Bernoulli(double p) { return Uniform() < p; }

  // Log-uniform in [lo, hi): for quantities spanning orders of magnitude.
  double LogUniform(double lo, double hi) { return std::exp(Uniform(std::log(lo), std::log(hi))); }

  double Exponential(double mean) { return -mean * std::log1p(-Uniform()); }

  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

  // Index drawn with probability proportional to weights[i] (not all zero).
  size_t Weighted(const std::vector<double>& weights) {
    double total = 0;
    for (double w : weights) total += w;
    double x = Uniform() * total;
    for (size_t i = 0; i < weights.size(); ++i) {
      if (x < weights[i]) return i;
      x -= weights[i];
    }
    return weights.size() - 1;
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static uint64_t SplitMix64(uint64_t* x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  uint64_t s_[4];
};

// Draws from a fixed discrete distribution in O(log n) (cumulative weights).
class WeightedTable {
 public:
  WeightedTable() = default;
  explicit WeightedTable(const std::vector<double>& weights) {
    double sum = 0;
    cumulative_.reserve(weights.size());
    for (double w : weights) {
      sum += w > 0 ? w : 0;
      cumulative_.push_back(sum);
    }
  }
  bool empty() const { return cumulative_.empty() || cumulative_.back() <= 0; }
  size_t size() const { return cumulative_.size(); }

  size_t Sample(Rng& rng) const {
    const double x = rng.Uniform() * cumulative_.back();
    size_t lo = 0;
    size_t hi = cumulative_.size() - 1;
    while (lo < hi) {
      const size_t mid = (lo + hi) / 2;
      if (x < cumulative_[mid]) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    return lo;
  }

 private:
  std::vector<double> cumulative_;
};

}  // namespace exportwatch::gen

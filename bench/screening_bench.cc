// Name screening speed: the full OFAC SDN list with its aliases
// (moov-io-watchman/bench, ~9,000 entries, ~21,000 names) screened with a mix
// of list names with typos and names of people on no list (yente's
// synthetic negatives, US and global, incl. Arabic, Devanagari, Han and
// Hangul scripts).
//
//   screening_bench                      # Google Benchmark runs, then latency
//   screening_bench --latency_only       # single-name timings only
//
// After the benchmarks, every name of the mix is timed alone (3 passes) and
// p50 / p99 / max are printed per kind: Google Benchmark reports means only.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "screening/csv.h"
#include "screening/list_loader.h"
#include "screening/watchlist.h"
#include "tests/common/test_util.h"

namespace exportwatch::screening {
namespace {

std::string DataPath(const std::string& relative) {
  return std::string(EW_SHARED_DIR) + "/data/" + relative;
}

struct Data {
  std::shared_ptr<const Normalizer> normalizer;
  std::vector<WatchlistEntry> entries;
  std::unique_ptr<Watchlist> list;
  std::vector<std::string> typos;      // list names with 1-2 typos
  std::vector<size_t> typo_entries;    // the entry each typo comes from
  std::vector<std::string> negatives;  // people on no list
  std::vector<std::string> mix;        // both, interleaved
};

std::vector<std::string> FirstColumn(const std::string& path, size_t limit, size_t stride) {
  const std::string data = exportwatch::testing::ReadFile(path);
  CsvReader reader(data);
  std::vector<std::string> f, out;
  std::string error;
  size_t row = 0;
  while (out.size() < limit) {
    auto r = reader.Next(&f, &error);
    if (r == CsvReader::Result::kEnd) break;
    if (r != CsvReader::Result::kRecord || row++ == 0 || row % stride != 0) continue;
    out.push_back(f[0]);
  }
  return out;
}

// A typo: a swap of neighbours, a deletion, or a substitution.
std::string WithTypo(std::string s, std::mt19937* rng) {
  if (s.size() < 4) return s;
  const size_t i = 1 + (*rng)() % (s.size() - 2);
  switch ((*rng)() % 3) {
    case 0:
      std::swap(s[i], s[i + 1]);
      break;
    case 1:
      s.erase(i, 1);
      break;
    default:
      s[i] = static_cast<char>('A' + (*rng)() % 26);
  }
  return s;
}

Data& GetData() {
  static Data* d = [] {
    auto* data = new Data();
    auto n = Normalizer::Create();
    if (!n.ok()) std::abort();
    data->normalizer = std::move(*n);
    OfacFiles files;
    files.sdn = DataPath("moov-io-watchman/bench/sdn.csv");
    files.alt = DataPath("moov-io-watchman/bench/alt.csv");
    auto loaded = LoadOfacSdn(files);
    if (!loaded.ok()) {
      std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
      std::abort();
    }
    data->entries = loaded->entries;
    WatchlistOptions o;
    o.normalizer = data->normalizer;
    auto t0 = std::chrono::steady_clock::now();
    auto list = Watchlist::Build(std::move(loaded->entries), o);
    const double build_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (!list.ok()) std::abort();
    data->list = std::move(*list);
    const auto& st = data->list->stats();
    std::printf("watchlist: %zu entries, %zu names, %zu terms, %zu keys, built in %.0f ms\n",
                st.entries, st.names, st.terms, st.keys, build_ms);
    std::mt19937 rng(7);
    for (size_t i = 0; i < 2000; ++i) {
      const size_t index = rng() % data->entries.size();
      const auto& e = data->entries[index];
      data->typo_entries.push_back(index);
      std::string name = e.alt_names.empty() || rng() % 2 ? e.name : e.alt_names[0];
      name = WithTypo(name, &rng);
      if (rng() % 2) name = WithTypo(name, &rng);
      data->typos.push_back(name);
    }
    for (const char* f : {"negatives_us.csv", "negatives_global.csv"}) {
      auto names = FirstColumn(
          DataPath(std::string("opensanctions-yente/candidate_generation_benchmark/") + f), 1000,
          50);
      data->negatives.insert(data->negatives.end(), names.begin(), names.end());
    }
    for (size_t i = 0; i < std::max(data->typos.size(), data->negatives.size()); ++i) {
      if (i < data->typos.size()) data->mix.push_back(data->typos[i]);
      if (i < data->negatives.size()) data->mix.push_back(data->negatives[i]);
    }
    // Warm up: ICU loads each script's rules on first use per clone.
    for (const auto& q : data->mix) (void)data->list->Screen(q);
    return data;
  }();
  return *d;
}

void RunScreen(benchmark::State& state, const std::vector<std::string>& names) {
  const Watchlist& list = *GetData().list;
  size_t i = static_cast<size_t>(state.thread_index()) * 997, matches = 0;
  for (auto _ : state) {
    auto m = list.Screen(names[i++ % names.size()]);
    matches += m.ok() ? m->size() : 0;
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["matches_per_name"] =
      benchmark::Counter(static_cast<double>(matches) / static_cast<double>(state.iterations()),
                         benchmark::Counter::kAvgThreads);
}

void BM_ScreenMix(benchmark::State& state) { RunScreen(state, GetData().mix); }
void BM_ScreenTypos(benchmark::State& state) { RunScreen(state, GetData().typos); }
void BM_ScreenNegatives(benchmark::State& state) { RunScreen(state, GetData().negatives); }

// Screening without normalization (the caller normalized once).
void BM_ScreenNormalizedMix(benchmark::State& state) {
  const Data& d = GetData();
  std::vector<NormalizedName> names;
  for (const auto& q : d.mix) names.push_back(*d.normalizer->Normalize(q));
  size_t i = 0;
  for (auto _ : state) {
    auto m = d.list->ScreenNormalized(names[i++ % names.size()]);
    benchmark::DoNotOptimize(m);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
}

void BM_Build(benchmark::State& state) {
  const Data& d = GetData();
  WatchlistOptions o;
  o.normalizer = d.normalizer;
  for (auto _ : state) {
    auto list = Watchlist::Build(d.entries, o);
    benchmark::DoNotOptimize(list);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * d.entries.size()));
}

BENCHMARK(BM_ScreenMix)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK(BM_ScreenTypos);
BENCHMARK(BM_ScreenNegatives);
BENCHMARK(BM_ScreenNormalizedMix);
BENCHMARK(BM_Build)->Unit(benchmark::kMillisecond);

double ThreadCpuMicros() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Wall and thread-CPU time of each name screened alone. On a shared machine
// the wall-clock tail includes preemption; the CPU-time tail does not.
void Latency(const char* kind, const std::vector<std::string>& names) {
  const Watchlist& list = *GetData().list;
  std::vector<double> wall, cpu;
  wall.reserve(names.size() * 3);
  cpu.reserve(names.size() * 3);
  for (int pass = 0; pass < 3; ++pass) {
    for (const auto& q : names) {
      const double c0 = ThreadCpuMicros();
      const auto t0 = std::chrono::steady_clock::now();
      auto m = list.Screen(q);
      const auto t1 = std::chrono::steady_clock::now();
      const double c1 = ThreadCpuMicros();
      benchmark::DoNotOptimize(m);
      wall.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      cpu.push_back(c1 - c0);
    }
  }
  auto summary = [](std::vector<double>& v, double* mean, double* p50, double* p99, double* max) {
    std::sort(v.begin(), v.end());
    double total = 0;
    for (double x : v) total += x;
    *mean = total / static_cast<double>(v.size());
    *p50 = v[v.size() / 2];
    *p99 = v[static_cast<size_t>(0.99 * static_cast<double>(v.size() - 1))];
    *max = v.back();
  };
  double wm, w50, w99, wmax, cm, c50, c99, cmax;
  summary(wall, &wm, &w50, &w99, &wmax);
  summary(cpu, &cm, &c50, &c99, &cmax);
  std::printf(
      "latency %-9s %4zu names x3: %6.0f names/CPU-s | CPU mean %5.1f p50 %5.1f p99 %6.1f "
      "max %6.1f us | wall mean %5.1f p50 %5.1f p99 %6.1f max %7.1f us\n",
      kind, names.size(), 1e6 / cm, cm, c50, c99, cmax, wm, w50, w99, wmax);
}

}  // namespace
}  // namespace exportwatch::screening

int main(int argc, char** argv) {
  using namespace exportwatch::screening;
  bool latency_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strcmp(argv[i], "--latency_only") == 0) {
      latency_only = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  GetData();
  if (!latency_only) {
    int n = static_cast<int>(args.size());
    benchmark::Initialize(&n, args.data());
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  }
  Latency("mix", GetData().mix);
  Latency("typos", GetData().typos);
  Latency("negatives", GetData().negatives);
  // How many typo'd names still find their entry (1 or 2 typos, any length;
  // a short name with two typos is expected to fall below 0.88).
  const Data& d = GetData();
  size_t found = 0, negatives_matched = 0;
  for (size_t i = 0; i < d.typos.size(); ++i) {
    auto m = d.list->Screen(d.typos[i]);
    for (const auto& x : *m) found += x.entry_index == d.typo_entries[i];
  }
  for (const auto& q : d.negatives) negatives_matched += !d.list->Screen(q)->empty();
  std::printf("typos finding their entry: %zu/%zu; negatives with a match: %zu/%zu\n", found,
              d.typos.size(), negatives_matched, d.negatives.size());
  return 0;
}

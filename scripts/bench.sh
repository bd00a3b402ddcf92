#!/usr/bin/env bash
# The performance suite (issue 5): runs every benchmark in bench/ with modest
# sizes and prints one markdown table (metric, value, target, met?).
#
#   scripts/bench.sh                 # build dir: $BUILD_DIR or build/
#   BUILD_DIR=/tmp/build-bench scripts/bench.sh
#   EW_BENCH_STATE_KEYS=1000000,5000000 scripts/bench.sh   # quicker: no 20M keys
#   EW_BENCH_PARTS="throughput latency" scripts/bench.sh           # a subset
#
# It builds only the benchmark targets it runs (ninja, nice, -j2; a no-op
# when they are up to date). The build must have EW_BUILD_BENCH=ON (the
# default) and should be Release or RelWithDebInfo. Raw output of every part
# is kept in $OUT (default a temporary directory, printed at the end). About
# 12 minutes on a 2-core machine (2-3 of them for the 20M-key state, loaded
# twice: once for the drain, once for the latency run).
# Results and method: BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${BUILD_DIR:-build}"
OUT="${OUT:-$(mktemp -d /tmp/ew-bench-XXXXXX)}"
PARTS="${EW_BENCH_PARTS:-throughput latency fanout idle state recovery screening}"
STATE_KEYS="${EW_BENCH_STATE_KEYS:-1000000,5000000,20000000}"
EVENTS="${EW_BENCH_EVENTS:-150000}"
# librdkafka properties for the processor and alertd of e2e_bench, e.g.
# "fetch.wait.max.ms=2" (space-separated K=V).
KAFKA_ARGS=()
for kv in ${EW_BENCH_KAFKA:-}; do KAFKA_ARGS+=(--kafka "$kv"); done
mkdir -p "$OUT"

if [ ! -f "$BUILD/build.ninja" ]; then
  echo "bench.sh: no build in $BUILD (cmake -S . -B $BUILD -G Ninja -DEW_BUILD_BENCH=ON)" >&2
  exit 2
fi
nice ninja -C "$BUILD" -j2 exportwatch pipeline_bench e2e_bench screening_bench >"$OUT/build.log"

rows="$OUT/rows.md"
: >"$rows"
row() { echo "| $1 | $2 | $3 | $4 |" >>"$rows"; }
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
start=$(date +%s)

for part in $PARTS; do
  echo "bench.sh: $part ($(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  case $part in
    throughput)
      for profile in aidr-2025 current; do
        f="$OUT/pipeline-$profile.txt"
        "$BUILD/bench/pipeline_bench" --events "$EVENTS" --format both --partitions 32 \
          --profile "$profile" | tee "$f" >&2
        awk -v p="$profile" '
          $1 == "protobuf" || $1 == "json" {
            rate = $9; ratio = $13; sub("%", "", ratio)
            if ($1 == "protobuf") {
              met = (rate >= 250000 && ratio >= 30) ? "yes" : "**no**"
              tgt = ">= 250,000 and >= 30% of raw"
            } else {
              met = (rate >= 100000) ? "yes" : "**no**"
              tgt = ">= 100,000"
            }
            printf "| throughput %s (%s) | %d ev/CPU-s = %s%% of raw %d | %s | %s |\n",
              $1, p, rate, ratio, $6, tgt, met
            # The same run, busy span only (no start-up, restore or idle exit).
            busy = $16
            printf "| throughput %s (%s), busy span | %d ev/CPU-s = %.1f%% of raw | %s | %s |\n",
              $1, p, busy, 100 * busy / $6, tgt,
              ($1 == "protobuf" ? (busy >= 250000 && 100 * busy / $6 >= 30) : busy >= 100000) ? "yes" : "**no**"
          }' "$f" >>"$rows"
      done
      ;;
    latency | fanout | idle | recovery)
      f="$OUT/e2e-$part.txt"
      extra=()
      [ "$part" = fanout ] && extra=(--repeat 2)
      "$BUILD/bench/e2e_bench" --mode "$part" --events "$EVENTS" "${KAFKA_ARGS[@]}" "${extra[@]}" \
        | tee "$f" >&2
      grep '^ROW |' "$f" | sed 's/^ROW //' >>"$rows"
      ;;
    state)
      f="$OUT/e2e-state.txt"
      # Budget: RocksDB's 128 MiB + the empty-state RSS of the idle part.
      idle_rss=$(sed -n 's/.*processor RSS \([0-9]*\) MiB (empty state).*/\1/p' "$OUT/e2e-idle.txt" 2>/dev/null || true)
      budget=0
      [ -n "$idle_rss" ] && budget=$((128 + idle_rss))
      "$BUILD/bench/e2e_bench" --mode state --events "$EVENTS" "${KAFKA_ARGS[@]}" --state-keys "$STATE_KEYS" \
        --seconds 15 --rss-budget-mb "$budget" | tee "$f" >&2
      grep '^ROW |' "$f" | sed 's/^ROW //' >>"$rows"
      ;;
    screening)
      f="$OUT/screening.txt"
      "$BUILD/bench/screening_bench" --latency_only | tee "$f" >&2
      awk '/^latency mix/ {
             printf "| screening, mix: names per CPU-s / single-name CPU p99 | %s / %s us | - | - |\n", $6, $15
           }' "$f" >>"$rows"
      ;;
    *)
      echo "bench.sh: unknown part $part" >&2
      exit 2
      ;;
  esac
done

echo
echo "exportwatch benchmark suite, $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
echo "load average before: $load_before, after: $(cut -d' ' -f1-3 /proc/loadavg); $(($(date +%s) - start)) s; raw output: $OUT"
echo
echo "| metric | value | target | met? |"
echo "|---|---|---|---|"
cat "$rows"

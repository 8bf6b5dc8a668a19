#!/usr/bin/env bash
# The fuzz campaign: each target (all, or those named) for RUNS executions
# (default 10^7), one at a time, niced; corpus in fuzz/corpus/TARGET (not
# committed), seeded from fuzz/seeds/TARGET. Prints one line per target:
# executions, seconds, result. Needs `cargo install cargo-fuzz --locked`.
#
#   fuzz/campaign.sh                 # every target
#   RUNS=100000 fuzz/campaign.sh spf # one target, a short run
#   MAX_TIME=600 fuzz/campaign.sh    # stop each target after 600 s
#
# Every target is built once, first, and the built binaries are run: a
# campaign fuzzes the tree as it was when it started, even if the sources
# change while it runs (and a half-edited tree cannot fail a target).
set -uo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
MAX_TIME=${MAX_TIME:-0}
TRIPLE=x86_64-unknown-linux-gnu
mkdir -p logs
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
# -s none: no sanitizer (works on stable); -a: debug assertions, so an
# integer overflow is a crash rather than a wrong span.
# The tree as the build starts is what gets fuzzed (cargo reads each
# crate's sources when it compiles it: edits made during a long build may
# or may not be in).
tree="$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- .. || echo ' (+ uncommitted changes)')"
nice -n 15 cargo fuzz build -s none -a --target-dir ../target/fuzz >logs/build.log 2>&1 ||
  { echo "build failed: see fuzz/logs/build.log"; exit 1; }
echo "built from $tree"
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t" "artifacts/$t"
  t0=$SECONDS
  # -timeout=10: an input taking 10 s is a hang. -max_total_time=0: no cap.
  nice -n 15 "../target/fuzz/$TRIPLE/release/$t" -artifact_prefix="artifacts/$t/" \
    "corpus/$t" "seeds/$t" -runs="$RUNS" -max_total_time="$MAX_TIME" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"logs/$t.log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$')
  result=ok
  [ $rc -eq 0 ] || result="FAILED (exit $rc; see fuzz/logs/$t.log and fuzz/artifacts/$t)"
  [ $rc -eq 0 ] && [ "${execs:-0}" -lt "$RUNS" ] && result="stopped by MAX_TIME"
  printf '%-20s %12s executions %6d s  %s\n' "$t" "${execs:-?}" $((SECONDS - t0)) "$result"
done

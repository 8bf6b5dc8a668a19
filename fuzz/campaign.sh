#!/usr/bin/env bash
# The fuzz campaign: each target (all, or those named) for RUNS executions
# (default 10^7), one at a time, niced; corpus in fuzz/corpus/TARGET (not
# committed), seeded from fuzz/seeds/TARGET. Prints one line per target:
# executions, seconds, result. Needs `cargo install cargo-fuzz --locked`.
#
#   fuzz/campaign.sh                 # every target
#   RUNS=100000 fuzz/campaign.sh spf # one target, a short run
set -uo pipefail
cd "$(dirname "$0")"
RUNS=${RUNS:-10000000}
mkdir -p logs
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo fuzz list)
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  t0=$SECONDS
  # -s none: no sanitizer (works on stable); -a: debug assertions, so an
  # integer overflow is a crash rather than a wrong span. -timeout=10: an
  # input taking 10 s is a hang.
  nice -n 15 cargo fuzz run -s none -a --target-dir ../target/fuzz "$t" "corpus/$t" "seeds/$t" -- \
    -runs="$RUNS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 >"logs/$t.log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$')
  result=ok
  [ $rc -eq 0 ] || result="FAILED (exit $rc; see fuzz/logs/$t.log and fuzz/artifacts/$t)"
  printf '%-20s %12s executions %6d s  %s\n' "$t" "${execs:-?}" $((SECONDS - t0)) "$result"
done

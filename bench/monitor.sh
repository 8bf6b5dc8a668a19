#!/usr/bin/env bash
# Benchmark of the store (crates/store) under `mailwarden monitor`:
#
#   bench/monitor.sh [COUNT]          default 10000
#   PROFILE=debug bench/monitor.sh    use the debug build (quicker to build; slower numbers)
#
# 1. Store overhead: COUNT generated domains (d0..d<COUNT-1>.bench.test,
#    served by bench-dns on 127.0.0.1 as in bench/scan.sh) scanned by
#    `monitor run --once --no-store` (the same scans, nothing stored) and by
#    `monitor run --once` (every scan stored: snapshot, findings, audit
#    events). Target: under 10% more. bench/monitor-lab.sh measures the
#    same through a real validating resolver.
# 2. Growth for an unchanged re-scan of all COUNT domains (only seen-again
#    marks): database bytes after minus before, WAL checkpointed. Target: < 1 MB.
# 3. `history` of one domain with a year of hourly scans, on SQLite: the
#    domain's snapshot is cloned into 365 daily snapshots (one MX changes
#    each day), each seen 24 times (8760 scans). Target: < 50 ms, measured
#    as the whole `mailwarden history` process (start-up, opening the
#    database, the query, the JSON written), best of 5.
# Traffic goes to 127.0.0.1 only. Numbers are printed, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-10000}
profile=${PROFILE:-release}
concurrency=${CONCURRENCY:-256}
if [ "$profile" = release ]; then
  cargo build --release --locked -q -p mailwarden -p mailwarden-bench
else
  cargo build --locked -q -p mailwarden -p mailwarden-bench
fi
bin=./target/$profile
work=$(mktemp -d)
"$bin/bench-dns" 127.0.0.1:0 >"$work/addr" &
dns_pid=$!
trap 'kill $dns_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
addr=$(head -n1 "$work/addr")
# bench-dns is every domain's nameserver: the per-server politeness limit is off
# (--ns-qps 0), as in bench/scan.sh; with it on, the runs measured the limit.
flags=(--resolver "$addr" --allow-private-targets --no-smtp --no-https --no-dnssec -- --ns-port "${addr##*:}" --timeout 5 --ns-qps 0)
db="$work/mw.db"
export MAILWARDEN_DB="sqlite:$db"
export MAILWARDEN_AUDIT_KEY="$work/audit.key" # never the user's ~/.config

seq 0 $((n - 1)) | sed 's/^/d/; s/$/.bench.test/' >"$work/list"
# shellcheck source=bench/monitor-common.sh
source bench/monitor-common.sh

xargs -a "$work/list" -n 5000 sh -c '"$0" monitor add --every 1h "$@" '"${flags[*]}"' >/dev/null' "$bin/mailwarden"
# The same scans with nothing stored: the baseline the store's cost is measured against.
t=$(now)
"$bin/mailwarden" monitor run --once --no-store --concurrency "$concurrency" 2>"$work/run0"
scan_s=$(elapsed "$t")
t=$(now)
"$bin/mailwarden" monitor run --once --concurrency "$concurrency" 2>"$work/run1"
grep -q ' 0 new snapshot' "$work/run1" && { cat "$work/run1" >&2; exit 1; }
grep -q 'not stored' "$work/run1" && { cut -c1-2000 "$work/run1" >&2; exit 1; }
first_s=$(elapsed "$t")
before=$(db_bytes "$db")
t=$(now)
"$bin/mailwarden" monitor run --once --concurrency "$concurrency" 2>"$work/run2"
again_s=$(elapsed "$t")
after=$(db_bytes "$db")

printf 'profile %s, %d domains, concurrency %d\n' "$profile" "$n" "$concurrency"
printf '%-44s %s s\n' "monitor run --once --no-store (scans only)" "$scan_s"
printf '%-44s %s s  (%s)\n' "monitor run --once, first (all new)" "$first_s" "$(tail -n1 "$work/run1")"
printf '%-44s %s s  (%s)\n' "monitor run --once, unchanged re-scan" "$again_s" "$(tail -n1 "$work/run2")"
python3 -c 'import sys; s,f,a=map(float,sys.argv[1:]); print("%-44s %+.1f%% %+.1f%%  (target < +10%%)" % ("store overhead (first, re-scan)", 100*(f-s)/s, 100*(a-s)/s))' "$scan_s" "$first_s" "$again_s"
printf '%-44s %d bytes  (target < 1048576)\n' "database growth, unchanged re-scan" "$((after - before))"
printf '%-44s %s bytes\n' "database size" "$after"
history_year "$bin/mailwarden" "$db" d1.bench.test d0.bench.test

#!/usr/bin/env bash
# Benchmark: DNS-only audit of generated domains through a loopback DNS server.
#
#   bench/scan.sh [COUNT ...]        default: 10000 100000
#
# Builds release binaries, starts bench-dns (a synthetic authoritative
# server) on 127.0.0.1, scans d0..d<COUNT-1>.bench.test with DNSSEC
# validation off, and prints domains per second and peak memory (max RSS,
# from GNU time) for each COUNT, so flat memory can be read off the table.
# Traffic goes to 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10000 100000)
concurrency=${CONCURRENCY:-256}

command -v /usr/bin/time >/dev/null || { echo "bench/scan.sh needs GNU time (apt-get install -y time)" >&2; exit 2; }
cargo build --release --locked -q -p mailwarden -p mailwarden-bench
work=$(mktemp -d)
./target/release/bench-dns 127.0.0.1:0 >"$work/addr" &
dns_pid=$!
trap 'kill $dns_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
addr=$(head -n1 "$work/addr")

printf '%-10s %-10s %-12s %-14s %s\n' domains seconds domains/s peak_rss_MB findings
for n in "${counts[@]}"; do
  seq 0 $((n - 1)) | sed 's/^/d/; s/$/.bench.test/' >"$work/list"
  /usr/bin/time -f '%e %M' -o "$work/time" ./target/release/mailwarden scan --input "$work/list" \
    --resolver "$addr" --ns-port "${addr##*:}" --no-dnssec --timeout 5 --concurrency "$concurrency" --format jsonl --fail-on none \
    >"$work/out"
  read -r secs rss_kb <"$work/time"
  lines=$(wc -l <"$work/out")
  [ "$lines" -eq "$n" ] || { echo "expected $n reports, got $lines" >&2; exit 1; }
  findings=$(grep -o '"outcome":"indeterminate"' "$work/out" | wc -l || true)
  awk -v n="$n" -v s="$secs" -v kb="$rss_kb" -v ind="$findings" \
    'BEGIN { printf "%-10d %-10.2f %-12.0f %-14.1f %d indeterminate\n", n, s, n / (s > 0 ? s : 0.01), kb / 1024, ind }'
done

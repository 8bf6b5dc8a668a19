#!/usr/bin/env bash
# Benchmark: DNS-only audit of generated domains through a loopback DNS server.
#
#   bench/scan.sh [COUNT ...]        default: 10000 100000
#   CHECKS="mx,spf all" bench/scan.sh   which check sets to run (default both)
#
# Builds release binaries, starts bench-dns (a synthetic authoritative
# server) on 127.0.0.1, scans d0..d<COUNT-1>.bench.test with DNSSEC
# validation off, and prints domains per second, DNS queries per domain and
# peak memory (max RSS, from GNU time) for each COUNT and check set, so flat
# memory can be read off the table. `mx,spf` is the foundation audit
# (about 8 queries a domain); `all` adds DMARC, DKIM (37 selector queries
# where `_domainkey` exists), BIMI, DNSSEC and the direct nameserver queries.
# Traffic goes to 127.0.0.1 only. Every domain's nameservers are bench-dns
# itself, so the per-server politeness limit is off (--ns-qps 0).
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

read -r -a check_sets <<<"${CHECKS:-mx,spf all}"
printf '%-8s %-10s %-10s %-12s %-12s %-14s %s\n' checks domains seconds domains/s queries/dom peak_rss_MB findings
for checks in "${check_sets[@]}"; do
  select=()
  [ "$checks" = all ] || select=(--checks "$checks")
  for n in "${counts[@]}"; do
    seq 0 $((n - 1)) | sed 's/^/d/; s/$/.bench.test/' >"$work/list"
    /usr/bin/time -f '%e %M' -o "$work/time" ./target/release/mailwarden scan --input "$work/list" \
      --resolver "$addr" --ns-port "${addr##*:}" --allow-private-targets --no-smtp --no-https --no-dnssec --timeout 5 --concurrency "$concurrency" --ns-qps 0 \
      "${select[@]}" --format jsonl --fail-on none >"$work/out"
    read -r secs rss_kb <"$work/time"
    lines=$(wc -l <"$work/out")
    [ "$lines" -eq "$n" ] || { echo "expected $n reports, got $lines" >&2; exit 1; }
    indeterminate=$(grep -o '"outcome":"indeterminate"' "$work/out" | wc -l || true)
    queries=$(python3 -c 'import json,sys; print(sum(len(json.loads(l)["observation"]["dns"]) for l in open(sys.argv[1])))' "$work/out")
    awk -v c="$checks" -v n="$n" -v s="$secs" -v kb="$rss_kb" -v ind="$indeterminate" -v q="$queries" \
      'BEGIN { printf "%-8s %-10d %-10.2f %-12.0f %-12.1f %-14.1f %d indeterminate\n", c, n, s, n / (s > 0 ? s : 0.01), q / n, kb / 1024, ind }'
  done
done

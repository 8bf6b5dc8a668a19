#!/usr/bin/env bash
# Benchmark: `mailwarden message` over a generated mbox, fully offline.
#
#   bench/message.sh [COUNT ...]     default: 10000
#
# Builds the release binary, writes an mbox of COUNT messages (the public
# samples in testdata/messages/ in turn: the RFC 8463 example with an
# Ed25519 and an RSA signature, an IETF list message with three DKIM
# signatures and an ARC set, a leaky and a clean one), audits it with
# --zone-file testdata/messages/samples.zone (every signature verified,
# SPF and DMARC evaluated where the trusted hop allows), and prints messages
# per second and peak memory (max RSS, from GNU time). No network at all.
set -euo pipefail
cd "$(dirname "$0")/.."
counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10000)

command -v /usr/bin/time >/dev/null || { echo "bench/message.sh needs GNU time (apt-get install -y time)" >&2; exit 2; }
cargo build --release --locked -q -p mailwarden
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
samples=(rfc8463 arc-ietf-list leaky clean)

printf '%-10s %-10s %-12s %-12s %-14s %s\n' messages seconds messages/s mbox_MB peak_rss_MB dkim_verified
for n in "${counts[@]}"; do
  for i in $(seq 0 $((n - 1))); do
    printf 'From bench@example.org Mon Jan  1 00:00:00 2024\n'
    # mboxrd: escape body lines that start with `From ` (there are none in the samples).
    sed 's/^\(>*From \)/>\1/' "testdata/messages/${samples[$((i % ${#samples[@]}))]}.eml"
    printf '\n'
  done >"$work/bench.mbox"
  /usr/bin/time -f '%e %M' -o "$work/time" ./target/release/mailwarden message \
    --zone-file testdata/messages/samples.zone --format jsonl --fail-on none "$work/bench.mbox" >"$work/out"
  read -r secs rss_kb <"$work/time"
  lines=$(wc -l <"$work/out")
  [ "$lines" -eq "$n" ] || { echo "expected $n reports, got $lines" >&2; exit 1; }
  verified=$(grep -o '"id":"message.dkim","outcome":"pass"' "$work/out" | wc -l || true)
  mb=$(($(stat -c %s "$work/bench.mbox") / 1048576))
  awk -v n="$n" -v s="$secs" -v kb="$rss_kb" -v mb="$mb" -v v="$verified" \
    'BEGIN { printf "%-10d %-10.2f %-12.0f %-12d %-14.1f %d\n", n, s, n / (s > 0 ? s : 0.01), mb, kb / 1024, v }'
done

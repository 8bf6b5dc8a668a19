#!/usr/bin/env bash
# Benchmark: `mailwarden reports import` of generated DMARC aggregate reports.
#
#   bench/reports.sh [RECORDS ...]     default: 10000 100000
#
# Builds the release binary, writes one RFC 7489 aggregate report with
# RECORDS <record> rows (plain XML, about 560 bytes a row), imports it into
# a fresh store directory, and prints records per second and peak memory
# (max RSS, from GNU time) for each size. Memory grows with the report:
# the parser builds the document tree in memory (streaming is future work),
# and --max-size is raised to fit the file.
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
command -v /usr/bin/time >/dev/null || { echo "bench/reports.sh needs GNU time (apt-get install -y time)" >&2; exit 2; }
cargo build --release --locked -q -p mailwarden
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

printf '%-10s %-10s %-10s %-12s %s\n' records MB seconds records/s peak_rss_MB
for n in "${sizes[@]}"; do
  awk -v n="$n" 'BEGIN {
    print "<?xml version=\"1.0\"?>\n<feedback><version>1.0</version><report_metadata><org_name>bench.example</org_name>"
    print "<email>b@bench.example</email><report_id>bench-" n "</report_id><date_range><begin>1796083200</begin><end>1796169599</end></date_range></report_metadata>"
    print "<policy_published><domain>example.com</domain><adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>"
    for (i = 0; i < n; i++) {
      printf "<record><row><source_ip>10.%d.%d.%d</source_ip><count>%d</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>fail</spf></policy_evaluated></row>", int(i / 65536) % 256, int(i / 256) % 256, i % 256, i % 50 + 1
      printf "<identifiers><envelope_from>bounce.example.net</envelope_from><header_from>example.com</header_from></identifiers>"
      printf "<auth_results><dkim><domain>example.com</domain><selector>s1</selector><result>pass</result></dkim><spf><domain>bounce.example.net</domain><scope>mfrom</scope><result>softfail</result></spf></auth_results></record>\n"
    }
    print "</feedback>"
  }' >"$work/report.xml"
  bytes=$(stat -c %s "$work/report.xml")
  rm -rf "$work/store"
  /usr/bin/time -f '%e %M' -o "$work/time" ./target/release/mailwarden reports import --format json \
    --store "$work/store" --max-size $((bytes + 1)) "$work/report.xml" >"$work/out"
  grep -q '"status":"imported"' "$work/out" || { cat "$work/out" >&2; exit 1; }
  read -r secs rss_kb <"$work/time"
  awk -v n="$n" -v b="$bytes" -v s="$secs" -v r="$rss_kb" \
    'BEGIN { printf "%-10d %-10.1f %-10.2f %-12d %.1f\n", n, b / 1048576, s, (s > 0 ? n / s : 0), r / 1024 }'
done

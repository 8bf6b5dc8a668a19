#!/usr/bin/env bash
# Benchmark: `mailwarden reports import` of generated DMARC aggregate reports
# into the database, streamed (memory flat in the report's size).
#
#   bench/reports.sh [RECORDS ...]     default: 100000 1000000
#
# Builds the release binary, writes one RFC 7489 aggregate report with
# RECORDS <record> rows (plain XML, about 560 bytes a row), imports it into
# a fresh SQLite database and, when MAILWARDEN_TEST_PG_URL is exported (see
# tests/real-peers/postgres.sh: `set -a; . target/real-peers/pg.env; set +a`),
# into a fresh PostgreSQL database, and
# prints records per second and peak memory (max RSS, from GNU time) for
# each. `--dir` adds the directory store (`--store-dir`), which parses the
# report whole in memory, for comparison (skipped above 100,000 rows).
# --max-size is raised to fit the file.
#
# records/s is wall-clock; cpu_rec/s divides by the process's user+system
# CPU time, which is what the machine's load does not change (on a shared
# machine prefer it, and the ratios within one run). The load average is
# printed first.
#
# PARSEDMARC=/path/to/parsedmarc adds parsedmarc's offline mode
# (`parsedmarc --offline`, e.g. `pip install parsedmarc` into a venv) on the
# same file as a reference, for sizes up to PARSEDMARC_MAX rows (default
# 20000: it parses about 700 rows a second).
set -euo pipefail
cd "$(dirname "$0")/.."
with_dir=false
sizes=()
for a in "$@"; do
  case "$a" in
    --dir) with_dir=true ;;
    *) sizes+=("$a") ;;
  esac
done
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)
command -v /usr/bin/time >/dev/null || { echo "bench/reports.sh needs GNU time (apt-get install -y time)" >&2; exit 2; }
cargo build --release --locked -q -p mailwarden
work=$(mktemp -d)
pg_db="mw_bench_$$"
drop_pg() { psql -q "$MAILWARDEN_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $pg_db" >/dev/null 2>&1 || true; }
cleanup() {
  [ -z "${MAILWARDEN_TEST_PG_URL:-}" ] || drop_pg
  rm -rf "$work"
}
trap cleanup EXIT

# A fresh database URL for BACKEND (the PostgreSQL one dropped and created again).
fresh_db() {
  case "$1" in
    sqlite) rm -f "$work"/bench.db*; echo "sqlite:$work/bench.db" ;;
    postgres)
      drop_pg
      psql -q "$MAILWARDEN_TEST_PG_URL" -c "CREATE DATABASE $pg_db" >/dev/null
      echo "${MAILWARDEN_TEST_PG_URL%/*}/$pg_db" ;;
  esac
}

backends=(sqlite)
[ -n "${MAILWARDEN_TEST_PG_URL:-}" ] && backends+=(postgres)

echo "load average:$(uptime | sed 's/.*load average://')"
printf '%-10s %-10s %-8s %-9s %-12s %-9s %-12s %s\n' records store MB seconds records/s cpu_s cpu_rec/s peak_rss_MB
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
  stores=("${backends[@]}")
  if $with_dir && [ "$n" -le 100000 ]; then stores+=(dir); fi
  if [ -n "${PARSEDMARC:-}" ] && [ "$n" -le "${PARSEDMARC_MAX:-20000}" ]; then stores+=(parsedmarc); fi
  for store in "${stores[@]}"; do
    case "$store" in
      dir)
        rm -rf "$work/store"
        command=(./target/release/mailwarden --store-dir "$work/store" reports import --format json
          --max-size $((bytes + 1)) "$work/report.xml") ;;
      parsedmarc)
        rm -rf "$work/pm"
        command=("$PARSEDMARC" --offline -s -o "$work/pm" "$work/report.xml") ;;
      *)
        command=(./target/release/mailwarden --db "$(fresh_db "$store")" reports import --format json
          --max-size $((bytes + 1)) "$work/report.xml") ;;
    esac
    # The audit key of the import's run event goes to the work directory.
    MAILWARDEN_AUDIT_KEY="$work/audit.key" /usr/bin/time -f '%e %M %U %S' -o "$work/time" "${command[@]}" >"$work/out"
    if [ "$store" = parsedmarc ]; then
      rows=$(grep -c '"ip_address"' "$work/pm/aggregate.json" || true)
      [ "$rows" = "$n" ] || { echo "parsedmarc wrote $rows of $n rows" >&2; exit 1; }
    else
      grep -q '"status":"imported"' "$work/out" || { cat "$work/out" >&2; exit 1; }
    fi
    read -r secs rss_kb user sys <"$work/time"
    awk -v n="$n" -v st="$store" -v b="$bytes" -v s="$secs" -v r="$rss_kb" -v c="$(awk -v u="$user" -v y="$sys" 'BEGIN { print u + y }')" \
      'BEGIN { printf "%-10d %-10s %-8.1f %-9.2f %-12d %-9.2f %-12d %.1f\n", n, st, b / 1048576, s, (s > 0 ? n / s : 0), c, (c > 0 ? n / c : 0), r / 1024 }'
  done
done

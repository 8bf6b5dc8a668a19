#!/usr/bin/env bash
# Benchmark: one large scan shared by 1, 2, 4 `mailwarden worker` processes
# on a real PostgreSQL (issue 15), DNS from bench-dns (the synthetic server
# of bench/scan.sh) on 127.0.0.1.
#
#   bench/workers.sh [COUNT]          default 10000 domains
#   WORKERS="1 2 4 8" bench/workers.sh
#   CHECKS="mx,spf all" bench/workers.sh   check sets (default both)
#   CONCURRENCY=64                    scans in flight per worker
#   BATCH=100                         domains per batch
#   MAILWARDEN_BENCH_PG_URL=postgres://USER@HOST/DB   an existing server
#       (default: tests/real-peers/postgres.sh starts a throw-away one)
#
# For each check set and worker count: a fresh database, `jobs submit` of
# d0..d<COUNT-1>.bench.test (not timed), then the workers started together
# with --until-done. Time runs from their start to the last stored result
# (the database's clock), so the idle poll before a worker exits is not
# counted. Prints domains/s, the speed-up over one worker, the CPU seconds
# the workers and PostgreSQL used, and the stored bytes per result.
# Numbers are informative, not asserted; on a machine with few cores the
# workers, bench-dns and PostgreSQL share them: see docs/scale.md.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
read -r -a worker_counts <<<"${WORKERS:-1 2 4}"
read -r -a check_sets <<<"${CHECKS:-mx,spf all}"
concurrency=${CONCURRENCY:-64}
batch=${BATCH:-100}

command -v /usr/bin/time >/dev/null || { echo "bench/workers.sh needs GNU time (apt-get install -y time)" >&2; exit 2; }
cargo build --release --locked -q -p mailwarden -p mailwarden-bench
mw=./target/release/mailwarden
work=$(mktemp -d)
started_pg=no
cleanup() {
  [ -n "${dns_pid:-}" ] && kill "$dns_pid" 2>/dev/null
  [ "$started_pg" = yes ] && tests/real-peers/postgres.sh stop
  rm -rf "$work"
}
trap cleanup EXIT

base=${MAILWARDEN_BENCH_PG_URL:-}
if [ -z "$base" ]; then
  eval "$(tests/real-peers/postgres.sh start)"
  base=$MAILWARDEN_TEST_PG_URL
  started_pg=yes
fi
command -v psql >/dev/null || { echo "bench/workers.sh needs psql (Debian postgresql-client)" >&2; exit 2; }

./target/release/bench-dns 127.0.0.1:0 >"$work/addr" &
dns_pid=$!
for _ in $(seq 50); do [ -s "$work/addr" ] && break; sleep 0.1; done
addr=$(head -n1 "$work/addr")
seq 0 $((count - 1)) | sed 's/^/d/; s/$/.bench.test/' >"$work/list"

# CPU seconds (user + system) PostgreSQL has used so far: the postmaster's
# own and its children's, live (/proc) and exited (cutime, cstime: the
# backends of closed connections). "n/a" for a server not started here.
pg_cpu() {
  local data pid
  data=$(sed -n 's/^PGDATA_DIR=//p' target/real-peers/pg.env 2>/dev/null || true)
  pid=$(head -n1 "$data/postmaster.pid" 2>/dev/null || true)
  if [ -z "$pid" ] || ! [ -r "/proc/$pid/stat" ]; then
    echo n/a
    return
  fi
  {
    awk '{ print $14 + $15 + $16 + $17 }' "/proc/$pid/stat"
    for c in $(pgrep -P "$pid" || true); do awk '{ print $14 + $15 }' "/proc/$c/stat" 2>/dev/null || true; done
  } | awk -v hz="$(getconf CLK_TCK)" '{ t += $1 } END { printf "%.1f", t / hz }'
}

printf '%-8s %-8s %-8s %-10s %-10s %-9s %-12s %-10s %-12s %s\n' \
  checks workers domains seconds domains/s speedup worker_cpu_s pg_cpu_s bytes/result per-worker
for checks in "${check_sets[@]}"; do
  select=()
  [ "$checks" = all ] || select=(--checks "$checks")
  one=""
  for w in "${worker_counts[@]}"; do
    db="mw_bench_workers_$$_${w}_${checks//[^a-z]/}"
    psql -q "$base" -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db" >/dev/null
    url="${base%/*}/$db"
    job=$("$mw" --db "$url" jobs submit "$work/list" --batch-size "$batch" -- \
      --resolver "$addr" --ns-port "${addr##*:}" --allow-private-targets --no-smtp --no-https --no-dnssec \
      --timeout 5 "${select[@]}" 2>/dev/null)
    pg_before=$(pg_cpu)
    start=$(date +%s.%N)
    pids=()
    for i in $(seq "$w"); do
      /usr/bin/time -f '%U %S' -o "$work/cpu.$i" "$mw" --db "$url" worker --until-done --lease 30s \
        --concurrency "$concurrency" --name "bench$i" 2>"$work/log.$i" &
      pids+=($!)
    done
    for p in "${pids[@]}"; do wait "$p" || { cat "$work"/log.* >&2; exit 1; }; done
    pg_after=$(pg_cpu)
    read -r stored end per_worker < <(psql -At -F ' ' "$url" -c \
      "SELECT COUNT(*), EXTRACT(EPOCH FROM CAST(MAX(finished_at) AS TIMESTAMPTZ)),
              (SELECT string_agg(n::text, '/' ORDER BY worker) FROM (SELECT worker, COUNT(*) n FROM job_results GROUP BY worker) x)
       FROM job_results WHERE job_id = $job")
    [ "$stored" -eq "$count" ] || { echo "expected $count results, got $stored" >&2; exit 1; }
    bytes=$(psql -At "$url" -c "SELECT pg_total_relation_size('job_results') / GREATEST(COUNT(*), 1) FROM job_results")
    cpu=$(cat "$work"/cpu.* | awk '{ s += $1 + $2 } END { printf "%.1f", s }')
    rm -f "$work"/cpu.*
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.2f", b - a }')
    rate=$(awk -v n="$count" -v s="$secs" 'BEGIN { printf "%.0f", n / (s > 0 ? s : 0.01) }')
    [ -n "$one" ] || one=$rate
    awk -v c="$checks" -v w="$w" -v n="$count" -v s="$secs" -v r="$rate" -v one="$one" -v cpu="$cpu" \
      -v pg="$(awk -v a="$pg_before" -v b="$pg_after" 'BEGIN { if (a == "n/a") print "n/a"; else printf "%.1f", b - a }')" -v by="$bytes" -v pw="$per_worker" \
      'BEGIN { printf "%-8s %-8d %-8d %-10.2f %-10d %-9.2f %-12.1f %-10s %-12d %s\n", c, w, n, s, r, r / one, cpu, pg, by, pw }'
    psql -q "$base" -c "DROP DATABASE $db" >/dev/null
  done
done
echo "cores: $(nproc); load average before the last run: $(cut -d' ' -f1-3 /proc/loadavg)"

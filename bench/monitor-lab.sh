#!/usr/bin/env bash
# Benchmark of the store under `mailwarden monitor` through REAL servers
# (issue 13): the lab of bench/lab.sh (NSD serving a signed root, a signed
# TLD and N generated zones, behind a validating Unbound), N monitored
# domains in an SQLite database.
#
#   bench/monitor-lab.sh [N]         default 10000
#   CONCURRENCY=256                  monitor run --concurrency
#   LAB_DIR=/tmp/mw-lab-keep         keep (and reuse) the generated zones, as bench/lab.sh
#   MAILWARDEN=path                  the binary (default: a release build of this tree)
#   LAB_WORK=DIR                     keep the database and the runs' logs there
#   LAB_SCAN=M                       monitor only the first M of the N domains (zones for N are served)
#   LAB_DEAD=K                       also monitor K names the signed lab. TLD denies (gone0.lab ...):
#                                    lists of real portfolios hold expired domains; their secure
#                                    NXDOMAIN lets the run's cache answer the names below it (RFC 8020)
#   ROUNDS=2                         cold rounds and warm rounds (each arm once per round)
#
# The store's cost is measured against the same scans with nothing stored:
# `monitor run --once --no-store` scans every monitored domain through the
# same code path (the same scanner, cache and concurrency) and stores
# nothing. Three arms, interleaved (A B, B A, A B ...) so a change in the
# machine's load falls on all of them alike:
#   nostore  --no-store
#   new      stored into a fresh copy of the database (every scan a new
#            snapshot: Observation, findings, audit events; the most the
#            store writes)
#   again    stored into the database of the first cold `new` run: an
#            unchanged re-scan (seen-again marks only)
# Cold rounds (Unbound restarted before each run: an empty cache) compare
# nostore with new; warm rounds (the cache holds what earlier runs asked)
# compare all three. Each run's CPU time (user+sys of the process, from
# /usr/bin/time) and wall time are printed, and the store's overhead as
# CPU% and wall% against the nostore run of the same round. CPU time is
# what the store costs on a shared machine; wall time moves with the load.
# `--timings` adds up the writer's transaction time (it runs beside the
# scans, so that is the most the writes can add to the wall time).
# "inside" is the store's CPU counted within the stored run itself
# (`--timings`: the store's futures' polls on the async threads plus
# SQLite's worker threads, over the rest of the process's CPU): it does not
# move with the machine's load, which on a shared machine made two
# identical nostore runs differ by up to 40%.
# Then: database growth for the unchanged re-scan of all N (target < 1 MB),
# and `history` of one domain with a year of hourly scans (target < 50 ms).
# All DNS checks, DNSSEC validated from the lab's root key, no SMTP or
# HTTPS probes (the lab serves DNS only). Numbers are printed, not asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

# shellcheck source=bench/lab-servers.sh
source "$REPO/bench/lab-servers.sh"
# shellcheck source=bench/monitor-common.sh
source "$REPO/bench/monitor-common.sh"
[ -n "${LAB_IN_NETNS:-}" ] || lab_enter_netns "$0" "$@"

n=${1:-10000}
concurrency=${CONCURRENCY:-256}
rounds=${ROUNDS:-2}
RESOLVER=127.0.60.53
pids=()
lab=${LAB_DIR:-$(mktemp -d /tmp/mw-lab.XXXXXX)}
work=${LAB_WORK:-$(mktemp -d)}
mkdir -p "$work"
trap 'lab_cleanup; [ -n "${LAB_WORK:-}" ] || rm -rf "$work"' EXIT
mkdir -p "$lab"
lab_zones "$n"
lab_list "$n" >"$work/list"

export HOME=$work # nothing of the run in the user's ~/.config or ~/.local
export MAILWARDEN_AUDIT_KEY=$work/audit.key
template=$work/template.db

start_nsd
unbound_conf
start_unbound

xargs -a "$work/list" -n 2000 sh -c 'MAILWARDEN_DB=sqlite:'"$template"' "$0" monitor add --every 1h "$@" --resolver '"$RESOLVER"' \
  --trust-anchor '"$lab/root.key"' --allow-private-targets --no-smtp --no-https -- --ns-qps 0 >/dev/null' "$MAILWARDEN"

# copy_db SRC DST: a consistent copy through SQLite's backup API (WAL
# included: a `cp` of the file alone missed the scans still in the WAL,
# which the "unchanged" re-scan then stored as new snapshots).
copy_db() {
  rm -f "$2" "$2-wal" "$2-shm"
  python3 -c 'import sqlite3, sys; s = sqlite3.connect(sys.argv[1]); d = sqlite3.connect(sys.argv[2]); s.backup(d)' "$1" "$2"
}
# fresh DB: a copy of the database holding the monitors and nothing else.
fresh() { copy_db "$template" "$1"; }

# run LABEL DB [--no-store]: one `monitor run --once --timings` on DB; its
# wall, user and system seconds in $work/LABEL.time, its standard error in
# $work/LABEL.log.
run() {
  local label=$1 db=$2
  shift 2
  MAILWARDEN_DB="sqlite:$db" /usr/bin/time -f '%e %U %S' -o "$work/$label.time" \
    "$MAILWARDEN" monitor run --once --timings --concurrency "$concurrency" "$@" 2>"$work/$label.log"
  if grep -q 'not stored' "$work/$label.log"; then cut -c1-2000 "$work/$label.log" >&2; exit 1; fi
  say "$label: $(cat "$work/$label.time") (wall user sys s); $(grep -v timings "$work/$label.log" | tail -n1)"
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
again=$work/again.db
cold_nostore() {
  start_unbound
  run "nostore.cold.$1" "$template" --no-store
}
cold_new() {
  start_unbound
  fresh "$work/new.db"
  run "new.cold.$1" "$work/new.db"
  if [ "$1" = 1 ]; then copy_db "$work/new.db" "$again"; fi
}
warm_new() {
  fresh "$work/new.db"
  run "new.warm.$1" "$work/new.db"
}
# Even rounds run the arms in the reverse order (A B, B A, ...), so
# whatever drifts from one run to the next (the resolver's cache, the
# machine's load) falls on each arm first as often as last.
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then cold_nostore "$r"; cold_new "$r"; else cold_new "$r"; cold_nostore "$r"; fi
done
before=$(db_bytes "$again")
for r in $(seq "$rounds"); do
  if [ $((r % 2)) = 1 ]; then
    run "nostore.warm.$r" "$template" --no-store
    warm_new "$r"
    run "again.warm.$r" "$again" # unchanged re-scan: seen-again marks only
  else
    run "again.warm.$r" "$again"
    warm_new "$r"
    run "nostore.warm.$r" "$template" --no-store
  fi
  if [ "$r" = 1 ]; then after=$(db_bytes "$again"); fi
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

printf 'real servers (NSD + validating Unbound), %d domains, all DNS checks, concurrency %d, %d cold and %d warm rounds interleaved, load average %s -> %s (%d cores)\n' \
  "$(wc -l <"$work/list")" "$concurrency" "$rounds" "$rounds" "$load_before" "$load_after" "$(nproc)"
python3 - "$work" "$rounds" <<'PY'
import re, sys
work, rounds = sys.argv[1], int(sys.argv[2])
def t(label):
    wall, user, sys_ = map(float, open(f"{work}/{label}.time").read().split()[-3:])
    return wall, user + sys_
def writes(label):
    m = re.search(r"store writes ([0-9.]+) s \(([0-9.]+)% of wall, (\d+) transaction", open(f"{work}/{label}.log").read())
    return f"writes {m.group(1)} s in {m.group(3)} transaction(s)" if m else ""
def inside(label):
    """The store's CPU over the rest of the process's, counted inside the run."""
    m = re.search(r"store CPU ([0-9.]+) s \(async ([0-9.]+) s, SQLite threads ([0-9.]+) s\) of the process's ([0-9.]+) s: \+([0-9.]+)% on the rest",
                  open(f"{work}/{label}.log").read())
    return float(m.group(5)) if m else None
def mean_sem(xs):
    """The mean, and with more than one round its standard error."""
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return f"{m:+.1f}%"
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5
    return f"{m:+.1f}% ± {sd / len(xs) ** 0.5:.1f}"
for phase, arms in (("cold", ("nostore", "new")), ("warm", ("nostore", "new", "again"))):
    for r in range(1, rounds + 1):
        base_wall, base_cpu = t(f"nostore.{phase}.{r}")
        for arm in arms:
            label = f"{arm}.{phase}.{r}"
            wall, cpu = t(label)
            extra = "" if arm == "nostore" else "  store: CPU %+.1f%%, wall %+.1f%%, inside %+.1f%%  (%s)" % (
                100 * (cpu - base_cpu) / base_cpu, 100 * (wall - base_wall) / base_wall, inside(label) or 0.0, writes(label))
            print(f"  {label:<16} wall {wall:7.2f} s  CPU {cpu:7.2f} s{extra}")
    for arm in arms[1:]:
        cpu = [100 * (t(f"{arm}.{phase}.{r}")[1] - t(f"nostore.{phase}.{r}")[1]) / t(f"nostore.{phase}.{r}")[1] for r in range(1, rounds + 1)]
        wall = [100 * (t(f"{arm}.{phase}.{r}")[0] - t(f"nostore.{phase}.{r}")[0]) / t(f"nostore.{phase}.{r}")[0] for r in range(1, rounds + 1)]
        print(f"store overhead, {phase} {arm:<6} CPU {mean_sem(cpu)} (rounds: {', '.join('%+.1f' % c for c in cpu)}), "
              f"wall {mean_sem(wall)} (rounds: {', '.join('%+.1f' % w for w in wall)})  (target < +10%)")
        ins = [inside(f"{arm}.{phase}.{r}") or 0.0 for r in range(1, rounds + 1)]
        print(f"store CPU counted inside the run, {phase} {arm:<6} {sum(ins)/len(ins):+.1f}% on the rest of the process "
              f"(rounds: {', '.join('%+.1f' % i for i in ins)})  (target < +10%)")
if rounds > 1:
    w = [t(f"nostore.warm.{r}")[0] for r in range(1, rounds + 1)]
    c = [t(f"nostore.warm.{r}")[1] for r in range(1, rounds + 1)]
    print(f"spread of identical nostore warm runs: wall {100 * (max(w) - min(w)) / min(w):.1f}%, CPU {100 * (max(c) - min(c)) / min(c):.1f}%")
PY
printf '%-44s %d bytes  (target < 1048576; %s)\n' "database growth, unchanged re-scan" "$((after - before))" \
  "$(grep -v timings "$work/again.warm.1.log" | tail -n1)"
printf '%-44s %s bytes\n' "database size" "$after"
MAILWARDEN_DB="sqlite:$again" history_year "$MAILWARDEN" "$again" d1.lab d0.lab

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
#
# The store's cost is measured two ways, both printed:
# - against the same scans with nothing stored: `monitor run --once
#   --no-store` scans every monitored domain through the same code path
#   (the same scanner, cache and concurrency) and stores nothing. Each
#   stored run is compared with a no-store run in the same resolver cache
#   state: both cold (Unbound restarted before each) or both warm.
# - inside the stored run: `--timings` adds up the time spent writing to
#   the store (each scan's transaction, the seen-again marks, the claim
#   release). Writes are serial on one loop while scans go on in other
#   tasks, so this is the most the writes can add to the wall time.
# Then: database growth for an unchanged re-scan of all N (target < 1 MB),
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
db=$work/mw.db
export MAILWARDEN_DB="sqlite:$db"

start_nsd
unbound_conf
start_unbound

xargs -a "$work/list" -n 2000 sh -c '"$0" monitor add --every 1h "$@" --resolver '"$RESOLVER"' \
  --trust-anchor '"$lab/root.key"' --allow-private-targets --no-smtp --no-https -- --ns-qps 0 >/dev/null' "$MAILWARDEN"

# run LABEL [--no-store]: one `monitor run --once --timings`; its wall time
# (s) in $work/LABEL.s, its standard error in $work/LABEL.log.
run() {
  local label=$1 t
  shift
  t=$(now)
  "$MAILWARDEN" monitor run --once --timings --concurrency "$concurrency" "$@" 2>"$work/$label.log"
  elapsed "$t" >"$work/$label.s"
  if grep -q 'not stored' "$work/$label.log"; then cut -c1-2000 "$work/$label.log" >&2; exit 1; fi
}

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# Cold: Unbound restarted (empty cache) before each run.
run scans.cold --no-store
start_unbound
run stored.cold # every domain new: snapshot, findings, audit events
# Warm: the resolver holds what the runs before asked.
run scans.warm --no-store
before=$(db_bytes "$db")
run stored.warm # unchanged re-scan: seen-again marks only
after=$(db_bytes "$db")
run scans.warm2 --no-store # again, for the spread between two identical runs
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

secs() { cat "$work/$1.s"; }
store_secs() { sed -n 's/.*; store writes \([0-9.]*\) s .*/\1/p' "$work/$1.log"; }
overhead() { # STORED SCANS
  python3 -c 'import sys; a, b = map(float, sys.argv[1:]); print("%+.1f%%" % (100 * (a - b) / b))' "$(secs "$1")" "$(secs "$2")"
}
share() { # STORED
  python3 -c 'import sys; s, w = map(float, sys.argv[1:]); print("%.1f%%" % (100 * s / w))' "$(store_secs "$1")" "$(secs "$1")"
}

printf 'real servers (NSD + validating Unbound), %d domains, all DNS checks, concurrency %d, load average %s -> %s (%d cores)\n' \
  "$(wc -l <"$work/list")" "$concurrency" "$load_before" "$load_after" "$(nproc)"
for label in scans.cold stored.cold scans.warm stored.warm scans.warm2; do
  printf '%-44s %8s s  %s\n' "monitor run --once ($label)" "$(secs "$label")" "$(grep -v timings "$work/$label.log" | tail -n1)"
  printf '%-44s %s\n' "" "$(grep -o 'timings: .*' "$work/$label.log")"
done
printf '%-44s cold %s, warm %s (another no-store run: %s)  (target < +10%%)\n' "store overhead, wall vs no-store run" \
  "$(overhead stored.cold scans.cold)" "$(overhead stored.warm scans.warm)" "$(overhead scans.warm2 scans.warm)"
printf '%-44s cold %s s = %s of wall, warm %s s = %s of wall\n' "time writing to the store (--timings)" \
  "$(store_secs stored.cold)" "$(share stored.cold)" "$(store_secs stored.warm)" "$(share stored.warm)"
printf '%-44s %d bytes  (target < 1048576)\n' "database growth, unchanged re-scan" "$((after - before))"
printf '%-44s %s bytes\n' "database size" "$after"
history_year "$MAILWARDEN" "$db" d1.lab d0.lab

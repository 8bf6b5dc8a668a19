#!/usr/bin/env bash
# Benchmark of the store (crates/store) under `mailwarden monitor`:
#
#   bench/monitor.sh [COUNT]          default 10000
#   PROFILE=debug bench/monitor.sh    use the debug build (quicker to build; slower numbers)
#
# 1. Store overhead: COUNT generated domains (d0..d<COUNT-1>.bench.test,
#    served by bench-dns on 127.0.0.1 as in bench/scan.sh) scanned by
#    `mailwarden scan` (nothing stored) and by `monitor run --once` (every
#    scan stored: snapshot, findings, audit events). Target: under 10% more.
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
flags=(--resolver "$addr" --allow-private-targets --no-smtp --no-https --no-dnssec -- --ns-port "${addr##*:}" --timeout 5)
db="$work/mw.db"
export MAILWARDEN_DB="sqlite:$db"
export MAILWARDEN_AUDIT_KEY="$work/audit.key" # never the user's ~/.config

seq 0 $((n - 1)) | sed 's/^/d/; s/$/.bench.test/' >"$work/list"
# Clock readings from bash itself ($EPOCHREALTIME, microseconds): a timer
# that starts an interpreter would add its own start-up (tens of ms) to
# every reading, more than the 50 ms `history` target.
now() { echo "${EPOCHREALTIME/./}"; }
elapsed() { # START_US -> seconds, two decimals
  local d=$(($(now) - $1))
  printf '%d.%02d\n' $((d / 1000000)) $(((d % 1000000) / 10000))
}
elapsed_ms() { echo $((($(now) - $1) / 1000)); }
db_bytes() {
  python3 - "$db" <<'PY'
import os, sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()
print(sum(os.path.getsize(sys.argv[1] + s) for s in ("", "-wal") if os.path.exists(sys.argv[1] + s)))
PY
}

t=$(now)
"$bin/mailwarden" scan --input "$work/list" --resolver "$addr" --ns-port "${addr##*:}" --allow-private-targets \
  --no-smtp --no-https --no-dnssec --timeout 5 --concurrency "$concurrency" --format jsonl --fail-on none >/dev/null
scan_s=$(elapsed "$t")

xargs -a "$work/list" -n 5000 sh -c '"$0" monitor add --every 1h "$@" '"${flags[*]}"' >/dev/null' "$bin/mailwarden"
t=$(now)
"$bin/mailwarden" monitor run --once --concurrency "$concurrency" 2>"$work/run1"
grep -q ' 0 new snapshot' "$work/run1" && { cat "$work/run1" >&2; exit 1; }
grep -q 'not stored' "$work/run1" && { cut -c1-2000 "$work/run1" >&2; exit 1; }
first_s=$(elapsed "$t")
before=$(db_bytes)
t=$(now)
"$bin/mailwarden" monitor run --once --concurrency "$concurrency" 2>"$work/run2"
again_s=$(elapsed "$t")
after=$(db_bytes)

# A year of hourly scans of d1, unchanged: one snapshot seen 8760 times.
python3 - "$db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("UPDATE snapshots SET seen_count = 8760, first_seen_at = '2025-01-01T00:00:00.000Z' WHERE domain = 'd1.bench.test'")
c.commit()
PY
best_unchanged=999999
for _ in 1 2 3 4 5; do
  t=$(now)
  "$bin/mailwarden" history d1.bench.test --format json >/dev/null
  ms=$(elapsed_ms "$t")
  [ "$ms" -lt "$best_unchanged" ] && best_unchanged=$ms
done

# A year of hourly scans of d0: 365 daily snapshots, 24 sightings each.
python3 - "$db" <<'PY'
import json, sqlite3, sys, zlib
c = sqlite3.connect(sys.argv[1])
row = c.execute("SELECT * FROM snapshots WHERE domain = 'd0.bench.test'").fetchone()
cols = [d[0] for d in c.execute("SELECT * FROM snapshots LIMIT 0").description]
snap = dict(zip(cols, row))
obs = json.loads(zlib.decompress(snap["observation"], -15))
findings = c.execute("SELECT rule_id, subject, outcome, severity, message FROM findings WHERE snapshot_id = ?", (snap["id"],)).fetchall()
c.execute("DELETE FROM findings WHERE snapshot_id = ?", (snap["id"],))
c.execute("DELETE FROM snapshots WHERE id = ?", (snap["id"],))
for day in range(365):
    for e in obs["dns"]:
        if e["type"] == "MX" and e.get("records"):
            e["records"][0]["preference"] = 10 + day % 2
    co = zlib.compressobj(wbits=-15)
    blob = co.compress(json.dumps(obs).encode()) + co.flush()
    first = f"2025-01-01T00:00:00.000Z".replace("01-01", f"{1 + day // 31:02d}-{1 + day % 28:02d}")
    cur = c.execute(
        "INSERT INTO snapshots (domain, fingerprint, first_seen_at, last_seen_at, seen_count, scanner_version, catalogue_version, observation, score, scores, profiles) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
        (snap["domain"], f"bench{day}", first, first, 24, snap["scanner_version"], snap["catalogue_version"], blob, snap["score"], snap["scores"], snap["profiles"]))
    sid = cur.lastrowid
    c.executemany("INSERT INTO findings VALUES (?,?,?,?,?,?)", [(sid,) + f for f in findings])
c.commit()
PY
"$bin/mailwarden" history d0.bench.test --format json >/dev/null # warm the page cache
best=999999
for _ in 1 2 3 4 5; do
  t=$(now)
  "$bin/mailwarden" history d0.bench.test --format json >"$work/history.json"
  ms=$(elapsed_ms "$t")
  [ "$ms" -lt "$best" ] && best=$ms
done
changes=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(len(d["snapshots"]), sum(len(s["changes"]) for s in d["snapshots"]))' "$work/history.json")

printf 'profile %s, %d domains, concurrency %d\n' "$profile" "$n" "$concurrency"
printf '%-44s %s s\n' "scan (nothing stored)" "$scan_s"
printf '%-44s %s s  (%s)\n' "monitor run --once, first (all new)" "$first_s" "$(tail -n1 "$work/run1")"
printf '%-44s %s s  (%s)\n' "monitor run --once, unchanged re-scan" "$again_s" "$(tail -n1 "$work/run2")"
python3 -c 'import sys; s,f,a=map(float,sys.argv[1:]); print("%-44s %+.1f%% %+.1f%%  (target < +10%%)" % ("store overhead (first, re-scan)", 100*(f-s)/s, 100*(a-s)/s))' "$scan_s" "$first_s" "$again_s"
printf '%-44s %d bytes  (target < 1048576)\n' "database growth, unchanged re-scan" "$((after - before))"
printf '%-44s %s bytes\n' "database size" "$after"
printf '%-44s %d ms, best of 5, whole process  (1 snapshot seen 8760x; target < 50 ms)\n' "history, a year of hourly scans, unchanged" "$best_unchanged"
printf '%-44s %d ms, best of 5, whole process  (snapshots, changes: %s; target < 50 ms)\n' "history, a year, a change every day" "$best" "$changes"

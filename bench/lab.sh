#!/usr/bin/env bash
# Benchmark against REAL servers: NSD serving a signed root, a signed TLD
# (lab.) and N generated second-level zones, behind a validating Unbound.
#
#   bench/lab.sh N [N ...]           default: 10000
#   CHECKS="all mx,spf,dmarc,mta-sts,tlsrpt,bimi,dnssec" (the default: every DNS check, and about
#                                    what checkdmarc checks)
#   CONCURRENCY=256                  mailwarden scan --concurrency
#   LAB_SCAN=M                       scan only the first M of the N domains (zones for N are served)
#   LAB_DIR=/tmp/mw-lab-keep         keep the generated zones and keys there and reuse them on the
#                                    next run (same keys: the findings can be compared run to run)
#   LAB_FINDINGS=DIR                 write each run's findings (sorted JSON lines, no evidence) to DIR
#   MAILWARDEN=path                  the binary to measure (default: a release build of this tree)
#   LAB_NS_QPS=0                     --ns-qps for the run (the lab's nameservers are ours: no limit)
#   LAB_PERF=1                       profile the warm runs with perf (CPU time then includes perf's)
#   LAB_GENERATE_ONLY=1              only generate the zones (into LAB_DIR), run nothing
#
# Needs root: everything runs in a network namespace of its own (created
# here, deleted on exit), so the servers listen on port 53 of loopback
# addresses no other process on the machine sees, and nothing leaves it.
#
# Zones (bench/lab-zones.py): 60% signed (ECDSA P-256, NSEC, DS in lab.),
# SPF with two levels of includes into four provider zones, DMARC, DKIM
# keys under two or three selectors, MTA-STS and TLS-RPT on half, TLSA on
# a third of the signed zones' MX hosts, BIMI on a tenth.
#
# Servers: NSD root on 127.0.60.1, lab. on 127.0.60.2, the children on
# 127.0.60.3 and .4 (a.ns.lab, b.ns.lab: one NSD); Unbound on
# 127.0.60.53, validating from the lab's root key, one thread.
#
# For each N and check set: the cache is flushed (Unbound restarted), then
#   1. mailwarden scans the N domains (--save-evidence), cold;
#   2. its query list (every question of the evidence sent to the
#      resolver, DO bit set) is replayed with dnsperf against a flushed
#      Unbound, cold;
#   3. mailwarden again and dnsperf again, warm.
# Printed: domains/s, queries per domain by check (read off the evidence:
# by name and type), CPU per domain (user+sys), peak RSS, and mailwarden's
# wall time as a percentage of dnsperf's (100% = as fast as the resolver
# can answer the same questions; lower is slower).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

if [ -z "${LAB_IN_NETNS:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "bench/lab.sh: needs root (network namespace, port 53)" >&2; exit 2; }
  for tool in nsd unbound ldns-keygen ldns-signzone dnsperf dig python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "bench/lab.sh needs $tool (apt-get install -y nsd unbound ldnsutils dnsperf bind9-dnsutils python3 time)" >&2; exit 2; }
  done
  if [ -z "${MAILWARDEN:-}" ]; then
    cargo build --release --locked -q -p mailwarden
    MAILWARDEN=$REPO/target/release/mailwarden
  fi
  ns="mw-lab-$$"
  ip netns add "$ns"
  trap 'ip netns del "$ns" 2>/dev/null || true' EXIT
  ip netns exec "$ns" ip link set lo up
  rc=0
  ip netns exec "$ns" env LAB_IN_NETNS=1 MAILWARDEN="$MAILWARDEN" "$0" "$@" || rc=$?
  exit "$rc"
fi

counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10000)
concurrency=${CONCURRENCY:-256}
read -r -a check_sets <<<"${CHECKS:-all mx,spf,dmarc,mta-sts,tlsrpt,bimi,dnssec}"
RESOLVER=127.0.60.53

pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Servers that started but never answered are not in pids yet.
  for pid in "$lab"/run/*/*.pid; do [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true; done
  [ -n "${LAB_DIR:-}" ] || rm -rf "$lab"
}
trap cleanup EXIT
lab=${LAB_DIR:-$(mktemp -d /tmp/mw-lab.XXXXXX)}
mkdir -p "$lab"

say() { printf 'lab: %s\n' "$*" >&2; }

# --- zones -----------------------------------------------------------------

sign() { # ZONEFILE ORIGIN KEYBASE
  ldns-signzone -i 20260101000000 -e 20360101000000 -f "$1.signed" -o "$2" "$1" "$3"
}
export -f sign

generate() { # N DIR
  local n=$1 d=$2 i
  rm -rf "$d" && mkdir -p "$d/pool"
  local -a pool=()
  for i in $(seq 8); do
    pool+=("$d/pool/$(cd "$d/pool" && ldns-keygen -a ECDSAP256SHA256 -k "pool$i.")")
  done
  python3 "$REPO/bench/lab-zones.py" "$n" "$d" "${pool[@]}"
  say "signing $(wc -l <"$d/signed") of $(wc -l <"$d/children") zones"
  # shellcheck disable=SC2016
  xargs -P "$(nproc)" -L 1 bash -c 'sign "$0/zones/${1}zone" "$1" "$2"' "$d" <"$d/signed"
  while read -r zone; do
    [ -e "$d/zones/${zone}zone.signed" ] || cp "$d/zones/${zone}zone" "$d/zones/${zone}zone.signed"
  done <"$d/children"
  local tld_key root_key
  tld_key="$d/pool/$(cd "$d/pool" && ldns-keygen -a ECDSAP256SHA256 -k lab.)"
  root_key="$d/pool/$(cd "$d/pool" && ldns-keygen -a ECDSAP256SHA256 -k .)"
  {
    printf '$TTL 86400\nlab. 86400 IN SOA ns.lab. hostmaster.lab. 2026010101 3600 600 86400 3600\n'
    printf 'lab. NS ns.lab.\nns.lab. A 127.0.60.2\n'
    cat "$d/tld-body"
  } >"$d/zones/lab.zone"
  sign "$d/zones/lab.zone" lab. "$tld_key"
  {
    printf '$TTL 86400\n. 86400 IN SOA ns. hostmaster. 2026010101 3600 600 86400 3600\n'
    printf '. NS ns.\nns. A 127.0.60.1\nlab. NS ns.lab.\nns.lab. A 127.0.60.2\n'
    ldns-key2ds -n -2 "$tld_key.key"
  } >"$d/zones/root.zone"
  sign "$d/zones/root.zone" . "$root_key"
  sed 's/;.*$//' "$root_key.key" >"$d/root.key"
  echo "$n" >"$d/count"
}

# --- servers ---------------------------------------------------------------

nsd_conf() { # NAME ZONELIST ADDRESS...
  local name=$1 list=$2 d="$lab/run/$1" addr
  shift 2
  mkdir -p "$d"
  {
    printf 'server:\n'
    for addr in "$@"; do printf '  ip-address: %s\n' "$addr"; done
    cat <<EOF
  port: 53
  do-ip6: no
  server-count: 1
  reuseport: no
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$lab/zones"
  zonelistfile: "$d/zone.list"
  xfrdfile: "$d/xfrd.state"
  xfrdir: "$d"
  pidfile: "$d/nsd.pid"
  logfile: "$d/nsd.log"
  verbosity: 0
  answer-cookie: no
  refuse-any: yes
remote-control:
  control-enable: no
EOF
    awk '{ printf "zone:\n  name: \"%s\"\n  zonefile: \"%szone.signed\"\n", $1, ($1 == "." ? "root." : $1) }' "$list"
  } >"$d/nsd.conf"
}

unbound_conf() {
  local d="$lab/run/unbound"
  mkdir -p "$d"
  printf '. 3600000 NS ns.\nns. 3600000 A 127.0.60.1\n' >"$d/root.hints"
  cat >"$d/unbound.conf" <<EOF
server:
  interface: $RESOLVER
  port: 53
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  username: ""
  chroot: ""
  directory: "$d"
  pidfile: "$d/unbound.pid"
  logfile: "$d/unbound.log"
  use-syslog: no
  verbosity: 0
  num-threads: 1
  outgoing-range: 4096
  num-queries-per-thread: 4096
  so-rcvbuf: 4m
  msg-cache-size: 256m
  rrset-cache-size: 512m
  key-cache-size: 64m
  neg-cache-size: 64m
  root-hints: "$d/root.hints"
  trust-anchor-file: "$lab/root.key"
  local-zone: "lab." nodefault
remote-control:
  control-enable: no
EOF
}

wait_answer() { # ADDRESS NAME TYPE FLAGS-REGEX
  local i
  for i in $(seq 300); do
    dig +time=1 +tries=1 +dnssec "@$1" "$2" "$3" 2>/dev/null | grep -qE "$4" && return 0
    sleep 0.1
  done
  echo "lab: $1 did not answer $2 $3; logs under $lab/run" >&2
  exit 1
}

start_nsd() {
  printf '.\n' >"$lab/run/root.list"
  printf 'lab.\n' >"$lab/run/lab.list"
  nsd_conf root "$lab/run/root.list" 127.0.60.1
  nsd_conf tld "$lab/run/lab.list" 127.0.60.2
  nsd_conf child "$lab/children" 127.0.60.3 127.0.60.4
  local name
  for name in root tld child; do
    nsd -c "$lab/run/$name/nsd.conf"
  done
  wait_answer 127.0.60.1 . SOA 'flags: qr aa'
  wait_answer 127.0.60.2 lab. SOA 'flags: qr aa'
  wait_answer 127.0.60.3 d0.lab. SOA 'flags: qr aa'
  for name in root tld child; do pids+=("$(cat "$lab/run/$name/nsd.pid")"); done
}

unbound_pid=
start_unbound() { # a fresh process: an empty cache
  if [ -n "$unbound_pid" ]; then
    kill "$unbound_pid"
    while kill -0 "$unbound_pid" 2>/dev/null; do sleep 0.05; done
  fi
  unbound -c "$lab/run/unbound/unbound.conf"
  wait_answer "$RESOLVER" lab. SOA 'flags: qr rd ra ad'
  unbound_pid=$(cat "$lab/run/unbound/unbound.pid")
  pids+=("$unbound_pid")
}

# --- runs --------------------------------------------------------------------

# mailwarden CHECKS LABEL: scan the list; "secs user sys rss_kb" in $lab/out/LABEL.time.
scan() {
  local checks=$1 label=$2 select=()
  [ "$checks" = all ] || select=(--checks "$checks")
  # The lab's nameservers are ours: no politeness limit on them (builds
  # without the flag have none).
  if "$MAILWARDEN" scan --help | grep -q -- --ns-qps; then select+=(--ns-qps "${LAB_NS_QPS:-0}"); fi
  local profile=()
  # LAB_PERF=1: a flat CPU profile of the warm runs (perf), top symbols in $lab/perf-LABEL.txt.
  if [ -n "${LAB_PERF:-}" ] && [[ $label == *.warm ]]; then profile=(perf record -q -F 499 -o "$lab/perf.data" --); fi
  /usr/bin/time -f '%e %U %S %M' -o "$lab/out/$label.time" "${profile[@]}" "$MAILWARDEN" scan --input "$lab/out/domains" \
    --resolver "$RESOLVER" --trust-anchor "$lab/root.key" --allow-private-targets --no-smtp --no-https \
    --concurrency "$concurrency" "${select[@]}" --format jsonl --no-evidence --fail-on none \
    --save-evidence "$lab/out/$label.evidence" -o "$lab/out/$label.jsonl"
  if [ ${#profile[@]} -gt 0 ]; then
    # head closes the pipe early: perf's SIGPIPE is not a failure of the run.
    { perf report -q -i "$lab/perf.data" --no-children --sort dso,symbol 2>/dev/null || true; } | head -n 60 >"$lab/perf-$label.txt"
    rm -f "$lab/perf.data"
  fi
  if [ -n "${LAB_FINDINGS:-}" ]; then
    mkdir -p "$LAB_FINDINGS"
    python3 -c '
import json, sys
def strip(x):  # "now": the time a signature was checked, in DNSSEC findings evidence
    if isinstance(x, dict):
        return {k: strip(v) for k, v in x.items() if k not in ("now", "started_at", "duration_ms", "generated_at", "tool_version")}
    return [strip(v) for v in x] if isinstance(x, list) else x
rows = [json.dumps(strip(json.loads(line)), sort_keys=True) for line in open(sys.argv[1])]
print("\n".join(sorted(rows)))' "$lab/out/$label.jsonl" >"$LAB_FINDINGS/$label.jsonl"
  fi
}

# The evidence's questions to the resolver, as dnsperf input; and the
# count per check (by name and type), printed as "check=n ...".
query_list() { # LABEL
  python3 - "$lab/out/$1.evidence" "$lab/out/$1.queries" <<'EOF'
import collections, json, sys
def check(name, rtype, direct):
    if direct: return "ns"
    if rtype in ("DNSKEY", "DS"): return "dnssec"
    if rtype == "TLSA": return "dane"
    if rtype == "NS" or rtype == "SOA": return "ns"
    for prefix, check in (("_dmarc.", "dmarc"), ("_mta-sts.", "mta-sts"), ("mta-sts.", "mta-sts"),
                          ("_smtp._tls.", "tlsrpt"), ("._bimi.", "bimi"), ("._domainkey.", "dkim")):
        if name.startswith(prefix) or prefix.startswith(".") and prefix in "." + name: return check
    if rtype in ("MX", "A", "AAAA", "CNAME"): return "mx"
    if rtype in ("TXT", "SPF"): return "spf"
    return "other"
by = collections.Counter()
domains = 0
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        obs = json.loads(line)
        domains += 1
        for entry in obs["dns"]:
            q = entry.get("query", entry)
            name, rtype, direct = q["name"], q["type"], q.get("server")
            by[check(name, rtype, direct)] += 1
            if not direct:
                out.write(f"{name.rstrip('.')}. {rtype}\n")
print(" ".join(f"{k}={v / max(domains, 1):.1f}" for k, v in sorted(by.items())))
EOF
}

# dnsperf LABEL: seconds to replay the list once.
replay() {
  dnsperf -s "$RESOLVER" -p 53 -d "$lab/out/$1.queries" -D -c 4 -q 200 -t 5 -n 1 >"$lab/out/$1.dnsperf" 2>&1
  awk '/Run time \(s\):/ { print $4 }' "$lab/out/$1.dnsperf"
}

report() { # CHECKS N STATE LABEL DNSPERF_SECS BYCHECK
  local secs user sys rss
  read -r secs user sys rss <"$lab/out/$4.time"
  local lost indeterminate
  lost=$(awk '/Queries lost:/ { print $3 }' "$lab/out/$4.dnsperf")
  indeterminate=$(grep -o '"outcome":"indeterminate"' "$lab/out/$4.jsonl" | wc -l || true)
  awk -v c="$1" -v n="$2" -v st="$3" -v s="$secs" -v u="$user" -v y="$sys" -v kb="$rss" -v p="$5" -v l="$lost" -v ind="$indeterminate" \
    'BEGIN { printf "%-44s %7d %-5s %8.2f %9.0f %8.2f %8.1f %9.2f %7.0f%% %6s %6d\n",
             c, n, st, s, n / (s > 0 ? s : 0.01), (u + y) * 1000 / n, kb / 1024, p, 100 * p / (s > 0 ? s : 0.01), l, ind }'
  printf '    queries/domain by check (%s, %s): %s\n' "$1" "$3" "$6"
}

mkdir -p "$lab/run" "$lab/out"
printf '%-44s %7s %-5s %8s %9s %8s %8s %9s %8s %6s %6s\n' checks domains cache secs domains/s cpu_ms/d rss_MB dnsperf_s mw/dnsperf lost indet.
for n in "${counts[@]}"; do
  if ! [ -s "$lab/count" ] || [ "$(cat "$lab/count")" != "$n" ]; then
    say "generating $n zones in $lab"
    generate "$n" "$lab"
    mkdir -p "$lab/run" "$lab/out"
  fi
  [ -z "${LAB_GENERATE_ONLY:-}" ] || continue
  head -n "${LAB_SCAN:-$n}" "$lab/domains" >"$lab/out/domains"
  scanned=$(wc -l <"$lab/out/domains")
  start_nsd
  unbound_conf
  for checks in "${check_sets[@]}"; do
    tag=$(printf '%s' "$checks" | tr ',' '+')
    for state in cold warm; do
      label="$tag.$n.$state"
      [ "$state" = cold ] && start_unbound
      scan "$checks" "$label"
      by=$(query_list "$label")
      [ "$state" = cold ] && start_unbound
      perf=$(replay "$label")
      # Leave the cache warm for the next (warm) mailwarden run: the replay
      # asked the same questions.
      report "$checks" "$scanned" "$state" "$label" "$perf" "$by"
      # The reports and evidence are large (tens of KB a domain): keep only the numbers.
      rm -f "$lab/out/$label.jsonl" "$lab/out/$label.evidence" "$lab/out/$label.queries"
    done
  done
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  pids=()
  unbound_pid=
  sleep 0.5
done

#!/usr/bin/env bash
# Benchmark against REAL servers: NSD serving a signed root, a signed TLD
# (lab.) and N generated second-level zones, behind a validating Unbound.
#
#   bench/lab.sh N [N ...]           default: 10000
#   CHECKS="all mx,spf,dmarc,mta-sts,tlsrpt,bimi,dnssec" (the default: every DNS check, and about
#                                    what checkdmarc checks)
#   CONCURRENCY=256                  mailwarden scan --concurrency
#   LAB_SCAN=M                       scan only the first M of the N domains (zones for N are served)
#   LAB_DEAD=K                       also scan K names the signed lab. TLD denies (gone0.lab ...)
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
# by name and type; and the queries the resolver received from mailwarden,
# per domain, read off Unbound's counters: the evidence's questions less
# those answered in-process by the shared cache and the NXDOMAIN cut, plus
# the validator's own DNSKEY/DS fetches), CPU per domain (user+sys), peak RSS, and mailwarden's
# wall time as a percentage of dnsperf's (100% = as fast as the resolver
# can answer the same questions; lower is slower).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

# shellcheck source=bench/lab-servers.sh
source "$REPO/bench/lab-servers.sh"
[ -n "${LAB_IN_NETNS:-}" ] || lab_enter_netns "$0" "$@"

counts=("$@")
[ ${#counts[@]} -gt 0 ] || counts=(10000)
concurrency=${CONCURRENCY:-256}
read -r -a check_sets <<<"${CHECKS:-all mx,spf,dmarc,mta-sts,tlsrpt,bimi,dnssec}"
RESOLVER=127.0.60.53

pids=()
trap lab_cleanup EXIT
lab=${LAB_DIR:-$(mktemp -d /tmp/mw-lab.XXXXXX)}
mkdir -p "$lab"

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
  lab_zones "$n"
  [ -z "${LAB_GENERATE_ONLY:-}" ] || continue
  lab_list "$n" >"$lab/out/domains"
  scanned=$(wc -l <"$lab/out/domains")
  start_nsd
  unbound_conf
  for checks in "${check_sets[@]}"; do
    tag=$(printf '%s' "$checks" | tr ',' '+')
    for state in cold warm; do
      label="$tag.$n.$state"
      [ "$state" = cold ] && start_unbound
      before=$(resolver_queries)
      scan "$checks" "$label"
      sent=$(($(resolver_queries) - before))
      by="$(query_list "$label"); sent to the resolver $(awk -v q="$sent" -v n="$scanned" 'BEGIN { printf "%.1f", q / n }')"
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

#!/usr/bin/env bash
# The servers of the real-server lab, sourced by bench/lab.sh and
# bench/monitor-lab.sh (not run on its own): NSD serving a signed root, a
# signed TLD (lab.) and N generated second-level zones (bench/lab-zones.py),
# behind a validating Unbound. The caller sets REPO, lab (the lab's
# directory), RESOLVER and an array pids, and runs inside its own network
# namespace (lab_enter_netns).

# Re-run the calling script inside a network namespace of its own (created
# here, deleted on exit), so the servers listen on port 53 of loopback
# addresses no other process on the machine sees. Exits with its status.
lab_enter_netns() { # SCRIPT ARGS...
  [ "$(id -u)" = 0 ] || { echo "$1: needs root (network namespace, port 53)" >&2; exit 2; }
  for tool in nsd unbound unbound-control ldns-keygen ldns-signzone dnsperf dig python3 /usr/bin/time; do
    command -v "$tool" >/dev/null || { echo "$1 needs $tool (apt-get install -y nsd unbound ldnsutils dnsperf bind9-dnsutils python3 time)" >&2; exit 2; }
  done
  if [ -z "${MAILWARDEN:-}" ]; then
    cargo build --release --locked -q -p mailwarden
    MAILWARDEN=$REPO/target/release/mailwarden
  fi
  local ns="mw-lab-$$" rc=0
  ip netns add "$ns"
  # shellcheck disable=SC2064
  trap "ip netns del '$ns' 2>/dev/null || true" EXIT
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" env LAB_IN_NETNS=1 MAILWARDEN="$MAILWARDEN" "$@" || rc=$?
  exit "$rc"
}

say() { printf 'lab: %s\n' "$*" >&2; }

lab_cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  # Servers that started but never answered are not in pids yet.
  for pid in "$lab"/run/*/*.pid; do [ -s "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true; done
  [ -n "${LAB_DIR:-}" ] || rm -rf "$lab"
}

# The list to scan: the first LAB_SCAN (default all N) of the lab's
# domains, then LAB_DEAD (default 0) names the lab. TLD denies.
lab_list() { # N
  head -n "${LAB_SCAN:-$1}" "$lab/domains"
  seq 0 $((${LAB_DEAD:-0} - 1)) | sed 's/^/gone/; s/$/.lab/'
}

# Zones for N domains in $lab, generated unless the last run left them.
lab_zones() { # N
  if ! [ -s "$lab/count" ] || [ "$(cat "$lab/count")" != "$1" ]; then
    say "generating $1 zones in $lab"
    generate "$1" "$lab"
  fi
  mkdir -p "$lab/run" "$lab/out"
}

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
  # NSD's default response-rate limit (200 answers/s per /24) would drop
  # the scan's direct nameserver questions, all from one loopback /24.
  rrl-ratelimit: 0
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
  # A local socket, no certificates: for the count of queries received.
  control-enable: yes
  control-interface: "$d/unbound.ctl"
EOF
}

# How many queries the resolver has received since it started (each
# start_unbound is a fresh process).
resolver_queries() {
  unbound-control -c "$lab/run/unbound/unbound.conf" stats_noreset | awk -F= '$1 == "total.num.queries" { print $2 }'
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


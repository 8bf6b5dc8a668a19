#!/usr/bin/env bash
# Real-peer DNS tier: a DNSSEC-signed hierarchy under a private test root,
# served by NSD, behind Unbound as a validating resolver. Loopback only.
#
#   tests/real-peers/dns.sh start    generate keys and zones, start the peers, wait until they answer
#   tests/real-peers/dns.sh stop     stop them (by pid file) and remove the pid files
#   tests/real-peers/dns.sh status   say what runs; exit 0 only when everything does
#   tests/real-peers/dns.sh install  only install the Debian packages, if missing (start does too)
#   tests/real-peers/dns.sh reload   make NSD re-read changed zone files (change.test; block monitor)
#   tests/real-peers/dns.sh change-reset  put change.test's first version back and reload
#
# Peers (all on port 5300 but Unbound):
#   127.0.53.1   NSD  "root"  .            (signed; the trust anchor)
#   127.0.53.2   NSD  "tld"   test.        (signed, NSEC; DS for secure, bogus, weak, nsec3)
#   127.0.53.3   NSD  "a"     the child zones below, split.test version 1
#   127.0.54.3   NSD  "b"     the same child zones (a second network, a consistent copy)
#   127.0.55.3   NSD  "c"     split.test version 2 (different MX, SPF, serial)
#   127.0.53.53:5353  Unbound, validating from the test root's trust anchor
# Child zones: secure.test (signed, DS in test.), insecure.test (unsigned),
# bogus.test (signed; its DS in test. matches no key), island.test (signed,
# no DS), weak.test (RSASHA1, 1024-bit key), nsec3.test (NSEC3, 10
# iterations, salt), split.test (unsigned; servers disagree), and for the
# mail peers of tests/real-peers/mail.sh: mail.test (signed, DS; MX hosts,
# TLSA records for the test CA's keys) and sts.test (signed, DS; MTA-STS and
# TLS-RPT records). Their records come from `mail.sh zone`, which makes the
# test CA's keys when they are missing. lame.test is delegated to a and b,
# which do not serve it (a lame delegation). bogusmx.test (its MX RRSIG
# corrupt), cnamemx.test and provider.test: see the block "dnsv" below;
# wildmx.test (signed, DS; wildcards): see the block "fcrit".
#
# Everything lives in target/real-peers/ (gitignored): root.key (the trust
# anchor: root DNSKEY and DS lines), root.anchors (the same for delv),
# peers.env (addresses, read by crates/cli/tests/real_peers.rs), and work/
# (keys, zones, configurations, pid files, logs).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$REPO/target/real-peers"
WORK="$DIR/work"

PORT=5300
ROOT_ADDR=127.0.53.1
TLD_ADDR=127.0.53.2
A_ADDR=127.0.53.3
B_ADDR=127.0.54.3
C_ADDR=127.0.55.3
MX_ADDR=127.0.53.25
RESOLVER_ADDR=127.0.53.53
RESOLVER_PORT=5353

# name:address:program, one per peer.
PEERS=(
  "nsd-root:$ROOT_ADDR:nsd"
  "nsd-tld:$TLD_ADDR:nsd"
  "nsd-a:$A_ADDR:nsd"
  "nsd-b:$B_ADDR:nsd"
  "nsd-c:$C_ADDR:nsd"
  "unbound:$RESOLVER_ADDR:unbound"
)

# Child zones served by a and b, and whether each is signed / has a DS in test.
SIGNED_CHILDREN=(secure bogus island weak nsec3 mail sts)
UNSIGNED_CHILDREN=(insecure split)
WITH_DS=(secure bogus weak nsec3 mail sts)

# --- lame delegation (issue 9) ---------------------------------------------
# lame.test. is delegated in test. to a.ns.test. and b.ns.test., which do
# not serve it: NSD answers REFUSED, so Unbound answers SERVFAIL for every
# name in it. mailwarden must find the delegation at the parent and report
# ns.lame failing for both servers (crates/cli/tests/real_peers.rs).
LAME_CHILDREN=(lame)

# --- block: dnsv (issue 9): a bogus RRset, and an MX target that is a CNAME
# into another signed zone. All three are signed children with a DS in test.
#   bogusmx.test   the usual mail records; only the RRSIG over its MX RRset is
#                  corrupted after signing (its keys, SOA, TXT... validate)
#   cnamemx.test   MX 10 mail.cnamemx.test., a CNAME to mx1.provider.test.
#   provider.test  mx1.provider.test. A (the mail peer's address)
DNSV_CHILDREN=(bogusmx cnamemx provider)
SIGNED_CHILDREN+=("${DNSV_CHILDREN[@]}")
WITH_DS+=("${DNSV_CHILDREN[@]}")
# --- end of block dnsv

# --- block: fcrit (issue 9): a signed zone with wildcards. wildmx.test has the
# usual mail records and *.wildmx.test. MX and TXT (SPF): any name below it,
# e.g. anything.wildmx.test., is synthesised from the wildcard (RFC 4592), a
# secure answer with the RFC 4035 §3.1.3.3 proof, and a secure wildcard
# NODATA (§3.1.3.4) for types the wildcard lacks (SOA, AAAA).
FCRIT_CHILDREN=(wildmx)
SIGNED_CHILDREN+=("${FCRIT_CHILDREN[@]}")
WITH_DS+=("${FCRIT_CHILDREN[@]}")
# --- end of block fcrit

# --- block: monitor (issue 13): a zone that changes while it is watched.
# change.test is an unsigned child (served by a and b like the others) whose
# records have a TTL of 1 s, so Unbound forgets an old answer at once. A test
# rewrites its file (CHANGE_ZONE in peers.env) and runs `dns.sh reload`:
# SIGHUP makes NSD re-read every zone file whose mtime changed, and the
# command waits until a and b serve the file's serial. `dns.sh change-reset`
# puts the first version back.
MONITOR_CHILDREN=(change)
UNSIGNED_CHILDREN+=("${MONITOR_CHILDREN[@]}")
# --- end of block monitor

# --- block: rdns (issue 14): reverse DNS of report sources, confirmed by a
# forward lookup (crates/senders/src/rdns.rs; crates/cli/tests/real_peers.rs).
# rdns.test is an unsigned child holding the forward names; the reverse zone
# 57.0.127.in-addr.arpa. (unsigned, delegated from the root without a DS,
# served by a and b, reached by a stub) holds the PTRs:
#   127.0.57.1  PTR mail.rdns.test.   A 127.0.57.1        confirmed
#   127.0.57.2  PTR liar.rdns.test.   A 127.0.57.99       unconfirmed
#   127.0.57.3  no PTR (NXDOMAIN)                          none
#   127.0.57.4  PTR gone.rdns.test.   (no such name)       unconfirmed
#   127.0.57.5  PTR x.lame.test.      (SERVFAIL)           indeterminate
RDNS_CHILDREN=(rdns)
UNSIGNED_CHILDREN+=("${RDNS_CHILDREN[@]}")
RDNS_REVERSE=57.0.127.in-addr.arpa.

rdns_child_records() { # ZONE
  printf 'mail.%s A 127.0.57.1\nliar.%s A 127.0.57.99\n' "$1" "$1"
}

rdns_reverse_zone() {
  local r=$RDNS_REVERSE
  soa "$r" 2026010101
  printf '%s NS a.ns.test.\n%s NS b.ns.test.\n' "$r" "$r"
  printf '1.%s PTR mail.rdns.test.\n2.%s PTR liar.rdns.test.\n' "$r" "$r"
  printf '4.%s PTR gone.rdns.test.\n5.%s PTR x.lame.test.\n' "$r" "$r"
}

# Unbound answers 127.in-addr.arpa. itself by default (RFC 6303): let the
# delegation (and the stub naming its servers' port) answer instead.
rdns_unbound_conf() {
  printf 'server:\n  local-zone: "127.in-addr.arpa." nodefault\n'
  printf 'stub-zone:\n  name: "%s"\n  stub-addr: %s@%s\n  stub-addr: %s@%s\n' \
    "$RDNS_REVERSE" "$A_ADDR" "$PORT" "$B_ADDR" "$PORT"
}
# --- end of block rdns

# An Ed25519 DKIM public key (RFC 8463 appendix A.2).
DKIM_KEY="11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="

# shellcheck source=tests/real-peers/common.sh
. "$REPO/tests/real-peers/common.sh"

# --- tools -----------------------------------------------------------------

ensure_tools() {
  ensure_packages "nsd nsd-checkconf unbound unbound-checkconf ldns-keygen ldns-signzone ldns-key2ds dig delv openssl" nsd unbound ldnsutils bind9-dnsutils openssl
}

# --- processes -------------------------------------------------------------

pidfile() { printf '%s/%s/%s.pid' "$WORK" "$1" "$1"; }

# The pid in the peer's pid file when that process is alive and is the
# expected program; nothing otherwise.
live_pid() {
  local name=$1 program=$2 file pid
  file="$(pidfile "$name")"
  [ -s "$file" ] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # NSD renames its processes "nsd: main", "nsd: xfrd", ...
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in
    "$program" | "$program:"*) ;;
    *) return 1 ;;
  esac
  printf '%s' "$pid"
}

all_running() {
  local peer name program
  for peer in "${PEERS[@]}"; do
    IFS=: read -r name _ program <<<"$peer"
    live_pid "$name" "$program" >/dev/null || return 1
  done
}

stop_peer() {
  local name=$1 program=$2 pid i
  if pid="$(live_pid "$name" "$program")"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      if [ "$i" = 100 ]; then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
    log "stopped $name (pid $pid)"
  fi
  rm -f "$(pidfile "$name")"
}

stop_all() {
  local i peer name program
  # Resolver first, then the servers behind it.
  for ((i = ${#PEERS[@]} - 1; i >= 0; i--)); do
    peer="${PEERS[$i]}"
    IFS=: read -r name _ program <<<"$peer"
    stop_peer "$name" "$program"
  done
}

# --- keys and zones ----------------------------------------------------------

# keygen ZONE ALGORITHM [BITS]: a key-signing key (flags 257) used for
# everything; prints the key's base path.
keygen() {
  local zone=$1 alg=$2 bits=${3:-} base
  if [ -n "$bits" ]; then
    base="$(cd "$WORK/keys" && ldns-keygen -a "$alg" -b "$bits" -k "$zone")"
  else
    base="$(cd "$WORK/keys" && ldns-keygen -a "$alg" -k "$zone")"
  fi
  printf '%s/%s' "$WORK/keys" "$base"
}

# The SHA-256 DS of a key, as a zone-file line.
ds_of() { ldns-key2ds -n -2 "$1.key"; }

soa() { # ZONE SERIAL
  printf '%s\n' "\$TTL 300"
  printf '%s 300 IN SOA ns.test. hostmaster.%s %s 3600 600 86400 300\n' "$1" "${1#.}" "$2"
}

# The mail records of a child zone; VARIANT 2 is split.test's other version.
mail_records() {
  local zone=$1 variant=${2:-1}
  if [ "$variant" = 1 ]; then
    printf '%s MX 10 mx.%s\n' "$zone" "$zone"
    printf 'mx.%s A %s\n' "$zone" "$MX_ADDR"
    printf '%s TXT "v=spf1 mx -all"\n' "$zone"
  else
    printf '%s MX 20 mx2.%s\n' "$zone" "$zone"
    printf 'mx2.%s A 127.0.53.26\n' "$zone"
    printf '%s TXT "v=spf1 ip4:127.0.53.26 -all"\n' "$zone"
  fi
  printf '_dmarc.%s TXT "v=DMARC1; p=reject; rua=mailto:dmarc@%s"\n' "$zone" "${zone%.}"
  printf 'default._domainkey.%s TXT "v=DKIM1; k=ed25519; p=%s"\n' "$zone" "$DKIM_KEY"
  # web-ops (issue 16): a domain-ownership challenge with a fixed token
  # (crates/cli/tests/real_peers.rs, ownership tests): shown in secure.test,
  # behind a broken chain in bogus.test.
  case "$zone" in
    secure.test. | bogus.test.)
      printf '_mailwarden-challenge.%s TXT "mailwarden-verify=%s"\n' "$zone" "$OWNERSHIP_TOKEN" ;;
  esac
}

# The token of the ownership challenge above.
OWNERSHIP_TOKEN=0f1e2d3c4b5a69788796a5b4c3d2e1f0

# --- block: dnsv (issue 9) ---------------------------------------------------------

# The records of cnamemx.test and provider.test (ZONE is the origin).
dnsv_child_records() { # LABEL ZONE
  case "$1" in
    cnamemx)
      printf '%s MX 10 mail.%s\n' "$2" "$2"
      printf 'mail.%s CNAME mx1.provider.test.\n' "$2"
      printf '%s TXT "v=spf1 a:mx1.provider.test -all"\n' "$2"
      printf '_dmarc.%s TXT "v=DMARC1; p=reject; rua=mailto:dmarc@%s"\n' "$2" "${2%.}"
      ;;
    provider) printf 'mx1.%s A %s\n' "$2" "$MX_ADDR" ;;
  esac
}

# Change one base64 character of the signature in the RRSIG over
# bogusmx.test.'s MX RRset, in the signed zone file: the RRset is bogus,
# everything else in the zone still validates.
dnsv_corrupt_mx_rrsig() { # SIGNED_ZONE_FILE
  local file=$1
  awk '$1 == "bogusmx.test." && $4 == "RRSIG" && $5 == "MX" {
         c = substr($NF, 1, 1); $NF = (c == "A" ? "B" : "A") substr($NF, 2); done = 1
       }
       { print }
       END { if (!done) exit 1 }' "$file" >"$file.tmp" || die "no RRSIG over the MX RRset in $file"
  mv "$file.tmp" "$file"
}

# --- end of block dnsv

# --- block: fcrit (issue 9) ----------------------------------------------------------

# wildmx.test.'s mail records and its wildcards (ZONE is the origin).
fcrit_child_records() { # ZONE
  mail_records "$1"
  printf '*.%s MX 10 mx.%s\n' "$1" "$1"
  printf '*.%s TXT "v=spf1 mx:%s -all"\n' "$1" "${1%.}"
}

# --- end of block fcrit

# --- block: monitor (issue 13) ----------------------------------------------------------

monitor_change_file() { printf '%s/zones/change.test.zone.signed' "$WORK"; }

# change.test. version 1, every TTL 1 s (the zone file NSD serves).
monitor_change_zone() {
  printf '%s\n' "\$TTL 1"
  printf 'change.test. 1 IN SOA ns.test. hostmaster.change.test. 2026010101 3600 600 86400 1\n'
  printf 'change.test. NS a.ns.test.\nchange.test. NS b.ns.test.\n'
  mail_records change.test.
}

monitor_write_change_zone() {
  monitor_change_zone >"$(monitor_change_file).tmp"
  mv "$(monitor_change_file).tmp" "$(monitor_change_file)"
}

# The serial in the change.test zone file.
monitor_file_serial() { awk '$4 == "SOA" { print $7; exit }' "$(monitor_change_file)"; }

# SIGHUP to NSD a and b; wait until both serve the file's serial.
monitor_reload() {
  local serial name pid addr
  serial="$(monitor_file_serial)"
  [ -n "$serial" ] || die "no SOA serial in $(monitor_change_file)"
  for name in nsd-a nsd-b; do
    pid="$(live_pid "$name" nsd)" || die "$name is not running (tests/real-peers/dns.sh start)"
    kill -HUP "$pid"
  done
  for addr in "$A_ADDR" "$B_ADDR"; do
    wait_for "NSD on $addr serving change.test. serial $serial" monitor_serves "$addr" "$serial"
  done
  log "change.test. reloaded: serial $serial on $A_ADDR and $B_ADDR"
}

monitor_serves() { # ADDRESS SERIAL
  [ "$(dig_q +norec +short -p "$PORT" "@$1" change.test. SOA | awk '{ print $3 }')" = "$2" ]
}

# --- end of block monitor

child_zone() { # LABEL [VARIANT]
  local zone="$1.test." variant=${2:-1} serial=2026010101
  [ "$variant" = 2 ] && serial=2026010202
  soa "$zone" "$serial"
  printf '%s NS a.ns.test.\n%s NS b.ns.test.\n' "$zone" "$zone"
  [ "$1" = split ] && printf '%s NS c.ns.test.\n' "$zone"
  case "$1" in
    mail | sts) "$REPO/tests/real-peers/mail.sh" zone "$zone" ;;
    cnamemx | provider) dnsv_child_records "$1" "$zone" ;;
    wildmx) fcrit_child_records "$zone" ;;
    rdns) rdns_child_records "$zone" ;;
    *) mail_records "$zone" "$variant" ;;
  esac
}

# sign ZONEFILE ORIGIN KEYBASE [ldns-signzone options]: writes ZONEFILE.signed.
sign() {
  local file=$1 origin=$2 key=$3
  shift 3
  local inception expiration
  inception="$(date -u -d '-1 day' +%Y%m%d%H%M%S)"
  expiration="$(date -u -d '+30 days' +%Y%m%d%H%M%S)"
  ldns-signzone "$@" -i "$inception" -e "$expiration" -f "$file.signed" -o "$origin" "$file" "$key"
}

generate() {
  rm -rf "$WORK"
  mkdir -p "$WORK/keys" "$WORK/zones"
  local z="$WORK/zones" label

  # Keys.
  local root_key tld_key stray_key
  root_key="$(keygen . ECDSAP256SHA256)"
  tld_key="$(keygen test. ECDSAP256SHA256)"
  declare -A child_key
  for label in secure bogus island nsec3 mail sts; do
    child_key[$label]="$(keygen "$label.test." ECDSAP256SHA256)"
  done
  child_key[weak]="$(keygen weak.test. RSASHA1 1024)"
  for label in "${DNSV_CHILDREN[@]}" "${FCRIT_CHILDREN[@]}"; do
    child_key[$label]="$(keygen "$label.test." ECDSAP256SHA256)"
  done
  # bogus.test.'s DS at the parent is this key's, which never signs anything.
  stray_key="$(keygen bogus.test. ECDSAP256SHA256)"

  # Child zones.
  for label in "${SIGNED_CHILDREN[@]}" "${UNSIGNED_CHILDREN[@]}"; do
    child_zone "$label" >"$z/$label.test.zone"
  done
  child_zone split 2 >"$z/split.test.v2.zone"
  for label in "${SIGNED_CHILDREN[@]}"; do
    if [ "$label" = nsec3 ]; then
      sign "$z/$label.test.zone" "$label.test." "${child_key[$label]}" -n -a 1 -t 10 -s aabbccdd
    else
      sign "$z/$label.test.zone" "$label.test." "${child_key[$label]}"
    fi
  done
  dnsv_corrupt_mx_rrsig "$z/bogusmx.test.zone.signed"
  for label in "${UNSIGNED_CHILDREN[@]}"; do
    cp "$z/$label.test.zone" "$z/$label.test.zone.signed"
  done
  cp "$z/split.test.v2.zone" "$z/split.test.v2.zone.signed"
  monitor_write_change_zone # block monitor: change.test with TTL 1
  rdns_reverse_zone >"$z/$RDNS_REVERSE"zone # block rdns

  # test.: delegations, glue for the nameservers, DS records.
  {
    soa test. 2026010101
    printf 'test. NS ns.test.\nns.test. A %s\n' "$TLD_ADDR"
    printf 'a.ns.test. A %s\nb.ns.test. A %s\nc.ns.test. A %s\n' "$A_ADDR" "$B_ADDR" "$C_ADDR"
    for label in "${SIGNED_CHILDREN[@]}" "${UNSIGNED_CHILDREN[@]}"; do
      printf '%s.test. NS a.ns.test.\n%s.test. NS b.ns.test.\n' "$label" "$label"
    done
    printf 'split.test. NS c.ns.test.\n'
    for label in "${LAME_CHILDREN[@]}"; do # delegated to servers that refuse it
      printf '%s.test. NS a.ns.test.\n%s.test. NS b.ns.test.\n' "$label" "$label"
    done
    for label in "${WITH_DS[@]}"; do
      if [ "$label" = bogus ]; then
        ds_of "$stray_key"
      else
        ds_of "${child_key[$label]}"
      fi
    done
  } >"$z/test.zone"
  sign "$z/test.zone" test. "$tld_key"

  # The root.
  {
    soa . 2026010101
    printf '. NS ns.\nns. A %s\n' "$ROOT_ADDR"
    printf 'test. NS ns.test.\nns.test. A %s\n' "$TLD_ADDR"
    ds_of "$tld_key"
    # block rdns: the reverse zone, delegated without a DS (insecure).
    printf '%s NS a.ns.test.\n%s NS b.ns.test.\n' "$RDNS_REVERSE" "$RDNS_REVERSE"
  } >"$z/root.zone"
  sign "$z/root.zone" . "$root_key"

  # The trust anchor: the root's DNSKEY and DS, for mailwarden and Unbound;
  # the same DS in BIND's syntax for delv.
  {
    printf '; The private test root of tests/real-peers/dns.sh (not the IANA root).\n'
    sed 's/;.*$//' "$root_key.key"
    ds_of "$root_key"
  } >"$DIR/root.key.tmp"
  mv "$DIR/root.key.tmp" "$DIR/root.key"
  ds_of "$root_key" | awk '{ printf "trust-anchors {\n  \"%s\" static-ds %s %s %s \"%s\";\n};\n", $1, $5, $6, $7, $8 }' \
    >"$DIR/root.anchors"
}

# --- configurations ------------------------------------------------------------

nsd_conf() { # NAME ADDRESS ZONE:FILE...
  local name=$1 addr=$2 d="$WORK/$1" entry
  shift 2
  mkdir -p "$d"
  {
    cat <<EOF
server:
  ip-address: $addr
  port: $PORT
  do-ip6: no
  server-count: 1
  tcp-count: 32
  reuseport: no
  username: ""
  chroot: ""
  database: ""
  zonesdir: "$WORK/zones"
  zonelistfile: "$d/zone.list"
  xfrdfile: "$d/xfrd.state"
  xfrdir: "$d"
  pidfile: "$d/$name.pid"
  logfile: "$d/$name.log"
  verbosity: 1
  hide-version: yes
  answer-cookie: no
remote-control:
  control-enable: no
EOF
    for entry in "$@"; do
      printf 'zone:\n  name: "%s"\n  zonefile: "%s"\n' "${entry%%:*}" "${entry#*:}"
    done
  } >"$d/nsd.conf"
  nsd-checkconf "$d/nsd.conf" || die "nsd-checkconf $d/nsd.conf"
}

unbound_conf() {
  local d="$WORK/unbound"
  mkdir -p "$d"
  cat >"$d/unbound.conf" <<EOF
server:
  interface: $RESOLVER_ADDR
  port: $RESOLVER_PORT
  do-ip6: no
  interface-automatic: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  # Queries leave from a loopback address, so they cannot leave the machine.
  outgoing-interface: $RESOLVER_ADDR
  username: ""
  chroot: ""
  directory: "$d"
  pidfile: "$d/unbound.pid"
  logfile: "$d/unbound.log"
  use-syslog: no
  verbosity: 1
  val-log-level: 2
  log-servfail: yes
  num-threads: 1
  so-reuseport: no
  outgoing-range: 128
  num-queries-per-thread: 64
  msg-cache-size: 4m
  rrset-cache-size: 8m
  trust-anchor-file: "$DIR/root.key"
  # test. is an RFC 6761 name Unbound answers locally by default.
  local-zone: "test." nodefault
  ede: yes
remote-control:
  control-enable: no
EOF
  # Unbound sends queries that follow a delegation to port 53; the servers
  # listen on $PORT, so every zone gets a stub naming its servers with the
  # port (the same servers its delegation names). DS records still come
  # from the parent, so the chain of trust is the delegation's.
  local label
  {
    printf 'stub-zone:\n  name: "."\n  stub-addr: %s@%s\n' "$ROOT_ADDR" "$PORT"
    printf 'stub-zone:\n  name: "test."\n  stub-addr: %s@%s\n' "$TLD_ADDR" "$PORT"
    for label in "${SIGNED_CHILDREN[@]}" "${UNSIGNED_CHILDREN[@]}"; do
      printf 'stub-zone:\n  name: "%s.test."\n  stub-addr: %s@%s\n  stub-addr: %s@%s\n' \
        "$label" "$A_ADDR" "$PORT" "$B_ADDR" "$PORT"
      if [ "$label" = split ]; then printf '  stub-addr: %s@%s\n' "$C_ADDR" "$PORT"; fi
    done
    # The lame delegation's servers, as the delegation names them (they refuse it).
    for label in "${LAME_CHILDREN[@]}"; do
      printf 'stub-zone:\n  name: "%s.test."\n  stub-addr: %s@%s\n  stub-addr: %s@%s\n' \
        "$label" "$A_ADDR" "$PORT" "$B_ADDR" "$PORT"
    done
    rdns_unbound_conf # block rdns
  } >>"$d/unbound.conf"
  unbound-checkconf "$d/unbound.conf" >/dev/null || die "unbound-checkconf $d/unbound.conf"
}

configure() {
  local z="$WORK/zones" label
  local -a children=()
  for label in "${SIGNED_CHILDREN[@]}" "${UNSIGNED_CHILDREN[@]}"; do
    children+=("$label.test.:$z/$label.test.zone.signed")
  done
  children+=("$RDNS_REVERSE:$z/${RDNS_REVERSE}zone") # block rdns
  nsd_conf nsd-root "$ROOT_ADDR" ".:$z/root.zone.signed"
  nsd_conf nsd-tld "$TLD_ADDR" "test.:$z/test.zone.signed"
  nsd_conf nsd-a "$A_ADDR" "${children[@]}"
  nsd_conf nsd-b "$B_ADDR" "${children[@]}"
  nsd_conf nsd-c "$C_ADDR" "split.test.:$z/split.test.v2.zone.signed"
  unbound_conf
}

# --- readiness -----------------------------------------------------------------

dig_q() { dig +time=1 +tries=1 "$@" 2>/dev/null; }

# wait_for DESCRIPTION COMMAND...: retry for up to 15 s.
wait_for() {
  local what=$1 i
  shift
  for i in $(seq 150); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  die "$what did not become ready; see the logs under $WORK"
}

nsd_ready() { # ADDRESS ZONE
  dig_q +norec -p "$PORT" "@$1" "$2" SOA | grep -q 'flags: qr aa'
}

unbound_ready() {
  dig_q +dnssec -p "$RESOLVER_PORT" "@$RESOLVER_ADDR" secure.test. MX | grep -q 'flags: qr rd ra ad'
}

start_all() {
  local d
  for d in nsd-root nsd-tld nsd-a nsd-b nsd-c; do
    nsd -c "$WORK/$d/nsd.conf" || die "nsd $d did not start; see $WORK/$d/$d.log"
  done
  wait_for "NSD root on $ROOT_ADDR" nsd_ready "$ROOT_ADDR" .
  wait_for "NSD tld on $TLD_ADDR" nsd_ready "$TLD_ADDR" test.
  wait_for "NSD a on $A_ADDR" nsd_ready "$A_ADDR" secure.test.
  wait_for "NSD b on $B_ADDR" nsd_ready "$B_ADDR" secure.test.
  wait_for "NSD c on $C_ADDR" nsd_ready "$C_ADDR" split.test.
  unbound -c "$WORK/unbound/unbound.conf" || die "unbound did not start; see $WORK/unbound/unbound.log"
  wait_for "Unbound on $RESOLVER_ADDR:$RESOLVER_PORT (validating secure.test)" unbound_ready
  all_running || die "a peer exited after starting; see the logs under $WORK"
}

write_env() {
  cat >"$DIR/peers.env.tmp" <<EOF
# Written by tests/real-peers/dns.sh start; read by crates/cli/tests/real_peers.rs.
RESOLVER=$RESOLVER_ADDR:$RESOLVER_PORT
NS_PORT=$PORT
TRUST_ANCHOR=$DIR/root.key
DELV_ANCHORS=$DIR/root.anchors
ROOT_SERVER=$ROOT_ADDR
TLD_SERVER=$TLD_ADDR
CHILD_SERVERS=$A_ADDR $B_ADDR
SPLIT_ODD_SERVER=$C_ADDR
CHANGE_ZONE=$(monitor_change_file)
EOF
  mv "$DIR/peers.env.tmp" "$DIR/peers.env"
}

describe() {
  cat <<EOF
real-peers: DNS peers running (loopback only; logs and pid files in $WORK)
  Unbound (validating)  $RESOLVER_ADDR:$RESOLVER_PORT   trust anchor $DIR/root.key
  NSD root   .          $ROOT_ADDR:$PORT
  NSD tld    test.      $TLD_ADDR:$PORT
  NSD a      children   $A_ADDR:$PORT
  NSD b      children   $B_ADDR:$PORT
  NSD c      split.test $C_ADDR:$PORT   (different data)
  zones: secure insecure bogus island weak nsec3 split mail sts bogusmx cnamemx provider wildmx change (.test)
         lame (.test; delegated to a and b, which refuse it)
  try:   dig +dnssec @$RESOLVER_ADDR -p $RESOLVER_PORT secure.test MX
EOF
}

# --- commands ------------------------------------------------------------------

cmd_start() {
  if all_running && [ -s "$DIR/peers.env" ]; then
    describe
    return 0
  fi
  stop_all
  ensure_tools
  mkdir -p "$DIR"
  rm -f "$DIR/peers.env"
  # Whatever fails from here on, leave nothing running.
  trap 'rc=$?; if [ "$rc" != 0 ]; then stop_all; fi' EXIT
  generate
  configure
  start_all
  write_env
  describe
}

cmd_stop() {
  stop_all
  rm -f "$DIR/peers.env"
}

cmd_status() {
  local peer name addr program pid rc=0
  for peer in "${PEERS[@]}"; do
    IFS=: read -r name addr program <<<"$peer"
    if pid="$(live_pid "$name" "$program")"; then
      printf '%-9s %-12s running (pid %s)\n' "$name" "$addr" "$pid"
    else
      printf '%-9s %-12s stopped\n' "$name" "$addr"
      rc=3
    fi
  done
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  install) ensure_tools ;;
  reload) monitor_reload ;;
  change-reset) monitor_write_change_zone && monitor_reload ;;
  *)
    echo "usage: $0 start|stop|status|install|reload|change-reset" >&2
    exit 2
    ;;
esac

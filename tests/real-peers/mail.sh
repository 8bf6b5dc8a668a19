#!/usr/bin/env bash
# Real-peer mail tier: Postfix offering STARTTLS (or not) with certificates
# from a private test CA, and nginx serving MTA-STS policies over HTTPS.
# Loopback only; Postfix never relays nor delivers anything.
#
#   tests/real-peers/mail.sh start    make the test CA and certificates (if missing), start the peers
#   tests/real-peers/mail.sh stop     stop them (by pid file) and remove the pid files and mail.env
#   tests/real-peers/mail.sh status   say what runs and smoke-check it; exit 0 only when all is well
#   tests/real-peers/mail.sh install  only install the Debian packages, if missing (start does too)
#   tests/real-peers/mail.sh zone Z   print the records of zone Z (mail.test. or sts.test.); dns.sh
#                                     calls this, which also creates the keys if they are missing
#
# Postfix instances (private config directories, `postfix -c DIR start`),
# SMTP on port 2525 (not 25: no clash with a host MTA on *:25, and a default
# scan never meets them by accident; probe with --smtp-port 2525):
#   127.0.53.25   pf-valid      mx.secure.test, mx.mail.test (dns.sh's MX address): valid certificate
#   127.0.56.2    pf-expired    mx.expired.mail.test (TLSA 3 1 1), mx.lapsed.mail.test (no TLSA):
#                               expired certificate
#   127.0.56.3    pf-wrongname  mx.wrongname.mail.test: certificate for mx.elsewhere.test
#   127.0.56.4    pf-daneta     mx.daneta.mail.test: leaf signed by an intermediate (DANE-TA 2 1 1)
#   127.0.56.5    pf-plain      mx.plain.mail.test: no STARTTLS
#   127.0.56.6    pf-refused    mx.refused.mail.test: STARTTLS advertised, answered 454 (key and
#                               certificate do not belong together, so TLS is unavailable)
#   127.0.56.7    pf-tls12      mx.tls12.mail.test: TLS 1.2 only
#   127.0.56.8    pf-legacy     mx.legacy.mail.test: TLS 1.0 and 1.1 only (OpenSSL security level 0)
#   127.0.56.9    pf-sha1       mx.sha1.mail.test: leaf signed with ecdsa-with-SHA1
#   127.0.56.10   pf-weakkey    mx.weakkey.mail.test: 1024-bit RSA key
#   127.0.56.11   pf-expiring   mx.expiring.mail.test: expires in 5 days (signed again at every start)
#   127.0.56.12   pf-future     mx.future.mail.test: valid only from 30 days on (likewise)
#   127.0.56.13   pf-shared     mx.shared.mail.test: valid; only the test that counts connections
#                               scans its domains (shared, shared2.mail.test)
#   127.0.56.99   (nothing)     mx.down.mail.test: connection refused
# Every instance: mynetworks empty, relayhost empty, mydestination empty,
# default/relay/local transport "error", smtpd_recipient_restrictions =
# reject: nothing is ever accepted, relayed or delivered.
#
# nginx (one process), HTTPS on port 8443, /.well-known/mta-sts.txt for
# mta-sts.<x>.sts.test, each host on its own address:
#   127.0.58.1 enforce   127.0.58.2 testing   127.0.58.3 malformed
#   127.0.58.4 redirect (301)   127.0.58.5 ctype (text/html)
#   127.0.58.6 wrongcert (valid policy, certificate for mx.elsewhere.test)
#   127.0.58.7 unreachable (nothing listens)   127.0.58.8 short (max_age 3600)
#   127.0.58.9 wildcard (mx: *.mail.test; MX mx.mail.test and mx.lapsed.mail.test)
#   127.0.58.10 badcert (enforce over MX mx.expired and mx.wrongname.mail.test)
# Each <label>.sts.test has MX mx.mail.test (but wildcard and badcert, see
# sts_mx), an _mta-sts TXT record and a TLS-RPT record.
#
# Everything lives in target/real-peers/mail/ (pki/: the CA and the
# certificates, kept between runs and regenerated when the valid ones near
# expiry; work/: configurations, queues, pid files, logs) and
# target/real-peers/mail.env (addresses, ports, certificate paths; read by
# crates/cli/tests/real_peers.rs). The DNS side (zones mail.test and
# sts.test, with TLSA records for these keys) is served by dns.sh; after
# the keys change, restart dns.sh too (start says so).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$REPO/target/real-peers"
MAIL="$DIR/mail"
PKI="$MAIL/pki"
WORK="$MAIL/work"

SMTP_PORT=2525
HTTPS_PORT=8443
POLICY_ID=20260101000000
# Bump when make_pki makes other certificates: an older PKI is made again.
PKI_VERSION=3

# name:address:certificate (- for none):host name, one per Postfix instance.
POSTFIXES=(
  "pf-valid:127.0.53.25:valid:mx.secure.test"
  "pf-expired:127.0.56.2:expired:mx.expired.mail.test"
  "pf-wrongname:127.0.56.3:wrongname:mx.wrongname.mail.test"
  "pf-daneta:127.0.56.4:daneta:mx.daneta.mail.test"
  "pf-plain:127.0.56.5:-:mx.plain.mail.test"
  "pf-refused:127.0.56.6:mismatched:mx.refused.mail.test"
  "pf-tls12:127.0.56.7:tls12:mx.tls12.mail.test"
  "pf-legacy:127.0.56.8:legacy:mx.legacy.mail.test"
  "pf-sha1:127.0.56.9:sha1:mx.sha1.mail.test"
  "pf-weakkey:127.0.56.10:weakkey:mx.weakkey.mail.test"
  "pf-expiring:127.0.56.11:expiring:mx.expiring.mail.test"
  "pf-future:127.0.56.12:future:mx.future.mail.test"
  "pf-shared:127.0.56.13:shared:mx.shared.mail.test"
)
# label:address, one per MTA-STS host mta-sts.<label>.sts.test.
STS_HOSTS=(
  "enforce:127.0.58.1"
  "testing:127.0.58.2"
  "malformed:127.0.58.3"
  "redirect:127.0.58.4"
  "ctype:127.0.58.5"
  "wrongcert:127.0.58.6"
  "unreachable:127.0.58.7"
  "short:127.0.58.8"
  "wildcard:127.0.58.9"
  "badcert:127.0.58.10"
)
# An MX address where nothing listens (smtp.reachable's case).
DOWN_ADDR=127.0.56.99

# --- legacy TLS peers (smtp.legacy-protocol, smtp.ssl3, smtp.legacy-cipher) ---
#   127.0.61.1  pf-oldtls   mx.oldtls.mail.test: Postfix accepting TLS 1.0 to 1.3 (OpenSSL
#                           security level 0), the old defaults a server kept
#   127.0.61.2  weakcipher  mx.weakcipher.mail.test: weak-tls-smtpd.c, a minimal SMTP server
#                           with STARTTLS over GnuTLS, accepting TLS 1.0 to 1.3 and 3DES
# Debian's OpenSSL 3.0 has no 3DES or RC4 suites at all (`openssl ciphers
# '3DES:RC4:@SECLEVEL=0'` finds none): no Postfix from Debian can accept
# them, whatever its cipher list. Debian's GnuTLS still implements 3DES.
# SSL 3.0 is in neither library, so both refuse it.
POSTFIXES+=("pf-oldtls:127.0.61.1:oldtls:mx.oldtls.mail.test")
WEAKCIPHER_ADDR=127.0.61.2
WEAKCIPHER_PRIORITY="NORMAL:+VERS-TLS1.0:+VERS-TLS1.1:+3DES-CBC:+RSA"

# shellcheck source=tests/real-peers/common.sh
. "$REPO/tests/real-peers/common.sh"

addr_of() { # NAME: the address of a Postfix instance
  local peer name addr
  for peer in "${POSTFIXES[@]}"; do
    IFS=: read -r name addr _ <<<"$peer"
    [ "$name" = "$1" ] && printf '%s' "$addr" && return 0
  done
  return 1
}

# --- tools -----------------------------------------------------------------

# debconf answers for postfix: no configuration of its own.
preseed() {
  printf '%s\n' "postfix postfix/main_mailer_type select No configuration" \
    "postfix postfix/mailname string mailwarden.invalid" | debconf-set-selections
}
ensure_tools() {
  ensure_packages "postfix postconf nginx openssl curl" postfix nginx-light openssl curl
  legacy_tls_tools
}

# --- the test CA and certificates --------------------------------------------

# sign NAME ISSUER DAYS_OR_DATES SANS... : NAME.pem from NAME.key, signed by
# ISSUER (ca or int). DAYS_OR_DATES is a number of days, or START,END
# (YYYYMMDDHHMMSSZ) for certificates valid in the past or the future. MD
# in the environment picks the digest (sha256 unless set).
sign() {
  local name=$1 issuer=$2 validity=$3 san="" s ext
  shift 3
  for s in "$@"; do san="${san:+$san,}DNS:$s"; done
  ext="$PKI/$name.ext"
  if [ "$issuer" = root ]; then
    printf 'basicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n' >"$ext"
  elif [ "$name" = int ]; then
    printf 'basicConstraints=critical,CA:true,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >"$ext"
  else
    printf 'basicConstraints=critical,CA:false\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\nauthorityKeyIdentifier=keyid\n' "$san" >"$ext"
  fi
  local subject="/O=mailwarden real-peer tests/CN=${1:-$name}"
  [ "$issuer" = root ] && subject="/O=mailwarden real-peer tests/CN=mailwarden real-peer test CA"
  [ "$name" = int ] && subject="/O=mailwarden real-peer tests/CN=mailwarden real-peer intermediate CA"
  openssl req -new -key "$PKI/$name.key" -subj "$subject" -out "$PKI/$name.csr" 2>/dev/null
  local dates=()
  if [[ "$validity" == *,* ]]; then
    dates=(-startdate "${validity%,*}" -enddate "${validity#*,}")
  else
    dates=(-days "$validity")
  fi
  local ca_args=(-md "${MD:-sha256}" -cert "$PKI/$issuer.pem" -keyfile "$PKI/$issuer.key")
  [ "$issuer" = root ] && ca_args=(-selfsign -keyfile "$PKI/$name.key")
  openssl ca -batch -notext -config "$PKI/ca.cnf" "${ca_args[@]}" "${dates[@]}" \
    -extfile "$ext" -in "$PKI/$name.csr" -out "$PKI/$name.pem" 2>"$PKI/$name.log" ||
    die "openssl ca for $name failed; see $PKI/$name.log"
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

make_pki() {
  rm -rf "$PKI"
  mkdir -p "$PKI/db"
  : >"$PKI/db/index.txt"
  printf '1000\n' >"$PKI/db/serial"
  cat >"$PKI/ca.cnf" <<EOF
[ ca ]
default_ca = test
[ test ]
dir = $PKI/db
database = \$dir/index.txt
serial = \$dir/serial
new_certs_dir = \$dir
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
[ any ]
organizationName = optional
commonName = supplied
EOF
  local k
  for k in valid sha1; do
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/$k.key" 2>/dev/null
  done
  # An RSA key below 2048 bits: smtp.cert-weak-key's case.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out "$PKI/weakkey.key" 2>/dev/null
  for k in ca int expired wrongname daneta sts spare tls12 legacy shared expiring future; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$k.key" 2>/dev/null
  done
  sign ca root 3650
  sign int ca 3650
  sign valid ca 365 mx.secure.test mx.mail.test
  sign expired ca 20250101000000Z,20250201000000Z mx.expired.mail.test mx.lapsed.mail.test
  sign wrongname ca 365 mx.elsewhere.test
  sign daneta int 365 mx.daneta.mail.test
  for k in tls12 legacy shared weakkey; do sign "$k" ca 365 "mx.$k.mail.test"; done
  MD=sha1 sign sha1 ca 365 mx.sha1.mail.test
  local l names=()
  for l in "${STS_HOSTS[@]}"; do
    case "${l%%:*}" in
      wrongcert | unreachable) ;;
      *) names+=("mta-sts.${l%%:*}.sts.test") ;;
    esac
  done
  sign sts ca 365 "${names[@]}"
  sign_dated_certs
  # Chains as servers send them: leaf, then intermediate.
  for k in valid expired wrongname sts tls12 legacy shared weakkey sha1; do cp "$PKI/$k.pem" "$PKI/$k.chain.pem"; done
  cat "$PKI/daneta.pem" "$PKI/int.pem" >"$PKI/daneta.chain.pem"
  chmod 600 "$PKI"/*.key
  printf '%s\n' "$PKI_VERSION" >"$PKI/complete"
  log "made a test CA and certificates in $PKI (restart dns.sh if it runs: its TLSA records name the old keys)"
}

# The certificates whose validity is relative to today, signed again at
# every start (same keys): one that expires in 5 days (inside the 14 days
# smtp.cert-expiring warns about), one valid only from 30 days on.
sign_dated_certs() {
  local k
  sign expiring ca "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ),$(date -u -d '+5 days' +%Y%m%d%H%M%SZ)" mx.expiring.mail.test
  sign future ca "$(date -u -d '+30 days' +%Y%m%d%H%M%SZ),$(date -u -d '+400 days' +%Y%m%d%H%M%SZ)" mx.future.mail.test
  for k in expiring future; do cp "$PKI/$k.pem" "$PKI/$k.chain.pem"; done
}

# Keep the CA between runs (the TLSA records in dns.sh's zones name these
# keys); make everything again when the set of certificates changed
# (PKI_VERSION) or the valid certificates expire within 30 days.
ensure_pki() {
  if [ "$(cat "$PKI/complete" 2>/dev/null)" = "$PKI_VERSION" ] &&
    openssl x509 -in "$PKI/valid.pem" -noout -checkend 2592000 >/dev/null &&
    openssl x509 -in "$PKI/sts.pem" -noout -checkend 2592000 >/dev/null; then
    return 0
  fi
  make_pki
}

spki_sha256() { # FILE.pem (certificate) or FILE.key (private key)
  case "$1" in
    *.pem) openssl x509 -in "$1" -noout -pubkey ;;
    *) openssl pkey -in "$1" -pubout ;;
  esac | openssl pkey -pubin -outform DER | sha256sum | cut -d' ' -f1
}

# --- DNS records (printed for dns.sh) -----------------------------------------

# The domains of mail.test and what each shows (MX host → instance):
#   mail          mx.mail.test → pf-valid, TLSA 3 1 1 that matches
#   expired       mx.expired → pf-expired, TLSA 3 1 1 that matches (DANE-EE ignores expiry)
#   lapsed        mx.lapsed → pf-expired, no TLSA: just an expired certificate
#   wrongname, daneta (TLSA 2 1 1), plain, and one per quirk instance
#     (refused tls12 legacy sha1 weakkey expiring future shared): mx.<name> → pf-<name>
#   mismatch      mx.mismatch → pf-valid, TLSA 3 1 1 for a key nobody serves
#   notls         mx.notls → pf-plain, TLSA 3 1 1: DANE without STARTTLS
#   down          mx.down → $DOWN_ADDR, where nothing listens
#   mixed         MX 10 mx.mail.test, 20 mx.plain (backup without STARTTLS)
#   weakbackup    MX 10 mx.mail.test, 20 mx.wrongname (backup with a wrong name)
#   twins         MX 10 mx.mail.test, 20 mx.daneta (backup as strong as the primary)
#   duo           MX 10 mx.mail.test, 20 mx.secure.test (another registrable domain, no TLSA)
#   shared2       MX 10 mx.shared.mail.test, like shared (one probe for both)
zone_records() {
  local zone=${1%.}
  ensure_pki
  case "$zone" in
    mail.test)
      cat <<EOF
mail.test. MX 10 mx.mail.test.
mail.test. TXT "v=spf1 mx -all"
mx.mail.test. A $(addr_of pf-valid)
_25._tcp.mx.mail.test. TLSA 3 1 1 $(spki_sha256 "$PKI/valid.pem")
mixed.mail.test. MX 10 mx.mail.test.
mixed.mail.test. MX 20 mx.plain.mail.test.
expired.mail.test. MX 10 mx.expired.mail.test.
mx.expired.mail.test. A $(addr_of pf-expired)
_25._tcp.mx.expired.mail.test. TLSA 3 1 1 $(spki_sha256 "$PKI/expired.pem")
wrongname.mail.test. MX 10 mx.wrongname.mail.test.
mx.wrongname.mail.test. A $(addr_of pf-wrongname)
daneta.mail.test. MX 10 mx.daneta.mail.test.
mx.daneta.mail.test. A $(addr_of pf-daneta)
_25._tcp.mx.daneta.mail.test. TLSA 2 1 1 $(spki_sha256 "$PKI/int.pem")
plain.mail.test. MX 10 mx.plain.mail.test.
mx.plain.mail.test. A $(addr_of pf-plain)
mismatch.mail.test. MX 10 mx.mismatch.mail.test.
mx.mismatch.mail.test. A $(addr_of pf-valid)
_25._tcp.mx.mismatch.mail.test. TLSA 3 1 1 $(spki_sha256 "$PKI/spare.key")
notls.mail.test. MX 10 mx.notls.mail.test.
mx.notls.mail.test. A $(addr_of pf-plain)
_25._tcp.mx.notls.mail.test. TLSA 3 1 1 $(spki_sha256 "$PKI/valid.pem")
lapsed.mail.test. MX 10 mx.lapsed.mail.test.
mx.lapsed.mail.test. A $(addr_of pf-expired)
down.mail.test. MX 10 mx.down.mail.test.
mx.down.mail.test. A $DOWN_ADDR
shared2.mail.test. MX 10 mx.shared.mail.test.
weakbackup.mail.test. MX 10 mx.mail.test.
weakbackup.mail.test. MX 20 mx.wrongname.mail.test.
twins.mail.test. MX 10 mx.mail.test.
twins.mail.test. MX 20 mx.daneta.mail.test.
duo.mail.test. MX 10 mx.mail.test.
duo.mail.test. MX 20 mx.secure.test.
EOF
      local n
      for n in refused tls12 legacy sha1 weakkey expiring future shared; do
        printf '%s.mail.test. MX 10 mx.%s.mail.test.\n' "$n" "$n"
        printf 'mx.%s.mail.test. A %s\n' "$n" "$(addr_of "pf-$n")"
      done
      legacy_tls_zone
      ;;
    sts.test)
      local h label addr
      for h in "${STS_HOSTS[@]}"; do
        IFS=: read -r label addr <<<"$h"
        sts_mx "$label" | sed "s/^/$label.sts.test. MX /"
        printf '_mta-sts.%s.sts.test. TXT "v=STSv1; id=%s"\n' "$label" "$POLICY_ID"
        printf 'mta-sts.%s.sts.test. A %s\n' "$label" "$addr"
        printf '_smtp._tls.%s.sts.test. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s.sts.test"\n' "$label" "$label"
      done
      ;;
    *) die "zone: expected mail.test. or sts.test., not $1" ;;
  esac
}

# The MX records (preference and host) of LABEL.sts.test.
sts_mx() {
  case "$1" in
    wildcard) printf '10 mx.mail.test.\n20 mx.lapsed.mail.test.\n' ;;
    badcert) printf '10 mx.expired.mail.test.\n20 mx.wrongname.mail.test.\n' ;;
    *) printf '10 mx.mail.test.\n' ;;
  esac
}

# --- processes -------------------------------------------------------------

# pid files: Postfix's master writes QUEUE/pid/master.pid, nginx its own.
pidfile() {
  case "$1" in
    nginx) printf '%s/nginx/nginx.pid' "$WORK" ;;
    weakcipher) printf '%s/weakcipher/pid' "$WORK" ;;
    *) printf '%s/%s/queue/pid/master.pid' "$WORK" "$1" ;;
  esac
}

program_of() { case "$1" in nginx) echo nginx ;; weakcipher) echo weak-tls-smtpd ;; *) echo master ;; esac }

all_peers() {
  local peer
  for peer in "${POSTFIXES[@]}"; do printf '%s\n' "${peer%%:*}"; done
  printf 'nginx\nweakcipher\n'
}

live_pid() { # NAME
  local file pid
  file="$(pidfile "$1")"
  [ -s "$file" ] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$(program_of "$1")" ] || return 1
  printf '%s' "$pid"
}

all_running() {
  local name
  for name in $(all_peers); do live_pid "$name" >/dev/null || return 1; done
}

stop_peer() {
  local name=$1 pid i
  if pid="$(live_pid "$name")"; then
    # Postfix's master and nginx both stop their children on SIGTERM
    # (`postfix stop` sends the same signal).
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

stop_all() { # in parallel: a Postfix master takes about a second to stop
  local name
  local -a stopping=()
  for name in $(all_peers); do
    stop_peer "$name" &
    stopping+=($!)
  done
  for name in "${stopping[@]}"; do wait "$name" || true; done
}

# --- configurations ------------------------------------------------------------

postfix_conf() { # NAME ADDRESS CERT HOSTNAME
  local name=$1 addr=$2 cert=$3 host=$4 d="$WORK/$1"
  mkdir -p "$d/conf" "$d/queue" "$d/data"
  chown postfix: "$d/data"
  # master.cf: Debian's, with every service unchrooted and smtpd only on ADDRESS:2525.
  sed -e '/^smtp[[:space:]]\+inet/d' -e '/^#\?submission\|^#\?smtps\|^#\?628/d' \
    /usr/share/postfix/master.cf.dist >"$d/conf/master.cf"
  printf '%s:%s inet n - n - - smtpd\n' "$addr" "$SMTP_PORT" >>"$d/conf/master.cf"
  cat >"$d/conf/main.cf" <<EOF
# Written by tests/real-peers/mail.sh: a Postfix that never relays nor delivers.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
maillog_file = $d/postfix.log
maillog_file_prefixes = $d
myhostname = $host
mydomain = mail.test
myorigin = \$myhostname
# Postfix accepts in inet_interfaces only addresses configured on an
# interface, and 127.0.5x.y are not (Linux routes all of 127/8 to lo): the
# one listener is bound to the address in master.cf, and inet_interfaces
# names only 127.0.0.1 (no service uses it; the smtp client never runs).
inet_interfaces = loopback-only
inet_protocols = ipv4
proxy_interfaces = $addr
mydestination =
mynetworks =
relayhost =
relay_domains =
default_transport = error:mailwarden test peer: no delivery
relay_transport = error:mailwarden test peer: no relay
local_transport = error:mailwarden test peer: no local delivery
smtpd_relay_restrictions = reject
smtpd_recipient_restrictions = reject
smtpd_banner = \$myhostname ESMTP mailwarden real-peer test MTA
alias_maps =
alias_database =
biff = no
# No notices to postmaster (pf-refused's TLS failure would queue one).
notify_classes =
disable_vrfy_command = yes
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =
EOF
  case "$cert" in
    -) printf 'smtpd_tls_security_level = none\n' ;;
    # A renewed certificate installed without its key: Postfix cannot
    # load them, still advertises STARTTLS and answers it with 454.
    mismatched) printf 'smtpd_tls_security_level = may\nsmtpd_tls_chain_files = %s, %s\n' \
      "$PKI/valid.key" "$PKI/wrongname.chain.pem" ;;
    *) printf 'smtpd_tls_security_level = may\nsmtpd_tls_chain_files = %s, %s\n' \
      "$PKI/$cert.key" "$PKI/$cert.chain.pem" ;;
  esac >>"$d/conf/main.cf"
  postfix_tls_quirks "$name" >>"$d/conf/main.cf"
  postconf -c "$d/conf" -F '*/*/chroot = n' >/dev/null
}

# Settings of the instances that exist to show one TLS weakness.
postfix_tls_quirks() { # NAME
  case "$1" in
    pf-tls12) printf 'smtpd_tls_protocols = >=TLSv1.2, <=TLSv1.2\n' ;;
    # TLS 1.0 and 1.1 only: rustls speaks neither.
    pf-legacy) printf 'tls_config_file = %s\ntls_config_name = mailwarden_legacy\nsmtpd_tls_protocols = >=TLSv1, <=TLSv1.1\n' \
      "$WORK/openssl-legacy.cnf" ;;
    # OpenSSL (security level 2) refuses to load a 1024-bit key or a SHA-1 signature.
    # TLS 1.0 to 1.3: rustls gets TLS 1.3, the legacy probe TLS 1.1.
    pf-oldtls) printf 'tls_config_file = %s\ntls_config_name = mailwarden_legacy\nsmtpd_tls_protocols = >=TLSv1\n' \
      "$WORK/openssl-legacy.cnf" ;;
    pf-sha1 | pf-weakkey) printf 'tls_config_file = %s\ntls_config_name = mailwarden_legacy\n' "$WORK/openssl-legacy.cnf" ;;
  esac
}

# OpenSSL settings for the legacy instances (Postfix's tls_config_file,
# selected by tls_config_name): security level 0, TLS 1.0 allowed.
openssl_legacy_conf() {
  cat >"$WORK/openssl-legacy.cnf" <<EOF
mailwarden_legacy = legacy_init
[legacy_init]
ssl_conf = legacy_ssl
[legacy_ssl]
system_default = legacy_tls
[legacy_tls]
CipherString = DEFAULT:@SECLEVEL=0
MinProtocol = TLSv1
EOF
}

nginx_conf() {
  local d="$WORK/nginx" h label addr
  mkdir -p "$d/tmp"
  local enforce="version: STSv1\\r\\nmode: enforce\\r\\nmx: mx.mail.test\\r\\nmax_age: 86400\\r\\n"
  {
    cat <<EOF
# Written by tests/real-peers/mail.sh: MTA-STS policies over HTTPS, loopback only.
daemon on;
master_process on;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 64; }
http {
  access_log $d/access.log;
  client_body_temp_path $d/tmp/body;
  proxy_temp_path $d/tmp/proxy;
  fastcgi_temp_path $d/tmp/fastcgi;
  uwsgi_temp_path $d/tmp/uwsgi;
  scgi_temp_path $d/tmp/scgi;
  server_tokens off;
  ssl_protocols TLSv1.2 TLSv1.3;
EOF
    for h in "${STS_HOSTS[@]}"; do
      IFS=: read -r label addr <<<"$h"
      local cert=sts type=text/plain body="return 200 \"$enforce\";"
      case "$label" in
        unreachable) continue ;; # the host's address, where nothing listens
        testing) body='return 200 "version: STSv1\nmode: testing\nmx: mx.mail.test\nmax_age: 604800\n";' ;;
        short) body='return 200 "version: STSv1\nmode: enforce\nmx: mx.mail.test\nmax_age: 3600\n";' ;;
        wildcard) body='return 200 "version: STSv1\nmode: enforce\nmx: *.mail.test\nmax_age: 86400\n";' ;;
        badcert) body='return 200 "version: STSv1\nmode: enforce\nmx: mx.expired.mail.test\nmx: mx.wrongname.mail.test\nmax_age: 86400\n";' ;;
        malformed) body='return 200 "version: STSv2\nmode: enforcing\nmx: *.*.test\nmax_age: forever\nmax_age: 1\n";' ;;
        redirect) body="return 301 https://mta-sts.enforce.sts.test:$HTTPS_PORT/.well-known/mta-sts.txt;" ;;
        ctype) type=text/html ;;
        wrongcert) cert=wrongname ;;
      esac
      cat <<EOF
  server {
    listen $addr:$HTTPS_PORT ssl;
    server_name mta-sts.$label.sts.test;
    ssl_certificate $PKI/$cert.chain.pem;
    ssl_certificate_key $PKI/$cert.key;
    location = /.well-known/mta-sts.txt {
      default_type $type;
      $body
    }
    location / { return 404; }
  }
EOF
    done
    printf '}\n'
  } >"$d/nginx.conf"
  nginx -t -q -e "$d/error.log" -p "$d" -c "$d/nginx.conf" || die "nginx -t $d/nginx.conf"
}

configure() {
  rm -rf "$WORK"
  mkdir -p "$WORK"
  openssl_legacy_conf
  legacy_tls_conf
  local peer name addr cert host
  for peer in "${POSTFIXES[@]}"; do
    IFS=: read -r name addr cert host <<<"$peer"
    postfix_conf "$name" "$addr" "$cert" "$host"
  done
  nginx_conf
}

# --- readiness -----------------------------------------------------------------

wait_for() { # DESCRIPTION COMMAND...: retry for up to 15 s
  local what=$1 i
  shift
  for i in $(seq 150); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  die "$what did not become ready; see the logs under $WORK"
}

# The reply to EHLO of an SMTP server (after its 220 greeting), over
# bash's /dev/tcp; fails without one.
smtp_ehlo() { # ADDRESS
  local line reply=""
  exec 3<>"/dev/tcp/$1/$SMTP_PORT" || return 1
  if IFS= read -r -t 2 line <&3 && [[ "$line" == 220* ]]; then
    printf 'EHLO mailwarden.invalid\r\n' >&3
    while IFS= read -r -t 2 line <&3; do
      reply+="$line"$'\n'
      [[ "$line" == "250 "* ]] && break
    done
    printf 'QUIT\r\n' >&3
  fi
  exec 3<&- 3>&-
  [[ "$reply" == *"250 "* ]] && printf '%s' "$reply"
}

has_starttls() { case "$1" in *STARTTLS*) echo yes ;; *) echo no ;; esac; }

smtp_ready() { smtp_ehlo "$1" >/dev/null; }

https_get() { # LABEL: curl's status line and headers, then the body
  local label=$1 addr
  addr="$(printf '%s\n' "${STS_HOSTS[@]}" | sed -n "s/^$label://p")"
  curl -sS --max-time 3 --cacert "$PKI/ca.pem" -D - \
    --resolve "mta-sts.$label.sts.test:$HTTPS_PORT:$addr" \
    "https://mta-sts.$label.sts.test:$HTTPS_PORT/.well-known/mta-sts.txt"
}

https_ready() { https_get enforce 2>/dev/null | grep -q 'mode: enforce'; }

start_all() {
  local peer name addr
  # `postfix start` checks the configuration and waits for its master; the
  # instances start in parallel. postfix(1) reports fatal errors to syslog
  # or a terminal only, hence the hint.
  local -A starting=()
  for peer in "${POSTFIXES[@]}"; do
    IFS=: read -r name addr _ <<<"$peer"
    postfix -c "$WORK/$name/conf" start >"$WORK/$name/start.log" 2>&1 &
    starting[$name]=$!
  done
  for name in "${!starting[@]}"; do
    wait "${starting[$name]}" ||
      die "postfix $name did not start; see $WORK/$name/postfix.log, or run: script -qc 'postfix -c $WORK/$name/conf start' /dev/null"
  done
  nginx -e "$WORK/nginx/error.log" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" ||
    die "nginx did not start; see $WORK/nginx/error.log"
  for peer in "${POSTFIXES[@]}"; do
    IFS=: read -r name addr _ <<<"$peer"
    wait_for "Postfix $name on $addr:$SMTP_PORT" smtp_ready "$addr"
  done
  wait_for "nginx on 127.0.58.1:$HTTPS_PORT" https_ready
  legacy_tls_start
  all_running || die "a peer exited after starting; see the logs under $WORK"
}

write_env() {
  local peer name addr h label key
  {
    printf '# Written by tests/real-peers/mail.sh start; read by crates/cli/tests/real_peers.rs.\n'
    printf 'SMTP_PORT=%s\nHTTPS_PORT=%s\nCA_FILE=%s\n' "$SMTP_PORT" "$HTTPS_PORT" "$PKI/ca.pem"
    for peer in "${POSTFIXES[@]}"; do
      IFS=: read -r name addr _ <<<"$peer"
      key="$(printf '%s' "${name#pf-}" | tr '[:lower:]' '[:upper:]')"
      printf 'SMTP_%s=%s\nLOG_%s=%s\n' "$key" "$addr" "$key" "$WORK/$name/postfix.log"
    done
    printf 'SMTP_DOWN=%s\n' "$DOWN_ADDR"
    printf 'SMTP_WEAKCIPHER=%s\nLOG_WEAKCIPHER=%s\n' "$WEAKCIPHER_ADDR" "$WORK/weakcipher/log"
    for key in valid expired wrongname daneta int sts tls12 legacy sha1 weakkey expiring future shared; do
      printf 'CERT_%s=%s\n' "$(printf '%s' "$key" | tr '[:lower:]' '[:upper:]')" "$PKI/$key.pem"
    done
    for h in "${STS_HOSTS[@]}"; do
      IFS=: read -r label addr <<<"$h"
      printf 'STS_%s=%s\n' "$(printf '%s' "$label" | tr '[:lower:]' '[:upper:]')" "$addr"
    done
  } >"$DIR/mail.env.tmp"
  mv "$DIR/mail.env.tmp" "$DIR/mail.env"
}

describe() {
  cat <<EOF
real-peers: mail peers running (loopback only; logs and pid files in $WORK)
  Postfix  127.0.53.25:$SMTP_PORT  mx.secure.test, mx.mail.test   valid certificate (test CA $PKI/ca.pem)
  Postfix  127.0.56.2:$SMTP_PORT   mx.expired.mail.test           expired certificate
  Postfix  127.0.56.3:$SMTP_PORT   mx.wrongname.mail.test         certificate for mx.elsewhere.test
  Postfix  127.0.56.4:$SMTP_PORT   mx.daneta.mail.test            leaf from an intermediate (TLSA 2 1 1)
  Postfix  127.0.56.5:$SMTP_PORT   mx.plain.mail.test             no STARTTLS
  Postfix  127.0.56.6-13:$SMTP_PORT  mx.{refused,tls12,legacy,sha1,weakkey,expiring,future,shared}.mail.test
  nothing  $DOWN_ADDR:$SMTP_PORT  mx.down.mail.test              (unreachable on purpose)
  Postfix  127.0.61.1:$SMTP_PORT   mx.oldtls.mail.test            TLS 1.0 to 1.3 (legacy TLS accepted)
  GnuTLS   $WEAKCIPHER_ADDR:$SMTP_PORT   mx.weakcipher.mail.test        TLS 1.0 to 1.3 and 3DES (weak-tls-smtpd)
  nginx    127.0.58.1-10:$HTTPS_PORT  mta-sts.{enforce,testing,malformed,redirect,ctype,wrongcert,short,wildcard,badcert}.sts.test
           (127.0.58.7, mta-sts.unreachable.sts.test: nothing listens, on purpose)
  try:     openssl s_client -starttls smtp -connect 127.0.53.25:$SMTP_PORT -servername mx.secure.test -CAfile $PKI/ca.pem
EOF
}

# --- legacy TLS peers (see the block at the top) ----------------------------------

# gcc and the GnuTLS headers, to build weak-tls-smtpd, and gnutls-cli for the
# tests' cross-check (no daemon in any of them).
legacy_tls_tools() {
  ensure_packages "gcc pkg-config gnutls-cli" gcc pkg-config gnutls-bin
  [ -e /usr/include/gnutls/gnutls.h ] && return 0
  [ "$(id -u)" = 0 ] || die "not root: install libgnutls28-dev first"
  log "installing from Debian (missing: libgnutls28-dev)"
  apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libgnutls28-dev >/dev/null ||
    die "apt-get install libgnutls28-dev failed"
}

# Their certificates, from the test CA (signed again when the CA is new).
legacy_tls_pki() {
  local k
  for k in oldtls weakcipher; do
    if openssl verify -CAfile "$PKI/ca.pem" "$PKI/$k.pem" >/dev/null 2>&1 &&
      openssl x509 -in "$PKI/$k.pem" -noout -checkend 2592000 >/dev/null; then
      continue
    fi
    case "$k" in
      # RSA: the static-RSA 3DES suite needs no signature in the handshake.
      weakcipher) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/$k.key" 2>/dev/null ;;
      *) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$k.key" 2>/dev/null ;;
    esac
    chmod 600 "$PKI/$k.key"
    sign "$k" ca 365 "mx.$k.mail.test"
    cp "$PKI/$k.pem" "$PKI/$k.chain.pem"
  done
}

legacy_tls_conf() {
  legacy_tls_pki
  mkdir -p "$WORK/weakcipher"
  # shellcheck disable=SC2046 # pkg-config's flags are split on purpose
  gcc -O2 -Wall -o "$WORK/weakcipher/weak-tls-smtpd" "$REPO/tests/real-peers/weak-tls-smtpd.c" \
    $(pkg-config --cflags --libs gnutls) 2>"$WORK/weakcipher/build.log" ||
    die "building weak-tls-smtpd failed; see $WORK/weakcipher/build.log"
}

legacy_tls_start() {
  local d="$WORK/weakcipher"
  setsid "$d/weak-tls-smtpd" "$WEAKCIPHER_ADDR" "$SMTP_PORT" "$PKI/weakcipher.chain.pem" "$PKI/weakcipher.key" \
    "$WEAKCIPHER_PRIORITY" mx.weakcipher.mail.test </dev/null >"$d/log" 2>&1 &
  printf '%s\n' "$!" >"$d/pid"
  wait_for "weak-tls-smtpd on $WEAKCIPHER_ADDR:$SMTP_PORT" legacy_tls_ready
}

legacy_tls_ready() { smtp_ready "$WEAKCIPHER_ADDR" 2>/dev/null; }

legacy_tls_status() {
  local pid
  if pid="$(live_pid weakcipher)" && smtp_ehlo "$WEAKCIPHER_ADDR" | grep -q STARTTLS; then
    printf '%-13s %-12s running (pid %s), EHLO with STARTTLS\n' weakcipher "$WEAKCIPHER_ADDR" "$pid"
  else
    printf '%-13s %-12s stopped, or no STARTTLS\n' weakcipher "$WEAKCIPHER_ADDR"
    return 3
  fi
}

legacy_tls_zone() {
  printf 'oldtls.mail.test. MX 10 mx.oldtls.mail.test.\nmx.oldtls.mail.test. A %s\n' "$(addr_of pf-oldtls)"
  printf 'weakcipher.mail.test. MX 10 mx.weakcipher.mail.test.\nmx.weakcipher.mail.test. A %s\n' "$WEAKCIPHER_ADDR"
}

# --- commands ------------------------------------------------------------------

cmd_start() {
  if all_running && [ -s "$DIR/mail.env" ]; then
    describe
    return 0
  fi
  stop_all
  ensure_tools
  mkdir -p "$MAIL"
  rm -f "$DIR/mail.env"
  # Whatever fails from here on, leave nothing running.
  trap 'rc=$?; if [ "$rc" != 0 ]; then stop_all; fi' EXIT
  ensure_pki
  sign_dated_certs
  configure
  start_all
  write_env
  describe
}

cmd_stop() {
  stop_all
  rm -f "$DIR/mail.env"
}

cmd_status() {
  local name pid rc=0 peer addr cert reply
  for peer in "${POSTFIXES[@]}"; do
    IFS=: read -r name addr cert _ <<<"$peer"
    if ! pid="$(live_pid "$name")"; then
      printf '%-13s %-12s stopped\n' "$name" "$addr"
      rc=3
    elif ! reply="$(smtp_ehlo "$addr")"; then
      printf '%-13s %-12s running (pid %s), but no EHLO reply on port %s\n' "$name" "$addr" "$pid" "$SMTP_PORT"
      rc=3
    elif [ "$(has_starttls "$reply")" != "$([ "$cert" = - ] && echo no || echo yes)" ]; then
      printf '%-13s %-12s running (pid %s), but STARTTLS is %s\n' "$name" "$addr" "$pid" \
        "$([ "$cert" = - ] && echo offered || echo missing)"
      rc=3
    else
      printf '%-13s %-12s running (pid %s), EHLO %s STARTTLS\n' "$name" "$addr" "$pid" \
        "$([ "$cert" = - ] && echo without || echo with)"
    fi
  done
  legacy_tls_status || rc=3
  if pid="$(live_pid nginx)"; then
    local h label status
    for h in "${STS_HOSTS[@]}"; do
      IFS=: read -r label addr <<<"$h"
      [ "$label" = unreachable ] && continue
      status="$(https_get "$label" 2>&1 | sed -n '1s/\r$//p;s/^[Cc]ontent-[Tt]ype: \(.*\)\r$/  \1/p' | tr -d '\n')" ||
        status="(curl failed)"
      printf '%-13s %-12s running (pid %s), mta-sts.%s.sts.test: %s\n' nginx "$addr" "$pid" "$label" "${status:-no answer}"
    done
  else
    printf '%-13s %-12s stopped\n' nginx 127.0.58.1-10
    rc=3
  fi
  return "$rc"
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  install) ensure_tools ;;
  zone)
    [ $# = 2 ] || die "usage: $0 zone mail.test.|sts.test."
    zone_records "$2"
    ;;
  *)
    echo "usage: $0 start|stop|status|install|zone ZONE" >&2
    exit 2
    ;;
esac

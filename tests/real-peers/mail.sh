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
#   127.0.56.2    pf-expired    mx.expired.mail.test: expired certificate
#   127.0.56.3    pf-wrongname  mx.wrongname.mail.test: certificate for mx.elsewhere.test
#   127.0.56.4    pf-daneta     mx.daneta.mail.test: leaf signed by an intermediate (DANE-TA 2 1 1)
#   127.0.56.5    pf-plain      mx.plain.mail.test: no STARTTLS
# Every instance: mynetworks empty, relayhost empty, mydestination empty,
# default/relay/local transport "error", smtpd_recipient_restrictions =
# reject: nothing is ever accepted, relayed or delivered.
#
# nginx (one process), HTTPS on port 8443, /.well-known/mta-sts.txt for
# mta-sts.<x>.sts.test, each host on its own address:
#   127.0.58.1 enforce   127.0.58.2 testing   127.0.58.3 malformed
#   127.0.58.4 redirect (301)   127.0.58.5 ctype (text/html)
#   127.0.58.6 wrongcert (valid policy, certificate for mx.elsewhere.test)
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

# name:address:certificate (- for none):host name, one per Postfix instance.
POSTFIXES=(
  "pf-valid:127.0.53.25:valid:mx.secure.test"
  "pf-expired:127.0.56.2:expired:mx.expired.mail.test"
  "pf-wrongname:127.0.56.3:wrongname:mx.wrongname.mail.test"
  "pf-daneta:127.0.56.4:daneta:mx.daneta.mail.test"
  "pf-plain:127.0.56.5:-:mx.plain.mail.test"
)
# label:address, one per MTA-STS host mta-sts.<label>.sts.test.
STS_HOSTS=(
  "enforce:127.0.58.1"
  "testing:127.0.58.2"
  "malformed:127.0.58.3"
  "redirect:127.0.58.4"
  "ctype:127.0.58.5"
  "wrongcert:127.0.58.6"
)

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
}

# --- the test CA and certificates --------------------------------------------

# sign NAME ISSUER DAYS_OR_DATES SANS... : NAME.pem from NAME.key, signed by
# ISSUER (ca or int). DAYS_OR_DATES is a number of days, or START,END
# (YYYYMMDDHHMMSSZ) for certificates valid in the past.
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
  local ca_args=(-cert "$PKI/$issuer.pem" -keyfile "$PKI/$issuer.key")
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
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$PKI/valid.key" 2>/dev/null
  for k in ca int expired wrongname daneta sts spare; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/$k.key" 2>/dev/null
  done
  sign ca root 3650
  sign int ca 3650
  sign valid ca 365 mx.secure.test mx.mail.test
  sign expired ca 20250101000000Z,20250201000000Z mx.expired.mail.test
  sign wrongname ca 365 mx.elsewhere.test
  sign daneta int 365 mx.daneta.mail.test
  local l names=()
  for l in "${STS_HOSTS[@]}"; do
    [ "${l%%:*}" = wrongcert ] || names+=("mta-sts.${l%%:*}.sts.test")
  done
  sign sts ca 365 "${names[@]}"
  # Chains as servers send them: leaf, then intermediate.
  for k in valid expired wrongname sts; do cp "$PKI/$k.pem" "$PKI/$k.chain.pem"; done
  cat "$PKI/daneta.pem" "$PKI/int.pem" >"$PKI/daneta.chain.pem"
  chmod 600 "$PKI"/*.key
  touch "$PKI/complete"
  log "made a test CA and certificates in $PKI (restart dns.sh if it runs: its TLSA records name the old keys)"
}

# Keep the CA between runs (the TLSA records in dns.sh's zones name these
# keys); renew everything when the valid certificates expire within 30 days.
ensure_pki() {
  if [ -e "$PKI/complete" ] &&
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
EOF
      ;;
    sts.test)
      local h label addr
      for h in "${STS_HOSTS[@]}"; do
        IFS=: read -r label addr <<<"$h"
        printf '%s.sts.test. MX 10 mx.mail.test.\n' "$label"
        printf '_mta-sts.%s.sts.test. TXT "v=STSv1; id=%s"\n' "$label" "$POLICY_ID"
        printf 'mta-sts.%s.sts.test. A %s\n' "$label" "$addr"
        printf '_smtp._tls.%s.sts.test. TXT "v=TLSRPTv1; rua=mailto:tlsrpt@%s.sts.test"\n' "$label" "$label"
      done
      ;;
    *) die "zone: expected mail.test. or sts.test., not $1" ;;
  esac
}

# --- processes -------------------------------------------------------------

# pid files: Postfix's master writes QUEUE/pid/master.pid, nginx its own.
pidfile() {
  case "$1" in
    nginx) printf '%s/nginx/nginx.pid' "$WORK" ;;
    *) printf '%s/%s/queue/pid/master.pid' "$WORK" "$1" ;;
  esac
}

program_of() { case "$1" in nginx) echo nginx ;; *) echo master ;; esac }

all_peers() {
  local peer
  for peer in "${POSTFIXES[@]}"; do printf '%s\n' "${peer%%:*}"; done
  printf 'nginx\n'
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
disable_vrfy_command = yes
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database =
EOF
  if [ "$cert" = - ]; then
    printf 'smtpd_tls_security_level = none\n' >>"$d/conf/main.cf"
  else
    printf 'smtpd_tls_security_level = may\nsmtpd_tls_chain_files = %s, %s\n' \
      "$PKI/$cert.key" "$PKI/$cert.chain.pem" >>"$d/conf/main.cf"
  fi
  postconf -c "$d/conf" -F '*/*/chroot = n' >/dev/null
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
        testing) body='return 200 "version: STSv1\nmode: testing\nmx: mx.mail.test\nmax_age: 604800\n";' ;;
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
      printf 'SMTP_%s=%s\n' "$key" "$addr"
    done
    for key in valid expired wrongname daneta int sts; do
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
  nginx    127.0.58.1-6:$HTTPS_PORT  mta-sts.{enforce,testing,malformed,redirect,ctype,wrongcert}.sts.test
  try:     openssl s_client -starttls smtp -connect 127.0.53.25:$SMTP_PORT -servername mx.secure.test -CAfile $PKI/ca.pem
EOF
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
  if pid="$(live_pid nginx)"; then
    local h label status
    for h in "${STS_HOSTS[@]}"; do
      IFS=: read -r label addr <<<"$h"
      status="$(https_get "$label" 2>&1 | sed -n '1s/\r$//p;s/^[Cc]ontent-[Tt]ype: \(.*\)\r$/  \1/p' | tr -d '\n')" ||
        status="(curl failed)"
      printf '%-13s %-12s running (pid %s), mta-sts.%s.sts.test: %s\n' nginx "$addr" "$pid" "$label" "${status:-no answer}"
    done
  else
    printf '%-13s %-12s stopped\n' nginx 127.0.58.1-6
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

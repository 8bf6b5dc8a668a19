#!/usr/bin/env bash
# Real-peer tier for `mailwarden message`: messages signed by a third party.
#
#   tests/real-peers/dkim.sh install   # opendkim, opendkim-tools, postfix, openssl from Debian
#   tests/real-peers/dkim.sh start     # keys, zone, OpenDKIM + two Postfix instances, two messages
#   tests/real-peers/dkim.sh stop
#
# On loopback only (CI); while developing, run it inside a network
# namespace of your own (ip netns exec ...). Two Postfix instances from
# Debian, private config directories (`postfix -c DIR start`):
#
#   pf-sign 127.0.70.1:2525  signs every message through two OpenDKIM milters:
#                            127.0.70.1:8891 with RSA (key made by opendkim-genkey,
#                            selector mw) and 127.0.70.1:8892 with Ed25519 (RFC 8463;
#                            key made by openssl genpkey, selector ed), both
#                            d=example.test, and relays to pf-sink,
#                            over STARTTLS for tls.test, in plain text for plain.test
#   pf-sink 127.0.70.2:2525  delivers both domains to one mbox file
#
# `start` submits one message to bob@tls.test and one to bob@plain.test over
# SMTP (bash /dev/tcp), waits for both in the mbox, and writes
# target/real-peers/dkim.env (MBOX=, ZONE=) for crates/cli/tests/real_peers_dkim.rs.
# The zone file publishes the key, SPF (ip4:127.0.70.1) and DMARC p=reject.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="$REPO/target/real-peers"
WORK="$DIR/dkim"
SIGN_ADDR=127.0.70.1
SINK_ADDR=127.0.70.2
PORT=2525
MILTER_PORT=8891
ED_MILTER_PORT=8892

. "$REPO/tests/real-peers/common.sh"

preseed() {
  printf '%s\n' "postfix postfix/main_mailer_type select No configuration" \
    "postfix postfix/mailname string mailwarden.invalid" | debconf-set-selections
}

cmd_install() {
  ensure_packages "postfix postconf opendkim opendkim-genkey openssl" postfix opendkim opendkim-tools openssl
}

pid_of() { # NAME: the pid of a running peer
  local file="$WORK/$1.pid" pid
  [ -s "$file" ] || return 1
  pid="$(tr -dc '0-9' <"$file")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null && printf '%s' "$pid"
}

keys_and_zone() {
  mkdir -p "$WORK/keys"
  opendkim-genkey -b 2048 -d example.test -s mw -D "$WORK/keys"
  chmod 600 "$WORK/keys/mw.private"
  # RFC 8463 §4.2: the public key is the raw 32-byte Ed25519 key, base64
  # (the last 32 bytes of its DER SubjectPublicKeyInfo).
  openssl genpkey -algorithm ed25519 -out "$WORK/keys/ed.private" 2>/dev/null
  chmod 600 "$WORK/keys/ed.private"
  local ed_public
  ed_public="$(openssl pkey -in "$WORK/keys/ed.private" -pubout -outform DER | tail -c 32 | base64 -w0)"
  # mw.txt is a zone-file line: `mw._domainkey IN TXT ( "v=DKIM1; ..." "p=..." )`.
  {
    printf '$ORIGIN example.test.\n$TTL 300\n'
    printf '@ SOA ns.example.test. hostmaster.example.test. 1 3600 600 86400 300\n@ NS ns.example.test.\n'
    printf '@ TXT "v=spf1 ip4:%s -all"\n' "$SIGN_ADDR"
    printf '_dmarc TXT "v=DMARC1; p=reject; rua=mailto:dmarc@example.test"\n'
    sed 's/[[:space:]]*; -----.*$//' "$WORK/keys/mw.txt"
    printf '\ned._domainkey TXT "v=DKIM1; k=ed25519; p=%s"\n' "$ed_public"
  } >"$WORK/example.test.zone"
  # The parent, so that the DMARC tree walk's _dmarc.test is a negative answer.
  printf '$ORIGIN test.\n$TTL 300\n@ SOA ns.test. hostmaster.test. 1 3600 600 86400 300\n@ NS ns.test.\nexample NS ns.example.test.\n' \
    >"$WORK/test.zone"
}

certificate() {
  openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=sink.example.net" \
    -keyout "$WORK/sink.key" -out "$WORK/sink.pem" 2>/dev/null
}

opendkim_conf() {
  cat >"$WORK/opendkim.conf" <<EOF
# Written by tests/real-peers/dkim.sh: sign everything from 127/8 as example.test.
Syslog no
Mode s
Canonicalization relaxed/relaxed
Domain example.test
Selector mw
KeyFile $WORK/keys/mw.private
RequireSafeKeys false
Socket inet:$MILTER_PORT@$SIGN_ADDR
PidFile $WORK/opendkim.pid
InternalHosts 127.0.0.0/8
OversignHeaders From
EOF
  # The Ed25519 signer: OpenDKIM signs with one algorithm per instance.
  sed -e "s|^Selector mw|Selector ed|" -e "s|^KeyFile .*|KeyFile $WORK/keys/ed.private|" \
    -e "s|^Socket .*|Socket inet:$ED_MILTER_PORT@$SIGN_ADDR|" -e "s|^PidFile .*|PidFile $WORK/opendkim-ed.pid|" \
    "$WORK/opendkim.conf" >"$WORK/opendkim-ed.conf"
  printf 'SignatureAlgorithm ed25519-sha256\n' >>"$WORK/opendkim-ed.conf"
}

postfix_conf() { # NAME ADDRESS HOSTNAME
  local name=$1 addr=$2 host=$3 d="$WORK/$1"
  mkdir -p "$d/conf" "$d/queue" "$d/data"
  chown postfix: "$d/data"
  sed -e '/^smtp[[:space:]]\+inet/d' -e '/^#\?submission\|^#\?smtps\|^#\?628/d' \
    /usr/share/postfix/master.cf.dist >"$d/conf/master.cf"
  printf '%s:%s inet n - n - - smtpd\n' "$addr" "$PORT" >>"$d/conf/master.cf"
  cat >"$d/conf/main.cf" <<EOF
# Written by tests/real-peers/dkim.sh.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
maillog_file = $d/postfix.log
maillog_file_prefixes = $d
myhostname = $host
mydomain = example.test
inet_interfaces = loopback-only
inet_protocols = ipv4
proxy_interfaces = $addr
mynetworks = 127.0.0.0/8
mydestination =
alias_maps =
alias_database =
biff = no
notify_classes =
smtpd_tls_session_cache_database =
smtp_tls_session_cache_database =
EOF
  postconf -c "$d/conf" -F '*/*/chroot = n' >/dev/null
}

configure() {
  rm -rf "$WORK"
  mkdir -p "$WORK"
  keys_and_zone
  certificate
  opendkim_conf
  postfix_conf pf-sign "$SIGN_ADDR" sign.example.test
  cat >>"$WORK/pf-sign/conf/main.cf" <<EOF
smtpd_milters = inet:$SIGN_ADDR:$MILTER_PORT, inet:$SIGN_ADDR:$ED_MILTER_PORT
milter_default_action = tempfail
relay_domains = tls.test plain.test
transport_maps = inline:{ tls.test=smtp:[$SINK_ADDR]:$PORT, plain.test=smtp-plain:[$SINK_ADDR]:$PORT }
smtp_bind_address = $SIGN_ADDR
smtp_helo_name = sign.example.test
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
EOF
  printf 'smtp-plain unix - - n - - smtp -o smtp_tls_security_level=none\n' >>"$WORK/pf-sign/conf/master.cf"
  postfix_conf pf-sink "$SINK_ADDR" sink.example.net
  mkdir -p "$WORK/mail"
  chown postfix: "$WORK/mail"
  cat >>"$WORK/pf-sink/conf/main.cf" <<EOF
virtual_mailbox_domains = tls.test plain.test
virtual_mailbox_base = $WORK/mail
virtual_mailbox_maps = static:mbox
virtual_uid_maps = static:$(id -u postfix)
virtual_gid_maps = static:$(id -g postfix)
virtual_minimum_uid = 1
smtpd_tls_security_level = may
smtpd_tls_chain_files = $WORK/sink.key, $WORK/sink.pem
smtpd_tls_loglevel = 1
# Record the TLS version and cipher in the Received field.
smtpd_tls_received_header = yes
EOF
}

smtp_ready() { # ADDRESS
  local reply
  exec 3<>"/dev/tcp/$1/$PORT" || return 1
  IFS= read -r -t 3 reply <&3 || true
  exec 3<&- 3>&-
  [[ "$reply" == 220* ]]
}

submit() { # RECIPIENT SUBJECT: one message over SMTP to pf-sign
  local rcpt=$1 subject=$2 line
  exec 3<>"/dev/tcp/$SIGN_ADDR/$PORT"
  expect() { IFS= read -r -t 5 line <&3 && [[ "$line" == "$1"* ]] || die "submit to $rcpt: expected $1, got: $line"; while [[ "$line" == ???-* ]]; do IFS= read -r -t 5 line <&3; done; }
  expect 220
  printf 'EHLO client.example.test\r\n' >&3
  expect 250
  printf 'MAIL FROM:<alice@example.test>\r\n' >&3
  expect 250
  printf 'RCPT TO:<%s>\r\n' "$rcpt" >&3
  expect 250
  printf 'DATA\r\n' >&3
  expect 354
  printf 'From: Alice <alice@example.test>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: <%s.%s@example.test>\r\n\r\nHello Bob,\r\nsigned by OpenDKIM.\r\n.\r\n' \
    "$rcpt" "$subject" "$(date -R)" "$(date +%s%N)" "${rcpt%@*}" >&3
  expect 250
  printf 'QUIT\r\n' >&3
  exec 3<&- 3>&-
}

delivered() { [ "$(grep -c '^From ' "$WORK/mail/mbox" 2>/dev/null)" = 2 ]; }

wait_for() { # DESCRIPTION COMMAND...: retry for up to 30 s
  local what=$1 i
  shift
  for i in $(seq 300); do
    if "$@"; then return 0; fi
    sleep 0.1
  done
  die "$what; see the logs under $WORK"
}

cmd_start() {
  cmd_stop
  cmd_install
  trap 'rc=$?; if [ "$rc" != 0 ]; then cmd_stop; fi' EXIT
  configure
  opendkim -x "$WORK/opendkim.conf" -f >"$WORK/opendkim.log" 2>&1 &
  opendkim -x "$WORK/opendkim-ed.conf" -f >"$WORK/opendkim-ed.log" 2>&1 &
  local name
  for name in pf-sign pf-sink; do
    postfix -c "$WORK/$name/conf" start >"$WORK/$name/start.log" 2>&1 ||
      die "postfix $name did not start; see $WORK/$name/postfix.log"
    cp "$WORK/$name/queue/pid/master.pid" "$WORK/$name.pid"
  done
  wait_for "pf-sign did not answer" smtp_ready "$SIGN_ADDR"
  wait_for "pf-sink did not answer" smtp_ready "$SINK_ADDR"
  wait_for "OpenDKIM did not start" test -s "$WORK/opendkim.pid"
  wait_for "OpenDKIM (Ed25519) did not start" test -s "$WORK/opendkim-ed.pid"
  submit bob@tls.test "over TLS"
  submit bob@plain.test "in plain text"
  wait_for "the two messages were not delivered to $WORK/mail/mbox" delivered
  printf '# Written by tests/real-peers/dkim.sh start.\nMBOX=%s\nZONE=%s\nPARENT_ZONE=%s\n' \
    "$WORK/mail/mbox" "$WORK/example.test.zone" "$WORK/test.zone" >"$DIR/dkim.env"
  log "dkim: two messages signed by OpenDKIM (RSA and Ed25519) in $WORK/mail/mbox; zone $WORK/example.test.zone"
}

cmd_stop() {
  local name pid i
  for name in pf-sign pf-sink opendkim opendkim-ed; do
    if pid="$(pid_of "$name")"; then
      kill -TERM "$pid" 2>/dev/null || true
      for i in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -f "$DIR/dkim.env"
}

mkdir -p "$DIR"
case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  *) die "usage: $0 install|start|stop" ;;
esac

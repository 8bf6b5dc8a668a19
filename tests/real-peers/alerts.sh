#!/usr/bin/env bash
# Real-peer alert destinations (issue 13): a Postfix that takes mail for
# alerts.test over SMTP with STARTTLS and delivers it to a local Maildir, and
# an rsyslog that writes what it receives over UDP and TCP to a file. Both
# on loopback, each its own instance (private configuration, queue, pid and
# log files), apart from the scanner's Postfix peers of mail.sh.
#
#   tests/real-peers/alerts.sh install  install postfix, rsyslog and openssl if missing
#   tests/real-peers/alerts.sh start    make the test certificates, start both; writes target/real-peers/alerts.env
#   tests/real-peers/alerts.sh stop     stop both (by pid) and remove alerts.env
#   tests/real-peers/alerts.sh status   exit 0 when both run
#   tests/real-peers/alerts.sh ci       install, start, run the alert real-peer tests, stop (.ci/run)
#
#   127.0.62.1:2587   Postfix: STARTTLS (certificate for IP 127.0.62.1 from a private CA),
#                     accepts mail for ops@alerts.test from loopback only, delivers it
#                     with virtual(8) to the Maildir in alerts.env (MAILDIR); relays nothing.
#   127.0.62.1:5514   rsyslog: RFC 5424 over UDP and over TCP (octet counting), every
#                     message to the file in alerts.env (SYSLOG_FILE).
#
# Everything lives in target/real-peers/alerts/. crates/cli/tests/it/alert_peers.rs
# reads alerts.env (its tests are ignored unless asked for with --ignored).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/real-peers/common.sh
. "$REPO/tests/real-peers/common.sh"
peer_paths alerts
ADDR=127.0.62.1
SMTP_PORT=2587
SYSLOG_PORT=5514
# virtual(8) delivers as this user (not root: it refuses uids below 100).
MAIL_UID=65534
MAIL_GID=65534

preseed() {
  printf '%s\n' "postfix postfix/main_mailer_type select No configuration" \
    "postfix postfix/mailname string mailwarden.invalid" | debconf-set-selections
}

install() {
  ensure_packages "postfix postconf rsyslogd openssl" postfix rsyslog openssl
}

certificates() { test_pki "$WORK/pki" "mailwarden alerts test CA" "$ADDR"; }

postfix_conf() {
  local d="$WORK/postfix"
  mkdir -p "$d/conf" "$d/queue" "$d/data" "$d/mail"
  chown postfix: "$d/data"
  chown "$MAIL_UID:$MAIL_GID" "$d/mail"
  sed -e '/^smtp[[:space:]]\+inet/d' -e '/^#\?submission\|^#\?smtps\|^#\?628/d' \
    /usr/share/postfix/master.cf.dist >"$d/conf/master.cf"
  printf '%s:%s inet n - n - - smtpd\n' "$ADDR" "$SMTP_PORT" >>"$d/conf/master.cf"
  printf 'ops@alerts.test ops/\n' >"$d/conf/vmailbox"
  cat >"$d/conf/main.cf" <<EOF
# Written by tests/real-peers/alerts.sh: mail for ops@alerts.test into a Maildir; nothing else.
compatibility_level = 3.6
queue_directory = $d/queue
data_directory = $d/data
maillog_file = $d/postfix.log
maillog_file_prefixes = $d
myhostname = mail.alerts.test
mydomain = alerts.test
myorigin = \$myhostname
inet_interfaces = loopback-only
inet_protocols = ipv4
proxy_interfaces = $ADDR
mydestination =
mynetworks = 127.0.0.0/8
relayhost =
relay_domains =
default_transport = error:mailwarden alerts peer: no relay
relay_transport = error:mailwarden alerts peer: no relay
local_transport = error:mailwarden alerts peer: no local delivery
virtual_mailbox_domains = alerts.test
virtual_mailbox_base = $d/mail
virtual_mailbox_maps = texthash:$d/conf/vmailbox
virtual_uid_maps = static:$MAIL_UID
virtual_gid_maps = static:$MAIL_GID
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_banner = \$myhostname ESMTP mailwarden alerts real-peer MTA
alias_maps =
alias_database =
biff = no
notify_classes =
smtpd_tls_security_level = may
smtpd_tls_chain_files = $WORK/pki/leaf.key, $WORK/pki/leaf.chain.pem
smtpd_tls_session_cache_database =
# The Received header names the TLS version: the test checks STARTTLS was used.
smtpd_tls_received_header = yes
EOF
  postconf -c "$d/conf" -F '*/*/chroot = n' >/dev/null
}

rsyslog_conf() {
  local d="$WORK/rsyslog"
  mkdir -p "$d/spool"
  : >"$d/messages.log"
  cat >"$d/rsyslog.conf" <<EOF
# Written by tests/real-peers/alerts.sh: UDP and TCP on $ADDR:$SYSLOG_PORT, everything to one file.
global(workDirectory="$d/spool")
module(load="imudp")
module(load="imtcp")
input(type="imudp" address="$ADDR" port="$SYSLOG_PORT")
input(type="imtcp" address="$ADDR" port="$SYSLOG_PORT")
*.* action(type="omfile" file="$d/messages.log" template="RSYSLOG_SyslogProtocol23Format")
EOF
}

smtp_ready() { greets "$ADDR" "$SMTP_PORT" 220; }
syslog_ready() { greets "$ADDR" "$SYSLOG_PORT"; }

postfix_pid() { pid_of "$WORK/postfix/queue/pid/master.pid"; }
rsyslog_pid() { pid_of "$WORK/rsyslog/rsyslogd.pid"; }

start() {
  install
  mkdir -p "$WORK"
  if postfix_pid >/dev/null && rsyslog_pid >/dev/null; then
    log "alert peers already run"
    return 0
  fi
  stop_quietly
  certificates
  postfix_conf
  rsyslog_conf
  postfix -c "$WORK/postfix/conf" start >"$WORK/postfix/start.log" 2>&1 ||
    die "postfix did not start; see $WORK/postfix/postfix.log and $WORK/postfix/start.log"
  rsyslogd -f "$WORK/rsyslog/rsyslog.conf" -i "$WORK/rsyslog/rsyslogd.pid" ||
    die "rsyslogd did not start"
  wait_for "Postfix on $ADDR:$SMTP_PORT" smtp_ready
  wait_for "rsyslog on $ADDR:$SYSLOG_PORT" syslog_ready
  {
    printf '# Written by tests/real-peers/alerts.sh start; read by crates/cli/tests/it/alert_peers.rs.\n'
    printf 'SMTP=%s:%s\nMAIL_TO=ops@alerts.test\nMAILDIR=%s\nCA_FILE=%s\nMAIL_LOG=%s\n' \
      "$ADDR" "$SMTP_PORT" "$WORK/postfix/mail/ops" "$WORK/pki/ca.pem" "$WORK/postfix/postfix.log"
    printf 'SYSLOG=%s:%s\nSYSLOG_FILE=%s\n' "$ADDR" "$SYSLOG_PORT" "$WORK/rsyslog/messages.log"
  } | write_env_file
  log "alert peers run: Postfix $ADDR:$SMTP_PORT (STARTTLS, Maildir $WORK/postfix/mail/ops), rsyslog $ADDR:$SYSLOG_PORT udp+tcp ($WORK/rsyslog/messages.log)"
}

stop_quietly() {
  local pid
  if pid="$(postfix_pid)"; then stop_pid postfix "$pid"; fi
  if pid="$(rsyslog_pid)"; then stop_pid rsyslogd "$pid"; fi
  return 0
}

stop() {
  stop_quietly
  rm -f "$ENV_FILE"
}

status() {
  postfix_pid >/dev/null || { log "postfix is not running"; return 1; }
  rsyslog_pid >/dev/null || { log "rsyslogd is not running"; return 1; }
  smtp_ready && syslog_ready
}

ci() { peer_ci alert_peers; }

peer_main "$@"

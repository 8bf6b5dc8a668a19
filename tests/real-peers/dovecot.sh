#!/usr/bin/env bash
# Real-peer report mailbox (issue 14): Dovecot from Debian serving one user's
# Maildir over IMAPS and over IMAP with STARTTLS, on loopback, for
# `mailwarden reports fetch`. Its own instance: configuration, base and state
# directories, logs and Maildir all under target/real-peers/dovecot/; started
# and stopped by pid; the system's dovecot (if any) is not touched.
#
#   tests/real-peers/dovecot.sh install  install dovecot-imapd and openssl if missing
#   tests/real-peers/dovecot.sh start    make the test CA and certificate, start Dovecot; writes target/real-peers/dovecot.env
#   tests/real-peers/dovecot.sh stop     stop it (by pid) and remove dovecot.env
#   tests/real-peers/dovecot.sh status   exit 0 when it runs and answers
#   tests/real-peers/dovecot.sh ci       install, start, run the fetch real-peer tests, stop (.ci/run)
#
#   127.0.63.1:10993  IMAPS (TLS from the first byte), certificate for IP 127.0.63.1 from a test CA
#   127.0.63.1:10143  IMAP: STARTTLS required before login (disable_plaintext_auth)
#   users "reports" and "watcher", password in dovecot.env (PASSWORD_FILE); passdb and userdb
#   from a file; mail_location maildir under MAIL_HOME/USER/Maildir (the tests deliver by
#   writing into a folder's new/, as a local delivery agent would).
#
# crates/cli/tests/it/reports_fetch_peers.rs reads dovecot.env (its tests are
# ignored unless asked for with --ignored).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/real-peers/common.sh
. "$REPO/tests/real-peers/common.sh"
peer_paths dovecot
ADDR=127.0.63.1
IMAPS_PORT=10993
IMAP_PORT=10143
# Dovecot refuses to deliver as root: the Maildir belongs to nobody.
MAIL_UID=65534
MAIL_GID=65534
# Two users: "reports" for most tests, "watcher" for the --watch test, whose
# sessions it kicks (doveadm kick) to test the reconnect.
USERS="reports watcher"
PEER_LOG="$WORK/dovecot.log"

install() {
  ensure_packages "dovecot doveconf openssl" dovecot-imapd openssl
}

certificates() { test_pki "$WORK/pki" "mailwarden dovecot test CA" "$ADDR"; }

dovecot_conf() {
  local user
  mkdir -p "$WORK/run" "$WORK/state"
  [ -s "$WORK/password" ] || { head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$WORK/password"; }
  chmod 600 "$WORK/password"
  : >"$WORK/users"
  for user in $USERS; do
    mkdir -p "$WORK/mail/$user/Maildir"/{cur,new,tmp}
    printf '%s:{PLAIN}%s:%s:%s::%s\n' "$user" "$(cat "$WORK/password")" "$MAIL_UID" "$MAIL_GID" \
      "$WORK/mail/$user" >>"$WORK/users"
  done
  chown -R "$MAIL_UID:$MAIL_GID" "$WORK/mail"
  chmod 640 "$WORK/users"
  chgrp dovecot "$WORK/users"
  cat >"$WORK/dovecot.conf" <<CONF
# Written by tests/real-peers/dovecot.sh: one user's Maildir over IMAPS and IMAP+STARTTLS on $ADDR.
protocols = imap
listen = $ADDR
base_dir = $WORK/run
state_dir = $WORK/state
instance_name = mailwarden-dovecot
log_path = $WORK/dovecot.log
info_log_path = $WORK/dovecot.log
ssl = required
ssl_cert = <$WORK/pki/leaf.chain.pem
ssl_key = <$WORK/pki/leaf.key
disable_plaintext_auth = yes
auth_mechanisms = plain login
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $WORK/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $WORK/users
}
mail_location = maildir:~/Maildir
first_valid_uid = $MAIL_UID
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  chroot =
  inet_listener imap {
    address = $ADDR
    port = $IMAP_PORT
  }
  inet_listener imaps {
    address = $ADDR
    port = $IMAPS_PORT
    ssl = yes
  }
}
service anvil {
  chroot =
}
CONF
}

imaps_ready() { greets "$ADDR" "$IMAPS_PORT"; }
imap_ready() { greets "$ADDR" "$IMAP_PORT" "* OK"; }
dovecot_pid() { pid_of "$WORK/run/master.pid"; }

write_env() {
  {
    printf '# Written by tests/real-peers/dovecot.sh start; read by crates/cli/tests/it/reports_fetch_peers.rs.\n'
    printf 'IMAPS=%s:%s\nIMAP=%s:%s\nPASSWORD_FILE=%s\nCA_FILE=%s\n' \
      "$ADDR" "$IMAPS_PORT" "$ADDR" "$IMAP_PORT" "$WORK/password" "$WORK/pki/ca.pem"
    printf 'MAIL_HOME=%s\nMAIL_UID=%s\nMAIL_GID=%s\nCONFIG=%s\nLOG=%s\n' \
      "$WORK/mail" "$MAIL_UID" "$MAIL_GID" "$WORK/dovecot.conf" "$WORK/dovecot.log"
  } | write_env_file
}

start() {
  install
  mkdir -p "$WORK"
  if dovecot_pid >/dev/null; then
    write_env
    log "dovecot already runs"
    return 0
  fi
  certificates
  dovecot_conf
  dovecot -c "$WORK/dovecot.conf" || die "dovecot did not start; see $WORK/dovecot.log"
  wait_for "Dovecot IMAP on $ADDR:$IMAP_PORT" imap_ready
  wait_for "Dovecot IMAPS on $ADDR:$IMAPS_PORT" imaps_ready
  write_env
  log "dovecot runs: IMAPS $ADDR:$IMAPS_PORT, IMAP+STARTTLS $ADDR:$IMAP_PORT, users $USERS (Maildirs under $WORK/mail)"
}

stop() {
  local pid
  if pid="$(dovecot_pid)"; then stop_pid dovecot "$pid"; fi
  rm -f "$ENV_FILE"
}

status() {
  dovecot_pid >/dev/null || { log "dovecot is not running"; return 1; }
  imap_ready && imaps_ready
}

ci() { peer_ci reports_fetch_peers; }

peer_main "$@"

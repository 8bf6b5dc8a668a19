#!/usr/bin/env bash
# Real-peer PostgreSQL for the store's tests (crates/store): Debian's
# `postgresql`, a throw-away cluster initialised into a temporary directory
# as the postgres user, listening on 127.0.0.1 only, trust authentication.
#
#   tests/real-peers/postgres.sh install  install the Debian package if missing
#   tests/real-peers/postgres.sh start    initdb + start; prints the URL and writes it to target/real-peers/pg.env
#   tests/real-peers/postgres.sh stop     stop the server (by its pid) and remove the cluster
#   tests/real-peers/postgres.sh status   exit 0 when it runs
#   tests/real-peers/postgres.sh test     start, run the store's test suite and the worker tests against it, stop (.ci/run)
#
# Use:  eval "$(tests/real-peers/postgres.sh start)"   # sets MAILWARDEN_TEST_PG_URL
#       cargo test -p mailwarden-store
# PORT (default 55432) chooses the port.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
STATE="$REPO/target/real-peers"
ENV_FILE="$STATE/pg.env"
PORT="${PORT:-55432}"

# shellcheck source=tests/real-peers/common.sh
. "$REPO/tests/real-peers/common.sh"

bindir() {
  local d
  d="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$d" ] && printf '%s' "$d"
}

install() {
  if [ -z "$(bindir)" ]; then
    # Debian keeps the server programs off PATH, in a directory per major
    # version (15: bookworm, 17: trixie): look there for initdb and pg_ctl.
    PATH="$PATH:/usr/lib/postgresql/15/bin:/usr/lib/postgresql/16/bin:/usr/lib/postgresql/17/bin:/usr/lib/postgresql/18/bin" \
      ensure_packages "initdb pg_ctl" postgresql
    [ -n "$(bindir)" ] || die "postgresql installed but no /usr/lib/postgresql/*/bin"
  fi
}

# The data directory and pid of a running cluster, from pg.env.
current() {
  [ -s "$ENV_FILE" ] || return 1
  # shellcheck disable=SC1090
  . "$ENV_FILE"
  [ -n "${PGDATA_DIR:-}" ] && [ -s "$PGDATA_DIR/postmaster.pid" ] || return 1
  local pid
  pid="$(head -n 1 "$PGDATA_DIR/postmaster.pid" | tr -dc '0-9')"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  printf '%s' "$pid"
}

start() {
  install
  if current >/dev/null; then
    log "postgres already runs (pid $(current))"
    printf 'export MAILWARDEN_TEST_PG_URL=%s\n' "$MAILWARDEN_TEST_PG_URL"
    return 0
  fi
  local bin data as
  bin="$(bindir)"
  mkdir -p "$STATE"
  data="$(mktemp -d /tmp/mailwarden-pg.XXXXXX)"
  as=()
  if [ "$(id -u)" = 0 ]; then
    # initdb refuses root: the cluster belongs to the postgres user.
    chown postgres: "$data"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$data/db" -A trust -U postgres --no-sync >"$data/initdb.log" 2>&1 ||
    { cat "$data/initdb.log" >&2; die "initdb failed"; }
  "${as[@]}" "$bin/pg_ctl" -D "$data/db" -l "$data/server.log" -w -t 30 \
    -o "-c listen_addresses=127.0.0.1 -c port=$PORT -c unix_socket_directories=$data -c fsync=off" start >/dev/null ||
    { cat "$data/server.log" >&2; die "postgres did not start"; }
  local url="postgres://postgres@127.0.0.1:$PORT/postgres"
  printf 'PGDATA_DIR=%s\nMAILWARDEN_TEST_PG_URL=%s\n' "$data/db" "$url" >"$ENV_FILE"
  log "postgres runs on 127.0.0.1:$PORT (pid $(current)); data in $data"
  printf 'export MAILWARDEN_TEST_PG_URL=%s\n' "$url"
}

stop() {
  local pid i
  if pid="$(current)"; then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      if [ "$i" = 100 ]; then kill -KILL "$pid" 2>/dev/null || true; fi
      sleep 0.1
    done
    log "stopped postgres (pid $pid)"
  fi
  if [ -s "$ENV_FILE" ]; then
    # shellcheck disable=SC1090
    . "$ENV_FILE"
    case "${PGDATA_DIR:-}" in /tmp/mailwarden-pg.*/db) rm -rf "${PGDATA_DIR%/db}" ;; esac
    rm -f "$ENV_FILE"
  fi
}

# The store's whole test suite on PostgreSQL (the same tests run on SQLite
# in the ordinary tier); the server is stopped whatever the outcome.
run_tests() {
  trap stop EXIT
  eval "$(start)"
  export MAILWARDEN_TEST_PG_URL
  (cd "$REPO" && cargo test -p mailwarden-store --locked)
  # worker (issue 15): worker, jobs and shared monitor-run processes on this
  # PostgreSQL; required here, so a missing server fails instead of skipping.
  (cd "$REPO" && MAILWARDEN_TEST_PG_REQUIRED=1 cargo test -p mailwarden --test integration --locked -- workers::)
  # web-ops (issue 16): the web service's API, role/IDOR/CSRF matrices, domain
  # management and ownership, on this PostgreSQL.
  (cd "$REPO" && cargo test -p mailwarden-server --locked --test api --test manage --test logs)
  # joins (issue 14): the senders crate's store-backed joins (reverse DNS
  # cache, TLS reports against the scans), the report commands and the
  # senders/TLS pages, on this PostgreSQL.
  (cd "$REPO" && cargo test -p mailwarden-senders --locked)
  (cd "$REPO" && cargo test -p mailwarden --test integration --locked -- reports::)
  (cd "$REPO" && cargo test -p mailwarden-server --locked --test reports_pages)
}

case "${1:-}" in
  install) install ;;
  test) run_tests ;;
  start) start ;;
  stop) stop ;;
  status) current >/dev/null ;;
  *) die "usage: $0 install|start|stop|status" ;;
esac

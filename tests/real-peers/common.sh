# shellcheck shell=bash
# Shared by the real-peer scripts (sourced, not run): logging, installing
# Debian packages without letting their own services start, waiting for a
# server, stopping one by pid, the env file tests read, and the commands
# every script takes.

log() { printf 'real-peers: %s\n' "$*" >&2; }
die() {
  log "error: $*"
  exit 1
}

# missing_tools TOOL...: print each tool that is not on PATH, one a line.
missing_tools() {
  local t
  for t in "$@"; do
    command -v "$t" >/dev/null 2>&1 || printf '%s\n' "$t"
  done
}

# ensure_packages "TOOL..." PACKAGE...: install PACKAGEs (after `apt-get
# update`) unless every TOOL is already there; die if any is still missing.
# A policy-rc.d that forbids starting services is in place during the
# install, so a package's own daemon never listens on a real port or, like
# Unbound's, fetches anything from the network. A function `preseed`, if
# the caller defines one, runs first (debconf answers).
ensure_packages() {
  local tools=$1 missing
  shift
  # shellcheck disable=SC2086 # the tool list is split on purpose
  missing="$(missing_tools $tools)"
  [ -z "$missing" ] && return 0
  log "installing from Debian (missing: $(echo "$missing" | tr '\n' ' '))"
  [ "$(id -u)" = 0 ] || die "not root: install $* first"
  local policy=/usr/sbin/policy-rc.d made_policy=no
  if ! [ -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    made_policy=yes
  fi
  local rc=0
  {
    if declare -F preseed >/dev/null; then preseed; fi &&
      apt-get update -qq &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
  } || rc=$?
  [ "$made_policy" = yes ] && rm -f "$policy"
  [ "$rc" = 0 ] || die "apt-get install failed ($rc)"
  # shellcheck disable=SC2086
  missing="$(missing_tools $tools)"
  [ -z "$missing" ] || die "still missing after install: $missing"
}

# wait_for WHAT COMMAND...: run COMMAND every 0.1 s until it succeeds, for
# up to 10 s; die naming WHAT (and $PEER_LOG, if the caller set it) if not.
wait_for() {
  local what=$1 i
  shift
  for i in $(seq 1 100); do
    "$@" && return 0
    sleep 0.1
  done
  die "$what did not come up${PEER_LOG:+; see $PEER_LOG}"
}

# test_pki DIR CA_NAME IP: a private test CA and a server certificate for
# IP (subjectAltName IP) signed by it, once: DIR/ca.pem, DIR/leaf.key,
# DIR/leaf.pem and DIR/leaf.chain.pem (leaf, then CA).
test_pki() {
  local pki=$1 name=$2 addr=$3
  [ -s "$pki/leaf.chain.pem" ] && return 0
  mkdir -p "$pki"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=$name" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=$addr" -keyout "$pki/leaf.key" -out "$pki/leaf.csr" 2>/dev/null
  printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$addr" >"$pki/leaf.ext"
  openssl x509 -req -in "$pki/leaf.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -days 3650 \
    -extfile "$pki/leaf.ext" -out "$pki/leaf.pem" 2>/dev/null
  cat "$pki/leaf.pem" "$pki/ca.pem" >"$pki/leaf.chain.pem"
  chmod 600 "$pki"/*.key
}

# pid_of FILE: print the pid in FILE when that process runs; fail if not.
pid_of() {
  [ -s "$1" ] && kill -0 "$(tr -dc 0-9 <"$1")" 2>/dev/null && tr -dc 0-9 <"$1"
}

# greets ADDR PORT TEXT: a TCP connection to ADDR:PORT opens (and, when
# TEXT is given, the first bytes the server sends start with it) within 2 s.
greets() {
  local addr=$1 port=$2 text=${3:-}
  timeout 2 bash -c "exec 3<>/dev/tcp/$addr/$port && { [ -z '$text' ] || head -c ${#text} <&3 | grep -qF '$text'; }" 2>/dev/null
}

# peer_paths NAME: DIR (target/real-peers), WORK (DIR/NAME, everything the
# peer writes) and ENV_FILE (DIR/NAME.env, what the tests read). REPO is set.
peer_paths() {
  DIR="$REPO/target/real-peers"
  WORK="$DIR/$1"
  ENV_FILE="$DIR/$1.env"
}

# write_env_file: standard input into ENV_FILE, whole or not at all (a test never
# reads half a file).
write_env_file() {
  cat >"$ENV_FILE.tmp"
  mv "$ENV_FILE.tmp" "$ENV_FILE"
}

# stop_pid NAME PID: SIGTERM, up to 5 s to exit, then SIGKILL.
stop_pid() {
  local i
  kill "$2" 2>/dev/null || return 0
  for i in $(seq 1 50); do
    kill -0 "$2" 2>/dev/null || {
      log "stopped $1 (pid $2)"
      return 0
    }
    sleep 0.1
  done
  kill -9 "$2" 2>/dev/null || true
  log "killed $1 (pid $2)"
}

# peer_ci FILTER: start the peers, run the ignored integration tests whose
# names match FILTER, and stop the peers however the tests end.
peer_ci() {
  start
  trap stop EXIT
  (cd "$REPO" && cargo test -p mailwarden --test integration --locked "$1" -- --ignored)
}

# peer_main COMMAND: run the script's install, start, stop, status or ci.
peer_main() {
  case "${1:-}" in
    install | start | stop | status | ci) "$1" ;;
    *) die "usage: $0 install|start|stop|status|ci" ;;
  esac
}

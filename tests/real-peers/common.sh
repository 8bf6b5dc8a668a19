# shellcheck shell=bash
# Shared by dns.sh and mail.sh (sourced, not run): logging, and installing
# Debian packages without letting their own services start.

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

#!/usr/bin/env bash
# The audit log's costs (issue 13): appends per second, bytes per entry on
# disk and `audit verify` time for N entries on SQLite, release build.
# Numbers are informative, nothing is asserted.
#   bench/audit.sh [N]     (default 10000)
set -euo pipefail
cd "$(dirname "$0")/.."
key_dir="$(mktemp -d)"
trap 'rm -rf "$key_dir"' EXIT
MW_AUDIT_BENCH_N="${1:-10000}" XDG_CONFIG_HOME="$key_dir" \
  cargo test --release -p mailwarden-store --test audit_log measure_audit_log -- --ignored --nocapture 2>&1 |
  grep -E '^audit log'

#!/usr/bin/env bash
# Benchmark of `mailwarden serve` (crates/server/tests/bench.rs): seeds
# DOMAINS domains with SNAPSHOTS stored scans each on SQLite, then times the
# domain list (API and page), a domain page and a history page in process,
# ROUNDS requests each, and prints p50 and p95. Issue 16's target: the list
# and a domain page under 200 ms at p95 with 1,000 domains and a year of
# daily history (SNAPSHOTS=365 takes long to seed), on the 2-core machine.
#
#   bench/web.sh                 DOMAINS=1000 SNAPSHOTS=5 ROUNDS=20
#   DOMAINS=1000 SNAPSHOTS=365 bench/web.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DOMAINS="${DOMAINS:-1000}" SNAPSHOTS="${SNAPSHOTS:-5}" ROUNDS="${ROUNDS:-20}"
cargo test --release --locked -q -p mailwarden-server --test bench -- --ignored --nocapture

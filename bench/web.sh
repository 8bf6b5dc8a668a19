#!/usr/bin/env bash
# Benchmark of `mailwarden serve` (crates/server/tests/bench.rs): seeds
# DOMAINS domains with SNAPSHOTS stored scans each through the store's
# ingest and HISTORY older daily snapshots each copied in SQL, on SQLite,
# then times the domain list (API and page), a domain page and a history
# page in process, ROUNDS requests each, and prints p50 and p95.
# Issue 16's target: the list and a domain page under 200 ms at p95 with
# 1,000 domains and a year of daily history (the defaults), on the 2-core
# machine. PROFILE=dev runs the debug build (no release build; slower).
#
#   bench/web.sh                 DOMAINS=1000 SNAPSHOTS=2 HISTORY=365 ROUNDS=20
#   HISTORY=0 SNAPSHOTS=5 bench/web.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export DOMAINS="${DOMAINS:-1000}" SNAPSHOTS="${SNAPSHOTS:-2}" HISTORY="${HISTORY:-365}" ROUNDS="${ROUNDS:-20}"
release=(--release)
[ "${PROFILE:-release}" = dev ] && release=()
uptime
cargo test "${release[@]}" --locked -q -p mailwarden-server --test bench -- --ignored --nocapture
uptime

#!/usr/bin/env bash
# Benchmark of the senders and TLS pages of `mailwarden serve`
# (crates/server/tests/bench_senders.rs): stores DAYS days of aggregate
# reports from REPORTERS reporters with ROWS rows each (day 0 imported, the
# other days copied in SQL), and a TLS report a day, for one domain on SQLite, then times the senders page, its API and
# the TLS page in process, ROUNDS requests each; prints p50 and p95.
# Issue 16's target: the senders page under 300 ms at p95 with 1,000,000
# report records (the defaults: DAYS=365 REPORTERS=10 ROWS=274) on the
# 2-core machine.
# PROFILE=dev runs the debug build (no release build needed; slower).
#
#   bench/web-senders.sh                     DAYS=365 REPORTERS=10 ROWS=274 (1,000,100 records)
#   REPORTERS=3 ROWS=100 bench/web-senders.sh (109,500 records)
set -euo pipefail
cd "$(dirname "$0")/.."
export DAYS="${DAYS:-365}" REPORTERS="${REPORTERS:-10}" ROWS="${ROWS:-274}" SOURCES="${SOURCES:-50}" ROUNDS="${ROUNDS:-10}"
release=(--release)
[ "${PROFILE:-release}" = dev ] && release=()
uptime
cargo test "${release[@]}" --locked -q -p mailwarden-server --test bench_senders -- --ignored --nocapture
uptime

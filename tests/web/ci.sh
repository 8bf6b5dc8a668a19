#!/usr/bin/env bash
# The web service's CI tier (crates/server, issue 16), loopback only:
#   1. the browser test: Debian's chromium driven by chromedriver (package
#      chromium-driver) over WebDriver; screenshots in target/screenshots/;
#   2. the API, pages, exports, alert destination and evidence tests again
#      on a real PostgreSQL (tests/real-peers/postgres.sh).
# Installs chromium and chromium-driver when missing (as root, apt-get).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=tests/real-peers/common.sh
. "$REPO/tests/real-peers/common.sh"
cd "$REPO"

ensure_packages "chromium chromedriver" chromium chromium-driver
cargo test -p mailwarden-server --test browser --locked -- --ignored

trap 'tests/real-peers/postgres.sh stop' EXIT
eval "$(tests/real-peers/postgres.sh start)"
export MAILWARDEN_TEST_PG_URL
cargo test -p mailwarden-server --test api --test reports_pages --test alert_destinations --test evidence --locked

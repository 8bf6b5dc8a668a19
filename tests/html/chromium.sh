#!/usr/bin/env bash
# The HTML report's print check needs a real browser: Debian's chromium
# (headless, prints to PDF) and poppler-utils (pdfinfo, pdftoppm).
#
#   tests/html/chromium.sh install   install them when missing (apt-get)
#
# crates/cli/tests/it/html_chromium.rs uses them; it skips with a message
# when chromium is absent, except under CI (CI=true), where it fails.
set -euo pipefail
case "${1:-}" in
  install)
    if command -v chromium >/dev/null && command -v pdfinfo >/dev/null && command -v pdftoppm >/dev/null; then
      exit 0
    fi
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils
    ;;
  *)
    echo "usage: $0 install" >&2
    exit 2
    ;;
esac

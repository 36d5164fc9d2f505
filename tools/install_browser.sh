#!/usr/bin/env bash
# What the browser tests (tests/test_webmap_browser.py) need, installed if missing:
#   - Debian's Chromium at /usr/bin/chromium (the tests drive it through Playwright's
#     executable_path; Playwright's own browser download is never used),
#   - npm, which caches Leaflet & co. for the offline page (tests/browser_support.py),
#   - Playwright for Python in the venv (from the project's dev extras).
# Idempotent: when everything is there it only prints what it found.
set -euo pipefail
cd "$(dirname "$0")/.."

PY="${SITESCORE_PYTHON:-.venv/bin/python}"
CHROMIUM="${SITESCORE_CHROMIUM:-/usr/bin/chromium}"

missing=()
[ -x "$CHROMIUM" ] || missing+=(chromium fonts-dejavu-core)
command -v npm >/dev/null || missing+=(nodejs npm)

if [ "${#missing[@]}" -gt 0 ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null; then
            echo "install_browser.sh: need ${missing[*]} and not root (apt-get install them)" >&2
            exit 1
        fi
        SUDO="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! "$PY" -c "import playwright.sync_api" >/dev/null 2>&1; then
    "$PY" -m pip install -q -e ".[dev]"
fi

echo "browser tests ready: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")," \
     "playwright $("$PY" -c 'import importlib.metadata as m; print(m.version("playwright"))')," \
     "npm $(npm --version)"

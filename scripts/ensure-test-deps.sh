#!/usr/bin/env bash
# Install what the tests need beyond Python packages: Debian's Chromium for the
# console's browser tests (Playwright's own browser download cannot work offline).
set -euo pipefail
if ! command -v chromium >/dev/null 2>&1; then
    if [ "$(id -u)" = "0" ]; then
        echo "Installing Debian's chromium for the browser tests..."
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
            || { echo "could not install chromium" >&2; exit 1; }
    else
        echo "The browser tests need Debian's chromium: sudo apt-get install chromium" >&2
        exit 1
    fi
fi

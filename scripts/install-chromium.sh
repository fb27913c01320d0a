#!/bin/sh
# Make a Chromium available for the real-browser test (tests/test_browser_session.py).
#
# The test drives the system Chromium with Playwright for Python; Playwright's own browser
# download is not used. This script installs Debian's `chromium` package when no Chromium is
# found and it can (root, or password-less sudo, with apt-get). Otherwise it says what to do and
# exits 0: the browser test then skips on a developer's machine and fails under CI=true.
#
# A Chromium elsewhere: export JUDGECAL_CHROMIUM=/path/to/chromium.
set -eu

for candidate in "${JUDGECAL_CHROMIUM:-}" /usr/bin/chromium /usr/bin/chromium-browser; do
    if [ -n "$candidate" ] && [ -x "$candidate" ]; then
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-chromium: no Chromium and no apt-get; install Chromium and set" \
         "JUDGECAL_CHROMIUM, or the browser test is skipped (and fails under CI=true)" >&2
    exit 0
fi

if [ "$(id -u)" = 0 ]; then
    as_root=""
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    as_root="sudo -n"
else
    echo "install-chromium: no Chromium; run 'sudo apt-get install chromium' for the browser" \
         "test (it is skipped without it, and fails under CI=true)" >&2
    exit 0
fi

echo "install-chromium: installing Debian's chromium package for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
$as_root apt-get update -qq
$as_root apt-get install -y -qq --no-install-recommends chromium >/dev/null

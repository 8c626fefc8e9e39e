#!/usr/bin/env bash
# Run every check and test on a fresh machine: installs Debian's chromium (for the browser
# tests) and the Python dependencies in .venv, then ruff, mypy --strict and pytest.
# Usage: bash scripts/test.sh [pytest arguments]
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
    sudo_cmd=""
    if [ "$(id -u)" -ne 0 ]; then sudo_cmd="sudo"; fi
    $sudo_cmd apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq chromium >/dev/null
fi

# nginx for the reverse-proxy test: Debian's binary unpacked into .cache (nothing installed,
# no service started). Without it that one test is skipped, and says so.
fetch_nginx() {
    rm -rf .cache/nginx && mkdir -p .cache/nginx/deb
    (cd .cache/nginx/deb && apt-get download -qq nginx 2>/dev/null) &&
        dpkg-deb -x .cache/nginx/deb/nginx_*.deb .cache/nginx && rm -rf .cache/nginx/deb
}
if ! command -v nginx >/dev/null && [ ! -x .cache/nginx/usr/sbin/nginx ]; then
    fetch_nginx || { apt-get update -qq 2>/dev/null && fetch_nginx; } ||
        echo "nginx is not available: tests/browser/test_proxy.py will be skipped"
fi

python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'

.venv/bin/ruff check htagweb_asgi tests examples bench
.venv/bin/ruff format --check htagweb_asgi tests examples bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"

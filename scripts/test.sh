#!/usr/bin/env bash
# Run every check and test on a fresh machine: installs Debian's chromium (for the browser
# tests), nginx and prometheus (unpacked, for the proxy and metrics tests), redis-server and
# haproxy (for the cluster tests: started by the tests themselves, on loopback) and the Python
# dependencies in .venv, then
# ruff, mypy --strict, the documentation build (mkdocs --strict) and pytest, the fast tier
# first.
# Usage: bash scripts/test.sh [pytest arguments]
#   HTAGWEB_TEST_PYTHONS="3.10 3.12 3.13"  the other Pythons that run the unit tier ("" for none)
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -ne 0 ]; then sudo "$@"; else "$@"; fi; }

if [ ! -x /usr/bin/chromium ]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi

# redis-server and haproxy for tests/cluster: the tests start them on 127.0.0.1 (no service
# manager; a container has none, and nothing here listens before the tests start it).
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || missing+=(haproxy)
if [ "${#missing[@]}" -gt 0 ]; then
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
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

# prometheus for the scrape test (tests/e2e/test_operations.py): Debian's binary unpacked the
# same way. Without it that one test is skipped, and says so.
fetch_prometheus() {
    rm -rf .cache/prometheus && mkdir -p .cache/prometheus/deb
    (cd .cache/prometheus/deb && apt-get download -qq prometheus 2>/dev/null) &&
        dpkg-deb -x .cache/prometheus/deb/prometheus_*.deb .cache/prometheus &&
        rm -rf .cache/prometheus/deb
}
if ! command -v prometheus >/dev/null && [ ! -x .cache/prometheus/usr/bin/prometheus ]; then
    fetch_prometheus || { apt-get update -qq 2>/dev/null && fetch_prometheus; } ||
        echo "prometheus is not available: tests/e2e/test_operations.py's scrape is skipped"
fi

venv() {  # venv DIR PYTHON EXTRAS: a virtual environment with the package and those extras
    "$2" -m venv "$1"
    "$1/bin/python" -m pip install --quiet --upgrade pip
    "$1/bin/python" -m pip install --quiet -e ".[$3]"
}
venv .venv python3 test,docs,htag1

.venv/bin/ruff check htagweb_asgi tests examples bench docs/tools
.venv/bin/ruff format --check htagweb_asgi tests examples bench docs/tools
.venv/bin/mypy
# The package as Windows and macOS would type-check it: every POSIX-only import and call
# behind a sys.platform check (docs/guide/platforms.md).
.venv/bin/mypy --platform win32 --cache-dir .mypy_cache/win32 htagweb_asgi
.venv/bin/mypy --platform darwin --cache-dir .mypy_cache/darwin htagweb_asgi

# The documentation site (mkdocs.yml, docs/): strict, so a broken link or anchor, or a page
# left out of the nav, fails the run. Not with -q: mkdocs 1.6 then drops the warnings before
# --strict counts them, and passes. NO_MKDOCS_2_WARNING quiets mkdocs-material's banner.
site=$(mktemp -d)
trap 'rm -rf "$site"' EXIT
NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict -d "$site"

# The fast tier first (seconds): a broken unit fails before the servers start.
.venv/bin/python -m pytest -m unit "$@"

# The unit tier on the other Pythons of the supported range (on PATH, or under pyenv).
find_python() {
    if "python$1" -c "" 2>/dev/null; then echo "python$1"; return; fi
    local root
    root=$(pyenv root 2>/dev/null) || return 1
    ls -d "$root"/versions/"$1".*/bin/"python$1" 2>/dev/null | sort -V | tail -n 1
}
for version in ${HTAGWEB_TEST_PYTHONS-3.10 3.12 3.13}; do
    python=$(find_python "$version" || true)
    if [ -z "$python" ]; then
        echo "python$version is not installed: its unit tier is skipped"
        continue
    fi
    venv ".venv-$version" "$python" test,htag1
    ".venv-$version/bin/python" -m pytest -m unit -p no:cacheprovider "$@"
done

# Then real processes, real servers, and the browser.
.venv/bin/python -m pytest -m "not unit" "$@"

# Once more on the portable process model (Windows': spawned processes over loopback TCP,
# no signals; docs/guide/platforms.md), forced on Linux: the end-to-end tier's checks of the
# process model, and the browser's click, push, reload, crash, timeout and several workers.
# Lean: the servers' differences are the default run's (hypercorn is left out, hypercorn-trio
# kept for trio), and the flood test times the default path's start speed. The chaos soak
# (about a minute: 20 users there) and the cluster's basic checks (half a minute: a page on
# another node than its process, node failures, the registry) too.
HTAGWEB_PORTABLE=1 .venv/bin/python -m pytest -p no:cacheprovider "$@" \
    tests/e2e/test_protocol.py tests/e2e/test_workers.py tests/e2e/test_sessions.py \
    tests/e2e/test_restart.py tests/e2e/test_admission.py tests/e2e/test_chaos.py \
    tests/cluster/test_cluster_transport.py tests/cluster/test_node_failures.py \
    tests/cluster/test_registry.py tests/browser/test_browser.py \
    "tests/browser/test_matrix.py::test_cell[standalone-uvicorn]" \
    "tests/browser/test_matrix.py::test_cell[fastapi-gunicorn]" \
    -k "not flooding_gets_429 and not (hypercorn and not trio)"

# htag 2 in its own environment (both majors are the package `htag`): its own suite and the
# integration matrix's standalone servers, then the browser checks of the htag 1 host,
# unchanged, against the htag 2 twins of the test Apps (tests/support/htagversion.py), on
# hypercorn (uvicorn serves them in the matrix; the host's code is the same for both htags).
venv .venv-htag2 python3 test,htag2
.venv-htag2/bin/python -m pytest -p no:cacheprovider "$@" tests/htag2 \
    tests/browser/test_matrix.py -k "not test_cell or standalone"
.venv-htag2/bin/python -m pytest -p no:cacheprovider "$@" tests/browser/test_browser.py \
    tests/browser/test_parano_browser.py tests/browser/test_mounting.py -k "not uvicorn"

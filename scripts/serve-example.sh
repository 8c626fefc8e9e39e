#!/usr/bin/env bash
# Serve examples/hello.py on http://127.0.0.1:8000/ (set PORT/HOST to change), installing what
# it needs in .venv first. Usage: bash scripts/serve-example.sh
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[server,htag1]'
exec .venv/bin/python examples/hello.py

#!/usr/bin/env bash
# The whole benchmark from a fresh clone, as root on Linux (htagweb 1.0.0 runs in a private
# /tmp made with unshare): creates bench/.venv (our host, the floor, the load generator);
# `python -m bench` creates bench/.venv-htagweb (htagweb==1.0.0) and runs every scenario
# against every target, then writes BENCHMARKS.md and bench/results/<time>/results.json.
# Usage: bash bench/run.sh [options of python -m bench], e.g. --quick, --reps 5
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x bench/.venv/bin/python ]; then
    python3 -m venv bench/.venv
fi
bench/.venv/bin/python -m pip install --quiet --upgrade pip
# htag 1 (the counter App and the floor are htag 1's): the package alone now brings htag 2
bench/.venv/bin/python -m pip install --quiet -e '.[htag1]' -r bench/requirements.txt
HTAGWEB_BENCH_ENTRY="bash bench/run.sh" exec bench/.venv/bin/python -m bench "$@"

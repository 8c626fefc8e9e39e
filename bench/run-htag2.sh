#!/usr/bin/env bash
# The htag 2 bench from a fresh clone: creates bench/.venv-htag2 (this clone with htag 2, the
# load generator) and runs `python -m bench.htag2`, which creates bench/.venv-htag2-runner
# (htag 2 with starlette<1, where its WebApp starts), runs both targets interleaved and
# writes the htag 2 section of BENCHMARKS.md.
# Usage: bash bench/run-htag2.sh [--reps N | --quick]
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x bench/.venv-htag2/bin/python ]; then
    python3 -m venv bench/.venv-htag2
fi
bench/.venv-htag2/bin/python -m pip install --quiet --upgrade pip
bench/.venv-htag2/bin/python -m pip install --quiet -e '.[htag2]' -r bench/requirements.txt
exec bench/.venv-htag2/bin/python -m bench.htag2 "$@"

#!/usr/bin/env bash
# The whole benchmark from a fresh clone, as root on Linux (htagweb 1.0.0 runs in a private
# /tmp made with unshare): creates bench/.venv (our host, the floor, the load generator);
# `python -m bench` creates bench/.venv-htagweb (htagweb==1.0.0) and runs every scenario
# against every target, then writes BENCHMARKS.md and bench/results/<time>/results.json.
# Usage: bash bench/run.sh [options of python -m bench], e.g. --quick, --reps 5
#        bash bench/run.sh --python 3.12 ...: every venv on that Python (bench/.venv-3.12 and
#        bench/.venv-htagweb-3.12), found as python3.12 on PATH or through pyenv
set -euo pipefail
cd "$(dirname "$0")/.."
version=""
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --python) version="${args[i + 1]:-}" ;;
        --python=*) version="${args[i]#--python=}" ;;
    esac
done
venv=bench/.venv
base=python3
if [ -n "$version" ]; then
    venv="bench/.venv-$version"
    if command -v "python$version" >/dev/null && "python$version" -V >/dev/null 2>&1; then
        base="python$version"
    elif command -v pyenv >/dev/null && prefix="$(pyenv prefix "$version" 2>/dev/null)"; then
        base="$prefix/bin/python$version"
    else
        echo "no Python $version: neither python$version on PATH nor pyenv has it" >&2
        exit 2
    fi
fi
if [ ! -x "$venv/bin/python" ]; then
    "$base" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
# htag 1 (the counter App and the floor are htag 1's): the package alone now brings htag 2
"$venv/bin/python" -m pip install --quiet -e '.[htag1]' -r bench/requirements.txt
HTAGWEB_BENCH_ENTRY="bash bench/run.sh" exec "$venv/bin/python" -m bench "$@"

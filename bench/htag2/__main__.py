"""``python -m bench.htag2``: our host and htag 2's own runner, on the htag 2 counter.

Run from bench/.venv-htag2 (this clone with htag 2; see bench/run-htag2.sh). htag 2's
runner gets a venv of its own, bench/.venv-htag2-runner, with ``starlette<1`` (its
``WebApp`` does not start with Starlette 1.x). Writes bench/results/htag2-<time>/results.json
and, unless --quick, the htag 2 section of BENCHMARKS.md (and BENCHMARKS-htag2.json).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import os
import subprocess
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench import machine
from bench.htag2 import report, scenarios
from bench.servers import ROOT, Pythons, Server, Target

RUNNER_REQUIREMENTS = ["htag>=2.0.28,<2.1", "starlette<1", "uvicorn[standard]>=0.30"]
TARGETS = [
    Target("ours2-1w", "ours2", "htagweb-asgi, 1 worker"),
    Target("htag2-runner", "runner", "htag 2 WebApp"),
]


def ensure_runner_venv(venv: Path) -> str:
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"creating {venv}: {' '.join(RUNNER_REQUIREMENTS)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, *RUNNER_REQUIREMENTS], check=True)
    return str(python)


def run_one(target: Target, pythons: Pythons, name: str, rep: int, logs: Path) -> dict[str, Any]:
    run: dict[str, Any] = {"target": target.name, "scenario": name, "rep": rep}
    server = Server(target, pythons, logs / f"{rep}-{name}-{target.name}.log")
    started = time.monotonic()
    try:
        server.start()
        scenario = scenarios.SCENARIOS[name]
        run["result"] = asyncio.run(scenario(server.url, target.kind, server.marker))
    except Exception:
        run["error"] = traceback.format_exc(limit=3)
    finally:
        server.stop()
    run["seconds"] = time.monotonic() - started
    return run


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.htag2", description=__doc__)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, 1 repetition")
    parser.add_argument("--runner-venv", type=Path, default=ROOT / "bench" / ".venv-htag2-runner")
    parser.add_argument("--from-json", type=Path, help="only redo the markdown from a run's JSON")
    args = parser.parse_args()
    if args.from_json is not None:
        data = json.loads(args.from_json.read_text())
        data["medians"] = report.medians(data["runs"], data["targets"])
        write(data)
        return 0
    if args.quick:
        scenarios.quick()
    reps = 1 if args.quick else args.reps
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = ROOT / "bench" / "results" / f"htag2-{stamp}"
    (out / "logs").mkdir(parents=True)
    pythons = Pythons(sys.executable, None, ensure_runner_venv(args.runner_venv))
    started = time.time()
    load_before = _load()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    runs = []
    for rep in range(reps):
        for name in scenarios.SCENARIOS:
            order = TARGETS[rep % 2 :] + TARGETS[: rep % 2]
            for target in order:
                run = run_one(target, pythons, name, rep, out / "logs")
                runs.append(run)
                print(
                    f"rep {rep} {name:9} {target.name:13} {run['seconds']:5.1f} s "
                    f"{'ERROR ' + run['error'].splitlines()[-1] if 'error' in run else 'ok'}",
                    flush=True,
                )
    names = [t.name for t in TARGETS]
    data: dict[str, Any] = {
        "command": "bash bench/run-htag2.sh" + (" --quick" if args.quick else f" --reps {reps}"),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "commit": commit,
        "reps": reps,
        "duration_s": time.time() - started,
        "load_before": load_before,
        "load_after": _load(),
        "errors": sum("error" in run for run in runs),
        "targets": names,
        "labels": {t.name: t.label for t in TARGETS},
        "versions": {
            "ours2-1w": _versions(sys.executable, ["htagweb-asgi", "htag", "starlette", "uvicorn"]),
            "htag2-runner": _versions(pythons.runner or "", ["htag", "starlette", "uvicorn"]),
        },
        "flood_requests": scenarios.FLOOD,
        "flood_concurrency": scenarios.FLOOD_CONCURRENCY,
        "flood_statuses": {
            r["target"]: r["result"]["statuses"]
            for r in runs
            if r["scenario"] == "flood" and "result" in r
        },
        "machine": machine.describe(ROOT, {"ours": sys.executable}, sys.executable),
        "runs": runs,
    }
    data["medians"] = report.medians(runs, names)
    (out / "results.json").write_text(json.dumps(data, indent=1, default=str))
    if not args.quick:
        write(data)
    print(f"wrote {out / 'results.json'}: {data['errors']} errors")
    return 0 if data["errors"] == 0 else 1


def write(data: dict[str, Any]) -> None:
    """BENCHMARKS-htag2.json and the htag 2 section of BENCHMARKS.md."""
    (ROOT / "BENCHMARKS-htag2.json").write_text(json.dumps(data, indent=1, default=str))
    markdown = ROOT / "BENCHMARKS.md"
    markdown.write_text(report.merge(markdown.read_text(), report.render(data)))
    print(f"wrote {markdown} (its htag 2 section) and BENCHMARKS-htag2.json")


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _versions(python: str, names: list[str]) -> str:
    found = machine.versions(python, names)
    packages = found.get("packages", {})
    listed = ", ".join(f"{name} {packages.get(name)}" for name in names)
    return f"Python {found.get('python')}; {listed}"


if __name__ == "__main__":
    sys.exit(main())

"""``python -m bench``: set up htagweb's venv, prove its sandbox, run, write JSON and markdown."""

from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench import floodreport, goals, machine, metrics, pictures, readme, report, sandbox
from bench.htag2 import report as htag2_report
from bench.runner import DEFAULT_SCENARIOS, SCENARIOS, Plan, run_plan
from bench.servers import ROOT, TARGETS, Pythons, sandbox_keeps
from bench.sizes import FULL, QUICK, Sizes

HTAGWEB_REQUIREMENT = "htagweb==1.0.0"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, our host only, 1 rep")
    parser.add_argument("--reps", type=int, help="repetitions (default 3; --quick: 1)")
    parser.add_argument("--targets", help=f"comma-separated, of: {', '.join(TARGETS)}")
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated, of: {', '.join(SCENARIOS)} (default: all but the floods)",
    )
    parser.add_argument("--out", type=Path, help="results directory (default bench/results/…)")
    parser.add_argument("--markdown", type=Path, help="default: BENCHMARKS.md unless --quick")
    parser.add_argument(
        "--python",
        help="the Python version of this run (bench/run.sh makes the venvs: this interpreter "
        "must be that version), e.g. 3.12; htagweb's venv is then bench/.venv-htagweb-VERSION",
    )
    parser.add_argument("--htagweb-venv", type=Path, help="default: bench/.venv-htagweb[-VER]")
    parser.add_argument(
        "--allow-missing",
        default="",
        help="comma-separated targets that may be left out when they cannot run (htagweb "
        "without its sandbox); otherwise a target that cannot run is an error",
    )
    parser.add_argument("--sweep-bound", type=float, help="seconds to grow to a sweep size")
    parser.add_argument(
        "--sweep-sizes", help="comma-separated live-user sizes of the sweep (default 10,100,1000)"
    )
    parser.add_argument("--note", default="", help="a sentence for the report (e.g. noise)")
    parser.add_argument(
        "--from-json", type=Path, help="only redo medians and markdown from a results.json"
    )
    return parser.parse_args(argv)


def check_python(wanted: str | None) -> None:
    """--python X: this interpreter must be Python X (bench/run.sh --python X makes sure)."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted is not None and not f"{running}.".startswith(f"{wanted}."):
        raise SystemExit(f"--python {wanted}, but this is Python {running}: use bench/run.sh")


def htagweb_venv(args: argparse.Namespace) -> Path:
    if args.htagweb_venv is not None:
        return Path(args.htagweb_venv)
    suffix = f"-{args.python}" if args.python else ""
    return ROOT / "bench" / f".venv-htagweb{suffix}"


def ensure_htagweb_venv(venv: Path) -> str:
    """htagweb 1.0.0 in a venv of its own (its pins differ from ours), on this run's Python
    (made again if it is another's); return its python."""
    python = venv / "bin" / "python"
    if python.exists() and machine.versions(str(python), []).get("python") != _python_version():
        print(f"{venv} is on another Python: made again", flush=True)
        shutil.rmtree(venv)
    if not python.exists():
        print(f"creating {venv} with {HTAGWEB_REQUIREMENT}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        subprocess.run([*pip, "--upgrade", "pip"], check=True)
        subprocess.run([*pip, HTAGWEB_REQUIREMENT], check=True)
    return str(python)


def _python_version() -> str:
    return sys.version.split()[0]


def isolation(python: str) -> dict[str, Any]:
    """Prove the sandbox before htagweb ever starts (see bench/sandbox.py)."""
    try:
        probe = sandbox.verify(python, sandbox_keeps(python))
    except sandbox.IsolationError as exc:
        return {"ok": False, "summary": f"NOT RUN: {exc}"}
    summary = (
        "run only inside `unshare --mount --pid --fork --kill-child --mount-proc` with an "
        "empty directory bind-mounted over /tmp and a fresh tmpfs over /dev/shm. Checked "
        "before the run: inside, /tmp and /dev/shm were empty, htagweb's own "
        "`HrClient.clean()` killed a canary whose PID file was in the private /tmp, and "
        "spared a canary of ours whose PID file was in the real /tmp."
    )
    return {"ok": True, "summary": summary, "probe": probe}


def choose(args: argparse.Namespace) -> tuple[Sizes, list[str], list[str], int]:
    sizes = QUICK if args.quick else FULL
    if args.sweep_bound is not None:
        sizes = Sizes(**{**asdict(sizes), "sweep_bound": args.sweep_bound})
    if args.sweep_sizes:
        steps = tuple(int(size) for size in args.sweep_sizes.split(","))
        sizes = Sizes(**{**asdict(sizes), "sweep_sizes": steps})
    default_targets = "ours-1w" if args.quick else ",".join(TARGETS)
    targets = (args.targets or default_targets).split(",")
    names = (args.scenarios or ",".join(DEFAULT_SCENARIOS)).split(",")
    unknown = [t for t in targets if t not in TARGETS] + [s for s in names if s not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown target or scenario: {', '.join(unknown)}")
    reps = args.reps or (1 if args.quick else 3)
    return sizes, targets, names, reps


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_json is not None:
        return rerender(args.from_json, args.markdown)
    check_python(args.python)
    sizes, target_names, scenario_names, reps = choose(args)
    started = time.time()
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = args.out or ROOT / "bench" / "results" / stamp
    (out / "logs").mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = {
        "command": _command(sys.argv[1:] if argv is None else list(argv)),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "quick": args.quick,
        "reps": reps,
        "sizes": asdict(sizes),
        "note": args.note,
    }
    htagweb_python = None
    if "htagweb" in target_names:
        htagweb_python = ensure_htagweb_venv(htagweb_venv(args))
        data["htagweb_isolation"] = isolation(htagweb_python)
        if not data["htagweb_isolation"]["ok"]:
            summary = data["htagweb_isolation"]["summary"]
            if "htagweb" not in args.allow_missing.split(","):
                # asked for and not run would be a report silently without its peer column
                raise SystemExit(f"htagweb 1.0.0 cannot run: {summary}\n(--allow-missing htagweb)")
            print(f"htagweb left out (--allow-missing): {summary}", flush=True)
            target_names.remove("htagweb")
            htagweb_python = None
    pythons = Pythons(ours=sys.executable, htagweb=htagweb_python)
    data["targets"] = target_names
    data["machine"] = machine.describe(
        ROOT, {"ours": pythons.ours, "htagweb": pythons.htagweb}, sys.executable
    )
    targets = [TARGETS[name] for name in target_names]
    plan = Plan(targets, scenario_names, reps, sizes, pythons, out / "logs")
    runs: list[dict[str, Any]] = []

    def progress(run: dict[str, Any]) -> None:
        runs.append(run)
        print(_progress_line(run), flush=True)
        _save(out / "results.json", {**data, "runs": runs})

    run_plan(plan, progress)
    data["runs"] = runs
    data["duration_s"] = time.time() - started
    data["json"] = os.path.relpath(out / "results.json", ROOT)
    markdown = args.markdown or (None if args.quick else ROOT / "BENCHMARKS.md")
    finish(data, sizes, out, markdown)
    return 0 if data["errors"] == 0 else 1


def finish(data: dict[str, Any], sizes: Sizes, out: Path, markdown: Path | None) -> None:
    """Medians, ratios, targets and notes; write results.json and the markdown (with a copy
    of the JSON beside it: BENCHMARKS.md links BENCHMARKS.json)."""
    all_metrics = metrics.metrics(sizes)
    runs = data["runs"]
    data["errors"] = sum(run.get("errors", 0) for run in runs)
    data["clicks_checked"] = sum(run.get("clicks_checked", 0) for run in runs)
    data["ok"] = data["errors"] == 0
    data["medians"] = metrics.medians(runs, all_metrics)
    data["ratios"] = report.ratios(data["medians"], all_metrics)
    peers = {name: data["medians"].get(name, {}) for name in ("floor", "htagweb")}
    data["goals"] = {
        name: goals.check(data["medians"][name], peers)
        for name in ("ours-1w", "ours-4w")
        if name in data["medians"]
    }
    data["notes"] = report.collect_notes(runs)
    flood_only = floodreport.is_flood_run([run["scenario"] for run in runs])
    if not flood_only:
        data["pictures"] = [str(p) for p in pictures.draw(data, out / "pictures")]
    _save(out / "results.json", data)
    if markdown is not None:
        # a flood run writes its own section (and JSON), and keeps the rest of the page
        beside = markdown.with_name(markdown.stem + ("-flood" if flood_only else "") + ".json")
        data["json"] = os.path.relpath(beside, markdown.parent)
        _save(beside, data)
        previous = markdown.read_text() if markdown.exists() else ""
        if flood_only:
            written = floodreport.merge(previous, floodreport.section(data, all_metrics))
        else:
            shown = pictures_dir(markdown)
            drawn = pictures.draw(data, shown)
            data["pictures_shown"] = [os.path.relpath(p, markdown.parent) for p in drawn]
            page = report.keep_by_hand(previous, report.render(data, all_metrics))
            page = floodreport.keep(previous, page)
            written = htag2_report.keep(previous, page)
        markdown.write_text(written)
        print(f"wrote {markdown} and {beside}")
        if not flood_only and markdown.resolve() == (ROOT / "BENCHMARKS.md").resolve():
            _quote_in_readme(data)
    print(f"wrote {out / 'results.json'}: {data['errors']} errors, {data['duration_s']:.0f} s")


def _quote_in_readme(data: dict[str, Any]) -> None:
    """The README's "Measured figures" quote this run (bench/readme.py)."""
    section = readme.section(data)
    path = ROOT / "README.md"
    if section is not None and path.exists():
        path.write_text(readme.merge(path.read_text(), section))
        print(f"wrote the measured figures of {path}")


def pictures_dir(markdown: Path) -> Path:
    """Where the pictures of a page go: docs/img/bench/ for BENCHMARKS.md (the site shows
    the report too: docs/tools/report_links.py), else beside the page."""
    if markdown.resolve() == (ROOT / "BENCHMARKS.md").resolve():
        return ROOT / "docs" / "img" / "bench"
    return markdown.with_name(f"{markdown.stem}-pictures")


def rerender(path: Path, markdown: Path | None) -> int:
    """Medians, targets and markdown again from a results.json (the figures are its own)."""
    data = json.loads(path.read_text())
    sizes = Sizes(**{**data["sizes"], "sweep_sizes": tuple(data["sizes"]["sweep_sizes"])})
    finish(data, sizes, path.parent, markdown or ROOT / "BENCHMARKS.md")
    return 0 if data["errors"] == 0 else 1


def _command(argv: list[str]) -> str:
    """How this run was started (run.sh says so in the environment), without --note's text."""
    shown, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--note"):
            skip = arg == "--note"
            continue
        shown.append(arg)
    entry = os.environ.get("HTAGWEB_BENCH_ENTRY", "python -m bench")
    return " ".join([entry, shlex.join(shown)]).strip()


def _save(path: Path, data: dict[str, Any]) -> None:
    """JSON without NaN (not JSON): missing figures become null."""
    path.write_text(json.dumps(_no_nan(data), indent=1, default=str))


def _no_nan(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_no_nan(v) for v in value]
    return value


def _progress_line(run: dict[str, Any]) -> str:
    result = run.get("result") or {}
    errors = run.get("errors", 0)
    head = f"rep {run['rep'] + 1} {run['scenario']:<22} {run['target']:<8}"
    return f"{head} {run['duration_s']:6.1f} s  errors={errors}  {_headline(result)}"


def _headline(result: dict[str, Any]) -> str:
    pick = [
        ("seq p50", ("sequential", "usable", "p50_ms")),
        ("conc p50", ("concurrent", "usable", "p50_ms")),
        ("click p99", ("click", "p99_ms")),
        ("1u p50", ("single", "click", "p50_ms")),
        ("50u /s", ("multi", "interactions_per_s")),
        ("push p50", ("push", "p50_ms")),
    ]
    shown = [f"{name}={metrics.dig(result, *path):.2f}" for name, path in pick]
    shown = [s for s in shown if not s.endswith("nan")]
    for step in result.get("steps", []):
        few = metrics.dig(step, "few", "server_cpu_per_click_ms")
        many = metrics.dig(step, "many", "server_cpu_per_click_ms")
        shown.append(f"{step['size']}u cpu={few:.2f}/{many:.2f}ms")
    return " ".join(shown)

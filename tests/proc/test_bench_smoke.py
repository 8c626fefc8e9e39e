"""The benchmark harness (bench/) still runs: its --quick mode against our host, end to end."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

from bench.goals import GOALS
from bench.metrics import metrics
from bench.sizes import Sizes

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {
    *("new_users", "click_during_arrivals", "clicks", "pushes", "sweep", "flood", "flood_ws"),
}
# the goals measured against a peer (the floor, htagweb 1.0.0), which --quick does not run
RELATIVE_TO_A_PEER = {goal.text for goal in GOALS if goal.peers}


def is_figure(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def test_quick_bench_measures_every_scenario_without_errors(tmp_path: Path) -> None:
    """`python -m bench --quick` runs every scenario on our host, checks every click, writes
    its JSON with a figure for every metric and goal (no timing asserted: CI machines are
    shared)."""
    every = ",".join(sorted(SCENARIOS))  # the floods run only when named
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path), "--scenarios", every],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,  # ~15 s on a quiet machine: only a hang fails here
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["errors"] == 0 and data["ok"], [r["error_messages"] for r in data["runs"]]
    assert {run["scenario"] for run in data["runs"]} == SCENARIOS
    assert {run["target"] for run in data["runs"]} == {"ours-1w"}
    assert data["clicks_checked"] > 0
    pushes = next(run["result"] for run in data["runs"] if run["scenario"] == "pushes")
    assert pushes["pushes_delivered"] == pushes["pushes_expected"] > 0, pushes  # none lost
    drawn = {Path(path).name for path in data["pictures"]}
    assert drawn == {"clicks-cdf.png", "new-users.png", "memory.png", "cpu-per-click.png"}
    assert all(Path(path).stat().st_size > 0 for path in data["pictures"])
    assert all(run["leftover_processes"] == 0 for run in data["runs"])
    sizes = Sizes(**{**data["sizes"], "sweep_sizes": tuple(data["sizes"]["sweep_sizes"])})
    expected = metrics(sizes)
    assert {metric.scenario for metric in expected} == SCENARIOS  # each scenario has figures
    figures = data["medians"]["ours-1w"]
    missing = [m.key for m in expected if not is_figure(figures.get(m.key, {}).get("median"))]
    assert not missing, missing
    assert set(data["ratios"]) == {"ours-1w/htagweb", "ours-1w/floor"}
    goals = data["goals"]["ours-1w"]
    assert [goal["goal"] for goal in goals] == [goal.text for goal in GOALS]
    for goal in goals:
        if goal["goal"] in RELATIVE_TO_A_PEER:
            assert goal["value"] is None and goal["met"] is None, goal
        else:
            assert is_figure(goal["value"]) and isinstance(goal["met"], bool), goal

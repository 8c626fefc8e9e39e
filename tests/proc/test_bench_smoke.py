"""The benchmark harness (bench/) still runs: its --quick mode against our host, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = {"new_users", "click_during_arrivals", "clicks", "pushes", "sweep"}
FIGURES = [
    "new_seq_usable_p50",
    "new_conc_usable_p50",
    "arrival_click_p99",
    "click1_p50",
    "click1_p99",
    "click50_rate",
    "click50_cpu",
    "push_p50",
    "uss_after_clicks",
    "pss_after_clicks",
    "sweep2_few_cpu",
    "sweep4_many_p99",
]


def test_quick_bench_measures_every_scenario_without_errors(tmp_path: Path) -> None:
    """`python -m bench --quick` runs every scenario on our host, checks every click, writes
    its JSON (no timing asserted: CI machines are shared)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=85,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["errors"] == 0 and data["ok"], [r["error_messages"] for r in data["runs"]]
    assert {run["scenario"] for run in data["runs"]} == SCENARIOS
    assert {run["target"] for run in data["runs"]} == {"ours-1w"}
    assert data["clicks_checked"] > 0
    assert all(run["leftover_processes"] == 0 for run in data["runs"])
    figures = data["medians"]["ours-1w"]
    missing = [key for key in FIGURES if figures[key]["median"] is None]
    assert not missing, missing
    assert set(data["ratios"]) == {"ours-1w/htagweb", "ours-1w/floor"}
    assert [goal["goal"] for goal in data["goals"]["ours-1w"]]
